"""Grid sweeps: every configuration trained in parallel with joblib, one MLflow run each,
grouped under one parent run per experiment.

Backends (``backend=``):

- ``loky`` (default): local worker processes, ``jobs`` of them (``-1`` = all cores;
  ``1`` runs in this process);
- ``dask``: the scheduler at ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``), else a
  ``LocalCluster`` bound to 127.0.0.1 with ``jobs`` single-threaded worker processes;
- ``ray``: the cluster at ``address`` (or ``$RAY_ADDRESS``), else a local Ray instance
  (``pip install -r requirements-cluster.txt``).

Workers run :func:`run_point` (importable, so any backend can ship it) on a dataset
loaded once by the driver. Workers on other machines need a tracking store they can
reach: a tracking server (``--tracking-uri http://host:5000``), not a local sqlite file.
Children are tagged ``mlflow.parentRunId``; the parent gets the results table as
``results.csv``. A failing point is reported in the table (status ``error``), the
others go on.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .datasets import Dataset
    from .experiment import TrainConfig

__all__ = [
    "SweepResult",
    "format_table",
    "grid",
    "iter_parallel",
    "model_name",
    "parallel_backend",
    "run_point",
    "run_sweep",
]

#: Columns of the results table, in order.
TABLE_COLUMNS = (
    "dataset",
    "model",
    "loss",
    "lam",
    "seed",
    "solver",
    "learning_rate",
    "status",
    "test_accuracy",
    "test_log_loss",
    "train_accuracy",
    "objective",
    "wrong_way_share",
    "n_iter",
    "fit_seconds",
    "run_status",
    "run_id",
    "experiment",
    "error",
)
_METRICS = (
    "test_accuracy",
    "test_log_loss",
    "train_accuracy",
    "objective",
    "wrong_way_share",
    "n_iter",
    "fit_seconds",
)


@dataclass
class SweepResult:
    """``table``: one row per grid point (:data:`TABLE_COLUMNS`, grid order);
    ``parent_run_ids``: one per experiment; ``tracking_errors``: distinct messages."""

    table: pd.DataFrame
    parent_run_ids: list[str] = field(default_factory=list)
    tracking_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def grid(base: TrainConfig | None = None, **values: Sequence[Any]) -> list[TrainConfig]:
    """Every combination of ``values`` (field name → list), in the order given.

    >>> [c.label() for c in grid(loss=["mse", "exp_mse"], seed=[0, 1])][:3]
    ['mse-lbfgs-lam0.001-s0', 'mse-lbfgs-lam0.001-s1', 'exp_mse-lbfgs-lam0.001-s0']
    """
    import itertools

    from .experiment import TrainConfig

    base = base or TrainConfig()
    names = list(values)
    return [
        base.replace(**dict(zip(names, combo, strict=True)))
        for combo in itertools.product(*(list(values[n]) for n in names))
    ]


def run_point(
    index: int,
    config: TrainConfig,
    dataset: Dataset | None,
    *,
    track: bool,
    experiment: str | None,
    tracking_uri: str | None,
    parent_run_id: str | None,
    environ: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Worker: train one grid point; a row of the results table (never raises
    ``Exception``: a failure is the row's ``status = "error"`` with the message)."""
    for key, value in (environ or {}).items():  # reused workers keep an old environment
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    from .experiment import run_experiment

    row: dict[str, Any] = {
        "index": index,
        "experiment": experiment,
        "dataset": dataset.name if dataset is not None else config.dataset,
        "model": model_name(config),
        "loss": config.loss,
        "lam": config.lam,
        "seed": config.seed,
        "solver": config.solver,
        "learning_rate": config.learning_rate,
        "host": _host(),
        "pid": os.getpid(),
    }
    try:
        result = run_experiment(
            config,
            dataset=dataset,
            track=track,
            experiment=experiment,
            tracking_uri=tracking_uri,
            parent_run_id=parent_run_id,
            tags={"lossesbox_kind": "sweep-point"},
        )
    except Exception as exc:
        row.update(status="error", error=f"{type(exc).__name__}: {exc}", run_status="FAILED")
        return row
    row.update({k: result.metrics.get(k) for k in _METRICS})
    row.update(
        status=result.status,
        run_status=result.run_status,
        run_id=result.run_id,
        tracking_error=result.tracking_error,
        error=None,
    )
    return row


def model_name(config: TrainConfig) -> str:
    """``"linear"`` or ``"mlp 100x100 relu"``: the model column of sweep tables."""
    if config.model != "mlp":
        return config.model
    from .experiment import format_hidden

    return f"mlp {format_hidden(config.hidden)} {config.activation}"


def _host() -> str:
    import socket

    return socket.gethostname()


@contextlib.contextmanager
def parallel_backend(
    backend: str = "loky",
    jobs: int = 1,
    *,
    scheduler: str | None = None,
    address: str | None = None,
) -> Iterator[int]:
    """Set up joblib's ``backend`` for the block; yields the ``n_jobs`` to use.

    Raises ``ValueError`` (with the fix) when the backend cannot start.
    """
    import joblib

    if backend == "loky":
        with joblib.parallel_config(backend="loky"):
            yield jobs
        return
    if backend == "dask":
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ValueError(
                "--backend dask needs dask[distributed]: pip install 'dask[distributed]'"
            ) from None
        addr = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
        cluster = None
        try:
            if addr:
                client = Client(addr, timeout="10s")
            else:
                n = jobs if jobs > 0 else (os.cpu_count() or 1)
                cluster = LocalCluster(
                    host="127.0.0.1",
                    dashboard_address=None,
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                )
                client = Client(cluster)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            where = addr or "a local cluster"
            raise ValueError(f"cannot connect to the Dask scheduler at {where}: {exc}") from None
        try:
            with joblib.parallel_config(backend="dask"):
                yield -1
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if backend == "ray":
        try:
            import ray
            from ray.util.joblib import register_ray
        except ImportError:
            raise ValueError(
                "--backend ray needs Ray: pip install -r requirements-cluster.txt"
            ) from None
        addr = address or os.environ.get("RAY_ADDRESS")
        started = not ray.is_initialized()
        if started:
            try:
                ray.init(
                    address=addr,
                    include_dashboard=False,
                    log_to_driver=False,
                    num_cpus=None if addr or jobs <= 0 else jobs,
                )
            except Exception as exc:
                raise ValueError(f"cannot start or reach Ray at {addr or 'local'}: {exc}") from None
        register_ray()
        try:
            with joblib.parallel_config(backend="ray"):
                yield jobs
        finally:
            if started:
                ray.shutdown()
        return
    raise ValueError(f"unknown backend {backend!r}; valid: loky, dask, ray")


def _grid_params(configs: Sequence[TrainConfig]) -> dict[str, str]:
    """Parent-run parameters: each field's distinct values, in first-seen order."""
    out = {}
    for name, value in configs[0].to_dict().items():
        seen = list(dict.fromkeys(repr(c.to_dict()[name]) for c in configs))
        if name == "csv_path" and value is not None:
            seen = list(dict.fromkeys(os.path.basename(c.csv_path) for c in configs))
        out[name] = ",".join(s.strip("'") for s in seen)
    out["grid_size"] = str(len(configs))
    return out


def run_sweep(
    configs: Sequence[TrainConfig],
    *,
    datasets: Mapping[str, Dataset] | None = None,
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    address: str | None = None,
    track: bool = True,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    progress: bool = False,
    run_name: str | None = None,
) -> SweepResult:
    """Train every config (in parallel) and collect the results table.

    ``datasets`` maps a config's ``csv_path or dataset`` to a loaded ``Dataset`` (loaded
    here when missing). Experiments: ``experiment``, else one per dataset name; each
    gets one parent run (``sweep-<time>``) whose children are the grid points.
    """
    import pandas as pd

    from .experiment import load_config_dataset
    from .tracking import ARTIFACT_ROOT_ENV, TrackedRun, csv_text, resolve_tracking_uri

    if not configs:
        raise ValueError("empty sweep: give at least one configuration")
    t0 = time.perf_counter()
    data = dict(datasets or {})
    for config in configs:
        config.validate()
        key = config.csv_path or config.dataset
        if key not in data:
            data[key] = load_config_dataset(config)
    keys = [c.csv_path or c.dataset for c in configs]
    exp_names = [experiment or data[k].name for k in keys]
    uri = resolve_tracking_uri(tracking_uri) if track else None
    stamp = time.strftime("%Y%m%d-%H%M%S")

    parents: dict[str, TrackedRun] = {}
    errors: list[str] = []
    rows: list[dict] = []
    try:
        if track:
            for name in dict.fromkeys(exp_names):
                group = [c for c, e in zip(configs, exp_names, strict=True) if e == name]
                parent = TrackedRun(
                    name,
                    tracking_uri=uri,
                    run_name=run_name or f"sweep-{stamp}",
                    params=_grid_params(group),
                    tags={"lossesbox_kind": "sweep", "backend": backend},
                    background=False,
                ).start()
                parents[name] = parent
                if parent.error:
                    errors.append(parent.error)
        environ = {ARTIFACT_ROOT_ENV: os.environ.get(ARTIFACT_ROOT_ENV)}
        tasks = [
            (
                i,
                config,
                data[key],
                dict(
                    track=track,
                    experiment=name,
                    tracking_uri=uri,
                    parent_run_id=parents[name].run_id if name in parents else None,
                    environ=environ,
                ),
            )
            for i, (config, key, name) in enumerate(zip(configs, keys, exp_names, strict=True))
        ]
        rows = _execute(tasks, jobs, backend, scheduler, address, progress)
    except BaseException as exc:
        for parent in parents.values():
            parent.__exit__(type(exc), exc, exc.__traceback__)
        if track:  # children of killed workers: their processes are gone now
            with contextlib.suppress(Exception):
                from .tracking import mark_stale_runs

                mark_stale_runs(uri)
        raise

    rows.sort(key=lambda r: r["index"])
    table = pd.DataFrame(rows)
    for column in TABLE_COLUMNS:
        if column not in table.columns:
            table[column] = None
    for row in rows:
        if row.get("tracking_error") and row["tracking_error"] not in errors:
            errors.append(row["tracking_error"])
    for name, parent in parents.items():
        part = table[table["experiment"].eq(name)]
        part = part[[c for c in TABLE_COLUMNS if c != "experiment"]]
        n_failed = int((part["status"].isin(["error", "diverged"])).sum())
        acc = pd.to_numeric(part["test_accuracy"], errors="coerce")
        parent.log_final_metrics(
            {
                "n_points": len(part),
                "n_failed": n_failed,
                "best_test_accuracy": float(acc.max()) if acc.notna().any() else None,
            }
        )
        parent.set_tags({"n_failed": n_failed})
        parent.log_artifacts({"results.csv": csv_text(part)})
        parent.finish("FINISHED")
        if parent.error and parent.error not in errors:
            errors.append(parent.error)
    return SweepResult(
        table=table[list(TABLE_COLUMNS)],
        parent_run_ids=[p.run_id for p in parents.values() if p.run_id],
        tracking_errors=errors,
        seconds=time.perf_counter() - t0,
    )


def iter_parallel(calls: Sequence[tuple[Any, tuple, dict]], n_jobs: int) -> Iterator[Any]:
    """Run ``fn(*args, **kwargs)`` for each ``(fn, args, kwargs)`` with joblib's current
    backend; yield results as they complete (in task order on backends that cannot
    stream them, such as Ray's)."""
    from joblib import Parallel, delayed

    delayed_calls = [delayed(fn)(*args, **kwargs) for fn, args, kwargs in calls]
    try:
        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(delayed_calls)
    except ValueError as exc:  # "Backend ... does not support return_as=..."
        if "return_as" not in str(exc):
            raise
        results = Parallel(n_jobs=n_jobs)(delayed_calls)
    yield from results


def _execute(tasks, jobs, backend, scheduler, address, progress) -> list[dict]:
    from tqdm.auto import tqdm

    rows = []
    with (
        parallel_backend(backend, jobs, scheduler=scheduler, address=address) as n_jobs,
        tqdm(total=len(tasks), desc="sweep", unit="run", disable=not progress) as bar,
    ):
        calls = [(run_point, (i, config, dataset), kw) for i, config, dataset, kw in tasks]
        for row in iter_parallel(calls, n_jobs):
            rows.append(row)
            bar.update(1)
            if row.get("test_accuracy") is not None:
                bar.set_postfix(last=f"{row['loss']} acc {row['test_accuracy']:.3f}")
    return rows


def format_table(table: pd.DataFrame) -> str:
    """The results table as text (full run ids, so they can be looked up in MLflow)."""
    if table is None or not len(table):
        return "(no results)"
    shown = table.drop(columns=["experiment"], errors="ignore")
    shown = shown.dropna(axis=1, how="all")
    with_pd = shown.rename(columns={"learning_rate": "lr", "wrong_way_share": "wrong_way"})
    return with_pd.to_string(index=False, float_format=lambda v: f"{v:.4g}")
