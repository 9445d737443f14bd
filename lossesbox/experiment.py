"""One training run, end to end: the code path shared by the CLI, sweeps, studies and the
dashboard.

``run_experiment(config)`` loads the dataset, makes the stratified train/test split
(``test_size``, ``seed``), fits ``build_pipeline(config)`` — a ``StandardScaler``
(unless ``standardize=False``) in front of a :class:`~lossesbox.LinearSoftmaxClassifier`
— and computes the final metrics on the held-out part:

- ``test_accuracy``, ``train_accuracy``: share of correct labels;
- ``test_log_loss``, ``train_log_loss``: ``-(1/N) Σ_i log p_{i,y_i}`` with
  ``p = predict_proba`` (softmax of the scores, clipped by scikit-learn's ``log_loss``);
- ``objective``, ``wrong_way_share``, ``true_wrong_way_share``: the last history record;
- ``n_iter`` (update epochs) and ``fit_seconds``.

With ``track=True`` the run is logged to MLflow by :class:`lossesbox.tracking.TrackedRun`
(parameters, per-epoch metrics with ``step=epoch`` — every epoch up to
:data:`METRIC_STEPS` epochs, every k-th beyond (:func:`metric_every`) —, final metrics,
``history.csv`` with every epoch, charts, the fitted pipeline as a model). Run status:
FINISHED; FINISHED with tag ``stop_reason=user`` when the callback stopped training;
FAILED when training diverged or raised; KILLED on Ctrl-C. Tracking problems never stop
training: they end up in ``ExperimentResult.tracking_error``.

No mlflow import here (see :mod:`lossesbox.tracking`); scikit-learn loads on first use.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .datasets import Dataset

__all__ = [
    "ExperimentResult",
    "TrainConfig",
    "build_pipeline",
    "format_hidden",
    "load_config_dataset",
    "metric_every",
    "parse_hidden",
    "run_experiment",
]

_SOLVERS = ("gd", "momentum", "sgd", "adam", "lbfgs")
_INITS = ("zeros", "normal", "glorot")
_MODELS = ("linear", "mlp")
_ACTIVATIONS = ("relu", "tanh")
#: ``init`` when none is given: the model's own default.
DEFAULT_INIT = {"linear": "zeros", "mlp": "glorot"}
#: Most epochs a run sends to MLflow as metrics (see :func:`metric_every`).
METRIC_STEPS = 1000


def metric_every(max_epochs: int) -> int:
    """Every how many epochs a run logs its history records as MLflow metrics:
    ``k = ⌈max_epochs / METRIC_STEPS⌉`` (1 up to 1000 epochs).

    Epochs ``0, k, 2k, …`` and the last one are logged with ``step=epoch``; every epoch is
    in the run's ``history.csv``. Why: sqlite takes ≈10⁴ metric values a second here and a
    record has 11 + K keys, so logging all 18 000 epochs of a 2-class gd run cost ≈40 s
    against ≈5 s of training; MLflow's UI draws 320 points per curve (3.17)."""
    return max(1, -(-int(max_epochs) // METRIC_STEPS))


def effective_history(solver: str, batch_size: int | None, history: str) -> str:
    """``history`` for a mini-batch run (sgd/adam with a batch size), else ``"exact"``:
    a full-batch epoch's one pass is the exact evaluation, whatever was asked."""
    mini_batch = solver in ("sgd", "adam") and batch_size is not None
    return history if mini_batch else "exact"


def parse_hidden(text: Any) -> tuple[int, ...]:
    """``"100x100"`` → ``(100, 100)``; a tuple/list or one int passes through checked.

    Sizes inside one architecture are joined by ``x`` (commas separate architectures in
    the command line's lists). ``""`` or ``"0"`` means no hidden layer.
    """
    if isinstance(text, str):
        parts = [p.strip() for p in text.lower().replace("×", "x").split("x")]
        if parts in ([""], ["0"]):
            return ()
        try:
            sizes = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(
                f"hidden sizes must be positive integers joined by 'x', e.g. 100x100; got {text!r}"
            ) from None
    elif isinstance(text, int) and not isinstance(text, bool):
        sizes = (text,)
    else:
        try:
            sizes = tuple(text)
        except TypeError:
            raise ValueError(f"hidden sizes must be like 100x100; got {text!r}") from None
    if not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in sizes):
        raise ValueError(
            f"hidden sizes must be positive integers joined by 'x', e.g. 100x100; got {text!r}"
        )
    return tuple(int(h) for h in sizes)


def format_hidden(sizes: Any) -> str:
    """``(100, 100)`` → ``"100x100"`` (``"0"`` for no hidden layer)."""
    sizes = parse_hidden(sizes)
    return "x".join(str(h) for h in sizes) if sizes else "0"


_DTYPES = ("float64", "float32")
_HISTORIES = ("exact", "running")


@dataclass
class TrainConfig:
    """Everything that defines one training run (defaults = DESIGN.md's).

    ``dataset`` is a name of :data:`lossesbox.datasets.DATASETS` (options in
    ``dataset_options``) or ``"csv"`` with ``csv_path`` and ``target``.
    """

    dataset: str = "iris"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    csv_path: str | None = None
    target: str | None = None
    loss: str = "cross_entropy"
    lam: float = 1e-3
    solver: str = "lbfgs"
    learning_rate: float = 0.1
    max_epochs: int = 200
    batch_size: int | None = 256
    tol: float = 1e-6
    init: str | None = None
    seed: int = 0
    standardize: bool = True
    test_size: float = 0.25
    validation_fraction: float = 0.0
    dtype: str = "float64"
    history: str = "exact"
    model: str = "linear"
    hidden: tuple[int, ...] = (100,)
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.csv_path is not None and self.dataset == "iris":
            self.dataset = "csv"  # a CSV path alone means "train on that file"
        if isinstance(self.hidden, str | int | list):
            self.hidden = parse_hidden(self.hidden)

    @property
    def resolved_init(self) -> str:
        """``init``, or the model's default (zeros for linear, glorot for the MLP)."""
        return self.init or DEFAULT_INIT.get(self.model, "zeros")

    @property
    def effective_history(self) -> str:
        """What this run's records are: see :func:`effective_history`."""
        return effective_history(self.solver, self.batch_size, self.history)

    def estimator_params(self) -> dict[str, Any]:
        """Keyword arguments of the model's estimator (``random_state = seed``)."""
        params = {
            "loss": self.loss,
            "lam": self.lam,
            "solver": self.solver,
            "learning_rate": self.learning_rate,
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
            "tol": self.tol,
            "init": self.resolved_init,
            "validation_fraction": self.validation_fraction,
            "dtype": self.dtype,
            "history": self.history,
            "random_state": self.seed,
        }
        if self.model == "mlp":
            params["hidden_layer_sizes"] = tuple(self.hidden)
            params["activation"] = self.activation
        return params

    def validate(self, *, data_given: bool = False) -> TrainConfig:
        """Raise ``ValueError`` naming the first bad value and what is allowed; else self.

        Cheap (no scikit-learn import): the CLI calls it before loading anything. With
        ``data_given=True`` (the data is passed to :func:`run_experiment` in memory, e.g.
        an upload) ``dataset="csv"`` needs no ``csv_path``.
        """
        from .losses import get_loss

        get_loss(self.loss)  # lists the valid names
        _check(_is_real(self.lam) and self.lam >= 0, "lam", self.lam, "a number ≥ 0")
        _check(self.solver in _SOLVERS, "solver", self.solver, "one of " + ", ".join(_SOLVERS))
        _check(
            _is_real(self.learning_rate) and self.learning_rate > 0,
            "learning_rate",
            self.learning_rate,
            "a number > 0",
        )
        _check(_is_int(self.max_epochs) and self.max_epochs >= 1, "epochs", self.max_epochs, "≥ 1")
        _check(
            self.batch_size is None or (_is_int(self.batch_size) and self.batch_size >= 1),
            "batch_size",
            self.batch_size,
            "an integer ≥ 1 (or None for full batch)",
        )
        _check(_is_real(self.tol) and self.tol >= 0, "tol", self.tol, "a number ≥ 0")
        _check(self.model in _MODELS, "model", self.model, "one of " + ", ".join(_MODELS))
        inits = ("zeros", "normal") if self.model == "linear" else ("glorot", "normal")
        if self.model == "mlp" and self.init == "zeros":
            raise ValueError(
                "init 'zeros' cannot train an MLP (every hidden unit would stay identical); "
                "use glorot (default) or normal"
            )
        _check(
            self.init is None or self.init in inits, "init", self.init, "one of " + ", ".join(inits)
        )
        if self.model == "mlp":
            parse_hidden(self.hidden)
            _check(
                self.activation in _ACTIVATIONS,
                "activation",
                self.activation,
                "one of " + ", ".join(_ACTIVATIONS),
            )
        _check(_is_int(self.seed) and self.seed >= 0, "seed", self.seed, "an integer ≥ 0")
        _check(
            _is_real(self.test_size) and 0 < self.test_size < 1,
            "test_size",
            self.test_size,
            "a fraction strictly between 0 and 1",
        )
        _check(
            _is_real(self.validation_fraction) and 0 <= self.validation_fraction < 1,
            "validation_fraction",
            self.validation_fraction,
            "a fraction in [0, 1)",
        )
        _check(self.dtype in _DTYPES, "dtype", self.dtype, "one of " + ", ".join(_DTYPES))
        _check(
            self.history in _HISTORIES, "history", self.history, "one of " + ", ".join(_HISTORIES)
        )
        if self.csv_path is not None or (self.dataset == "csv" and not data_given):
            if not self.csv_path:
                raise ValueError("dataset 'csv' needs a CSV file: --csv FILE (csv_path)")
            if not os.path.isfile(self.csv_path):
                raise ValueError(f"CSV file not found: {self.csv_path}")
        elif not data_given:
            from .datasets import DATASETS

            if self.dataset not in DATASETS:
                raise ValueError(
                    f"unknown dataset {self.dataset!r}; valid: {', '.join(DATASETS)}, "
                    "or --csv FILE --target COL"
                )
        return self

    def label(self) -> str:
        """Short run name, e.g. ``mse-lbfgs-lam0.001-s0`` (``mlp100x100-`` first for an MLP)."""
        prefix = f"mlp{format_hidden(self.hidden)}-" if self.model == "mlp" else ""
        return f"{prefix}{self.loss}-{self.solver}-lam{self.lam:g}-s{self.seed}"

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping, rejecting unknown keys by name."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(
                f"unknown TrainConfig field(s): {', '.join(unknown)}; valid: {', '.join(names)}"
            )
        return cls(**dict(values))


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _is_int(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}; got {value!r}")


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` returns.

    ``status`` is the estimator's ``status_`` (``converged``, ``max_epochs``,
    ``stopped``, ``diverged``); ``stop_reason`` its one-sentence ``stop_reason_``
    (``"user"`` when the callback stopped it). ``run_id`` is ``None`` when not tracked;
    ``tracking_error`` says why tracking failed although training finished.
    ``run_status`` is the status the store holds (``None`` when it cannot be read);
    ``spool`` the folder keeping what the store did not get (``python -m lossesbox sync``);
    ``tracking_wait`` the seconds training was held waiting for the store.
    """

    config: TrainConfig
    dataset: Dataset
    pipeline: Any
    estimator: Any
    history: pd.DataFrame
    metrics: dict[str, float]
    status: str
    stop_reason: str
    run_id: str | None = None
    tracking_error: str | None = None
    seconds: float = 0.0
    experiment: str | None = None
    experiment_id: str | None = None
    run_status: str | None = None
    model_uri: str | None = None
    tracking_uri: str | None = None
    spool: str | None = None
    tracking_wait: float = 0.0


def load_config_dataset(config: TrainConfig) -> Dataset:
    """The dataset ``config`` names (a built-in/generated one, or its CSV file)."""
    from .datasets import load_dataset

    if config.dataset == "csv" or config.csv_path is not None:
        return load_dataset(
            "csv", path=config.csv_path, target=config.target, **config.dataset_options
        )
    return load_dataset(config.dataset, **config.dataset_options)


def build_pipeline(config: TrainConfig, dataset: Dataset | None = None):
    """``Pipeline([("scaler", StandardScaler()), ("clf", LinearSoftmaxClassifier(...))])``,
    without the scaler when ``config.standardize`` is False.

    For a user table (``dataset.plan`` set) the first step is ``("preprocess",
    dataset.preprocessor(config.standardize))`` instead: impute, one-hot encode, scale the
    numeric columns; the pipeline then takes the table's named columns.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from .models import LinearSoftmaxClassifier, MLPSoftmaxClassifier

    steps: list = []
    if dataset is not None and getattr(dataset, "plan", None) is not None:
        steps.append(("preprocess", dataset.preprocessor(standardize=config.standardize)))
    elif config.standardize:
        steps.append(("scaler", StandardScaler()))
    model = MLPSoftmaxClassifier if config.model == "mlp" else LinearSoftmaxClassifier
    steps.append(("clf", model(**config.estimator_params())))
    return Pipeline(steps)


def _params(config: TrainConfig, dataset: Dataset, n_train: int, n_test: int) -> dict[str, Any]:
    """Run parameters: no absolute paths (a CSV is logged by its file name)."""
    params: dict[str, Any] = {k: v for k, v in config.estimator_params().items()}
    params.pop("random_state")
    params.pop("hidden_layer_sizes", None)
    params["history"] = config.effective_history  # what the records are
    params["metric_every"] = metric_every(config.max_epochs)  # epochs between logged steps
    params["model"] = config.model
    if config.model == "mlp":  # the architecture, as parameters
        params.update(
            hidden=format_hidden(config.hidden),
            activation=config.activation,
            n_hidden_layers=len(config.hidden),
        )
    params.update(
        seed=config.seed,
        standardize=config.standardize,
        test_size=config.test_size,
        dataset=dataset.name,
        n_samples=dataset.n_samples,
        n_features=dataset.n_features,
        n_classes=dataset.n_classes,
        n_train=n_train,
        n_test=n_test,
        class_counts=",".join(f"{k}:{v}" for k, v in dataset.class_counts().items()),
        description=dataset.description[:500],
    )
    plan = getattr(dataset, "plan", None)
    if plan is not None:
        params.update(plan.params())
    options = dict(getattr(dataset, "options", None) or config.dataset_options or {})
    if config.csv_path is not None:
        options.setdefault("file", os.path.basename(config.csv_path))
        options.setdefault("target", config.target)
    for key, value in options.items():
        if key in {"path", "file"} and value is not None:
            value = os.path.basename(str(getattr(value, "name", value)))
        params[f"dataset.{key}"] = value
    return params


def _final_metrics(pipeline, X_train, y_train, X_test, y_test, n_classes, history) -> dict:
    from sklearn.metrics import log_loss

    labels = list(range(n_classes))
    out = {
        "test_accuracy": float((pipeline.predict(X_test) == y_test).mean()),
        "train_accuracy": float((pipeline.predict(X_train) == y_train).mean()),
        "test_log_loss": float(log_loss(y_test, pipeline.predict_proba(X_test), labels=labels)),
        "train_log_loss": float(log_loss(y_train, pipeline.predict_proba(X_train), labels=labels)),
    }
    if len(history):
        last = history.iloc[-1]
        for key in ("objective", "wrong_way_share", "true_wrong_way_share"):
            if key in history.columns:
                out[key] = float(last[key])
    return out


#: Final metrics logged at the end (the others are already the last value of a history key).
_LOGGED_FINAL = ("test_accuracy", "test_log_loss", "train_log_loss", "n_iter", "fit_seconds")


def _chart_files(history: pd.DataFrame, class_names) -> dict[str, str]:
    """Loss curves and the gradient-sign heatmap as SVG images (``charts/*.svg``).

    Rendered here by vl-convert, so they need no network to view: MLflow's UI shows SVG
    artifacts as images (HTML pages that load Vega from a CDN stay blank offline). Built
    with Altair's construction-time validation off (it validates every data record).
    """
    from altair.utils.schemapi import debug_mode

    from . import charts

    files = {}
    with debug_mode(False):
        curves = charts.standalone(charts.training_curves(history))
        accuracy = charts.standalone(charts.accuracy_curves(history))
        files["charts/loss_curves.svg"] = charts.to_svg(curves & accuracy)
        if charts.class_columns(history, "wrong_way_share"):
            heat = charts.sign_heatmap(history, "wrong_way_share", class_names)
            files["charts/gradient_signs.svg"] = charts.to_svg(charts.standalone(heat))
    return files


def _model_for_logging(pipeline, dataset: Dataset | None = None):
    """The fitted pipeline as logged: the classifier's ``history_`` is left out.

    The history is the run's ``history.csv`` and metrics; serialized inside the model
    it would be ~6 MB of skops JSON for 200 digits epochs (≈1 s to write and check).
    Everything ``predict``/``predict_proba``/``scores`` use is kept. For a user table
    the copy's ``classes_`` are the table's labels (``dataset.labels``) instead of the
    codes 0..K-1, so the logged model predicts ``"Adelie"``, not ``0``; the class order,
    and so ``predict_proba``'s columns, are unchanged.
    """
    import copy

    import numpy as np
    from sklearn.pipeline import Pipeline

    name, clf = pipeline.steps[-1]
    lean = copy.copy(clf)
    lean.history_ = []
    if dataset is not None and getattr(dataset, "frame", None) is not None:
        lean.classes_ = np.asarray(dataset.labels)
    return Pipeline([*pipeline.steps[:-1], (name, lean)])


def run_experiment(
    config: TrainConfig,
    *,
    dataset: Dataset | None = None,
    track: bool = True,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    callback: Callable[[dict], bool | None] | None = None,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ExperimentResult:
    """Train ``config`` (on ``dataset`` if given) and, if ``track``, log it to MLflow.

    ``callback(record)`` sees each history record before tracking does; returning
    ``False`` stops training (status ``"stopped"``, run FINISHED with ``stop_reason=user``).
    Exceptions from training propagate after the run is logged FAILED (KILLED for
    Ctrl-C and other ``BaseException``s).
    """
    from .tracking import TrackedRun, csv_text, resolve_tracking_uri

    t0 = time.perf_counter()
    config.validate(data_given=dataset is not None)
    if dataset is None:
        dataset = load_config_dataset(config)
    X_train, X_test, y_train, y_test = dataset.split(
        test_size=config.test_size, random_state=config.seed
    )
    pipeline = build_pipeline(config, dataset)
    experiment = experiment or dataset.name
    uri = resolve_tracking_uri(tracking_uri) if track else None

    run = None
    if track:
        run_tags = {"dataset": dataset.name, "loss": config.loss, **(tags or {})}
        if getattr(dataset, "plan", None) is not None:
            run_tags["preprocessing"] = dataset.preprocessing_summary()[:5000]
        run = TrackedRun(
            experiment,
            tracking_uri=uri,
            run_name=config.label(),
            params=_params(config, dataset, len(y_train), len(y_test)),
            tags=run_tags,
            parent_run_id=parent_run_id,
        ).start()

    every = metric_every(config.max_epochs)

    def on_epoch(record: dict) -> bool:
        keep = True
        if callback is not None and callback(record) is False:
            keep = False
        record.pop("parameters", None)  # for the caller's callback only, never logged
        if run is not None and int(record["epoch"]) % every == 0:
            run.log_record(record)
        return keep

    # a callback asking for each epoch's parameters (the dashboard's replay) still gets them
    on_epoch.wants_parameters = bool(getattr(callback, "wants_parameters", False))

    import pandas as pd

    estimator = pipeline.steps[-1][1]
    try:
        estimator.set_params(callback=on_epoch)
        t_fit = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # divergence: reported in status
            pipeline.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - t_fit
        estimator.set_params(callback=None)  # the logged model must not hold the closure
        history = pd.DataFrame(estimator.history_)
        metrics = _final_metrics(
            pipeline, X_train, y_train, X_test, y_test, dataset.n_classes, history
        )
        metrics["n_iter"] = int(estimator.n_iter_)
        metrics["fit_seconds"] = fit_seconds
        status = estimator.status_
        stop_reason = "user" if status == "stopped" else estimator.stop_reason_
        if run is not None:
            # Charts first: built while the background thread still sends epoch metrics.
            files = {"history.csv": csv_text(history)}
            try:
                files.update(_chart_files(history, dataset.class_names))
            except Exception as exc:  # charts are a nicety; never lose the run over them
                warnings.warn(f"charts not logged: {exc}", RuntimeWarning, stacklevel=2)
            last = estimator.history_[-1] if estimator.history_ else None
            if last is not None and int(last["epoch"]) % every != 0:
                run.log_record(last)  # the curves end where training ended
            run.log_final_metrics({k: metrics[k] for k in _LOGGED_FINAL})
            run.set_tags({"fit_status": status, "fit_message": estimator.stop_reason_})
            run.log_artifacts(files)
            run.log_model(
                _model_for_logging(pipeline, dataset),
                X_test[:5],
                metadata={
                    "class_names": list(dataset.class_names),
                    "history": "history.csv artifact of the run (history_ left out)",
                },
                params={k: v for k, v in config.estimator_params().items()},
            )
            if status == "diverged":
                reason = estimator.stop_reason_.removeprefix("Diverged: ")
                run.finish("FAILED", stop_reason=f"diverged: {reason}")
            elif status == "stopped":
                run.finish("FINISHED", stop_reason="user")
            else:
                run.finish("FINISHED")
    except BaseException as exc:
        estimator.set_params(callback=None)
        if run is not None:
            run.__exit__(type(exc), exc, exc.__traceback__)
        raise
    finally:
        if run is not None and run.status is None:  # pragma: no cover - defensive
            run.finish("FAILED", stop_reason="error: run ended unexpectedly")

    return ExperimentResult(
        config=config,
        dataset=dataset,
        pipeline=pipeline,
        estimator=estimator,
        history=history,
        metrics=metrics,
        status=status,
        stop_reason=stop_reason,
        run_id=run.run_id if run is not None else None,
        tracking_error=run.error if run is not None else None,
        seconds=time.perf_counter() - t0,
        experiment=experiment if track else None,
        experiment_id=run.experiment_id if run is not None else None,
        run_status=run.store_status if run is not None else None,
        model_uri=run.model_uri if run is not None else None,
        tracking_uri=uri,
        spool=str(run.spool.path) if run is not None and run.spool is not None else None,
        tracking_wait=run.blocked_seconds if run is not None else 0.0,
    )
