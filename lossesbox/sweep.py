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

Faults: the backend is connected before any run is created (a failed connect leaves
nothing behind). Each child carries ``sweep_point = <parent run id>:<configuration hash>``:
a task executed again (Dask re-runs the tasks of a lost worker) returns the complete child
it finds instead of training again, and marks unfinished ones KILLED + ``superseded``, so a
configuration never has two FINISHED children. After Ctrl-C (or any error) the sweep waits
for the workers' processes to end before marking their RUNNING children KILLED. A lost Dask
scheduler is one line (distributed's own tracebacks are silenced) and ends the parent FAILED
with the reason.
"""

from __future__ import annotations

import contextlib
import logging
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
    "SchedulerLost",
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
    tags = {"lossesbox_kind": "sweep-point"}
    if track and parent_run_id:
        tags[TAG_POINT] = point_key(parent_run_id, config)
        done = _previous_attempts(tags[TAG_POINT], experiment, parent_run_id, tracking_uri)
        if done is not None:  # a re-executed task (a lost worker): its run is complete
            row.update(done)
            return row
    try:
        result = run_experiment(
            config,
            dataset=dataset,
            track=track,
            experiment=experiment,
            tracking_uri=tracking_uri,
            parent_run_id=parent_run_id,
            tags=tags,
        )
    except Exception as exc:
        row.update(status="error", error=f"{type(exc).__name__}: {exc}", run_status="FAILED")
        return row
    _test_hook_exit_after_run()
    row.update({k: result.metrics.get(k) for k in _METRICS})
    row.update(
        status=result.status,
        run_status=result.run_status,
        run_id=result.run_id,
        tracking_error=result.tracking_error,
        error=None,
    )
    return row


#: Child runs carry ``sweep_point = <parent run id>:<hash of the configuration>``.
TAG_POINT = "sweep_point"
#: Test hook: a path; the first task to finish its run creates it and exits at once
#: (``os._exit``), as a worker lost right after its run was FINISHED.
_EXIT_HOOK_ENV = "_LOSSESBOX_TEST_EXIT_AFTER_RUN"


def point_key(parent_run_id: str, config: TrainConfig) -> str:
    """The idempotency key of one grid point of one sweep: parent run id + configuration
    (a new sweep has a new parent, so nothing is reused across sweeps)."""
    import hashlib
    import json

    text = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return f"{parent_run_id}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _previous_attempts(
    key: str, experiment: str | None, parent_run_id: str, tracking_uri: str | None
) -> dict[str, Any] | None:
    """Runs an earlier execution of this task logged. A complete one (FINISHED, or FAILED
    after the fit ended, e.g. diverged) is the result: its row is returned and nothing is
    trained again. Unfinished ones (its worker was lost) are marked KILLED and tagged
    ``superseded``; the task then trains afresh. Tracking problems: train afresh."""
    from .tracking import list_runs, supersede_run

    try:
        runs = list_runs(
            experiment,
            filter=f"tags.{TAG_POINT} = '{key}'",
            tracking_uri=tracking_uri,
            parent_run_id=parent_run_id,
        )
    except Exception:
        return None
    if not len(runs):
        return None
    fit_status = runs.get("tags.fit_status")
    superseded = runs.get("tags.superseded")
    for i in range(len(runs)):
        status = runs["status"].iloc[i]
        if superseded is not None and superseded.iloc[i] == "true":
            continue
        fit = fit_status.iloc[i] if fit_status is not None else None
        if status == "FINISHED" or (status == "FAILED" and isinstance(fit, str)):
            metrics = {k: runs.get(f"metrics.{k}") for k in _METRICS}
            row = {k: (v.iloc[i] if v is not None else None) for k, v in metrics.items()}
            if row.get("n_iter") is not None:
                row["n_iter"] = int(row["n_iter"])
            row.update(status=fit, run_status=status, run_id=runs["run_id"].iloc[i], error=None)
            row["tracking_error"] = None
            return row
    for i in range(len(runs)):
        if superseded is None or superseded.iloc[i] != "true":
            with contextlib.suppress(Exception):
                supersede_run(
                    runs["run_id"].iloc[i],
                    "superseded: the task was executed again (its worker was lost)",
                    tracking_uri=tracking_uri,
                )
    return None


def _test_hook_exit_after_run() -> None:
    marker = os.environ.get(_EXIT_HOOK_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(3)


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
        # A lost scheduler makes distributed log tracebacks from its own threads; the sweep
        # reports it in one line (and ends the parent run FAILED with the reason).
        names = [n for n in logging.root.manager.loggerDict if n.startswith("distributed")]
        quiet = [logging.getLogger(n) for n in {"distributed", "tornado", *names}]
        levels = [q.level for q in quiet]
        for q in quiet:
            q.setLevel(logging.CRITICAL)
        try:
            with joblib.parallel_config(backend="dask"):
                yield -1
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=5)
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(timeout=10)
            for q, level in zip(quiet, levels, strict=True):
                q.setLevel(level)
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
        # Connect first: a backend that cannot start leaves no empty parent run behind.
        with parallel_backend(backend, jobs, scheduler=scheduler, address=address) as n_jobs:
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
            rows = _execute(tasks, n_jobs, progress)
    except BaseException as exc:
        if track:
            # Workers end after an interrupt (loky terminates them): wait for them, then
            # mark their children KILLED, so none is left RUNNING.
            from .tracking import settle_children

            ids = [p.run_id for p in parents.values() if p.run_id]
            interrupted = isinstance(exc, KeyboardInterrupt | SystemExit)
            with contextlib.suppress(Exception):  # remote workers may go on: do not wait long
                settle_children(ids, tracking_uri=uri, timeout=30.0 if interrupted else 3.0)
        reason = exc
        if backend == "dask" and _lost_scheduler(exc):
            text = " ".join(f"{type(exc).__name__}: {exc}".split())
            reason = SchedulerLost(
                f"the Dask scheduler was lost in the middle of the sweep ({text})"
            )
        for parent in parents.values():
            parent.__exit__(type(reason), reason, None)
        if reason is not exc:
            raise reason from None
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


class SchedulerLost(RuntimeError):
    """The Dask scheduler went away mid-sweep (one line for the user; parent run FAILED)."""


def _lost_scheduler(exc: BaseException) -> bool:
    """Whether a Dask error means the scheduler (not one task) went away."""
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(
        s in text
        for s in ("commclosed", "scheduler-connection-lost", "cancelled", "not running", "stream")
    )


def _execute(tasks, n_jobs, progress) -> list[dict]:
    from tqdm.auto import tqdm

    from .cli import _raise_if_signalled

    rows = []
    with tqdm(total=len(tasks), desc="sweep", unit="run", disable=not progress) as bar:
        calls = [(run_point, (i, config, dataset), kw) for i, config, dataset, kw in tasks]
        for row in iter_parallel(calls, n_jobs):
            _raise_if_signalled()  # a Ctrl-C or SIGTERM a callback swallowed: stop here
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
