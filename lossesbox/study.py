r"""A reproducible loss study: every dataset × λ × loss, repeated over seeded splits.

The question (seed ``nn-loss-exploration.md``): ``mse`` on raw scores can push a
wrong-class score *up* (its gradient :math:`-\tfrac{2}{K}(0 - s_j) = \tfrac{2}{K} s_j` is
negative whenever :math:`s_j < 0`); the proposed ``exp_mse``,
:math:`\tfrac{1}{K}\lVert y - e^{s}\rVert^2`, has wrong-class gradient
:math:`\tfrac{2}{K} e^{2 s_j} > 0`, so it never does. Does that matter for what the model
learns? :func:`run_study` measures, for each cell (dataset, λ, loss) and each repeat r
(seed ``seed + r``: stratified split, trainer and init all use it):

- test accuracy and log-loss of ``predict_proba`` (mean ± std over repeats), with
  scikit-learn's ``LogisticRegression`` at the equivalent ``C`` as the reference row
  (``C = 1/(λ N)`` for K ≥ 3 and ``C = 2/(λ N)`` for K = 2, N = training samples; the
  same solver budget, ``max_iter = max_epochs``, ``tol``);
- the share of wrong-class score gradients pushing the wrong way
  (:func:`lossesbox.diagnostics.gradient_signs` on the training data): at initialization
  with ``init="zeros"`` (all scores equal, so ``mse``'s wrong-class gradients are exactly
  zero) and ``init="normal"`` (N(0, 0.01²) weights), per epoch, and at the end, overall and
  per class;
- epochs and seconds until the training accuracy first reaches 95% of its final value;
- failures (divergence, overflow, an exception) counted in ``n_failed``, never dropped.

Every training run is an MLflow run nested under one study run (experiment
``study-<timestamp>`` unless named); the report folder (Markdown + HTML with the charts
embedded + CSV tables) is written to ``out`` and logged as the study run's artifact
``report/``.

Aggregation: means and sample standard deviations (``ddof=1``; NaN for one repeat) are
taken over every repeat with a finite value, *including* failed ones (a diverged run keeps
its last finite parameters and is evaluated with them, which is what a user of that
budget gets); ``n_failed`` says how many there were.

This module imports only the standard library at import time (the CLI builds its parser
from :func:`add_parser` quickly); numpy, pandas, scikit-learn, joblib and the tracking
module load when a study runs.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    import pandas as pd

    from .datasets import Dataset

__all__ = [
    "DEFAULT_DATASETS",
    "REFERENCE",
    "StudyConfig",
    "StudyResult",
    "add_arguments",
    "add_parser",
    "aggregate",
    "aggregate_per_class",
    "epoch_curves",
    "epochs_to_fraction",
    "headline_table",
    "list_studies",
    "load_report",
    "load_study",
    "run",
    "run_study",
    "stop_notes",
    "write_report",
]

DEFAULT_DATASETS = ("iris", "wine", "breast_cancer", "digits")
#: ``loss`` value of the scikit-learn ``LogisticRegression`` reference row.
REFERENCE = "sklearn_logreg"
#: The training accuracy target, as a fraction of the final training accuracy.
TARGET_FRACTION = 0.95
#: Per-repeat quantities aggregated into ``<name>_mean`` / ``<name>_std``.
METRICS = (
    "test_accuracy",
    "test_log_loss",
    "train_accuracy",
    "test_accuracy_vs_reference",
    "wrong_way_init_zeros",
    "wrong_zero_init_zeros",
    "wrong_way_init_normal",
    "wrong_way_final",
    "wrong_way_max",
    "wrong_zero_final",
    "true_wrong_way_final",
    "epochs",
    "epochs_to_95",
    "seconds",
    "seconds_to_95",
)
#: Columns measured in wall-clock time (excluded from reproducibility comparisons).
TIMING_COLUMNS = ("seconds", "seconds_to_95")
STAGES = ("init_zeros", "init_normal", "final")
FAILED_STATUSES = ("diverged", "error")
HISTORY_COLUMNS = (
    "epoch",
    "objective",
    "train_accuracy",
    "val_accuracy",
    "wrong_way_share",
    "wrong_zero_share",
    "true_wrong_way_share",
    "seconds",
)
REPORT_FILES = {
    "markdown": "report.md",
    "html": "report.html",
    "summary": "results.csv",
    "runs": "runs.csv",
    "per_class": "per_class.csv",
    "history": "history.csv",
    "meta": "study.json",
}
SOLVERS = ("lbfgs", "gd", "momentum", "sgd", "adam")


# ------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class StudyConfig:
    """What a study runs. Defaults are the ones of ``python -m lossesbox study``.

    Solver budget: the same for every loss. L-BFGS-B (the solver whose optimum the tests
    check against scikit-learn) with at most ``max_epochs = 500`` iterations and
    ``tol = 1e-9`` (scipy's ``ftol`` and ``gtol``): on the built-in sets every smooth loss
    converges well inside it (≤ ~320 iterations), so the numbers describe each loss's
    optimum, not the budget. ``hinge`` is not differentiable; L-BFGS has no convergence
    guarantee there and usually stops on a failed line search or at the iteration cap; the
    report lists each cell's stop reasons so that is visible. ``solver="gd"`` with a fixed
    ``max_epochs`` and ``tol=0`` gives a fixed-epoch first-order comparison instead.
    """

    datasets: tuple[str, ...] = DEFAULT_DATASETS
    losses: tuple[str, ...] = ()
    lams: tuple[float, ...] = (1e-3,)
    repeats: int = 5
    seed: int = 0
    solver: str = "lbfgs"
    learning_rate: float = 0.1
    max_epochs: int = 500
    batch_size: int | None = 256
    tol: float = 1e-9
    init: str = "zeros"
    test_size: float = 0.3
    standardize: bool = True
    dtype: str = "float64"
    reference: bool = True
    csv_path: str | None = None
    target: str | None = None
    dataset_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: tuple[str, ...] = ("linear",)
    hidden: tuple[tuple[int, ...], ...] = ((100,),)
    activation: str = "relu"
    solvers: tuple[str, ...] = ()
    learning_rates: tuple[float, ...] = ()
    validation_fraction: float = 0.0

    def __post_init__(self) -> None:
        from .experiment import parse_hidden
        from .losses import LOSSES

        object.__setattr__(self, "models", _as_tuple(self.models, "models"))
        object.__setattr__(
            self, "hidden", tuple(parse_hidden(h) for h in _as_tuple(self.hidden, "hidden"))
        )
        object.__setattr__(self, "solvers", _as_tuple(self.solvers or (self.solver,), "solvers"))
        object.__setattr__(self, "solver", self.solvers[0])
        rates = _as_tuple(self.learning_rates or (self.learning_rate,), "learning_rates")
        object.__setattr__(self, "learning_rates", tuple(float(v) for v in rates))
        object.__setattr__(self, "learning_rate", self.learning_rates[0])
        bad = [m for m in self.models if m not in ("linear", "mlp")]
        if bad or not self.models:
            raise ValueError(f"models must be among linear, mlp; got {', '.join(bad) or 'none'}")
        if self.activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be relu or tanh; got {self.activation!r}")
        if "mlp" in self.models and self.init == "zeros":
            raise ValueError(
                "init 'zeros' cannot train an MLP (its hidden units would stay identical); "
                "use --init random (linear: normal, mlp: glorot) or normal"
            )
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ValueError(
                f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}"
            )

        object.__setattr__(self, "datasets", _as_tuple(self.datasets, "datasets"))
        object.__setattr__(self, "losses", _as_tuple(self.losses or tuple(LOSSES), "losses"))
        object.__setattr__(self, "lams", tuple(float(v) for v in _as_tuple(self.lams, "lams")))
        if REFERENCE in self.losses:
            raise ValueError(
                f"{REFERENCE!r} is the reference row (on by default), not a loss to train"
            )
        unknown = [name for name in self.losses if name not in LOSSES]
        if unknown:
            raise ValueError(
                f"unknown loss(es) {', '.join(map(repr, unknown))}; valid: {', '.join(LOSSES)}"
            )
        if not self.datasets:
            raise ValueError("a study needs at least one dataset")
        if "csv" in self.datasets and not (self.csv_path and self.target):
            raise ValueError(
                "the 'csv' dataset needs csv_path and target (--csv FILE --target COL)"
            )
        for lam in self.lams:
            if not (math.isfinite(lam) and lam >= 0):
                raise ValueError(f"lam must be a finite number >= 0; got {lam!r}")
        if not (isinstance(self.repeats, int) and self.repeats >= 1):
            raise ValueError(f"repeats must be an integer >= 1; got {self.repeats!r}")
        if not (isinstance(self.max_epochs, int) and self.max_epochs >= 1):
            raise ValueError(f"max_epochs must be an integer >= 1; got {self.max_epochs!r}")
        for solver in self.solvers:
            if solver not in SOLVERS:
                raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; got {solver!r}")
        if self.init not in ("zeros", "normal", "random"):
            raise ValueError(f"init must be 'zeros', 'normal' or 'random'; got {self.init!r}")
        if not 0.0 < float(self.test_size) < 1.0:
            raise ValueError(f"test_size must be a fraction in (0, 1); got {self.test_size!r}")
        if not (math.isfinite(self.tol) and self.tol >= 0):
            raise ValueError(f"tol must be a finite number >= 0; got {self.tol!r}")
        for lr in self.learning_rates:
            if not (math.isfinite(lr) and lr > 0):
                raise ValueError(f"learning_rate must be > 0; got {lr!r}")

    def setups(self) -> dict[str, dict[str, Any]]:
        """Model × solver × learning rate of the grid, by label (e.g. ``mlp100x100 adam
        lr=0.01``); a study of one linear model and one solver has the single label
        ``linear <solver>`` (``lr=`` only for first-order solvers)."""
        from .experiment import format_hidden

        models = []
        for model in self.models:
            if model == "mlp":
                models += [(f"mlp{format_hidden(h)}", model, h) for h in self.hidden]
            else:
                models.append(("linear", model, ()))
        out = {}
        for name, model, hidden in models:
            for solver in self.solvers:
                rates = (None,) if solver == "lbfgs" else self.learning_rates
                for lr in rates:
                    label = f"{name} {solver}" + ("" if lr is None else f" lr={lr:g}")
                    out[label] = dict(
                        model=model,
                        hidden=hidden or (100,),
                        activation=self.activation,
                        solver=solver,
                        learning_rate=self.learning_rates[0] if lr is None else lr,
                    )
        return out

    def init_for(self, model: str) -> str:
        """The training init of ``model``: ``random`` is normal (linear) or glorot (mlp)."""
        if self.init == "random":
            return "glorot" if model == "mlp" else "normal"
        return self.init

    def seeds(self) -> list[int]:
        """The seed of each repeat: ``seed, seed + 1, ..., seed + repeats - 1``."""
        return [self.seed + r for r in range(self.repeats)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("datasets", "losses", "lams", "models", "solvers", "learning_rates"):
            d[key] = list(d[key])
        d["hidden"] = [list(h) for h in d["hidden"]]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def command(self) -> str:
        """The ``python -m lossesbox study`` command line that reruns exactly this study."""
        parts = [
            "python -m lossesbox study",
            f"--datasets {','.join(self.datasets)}",
            f"--losses {','.join(self.losses)}",
            f"--lam {','.join(f'{v:g}' for v in self.lams)}",
            f"--repeats {self.repeats}",
            f"--seed {self.seed}",
            f"--solver {','.join(self.solvers)}",
            f"--epochs {self.max_epochs}",
            f"--tol {self.tol:g}",
            f"--test-size {self.test_size:g}",
            f"--init {self.init}",
        ]
        if self.models != ("linear",):
            from .experiment import format_hidden

            parts.append(f"--models {','.join(self.models)}")
            if "mlp" in self.models:
                parts.append(f"--hidden {','.join(format_hidden(h) for h in self.hidden)}")
                parts.append(f"--activation {self.activation}")
        if set(self.solvers) != {"lbfgs"}:
            parts.append(f"--lr {','.join(f'{v:g}' for v in self.learning_rates)}")
            if {"sgd", "adam"} & set(self.solvers):
                parts.append(f"--batch-size {self.batch_size}")
        if self.validation_fraction:
            parts.append(f"--validation-fraction {self.validation_fraction:g}")
        if not self.standardize:
            parts.append("--no-standardize")
        if self.dtype != "float64":
            parts.append(f"--dtype {self.dtype}")
        if not self.reference:
            parts.append("--no-reference")
        if self.csv_path:
            parts.append(f"--csv {self.csv_path} --target {self.target}")
        return " ".join(parts)


def _as_tuple(value: Any, what: str) -> tuple:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    try:
        return tuple(value)
    except TypeError:
        return (value,)


# ------------------------------------------------------------------------ one repeat


@dataclass
class _Task:
    """One training run of the grid (picklable: sent to joblib workers)."""

    dataset: str
    lam: float
    loss: str
    repeat: int
    seed: int
    setup: str = ""


@dataclass
class _Output:
    row: dict[str, Any]
    history: list[dict[str, Any]]
    per_class: list[dict[str, Any]]


def epochs_to_fraction(
    history: pd.DataFrame | Sequence[dict], fraction: float = TARGET_FRACTION
) -> tuple[float, float]:
    """First epoch (and its ``seconds``) whose training accuracy reaches ``fraction`` of the
    final (last finite) training accuracy; ``(nan, nan)`` without a finite accuracy.

    Epoch 0 is the initialization, so a model that never improves on it scores 0.
    """
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(list(history)) if not isinstance(history, pd.DataFrame) else history
    if frame.empty or "train_accuracy" not in frame.columns:
        return math.nan, math.nan
    acc = pd.to_numeric(frame["train_accuracy"], errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(acc)
    if not finite.any():
        return math.nan, math.nan
    final = acc[finite][-1]
    hit = np.flatnonzero(finite & (acc >= fraction * final - 1e-12))
    i = int(hit[0])
    epoch = float(frame["epoch"].iloc[i])
    seconds = float(frame["seconds"].iloc[i]) if "seconds" in frame.columns else math.nan
    return epoch, seconds


def _class_keys(record: dict, kind: str) -> list[int]:
    prefix = f"{kind}.class_"
    return sorted(int(k[len(prefix) :]) for k in record if k.startswith(prefix))


def _init_record(estimator, X_train, y_train, init: str) -> dict[str, Any]:
    """The epoch-0 history record of ``estimator`` refitted with ``init`` (no update runs)."""
    from sklearn.base import clone

    def stop(record: dict) -> bool:
        return False

    est = clone(estimator).set_params(init=init, callback=stop, validation_fraction=0.0)
    est.fit(X_train, y_train)
    return dict(est.history_[0])


def _run_task(
    task: _Task,
    config: StudyConfig,
    dataset: Dataset,
    tracking: dict[str, Any] | None,
) -> _Output:
    """Train one repeat of one cell, measure it, and log it (if ``tracking``)."""
    import warnings

    import numpy as np

    from .experiment import TrainConfig, run_experiment

    base = {
        "dataset": task.dataset,
        "setup": task.setup,
        "lam": task.lam,
        "loss": task.loss,
        "repeat": task.repeat,
        "seed": task.seed,
    }
    setup = config.setups()[task.setup]
    init = config.init_for(setup["model"])
    train_config = TrainConfig(
        model=setup["model"],
        hidden=setup["hidden"],
        activation=setup["activation"],
        dataset=task.dataset,
        dataset_options=dict(config.dataset_options.get(task.dataset, {})),
        csv_path=config.csv_path if task.dataset == "csv" else None,
        target=config.target if task.dataset == "csv" else None,
        loss=task.loss,
        lam=task.lam,
        solver=setup["solver"],
        learning_rate=setup["learning_rate"],
        max_epochs=config.max_epochs,
        batch_size=config.batch_size,
        tol=config.tol,
        init=init,
        seed=task.seed,
        standardize=config.standardize,
        test_size=config.test_size,
        validation_fraction=config.validation_fraction,
        dtype=config.dtype,
    )
    row: dict[str, Any] = {**base, "status": "error", "stop_reason": "", "run_id": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = run_experiment(
                train_config,
                dataset=dataset,
                track=tracking is not None,
                experiment=(tracking or {}).get("experiment"),
                tracking_uri=(tracking or {}).get("tracking_uri"),
                parent_run_id=(tracking or {}).get("parent_run_id"),
                tags=_child_tags(task, tracking),
            )
    except Exception as exc:  # counted as a failure, never hidden
        row["stop_reason"] = f"{type(exc).__name__}: {exc}"
        return _Output(row=row, history=[], per_class=[])

    history = result.history
    records = history.to_dict("records") if hasattr(history, "to_dict") else list(history)
    metrics = result.metrics
    row.update(
        status=result.status,
        stop_reason=result.stop_reason or "",
        run_id=result.run_id,
        tracking_error=getattr(result, "tracking_error", None),
        test_accuracy=metrics.get("test_accuracy", math.nan),
        test_log_loss=metrics.get("test_log_loss", math.nan),
        train_accuracy=metrics.get("train_accuracy", math.nan),
        epochs=float(len(records) - 1),
        seconds=float(getattr(result, "seconds", math.nan)),
    )
    row["epochs_to_95"], row["seconds_to_95"] = epochs_to_fraction(records)

    # initial shares: the training run's own epoch 0, and a no-update fit with the other init
    X_train, _, y_train, _ = dataset.split(test_size=config.test_size, random_state=task.seed)
    if len(result.pipeline.steps) > 1:
        X_train = result.pipeline[:-1].transform(X_train)
    # the MLP trains from glorot (not a stage) and cannot start from zeros: it measures
    # the normal init only
    init_records = {"zeros": {}, "normal": {}}
    if init in init_records:
        init_records[init] = records[0] if records else {}
    for other in [k for k in init_records if k != init]:
        if setup["model"] == "mlp" and other == "zeros":
            continue
        try:
            init_records[other] = _init_record(result.estimator, X_train, y_train, other)
        except Exception as exc:
            row["stop_reason"] += f" (init={other} evaluation failed: {exc})"

    final = records[-1] if records else {}
    shares = np.array([r.get("wrong_way_share", np.nan) for r in records[1:]], dtype=float)
    row.update(
        wrong_way_init_zeros=init_records["zeros"].get("wrong_way_share", math.nan),
        wrong_zero_init_zeros=init_records["zeros"].get("wrong_zero_share", math.nan),
        wrong_way_init_normal=init_records["normal"].get("wrong_way_share", math.nan),
        wrong_way_final=final.get("wrong_way_share", math.nan),
        wrong_way_max=float(np.nanmax(shares)) if np.isfinite(shares).any() else math.nan,
        wrong_zero_final=final.get("wrong_zero_share", math.nan),
        true_wrong_way_final=final.get("true_wrong_way_share", math.nan),
    )

    per_class = []
    names = dataset.class_names
    for stage, record in (
        ("init_zeros", init_records["zeros"]),
        ("init_normal", init_records["normal"]),
        ("final", final),
    ):
        for c in _class_keys(record, "wrong_way_share"):
            per_class.append(
                {
                    **base,
                    "stage": stage,
                    "class_index": c,
                    "class": names[c] if c < len(names) else str(c),
                    "wrong_way_share": record[f"wrong_way_share.class_{c}"],
                }
            )
    keep = [k for k in HISTORY_COLUMNS]
    hist_rows = []
    for r in records:
        out = {**base, **{k: r.get(k, math.nan) for k in keep}}
        for c in _class_keys(r, "wrong_way_share"):
            out[f"wrong_way_share.class_{c}"] = r[f"wrong_way_share.class_{c}"]
        hist_rows.append(out)
    return _Output(row=row, history=hist_rows, per_class=per_class)


def _child_tags(task: _Task, tracking: dict[str, Any] | None) -> dict[str, str]:
    tags = {
        "lossesbox.study": (tracking or {}).get("study_name", ""),
        "lossesbox.study.cell": f"{task.dataset}/{task.lam:g}/{task.loss}",
        "lossesbox.study.repeat": str(task.repeat),
    }
    return tags


def _reference_lr(lam: float, n_train: int, n_classes: int, max_iter: int, tol: float):
    """``LogisticRegression`` with the C that solves our cross-entropy objective."""
    from sklearn.linear_model import LogisticRegression

    if lam <= 0:
        C = 1e12
    else:
        C = (2.0 if n_classes == 2 else 1.0) / (lam * n_train)
    return LogisticRegression(C=C, max_iter=max_iter, tol=max(tol, 1e-12))


def _run_reference(
    dataset_name: str,
    lam: float,
    repeat: int,
    seed: int,
    config: StudyConfig,
    dataset: Dataset,
    tracking: dict[str, Any] | None = None,
) -> _Output:
    """The scikit-learn reference for one repeat: same split, same standardization; a
    child run of the study when ``tracking``."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss

    from .diagnostics import gradient_signs

    base = {
        "dataset": dataset_name,
        "setup": next(iter(config.setups())),  # shown beside the first set-up's rows
        "lam": lam,
        "loss": REFERENCE,
        "repeat": repeat,
        "seed": seed,
    }
    row: dict[str, Any] = {**base, "status": "error", "stop_reason": "", "run_id": None}
    try:
        X_train, X_test, y_train, y_test = dataset.split(
            test_size=config.test_size, random_state=seed
        )
        prep = dataset.preprocessor(standardize=config.standardize)  # a table: impute, encode
        if prep is not None:
            prep.fit(X_train)
            X_train, X_test = prep.transform(X_train), prep.transform(X_test)
        K = dataset.n_classes
        model = _reference_lr(lam, X_train.shape[0], K, config.max_epochs, config.tol)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - t0
        d = model.decision_function(X_train)
        S = np.column_stack([np.zeros_like(d), d]) if d.ndim == 1 else d
        Y = np.eye(K)[y_train]
        signs = gradient_signs(S, Y, "cross_entropy")
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        n_iter = int(np.max(model.n_iter_))
        row.update(
            status="converged" if converged else "max_epochs",
            stop_reason=f"scikit-learn lbfgs, {n_iter} iterations, C={model.C:.6g}",
            test_accuracy=float(model.score(X_test, y_test)),
            test_log_loss=float(log_loss(y_test, model.predict_proba(X_test), labels=range(K))),
            train_accuracy=float(model.score(X_train, y_train)),
            epochs=float(n_iter),
            seconds=seconds,
            wrong_way_final=signs.wrong_way_share,
            wrong_zero_final=signs.wrong_zero_share,
            true_wrong_way_final=signs.true_wrong_way_share,
            C=float(model.C),
        )
        per_class = [
            {
                **base,
                "stage": "final",
                "class_index": c,
                "class": dataset.class_names[c],
                "wrong_way_share": float(signs.wrong_wrong[c]),
            }
            for c in range(K)
        ]
    except Exception as exc:
        row["stop_reason"] = f"{type(exc).__name__}: {exc}"
        per_class = []
    if tracking is not None:
        row["run_id"], row["tracking_error"] = _log_reference(row, dataset, config, tracking)
    return _Output(row=row, history=[], per_class=per_class)


def _log_reference(
    row: dict[str, Any], dataset: Dataset, config: StudyConfig, tracking: dict[str, Any]
) -> tuple[str | None, str | None]:
    """Log one reference fit as a child run: parameters, final metrics, status."""
    from .tracking import TrackedRun

    task = _Task(row["dataset"], row["lam"], REFERENCE, row["repeat"], row["seed"])
    params = {
        "model": "sklearn.linear_model.LogisticRegression",
        "loss": "cross_entropy",
        "lam": row["lam"],
        "C": row.get("C", math.nan),
        "solver": "lbfgs",
        "max_iter": config.max_epochs,
        "tol": max(config.tol, 1e-12),
        "seed": row["seed"],
        "standardize": config.standardize,
        "test_size": config.test_size,
        "dataset": dataset.name,
        "n_samples": dataset.n_samples,
        "n_features": dataset.n_features,
        "n_classes": dataset.n_classes,
    }
    run = TrackedRun(
        tracking["experiment"],
        tracking_uri=tracking["tracking_uri"],
        run_name=f"{REFERENCE}-lam{row['lam']:g}-s{row['seed']}",
        params=params,
        tags={"dataset": dataset.name, "loss": REFERENCE, **_child_tags(task, tracking)},
        parent_run_id=tracking["parent_run_id"],
        background=False,
    ).start()
    keys = ("test_accuracy", "test_log_loss", "train_accuracy", "wrong_way_share", "epochs")
    values = {**row, "wrong_way_share": row.get("wrong_way_final", math.nan)}
    run.log_final_metrics({k: values.get(k, math.nan) for k in keys})
    run.set_tags({"fit_status": row["status"], "fit_message": row["stop_reason"]})
    if row["status"] == "error":
        run.finish("FAILED", stop_reason=f"error: {row['stop_reason']}")
    else:
        run.finish("FINISHED")
    return run.run_id, run.error


# ------------------------------------------------------------------------ aggregation


def _group_keys() -> list[str]:
    return ["dataset", "setup", "lam", "loss"]


def _with_setup(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``setup`` column ("" for tables made before set-ups existed)."""
    if "setup" in frame.columns or frame.empty:
        return frame
    return frame.assign(setup="")


def _ordered(frame: pd.DataFrame, config: StudyConfig | None) -> pd.DataFrame:
    """Sort rows in the study's order: datasets, λ, losses as given, reference last."""
    if frame.empty:
        return frame
    datasets = list(config.datasets) if config else list(dict.fromkeys(frame["dataset"]))
    lams = list(config.lams) if config else list(dict.fromkeys(frame["lam"]))
    losses = (
        list(config.losses)
        if config
        else [x for x in dict.fromkeys(frame["loss"]) if x != REFERENCE]
    )
    losses = [*losses, REFERENCE]
    setups = (
        list(config.setups())
        if config
        else list(dict.fromkeys(frame["setup"] if "setup" in frame else []))
    )
    key = {
        "dataset": {v: i for i, v in enumerate(datasets)},
        "setup": {v: i for i, v in enumerate(setups)},
        "lam": {v: i for i, v in enumerate(lams)},
        "loss": {v: i for i, v in enumerate(losses)},
    }
    frame = frame.copy()
    sort_cols = []
    for col, mapping in key.items():
        if col not in frame.columns:
            continue
        frame[f"_{col}"] = frame[col].map(mapping).fillna(len(mapping))
        sort_cols.append(f"_{col}")
    extra = [c for c in ("repeat", "stage", "class_index", "epoch") if c in frame.columns]
    frame = frame.sort_values([*sort_cols, *extra], kind="stable")
    return frame.drop(columns=sort_cols).reset_index(drop=True)


def aggregate(runs: pd.DataFrame, config: StudyConfig | None = None) -> pd.DataFrame:
    """One row per dataset × λ × loss: ``n_runs``, ``n_failed`` (status diverged or
    error), ``statuses`` (e.g. ``"converged:4 max_epochs:1"``) and ``<metric>_mean`` /
    ``<metric>_std`` (sample std, ``ddof=1``) over the repeats with a finite value."""
    import numpy as np
    import pandas as pd

    rows = []
    runs = _with_setup(runs)
    for keys, group in runs.groupby(_group_keys(), sort=False):
        out = dict(zip(_group_keys(), keys, strict=True))
        status = group["status"].astype(str)
        out["n_runs"] = len(group)
        out["n_failed"] = int(status.isin(FAILED_STATUSES).sum())
        counts = status.value_counts()
        out["statuses"] = " ".join(f"{k}:{counts[k]}" for k in sorted(counts.index))
        for metric in METRICS:
            if metric not in group.columns:
                out[f"{metric}_mean"] = out[f"{metric}_std"] = np.nan
                continue
            v = pd.to_numeric(group[metric], errors="coerce").to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            out[f"{metric}_mean"] = float(v.mean()) if v.size else np.nan
            out[f"{metric}_std"] = float(v.std(ddof=1)) if v.size > 1 else np.nan
        rows.append(out)
    return _ordered(pd.DataFrame(rows), config)


def aggregate_per_class(per_class: pd.DataFrame, config: StudyConfig | None = None):
    """Mean and std over repeats of the per-class wrong-way share, per dataset × λ × loss ×
    stage × class."""
    import pandas as pd

    if per_class.empty:
        return pd.DataFrame(
            columns=[*_group_keys(), "stage", "class_index", "class", "wrong_way_share"]
        )
    keys = [*_group_keys(), "stage", "class_index", "class"]
    per_class = _with_setup(per_class)
    grouped = per_class.groupby(keys, sort=False)["wrong_way_share"]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    out = out.rename(
        columns={"mean": "wrong_way_share", "std": "wrong_way_share_std", "count": "n_runs"}
    )
    return _ordered(out, config)


def epoch_curves(history: pd.DataFrame) -> pd.DataFrame:
    """Mean over repeats per dataset × λ × loss × epoch.

    A repeat that stopped before the longest one in its cell is carried forward with its
    last record (its final parameters stay what they are), so each epoch's mean is over
    all repeats.
    """
    import pandas as pd

    if history.empty:
        return history.copy()
    history = _with_setup(history)
    value_cols = [c for c in history.columns if c not in (*_group_keys(), "repeat", "seed")]
    value_cols.remove("epoch")
    parts = []
    for keys, cell in history.groupby(_group_keys(), sort=False):
        last = int(cell["epoch"].max())
        epochs = pd.RangeIndex(0, last + 1, name="epoch")
        filled = [
            rep.set_index("epoch")[value_cols].reindex(epochs).ffill()
            for _, rep in cell.groupby("repeat", sort=False)
        ]
        mean = pd.concat(filled).groupby(level=0).mean().reset_index()
        for k, v in zip(_group_keys(), keys, strict=True):
            mean.insert(0, k, v)
        parts.append(mean)
    out = pd.concat(parts, ignore_index=True)
    return out[[*_group_keys(), "epoch", *value_cols]]


# ------------------------------------------------------------------------ the study


@dataclass
class StudyResult:
    """Tables and metadata of a finished study (also what :func:`load_report` returns)."""

    config: StudyConfig
    summary: pd.DataFrame
    runs: pd.DataFrame
    per_class: pd.DataFrame
    history: pd.DataFrame
    name: str = ""
    experiment: str | None = None
    run_id: str | None = None
    out_dir: Path | None = None
    started: str = ""
    seconds: float = math.nan
    tracking_error: str | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def per_class_summary(self) -> pd.DataFrame:
        return aggregate_per_class(self.per_class, self.config)

    @property
    def curves(self) -> pd.DataFrame:
        return epoch_curves(self.history)

    @property
    def n_failed(self) -> int:
        return int(self.summary["n_failed"].sum()) if not self.summary.empty else 0


def _timestamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _load_datasets(config: StudyConfig) -> dict[str, Dataset]:
    from .datasets import load_dataset

    out = {}
    for name in config.datasets:
        options = dict(config.dataset_options.get(name, {}))
        if name == "csv":
            options.update(path=config.csv_path, target=config.target)
        out[name] = load_dataset(name, **options)
    return out


def run_study(
    config: StudyConfig | None = None,
    *,
    track: bool = True,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    out: str | os.PathLike | None = None,
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    address: str | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> StudyResult:
    """Run the study grid, aggregate it, write the report to ``out`` and log everything.

    ``progress(done, total, row)`` is called after each training run (and reference fit)
    with that run's row. ``jobs != 1`` runs the grid with joblib: ``backend`` ``"loky"``
    (local processes, default), ``"dask"`` or ``"ray"`` with ``scheduler``/``address``, set
    up by :func:`lossesbox.sweep.parallel_backend`. Returns the :class:`StudyResult`;
    ``result.files`` maps report parts to their paths.
    """
    import pandas as pd

    config = config or StudyConfig()
    stamp = _timestamp()
    name = f"study-{stamp}"
    experiment = experiment or name
    out_dir = Path(out) if out is not None else Path("reports") / name
    started = _dt.datetime.now().isoformat(timespec="seconds")
    t0 = time.perf_counter()
    datasets = _load_datasets(config)

    tasks = [
        _Task(d, lam, loss, r, s, setup)
        for d in config.datasets
        for setup in config.setups()
        for lam in config.lams
        for loss in config.losses
        for r, s in enumerate(config.seeds())
    ]
    references = (
        [
            (d, lam, r, s)
            for d in config.datasets
            for lam in config.lams
            for r, s in enumerate(config.seeds())
        ]
        if config.reference
        else []
    )
    total = len(tasks) + len(references)

    study_run = None
    tracking = None
    tracking_error = None
    if track:
        from .tracking import TrackedRun

        study_run = TrackedRun(
            experiment,
            tracking_uri=tracking_uri,
            run_name=name,
            params=_study_params(config),
            tags={"lossesbox.study": name, "lossesbox.kind": "study"},
        ).start()
        if study_run.run_id is None or study_run.error:
            tracking_error = study_run.error
            study_run.finish("FAILED", stop_reason=f"tracking failed: {tracking_error}")
            study_run = None
        else:
            tracking = {
                "experiment": experiment,
                "tracking_uri": study_run.tracking_uri,
                "parent_run_id": study_run.run_id,
                "study_name": name,
            }
    try:
        outputs = _execute(
            tasks,
            references,
            config,
            datasets,
            tracking,
            progress,
            total,
            parallel={"jobs": jobs, "backend": backend, "scheduler": scheduler, "address": address},
        )
        runs = _with_reference_gap(_ordered(pd.DataFrame([o.row for o in outputs]), config))
        per_class = _ordered(pd.DataFrame([p for o in outputs for p in o.per_class]), config)
        history = _ordered(pd.DataFrame([h for o in outputs for h in o.history]), config)
        summary = aggregate(runs, config)
        result = StudyResult(
            config=config,
            summary=summary,
            runs=runs,
            per_class=per_class,
            history=history,
            name=name,
            experiment=experiment if study_run is not None else None,
            run_id=study_run.run_id if study_run is not None else None,
            out_dir=out_dir,
            started=started,
            seconds=time.perf_counter() - t0,
            tracking_error=tracking_error,
        )
        result.files = write_report(result, out_dir)
        if study_run is not None:
            study_run.log_final_metrics(_study_metrics(summary))
            study_run.log_artifacts(_folder_contents(out_dir), artifact_path="report")
            study_run.finish("FINISHED")
            result.tracking_error = study_run.error
        return result
    except BaseException as exc:
        if study_run is not None:
            study_run.__exit__(type(exc), exc, exc.__traceback__)
        raise


def _with_reference_gap(runs: pd.DataFrame) -> pd.DataFrame:
    """Add ``test_accuracy_vs_reference``: test accuracy minus the reference's on the same
    split (dataset, λ, repeat), a paired difference; NaN without a reference row."""
    import numpy as np

    if runs.empty:
        return runs
    if "test_accuracy" not in runs.columns:  # every run raised
        runs = runs.assign(test_accuracy=np.nan)
    keys = ["dataset", "lam", "repeat"]
    ref = runs.loc[runs["loss"] == REFERENCE, [*keys, "test_accuracy"]]
    ref = ref.rename(columns={"test_accuracy": "_ref"})
    merged = runs.merge(ref, on=keys, how="left")
    runs = runs.copy()
    runs["test_accuracy_vs_reference"] = merged["test_accuracy"].to_numpy(dtype=float) - merged[
        "_ref"
    ].to_numpy(dtype=float)
    return runs


def _folder_contents(folder: Path) -> dict[str, bytes]:
    """``{relative path: bytes}`` of every file under ``folder`` (to log as artifacts)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _execute(tasks, references, config, datasets, tracking, progress, total, parallel):
    """Run every task (and reference fit), calling ``progress`` as each finishes."""
    calls = [(_run_task, (t, config, datasets[t.dataset], tracking)) for t in tasks]
    calls += [
        (_run_reference, (d, lam, r, s, config, datasets[d], tracking))
        for d, lam, r, s in references
    ]
    outputs: list[_Output] = []
    if parallel["jobs"] == 1 and parallel["backend"] == "loky":
        for fn, args in calls:
            outputs.append(fn(*args))
            if progress is not None:
                progress(len(outputs), total, outputs[-1].row)
        return outputs
    from joblib import Parallel, delayed

    from .sweep import parallel_backend

    with parallel_backend(
        parallel["backend"],
        parallel["jobs"],
        scheduler=parallel["scheduler"],
        address=parallel["address"],
    ) as n_jobs:
        for output in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(fn)(*args) for fn, args in calls
        ):
            outputs.append(output)
            if progress is not None:
                progress(len(outputs), total, output.row)
    return outputs


def _study_params(config: StudyConfig) -> dict[str, str]:
    d = config.to_dict()
    params = {k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in d.items()}
    params["dataset_options"] = json.dumps(config.dataset_options, sort_keys=True)
    params["command"] = config.command()
    return {k: str(v) for k, v in params.items()}


def _study_metrics(summary: pd.DataFrame) -> dict[str, float]:
    """Headline numbers on the study run: ``<dataset>/<loss>/<metric>`` (λ appended when
    the study has several)."""
    import numpy as np

    several = summary["lam"].nunique() > 1 if not summary.empty else False
    out = {}
    for _, r in summary.iterrows():
        prefix = f"{r['dataset']}/{r['loss']}" + (f"/lam_{r['lam']:g}" if several else "")
        for m in ("test_accuracy_mean", "test_log_loss_mean", "wrong_way_final_mean", "n_failed"):
            v = float(r[m])
            if np.isfinite(v):
                out[f"{prefix}/{m}"] = v
    out["n_failed"] = float(summary["n_failed"].sum()) if not summary.empty else 0.0
    return out


# ------------------------------------------------------------------------ the report


def _fmt(mean: float, std: float, digits: int = 3) -> str:
    if mean is None or not math.isfinite(mean):
        return "–"
    if std is None or not math.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _fmt1(v: float, digits: int = 3) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The report's main table, formatted as strings (mean ± std)."""
    import pandas as pd

    several = summary["lam"].nunique() > 1 if not summary.empty else False
    setups = "setup" in summary.columns and summary["setup"].nunique() > 1
    rows = []
    for _, r in summary.iterrows():
        row = {"dataset": r["dataset"]}
        if setups:
            row["set-up"] = r["setup"]
        if several:
            row["λ"] = f"{r['lam']:g}"
        row.update(
            {
                "loss": r["loss"],
                "test accuracy": _fmt(r["test_accuracy_mean"], r["test_accuracy_std"]),
                "test log-loss": _fmt(r["test_log_loss_mean"], r["test_log_loss_std"]),
                "Δ accuracy vs reference": _fmt(
                    r.get("test_accuracy_vs_reference_mean", math.nan),
                    r.get("test_accuracy_vs_reference_std", math.nan),
                ),
                "wrong-way, init zeros": _init_zeros_cell(r),
                "wrong-way, init normal": _fmt1(r["wrong_way_init_normal_mean"]),
                "wrong-way, max in training": _fmt1(r["wrong_way_max_mean"]),
                "wrong-way, end": _fmt(r["wrong_way_final_mean"], r["wrong_way_final_std"]),
                "epochs": _fmt1(r["epochs_mean"], 0),
                "epochs to 95%": _fmt1(r["epochs_to_95_mean"], 1),
                "seconds to 95%": _fmt1(r["seconds_to_95_mean"], 3),
                "failed": f"{int(r['n_failed'])}/{int(r['n_runs'])}",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _init_zeros_cell(r) -> str:
    """The init-zeros share, saying so when every wrong-class gradient was exactly 0."""
    text = _fmt1(r["wrong_way_init_zeros_mean"])
    zero = r.get("wrong_zero_init_zeros_mean", math.nan)
    if zero is not None and math.isfinite(zero) and zero == 1.0:
        return f"{text} (all exactly 0)"
    return text


def _per_class_tables(per_class_summary: pd.DataFrame, stage: str) -> dict[str, pd.DataFrame]:
    """Per panel (dataset, λ): a loss × class table of the mean wrong-way share."""
    out = {}
    data = per_class_summary[per_class_summary["stage"] == stage]
    several = data["lam"].nunique() > 1 if not data.empty else False
    setups = "setup" in data.columns and data["setup"].nunique() > 1
    keys = ["dataset", "setup", "lam"] if "setup" in data.columns else ["dataset", "lam"]
    for values, part in data.groupby(keys, sort=False):
        dataset, lam = values[0], values[-1]
        title = f"{dataset}" + (f", {values[1]}" if setups else "")
        title += f" (λ={lam:g})" if several else ""
        table = part.pivot_table(
            index="loss", columns="class_index", values="wrong_way_share", sort=False
        )
        names = dict(zip(part["class_index"], part["class"], strict=False))
        table.columns = [str(names[c]) for c in table.columns]
        table = table.map(lambda v: _fmt1(v, 2))
        out[title] = table.reset_index()
    return out


def _markdown_table(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def stop_notes(runs: pd.DataFrame, config: StudyConfig | None = None) -> list[str]:
    """One line per cell whose runs failed, hit the iteration cap (unless ``tol == 0``
    made a fixed number of epochs the plan), stopped on a failed line search, or use a
    non-differentiable loss."""
    from .losses import LOSSES

    fixed_epochs = config is not None and config.tol == 0
    notes = []
    runs = _with_setup(runs)
    for (dataset, setup, lam, loss), group in runs.groupby(_group_keys(), sort=False):
        reasons = group["stop_reason"].fillna("").astype(str)
        failed = group["status"].isin(FAILED_STATUSES)
        line_search = reasons.str.contains("ABNORMAL|LINE SEARCH|line search", case=False)
        capped = group["status"] == "max_epochs"
        bits = []
        if failed.any():
            first = reasons[failed].iloc[0].rstrip(".")
            bits.append(f"{int(failed.sum())} of {len(group)} failed (first: {first})")
        if line_search.any():
            bits.append(f"{int(line_search.sum())} stopped on a failed L-BFGS line search")
        if capped.any() and not fixed_epochs and loss != REFERENCE:
            bits.append(f"{int(capped.sum())} of {len(group)} reached the iteration cap")
        if loss in LOSSES and not LOSSES[loss].smooth:
            bits.append(
                f"{loss} is not differentiable: a solver's stopping test does not certify "
                "an optimum"
            )
        if bits:
            where = f"{dataset}, {setup}" if runs["setup"].nunique() > 1 else dataset
            notes.append(f"- {where}, λ={lam:g}, {loss}: " + "; ".join(bits) + ".")
    return notes


def _charts(result: StudyResult) -> dict[str, Any]:
    from . import study_charts as sc

    charts: dict[str, Any] = {}
    summary = result.summary
    if summary.empty:
        return charts
    charts["test_accuracy"] = sc.mean_std_chart(summary, "test_accuracy")
    charts["test_log_loss"] = sc.mean_std_chart(summary, "test_log_loss")
    charts["wrong_way_stages"] = sc.stage_chart(summary[summary["loss"] != REFERENCE])
    if not result.history.empty:
        charts["wrong_way_curves"] = sc.curves_chart(result.curves, "wrong_way_share")
        charts["train_accuracy_curves"] = sc.curves_chart(result.curves, "train_accuracy")
        curves = result.curves
        if "val_accuracy" in curves.columns and curves["val_accuracy"].notna().any():
            charts["val_accuracy_curves"] = sc.curves_chart(curves, "val_accuracy")
    pcs = result.per_class_summary
    if not pcs.empty and (pcs["stage"] == "final").any():
        charts["per_class_final"] = sc.per_class_heatmap(pcs, "final")
    if not pcs.empty and (pcs["stage"] == "init_normal").any():
        charts["per_class_init_normal"] = sc.per_class_heatmap(pcs, "init_normal")
    charts["epochs_to_95"] = sc.mean_std_chart(
        summary[summary["loss"] != REFERENCE], "epochs_to_95"
    )
    return charts


CHART_TITLES = {
    "test_accuracy": "Test accuracy",
    "test_log_loss": "Test log-loss of predict_proba",
    "wrong_way_stages": "Wrong-way share at initialization and at the end",
    "wrong_way_curves": "Wrong-way share per epoch",
    "train_accuracy_curves": "Training accuracy per epoch",
    "val_accuracy_curves": "Held-out (validation) accuracy per epoch",
    "per_class_final": "Per class, at the end",
    "per_class_init_normal": "Per class, at a normal initialization",
    "epochs_to_95": "Epochs to 95% of the final training accuracy",
}


def _vl_convert():
    try:
        import vl_convert

        return vl_convert
    except ImportError:
        return None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "scikit-learn", "pandas", "mlflow", "altair"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    from . import __version__

    out["lossesbox"] = __version__
    return out


def _markdown(result: StudyResult, chart_files: dict[str, str]) -> str:
    cfg = result.config
    lines = [
        f"# Loss study {result.name}",
        "",
        f"Command: `{cfg.command()}`",
        "",
        f"Started {result.started}, took {result.seconds:.1f} s. "
        + (
            f"MLflow experiment `{result.experiment}`, study run `{result.run_id}`."
            if result.run_id
            else "Not tracked in MLflow."
        ),
        "",
        "## Set-up",
        "",
        f"- Datasets: {', '.join(cfg.datasets)}; λ = {', '.join(f'{v:g}' for v in cfg.lams)} "
        "(objective (1/N) Σ L + (λ/2)‖W‖², bias not penalized).",
        f"- {cfg.repeats} repeats, seeds {cfg.seed}…{cfg.seed + cfg.repeats - 1}: stratified "
        f"{1 - cfg.test_size:.0%}/{cfg.test_size:.0%} train/test split, "
        + (
            "standardized features (scaler fitted on the training part)"
            if cfg.standardize
            else "raw features"
        )
        + ".",
        f"- Every loss has the same budget: set-ups {', '.join(f'`{k}`' for k in cfg.setups())}"
        f" (model, solver, learning rate), at most {cfg.max_epochs} epochs (lbfgs: "
        f"iterations), tol {cfg.tol:g}, init `{cfg.init}`"
        + (" (normal for linear, glorot for mlp)" if cfg.init == "random" else "")
        + (f", batch size {cfg.batch_size}" if {"sgd", "adam"} & set(cfg.solvers) else "")
        + (
            f"; {cfg.validation_fraction:.0%} of each training split held out for the "
            "per-epoch `val_accuracy` curves"
            if cfg.validation_fraction
            else ""
        )
        + ".",
        f"- Reference row `{REFERENCE}`: scikit-learn `LogisticRegression` (lbfgs) with "
        "C = 1/(λN) (K ≥ 3) or 2/(λN) (K = 2), N = training samples, on the same splits."
        + (
            ""
            if cfg.solver == "lbfgs"
            else " It is solved to scikit-learn's own tolerance, not with the budget above."
        )
        if cfg.reference
        else "- No reference row.",
        "- Wrong-way share: among wrong-class score gradients ∂L/∂s_j (y_j = 0) on the "
        "training data, the share < 0, i.e. gradient descent pushes that score *up*. "
        "'init zeros' / 'init normal' are at the initial parameters (W = 0, or "
        "W ~ N(0, 0.01²)), 'max in training' the largest over epochs ≥ 1, 'end' at the "
        "final parameters.",
        "- 'Δ accuracy vs reference': test accuracy minus the reference's on the same split, "
        "mean ± std over repeats (a paired difference: split-to-split noise cancels).",
        "- Means ± sample std over repeats; failed runs (diverged or error) are included "
        "with the parameters they ended with, and counted in 'failed'.",
        "",
        "## Results",
        "",
        _markdown_table(headline_table(result.summary)),
        "",
    ]
    notes = stop_notes(result.runs, result.config)
    if notes:
        lines += ["### How the runs stopped", "", *notes, ""]
    lines += ["## Per class: wrong-way share at the end (mean over repeats)", ""]
    for title, table in _per_class_tables(result.per_class_summary, "final").items():
        lines += [f"### {title}", "", _markdown_table(table), ""]
    if chart_files:
        lines += ["## Charts", ""]
        for key, path in chart_files.items():
            lines += [f"![{CHART_TITLES.get(key, key)}]({path})", ""]
    lines += [
        "## Files",
        "",
        "- `results.csv`: the table above, unformatted (one row per dataset × λ × loss).",
        "- `runs.csv`: one row per training run (repeat), with status, stop reason and run id.",
        "- `per_class.csv`: per-class wrong-way shares per run and stage.",
        "- `history.csv`: per-epoch records of every run.",
        "- `study.json`: the configuration, command and package versions.",
        "",
    ]
    return "\n".join(lines)


_HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
code { background: #f3f3f3; padding: 1px 4px; }
.chart { margin: 1em 0 2em; }
"""


def _html(result: StudyResult, charts: dict[str, Any], markdown_intro: str) -> str:
    """One HTML page: the tables, and the charts as Vega-Lite specs rendered by a Vega
    bundle embedded in the page (no network needed) when ``vl-convert-python`` is
    installed, else loaded from a CDN."""
    import html

    vlc = _vl_convert()
    if vlc is not None:
        from altair.utils._importers import vl_version_for_vl_convert

        head_js = "<script>\n" + vlc.javascript_bundle(vl_version=vl_version_for_vl_convert())
        head_js = head_js.replace("</script", "<\\/script") + "\n</script>"
        offline = True
    else:
        head_js = (
            '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script>'
            '<script src="https://cdn.jsdelivr.net/npm/vega-lite@6"></script>'
            '<script src="https://cdn.jsdelivr.net/npm/vega-embed@7"></script>'
        )
        offline = False
    cfg = result.config
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>Loss study {html.escape(result.name)}</title>",
        f"<style>{_HTML_STYLE}</style>",
        head_js,
        "</head><body>",
        f"<h1>Loss study {html.escape(result.name)}</h1>",
        f"<p>Command: <code>{html.escape(cfg.command())}</code></p>",
        f"<p>{html.escape(markdown_intro)}</p>",
    ]
    if not offline:
        parts.append(
            "<p><em>The charts load their JavaScript from a CDN; install vl-convert-python "
            "for a report that works offline.</em></p>"
        )
    parts += ["<h2>Results</h2>", headline_table(result.summary).to_html(index=False)]
    notes = stop_notes(result.runs, result.config)
    if notes:
        parts += ["<h3>How the runs stopped</h3><ul>"]
        parts += [f"<li>{html.escape(n[2:])}</li>" for n in notes]
        parts += ["</ul>"]
    parts.append("<h2>Per class: wrong-way share at the end (mean over repeats)</h2>")
    for title, table in _per_class_tables(result.per_class_summary, "final").items():
        parts += [f"<h3>{html.escape(title)}</h3>", table.to_html(index=False)]
    parts.append("<h2>Charts</h2>")
    for i, (key, chart) in enumerate(charts.items()):
        spec = json.dumps(chart.to_dict()).replace("</", "<\\/")
        parts += [
            f"<h3>{html.escape(CHART_TITLES.get(key, key))}</h3>",
            f'<div class="chart" id="chart{i}"></div>',
            f"<script>vegaEmbed('#chart{i}', {spec}, {{actions: false}})"
            ".catch(console.error);</script>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result: StudyResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write the report folder; returns ``{part: path}`` (see :data:`REPORT_FILES`).

    Markdown and the CSV tables always; HTML with the charts embedded; SVG charts in
    ``charts/`` (linked from the Markdown) when ``vl-convert-python`` is installed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {k: out / v for k, v in REPORT_FILES.items()}
    result.summary.to_csv(files["summary"], index=False)
    result.runs.to_csv(files["runs"], index=False)
    result.per_class.to_csv(files["per_class"], index=False)
    result.history.to_csv(files["history"], index=False)
    meta = {
        "name": result.name,
        "command": result.config.command(),
        "config": result.config.to_dict(),
        "experiment": result.experiment,
        "run_id": result.run_id,
        "started": result.started,
        "seconds": result.seconds,
        "versions": _versions(),
        "host": platform.node(),
        "argv": sys.argv,
    }
    files["meta"].write_text(json.dumps(meta, indent=2, default=str))

    charts = _charts(result)
    chart_files: dict[str, str] = {}
    vlc = _vl_convert()
    if vlc is not None and charts:
        (out / "charts").mkdir(exist_ok=True)
        for key, chart in charts.items():
            path = out / "charts" / f"{key}.svg"
            chart.save(str(path))
            chart_files[key] = f"charts/{key}.svg"
            files[f"chart_{key}"] = path
    files["markdown"].write_text(_markdown(result, chart_files))
    intro = f"Started {result.started}, {result.seconds:.1f} s; " + (
        f"MLflow experiment {result.experiment}, study run {result.run_id}."
        if result.run_id
        else "not tracked."
    )
    files["html"].write_text(_html(result, charts, intro))
    return files


def load_report(directory: str | os.PathLike) -> StudyResult:
    """Read a report folder written by :func:`write_report` back into a
    :class:`StudyResult`."""
    import pandas as pd

    d = Path(directory)
    meta = json.loads((d / REPORT_FILES["meta"]).read_text())
    config = StudyConfig.from_dict(meta["config"])

    def read(part: str) -> pd.DataFrame:
        path = d / REPORT_FILES[part]
        try:
            return pd.read_csv(path)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()

    return StudyResult(
        config=config,
        summary=read("summary"),
        runs=read("runs"),
        per_class=read("per_class"),
        history=read("history"),
        name=meta.get("name", ""),
        experiment=meta.get("experiment"),
        run_id=meta.get("run_id"),
        out_dir=d,
        started=meta.get("started", ""),
        seconds=float(meta.get("seconds", math.nan)),
        files={k: d / v for k, v in REPORT_FILES.items() if (d / v).exists()},
    )


def list_studies(tracking_uri: str | None = None) -> pd.DataFrame:
    """Study runs in the MLflow store, newest first (``lossesbox.tracking.list_runs``
    columns); empty when there are none."""
    from . import tracking as _tracking

    runs = _tracking.list_runs(tracking_uri=tracking_uri)
    if runs.empty or "tags.lossesbox.kind" not in runs.columns:
        return runs.iloc[0:0]
    return runs[runs["tags.lossesbox.kind"] == "study"].reset_index(drop=True)


def load_study(run_id: str, *, tracking_uri: str | None = None) -> StudyResult:
    """Read the report that study run ``run_id`` logged as its ``report/`` artifact,
    downloaded from the run's artifact store (local folder, tracking server or object
    store) into a new temporary folder."""
    import tempfile

    from . import tracking as _tracking

    studies = list_studies(tracking_uri)
    if studies.empty or not (studies["run_id"] == run_id).any():
        raise ValueError(f"no study run {run_id!r} in the MLflow store")
    target = Path(tempfile.mkdtemp(prefix="lossesbox-study-"))
    try:
        folder = _tracking.download_artifacts(
            run_id, "report", str(target), tracking_uri=tracking_uri
        )
    except ValueError:
        raise ValueError(f"study run {run_id} has no report artifact") from None
    if not (Path(folder) / REPORT_FILES["meta"]).exists():
        raise ValueError(
            f"study run {run_id} has no report artifact ({REPORT_FILES['meta']} missing)"
        )
    return load_report(folder)


# ------------------------------------------------------------------------ command line


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``study`` options to ``p`` (``lossesbox.cli`` creates the subparser)."""
    d = StudyConfig.__dataclass_fields__
    g = p.add_argument_group("grid")
    g.add_argument(
        "--dataset",
        "--datasets",
        dest="datasets",
        default=",".join(DEFAULT_DATASETS),
        metavar="NAMES",
        help="comma list of datasets (default: %(default)s); 'csv' with --csv/--target",
    )
    g.add_argument(
        "--loss",
        "--losses",
        dest="losses",
        default="all",
        metavar="NAMES",
        help="comma list of losses, or 'all' = every registered loss (default: all)",
    )
    g.add_argument(
        "--lam",
        "--lams",
        dest="lams",
        default="1e-3",
        metavar="λ",
        help="comma list of λ ≥ 0, mean convention (default: %(default)s)",
    )
    g.add_argument(
        "--repeats",
        type=int,
        default=d["repeats"].default,
        metavar="N",
        help="seeded stratified splits per cell (default: %(default)s)",
    )
    g.add_argument(
        "--seed",
        "--seeds",
        dest="seed",
        type=int,
        default=d["seed"].default,
        metavar="N",
        help="first seed; repeat r uses seed + r for split, init and shuffling "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--csv", dest="csv_path", default=None, metavar="FILE", help="CSV file (dataset 'csv')"
    )
    g.add_argument("--target", default=None, metavar="COL", help="label column of --csv")
    g.add_argument(
        "--test-size",
        type=float,
        default=d["test_size"].default,
        metavar="F",
        help="test fraction of each split (default: %(default)s, DESIGN.md's reference split)",
    )
    g.add_argument(
        "--no-standardize", dest="standardize", action="store_false", help="raw features"
    )
    g.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the scikit-learn LogisticRegression reference row",
    )
    g = p.add_argument_group("solver budget (the same for every loss)")
    g.add_argument(
        "--model",
        "--models",
        dest="models",
        default="linear",
        metavar="NAMES",
        help="comma list of models: linear, mlp (default: %(default)s)",
    )
    g.add_argument(
        "--hidden",
        default="100",
        metavar="H",
        help="MLP architectures: sizes joined by x, architectures by commas, e.g. 100,100x100 "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--activation", choices=("relu", "tanh"), default="relu", help="MLP hidden activation"
    )
    g.add_argument(
        "--solver",
        "--solvers",
        dest="solver",
        default=d["solver"].default,
        metavar="NAMES",
        help=f"comma list of {', '.join(SOLVERS)} (default: %(default)s)",
    )
    g.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rate",
        default=str(d["learning_rate"].default),
        metavar="η",
        help="comma list of step sizes of gd/momentum/sgd/adam (default: %(default)s)",
    )
    g.add_argument(
        "--validation-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="held out of each training split for per-epoch val_accuracy curves (default: 0)",
    )
    g.add_argument(
        "--epochs",
        dest="max_epochs",
        type=int,
        default=d["max_epochs"].default,
        metavar="N",
        help="maximum epochs (lbfgs: iterations) per run (default: %(default)s)",
    )
    g.add_argument(
        "--batch-size",
        type=int,
        default=d["batch_size"].default,
        metavar="N",
        help="mini-batch size of sgd/adam (default: %(default)s)",
    )
    g.add_argument(
        "--tol",
        type=float,
        default=d["tol"].default,
        metavar="T",
        help="stopping tolerance (lbfgs: ftol and gtol) (default: %(default)s)",
    )
    g.add_argument(
        "--init",
        choices=("zeros", "normal", "random"),
        default=d["init"].default,
        help="initialization for training; zeros and normal are measured at init; random = "
        "normal for linear, glorot for mlp (default: zeros)",
    )
    g.add_argument("--dtype", choices=("float64", "float32"), default=d["dtype"].default)
    g = p.add_argument_group("output and tracking")
    g.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="report folder (default: reports/study-<timestamp>/)",
    )
    g.add_argument(
        "--experiment",
        default=None,
        metavar="NAME",
        help="MLflow experiment (default: study-<timestamp>)",
    )
    g.add_argument("--no-track", dest="track", action="store_false", help="do not log to MLflow")
    g.add_argument(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("parallel execution")
    g.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="parallel training runs (-1 = all cores; default: 1)",
    )
    g.add_argument(
        "--backend",
        choices=("loky", "dask", "ray"),
        default="loky",
        help="joblib backend for --jobs (default: loky)",
    )
    g.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address")
    g.add_argument("--address", metavar="ADDR", help="Ray cluster address")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``study`` on an argparse ``subparsers`` object; returns the parser."""
    p = subparsers.add_parser(
        "study",
        help="compare losses over datasets × repeated splits and write a report",
        description=(
            "Run every dataset × λ × loss over repeated seeded stratified splits with the "
            "same solver budget, log each run to MLflow under one study run, and write a "
            "report (Markdown, HTML with charts, CSV) to --out."
        ),
    )
    add_arguments(p)
    p.set_defaults(_run=run)
    return p


def _lr_list(text: Any) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in _as_tuple(text, "learning_rates"))
    except ValueError:
        raise ValueError(f"--lr must be a comma list of numbers; got {text!r}") from None


def config_from_args(args: argparse.Namespace) -> StudyConfig:
    """Build a :class:`StudyConfig` from parsed ``study`` arguments (ValueError if bad)."""
    from .losses import LOSSES

    losses = args.losses
    if isinstance(losses, str):
        all_ = losses.strip().lower() == "all"
        losses = tuple(LOSSES) if all_ else _as_tuple(losses, "losses")
    lams = args.lams
    if isinstance(lams, str):
        try:
            lams = tuple(float(v) for v in _as_tuple(lams, "lams"))
        except ValueError:
            raise ValueError(f"--lam must be a comma list of numbers; got {args.lams!r}") from None
    datasets = args.datasets
    if args.csv_path and datasets in (None, ",".join(DEFAULT_DATASETS)):
        datasets = "csv"
    if args.csv_path and not os.path.isfile(args.csv_path):
        raise ValueError(f"CSV file not found: {args.csv_path}")
    return StudyConfig(
        datasets=_as_tuple(datasets, "datasets"),
        losses=tuple(losses),
        lams=tuple(lams),
        repeats=args.repeats,
        seed=args.seed,
        solver=args.solver.split(",")[0],
        solvers=_as_tuple(args.solver, "solvers"),
        learning_rates=_lr_list(args.learning_rate),
        models=_as_tuple(args.models, "models"),
        hidden=_as_tuple(args.hidden, "hidden"),
        activation=args.activation,
        validation_fraction=args.validation_fraction,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        tol=args.tol,
        init=args.init,
        test_size=args.test_size,
        standardize=args.standardize,
        dtype=args.dtype,
        reference=args.reference,
        csv_path=args.csv_path,
        target=args.target,
    )


def run(args: argparse.Namespace) -> int:
    """``python -m lossesbox study``: progress bar, the table, where the report is.

    Bad values raise :class:`lossesbox.errors.UsageError` (one line, exit status 2). Returns
    0, or 1 when some run failed (diverged or raised): the report still has everything.
    """
    from .errors import UsageError

    try:
        config = config_from_args(args)
        if args.jobs == 0:
            raise ValueError("--jobs must not be 0 (1 = sequential, -1 = all cores)")
        from .datasets import DATASETS

        unknown = [d for d in config.datasets if d not in DATASETS and d != "csv"]
        if unknown:
            raise ValueError(
                f"unknown dataset(s) {', '.join(map(repr, unknown))}; valid: "
                f"{', '.join(DATASETS)}, or --csv FILE --target COL"
            )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from tqdm.auto import tqdm

    n = len(config.datasets) * len(config.lams) * config.repeats
    total = n * (len(config.losses) * len(config.setups()) + (1 if config.reference else 0))
    bar = tqdm(total=total, desc="study", unit="run", file=sys.stderr, disable=args.quiet)

    def progress(done: int, total: int, row: dict) -> None:
        bar.set_postfix_str(f"{row['dataset']} {row['loss']} #{row['repeat']}", refresh=False)
        bar.update(1)

    try:
        result = run_study(
            config,
            track=args.track,
            experiment=args.experiment,
            tracking_uri=args.tracking_uri,
            out=args.out,
            jobs=args.jobs,
            backend=args.backend,
            scheduler=args.scheduler,
            address=args.address,
            progress=progress,
        )
    except ValueError as exc:  # dataset loading, backend set-up
        raise UsageError(str(exc)) from None
    finally:
        bar.close()
    print(_markdown_table(headline_table(result.summary)))
    print()
    if result.n_failed:
        print(f"{result.n_failed} run(s) failed (diverged or raised); see runs.csv and the report")
    print(f"report: {result.files['markdown']}  (HTML: {result.files['html']})")
    if result.run_id:
        from .tracking import ui_command

        print(f"MLflow: experiment {result.experiment!r}, study run {result.run_id}")
        print(f"view: {ui_command(args.tracking_uri)}")
    if result.tracking_error:
        print(f"warning: {result.tracking_error}", file=sys.stderr)
    return 1 if result.n_failed else 0
