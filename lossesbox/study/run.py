"""Running a study: one repeat of one cell, the scikit-learn reference, the whole grid."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..datasets import Dataset

from .aggregate import StudyResult, _ordered, aggregate
from .config import HISTORY_COLUMNS, REFERENCE, TARGET_FRACTION, StudyConfig
from .report import write_report

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

    from ..experiment import TrainConfig, run_experiment

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
        history=config.history_for(setup["solver"]),
    )
    row: dict[str, Any] = {**base, "status": "error", "stop_reason": "", "run_id": None}
    row["history"] = train_config.history  # what its per-epoch records are (run parameter too)
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

    from ..diagnostics import gradient_signs

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
    from ..tracking import TrackedRun

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


# ------------------------------------------------------------------------ the study


def _timestamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _load_datasets(config: StudyConfig) -> dict[str, Dataset]:
    from ..datasets import load_dataset

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
        from ..tracking import TrackedRun

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

    from ..sweep import parallel_backend

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
