"""Reading runs back for the dashboard and the CLI (empty frames for an empty or missing store)."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from ._store import (
    TAG_PARENT,
    _client,
    _fluent_uri,
    _retry,
    _search_all_runs,
    _search_experiments,
    _store_exists,
    redact_uri,
    resolve_tracking_uri,
    short_error,
)


# ---------------------------------------------------------------- queries
def _empty(columns: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


_EXPERIMENT_COLUMNS = ("experiment_id", "name", "artifact_location", "lifecycle_stage")
_EXPERIMENT_COLUMNS += ("creation_time", "last_update_time")
_RUN_COLUMNS = ("run_id", "run_name", "experiment", "experiment_id", "status")
_RUN_COLUMNS += ("start_time", "end_time", "parent_run_id", "artifact_uri")
_HISTORY_COLUMNS = ("run_id", "key", "step", "value")


def _ms_to_time(ms):
    import pandas as pd

    return pd.to_datetime(ms, unit="ms", utc=True) if ms is not None else pd.NaT


def list_experiments(tracking_uri: str | None = None) -> pd.DataFrame:
    """Active experiments, newest first: ``experiment_id, name, artifact_location,
    lifecycle_stage, creation_time, last_update_time`` (times as UTC timestamps)."""
    import pandas as pd

    uri = resolve_tracking_uri(tracking_uri)
    if not _store_exists(uri):
        return _empty(_EXPERIMENT_COLUMNS)
    client = _client(uri, reading=True)
    rows = [
        {
            "experiment_id": e.experiment_id,
            "name": e.name,
            "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage,
            "creation_time": _ms_to_time(e.creation_time),
            "last_update_time": _ms_to_time(e.last_update_time),
        }
        for e in _search_experiments(client)
    ]
    if not rows:
        return _empty(_EXPERIMENT_COLUMNS)
    frame = pd.DataFrame(rows, columns=list(_EXPERIMENT_COLUMNS))
    return frame.sort_values("creation_time", ascending=False, ignore_index=True)


def list_runs(
    experiment_names: str | Iterable[str] | None = None,
    filter: str | None = None,
    *,
    tracking_uri: str | None = None,
    parent_run_id: str | None = None,
) -> pd.DataFrame:
    """One row per run, newest first.

    Columns: ``run_id, run_name, experiment, experiment_id, status, start_time,
    end_time, parent_run_id, artifact_uri``, then ``params.<name>``, ``metrics.<key>``
    (latest value) and ``tags.<key>`` (MLflow's internal ``mlflow.*`` tags left out).
    ``experiment_names`` (a name or several; default all), ``filter`` (MLflow search
    syntax, e.g. ``"params.loss = 'mse'"``) and ``parent_run_id`` (its children) narrow
    the selection.
    """
    import pandas as pd

    uri = resolve_tracking_uri(tracking_uri)
    if not _store_exists(uri):
        return _empty(_RUN_COLUMNS)
    client = _client(uri, reading=True)
    experiments = {e.experiment_id: e.name for e in _search_experiments(client)}
    if experiment_names is not None:
        names = {experiment_names} if isinstance(experiment_names, str) else set(experiment_names)
        experiments = {i: n for i, n in experiments.items() if n in names}
    if not experiments:
        return _empty(_RUN_COLUMNS)
    clauses = [filter] if filter else []
    if parent_run_id:
        clauses.append(f"tags.`{TAG_PARENT}` = '{parent_run_id}'")
    runs = _search_all_runs(client, list(experiments), " and ".join(clauses))
    rows = []
    for run in runs:
        info, data = run.info, run.data
        row = {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment": experiments.get(info.experiment_id),
            "experiment_id": info.experiment_id,
            "status": info.status,
            "start_time": _ms_to_time(info.start_time),
            "end_time": _ms_to_time(info.end_time),
            "parent_run_id": data.tags.get(TAG_PARENT),
            "artifact_uri": info.artifact_uri,
        }
        row.update({f"params.{k}": v for k, v in sorted(data.params.items())})
        row.update({f"metrics.{k}": v for k, v in sorted(data.metrics.items())})
        row.update(
            {f"tags.{k}": v for k, v in sorted(data.tags.items()) if not k.startswith("mlflow.")}
        )
        rows.append(row)
    if not rows:
        return _empty(_RUN_COLUMNS)
    frame = pd.DataFrame(rows)
    fixed = list(_RUN_COLUMNS)
    rest = sorted(c for c in frame.columns if c not in fixed)
    return frame[fixed + rest]


def get_histories(
    run_ids: str | Iterable[str],
    keys: str | Iterable[str] | None = None,
    *,
    tracking_uri: str | None = None,
) -> pd.DataFrame:
    """Metric histories of several runs as a long frame ``run_id, key, step, value``.

    ``keys`` defaults to every metric of each run. Sorted by run (in the given order),
    key and step; a value logged twice at one step keeps the latest.
    """
    import pandas as pd

    run_ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
    uri = resolve_tracking_uri(tracking_uri)
    if not run_ids or not _store_exists(uri):
        return _empty(_HISTORY_COLUMNS)
    client = _client(uri, reading=True)
    wanted = None if keys is None else ([keys] if isinstance(keys, str) else list(keys))
    rows = []
    for run_id in run_ids:
        try:
            run = _retry(client.get_run, run_id)
        except Exception as exc:
            if _is_missing(exc):
                continue
            raise
        run_keys = sorted(run.data.metrics) if wanted is None else wanted
        for key in run_keys:
            if key not in run.data.metrics:
                continue
            for m in _retry(client.get_metric_history, run_id, key):
                rows.append((run_id, key, int(m.step), float(m.value), m.timestamp))
    if not rows:
        return _empty(_HISTORY_COLUMNS)
    frame = pd.DataFrame(rows, columns=[*_HISTORY_COLUMNS, "timestamp"])
    order = {r: i for i, r in enumerate(run_ids)}
    frame["_order"] = frame["run_id"].map(order)
    frame = frame.sort_values(["_order", "key", "step", "timestamp"], kind="stable")
    frame = frame.drop_duplicates(["run_id", "key", "step"], keep="last")
    return frame[list(_HISTORY_COLUMNS)].reset_index(drop=True)


def get_history_frame(run_id: str, *, tracking_uri: str | None = None) -> pd.DataFrame:
    """The full per-epoch history of a run (every key, one row per epoch) from its
    ``history.csv`` artifact; an empty frame if the run has none."""
    import pandas as pd

    uri = resolve_tracking_uri(tracking_uri)
    if not _store_exists(uri):
        return pd.DataFrame()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = download_artifacts(run_id, "history.csv", tmp, tracking_uri=uri)
        except Exception:
            return pd.DataFrame()
        return pd.read_csv(path)


def _is_missing(exc: BaseException) -> bool:
    """Whether an MLflow error means "no such run or artifact" (not a broken store)."""
    text = str(exc).lower()
    markers = ("resource_does_not_exist", "not found", "failed to download artifacts")
    return isinstance(exc, FileNotFoundError) or any(m in text for m in markers)


def download_artifacts(
    run_id: str, artifact_path: str, dst_path: str, *, tracking_uri: str | None = None
) -> str:
    """Copy run ``run_id``'s artifact file or folder ``artifact_path`` into the existing
    local folder ``dst_path`` and return the local path of the copy.

    Works for every artifact store MLflow supports (local folders, a tracking server's
    proxied artifacts, object stores); a missing run or artifact is a ``ValueError``."""
    uri = resolve_tracking_uri(tracking_uri)
    if not _store_exists(uri):
        raise ValueError(f"no MLflow store at {redact_uri(uri)}")
    client = _client(uri, reading=True)
    try:
        return _retry(client.download_artifacts, run_id, artifact_path, dst_path)
    except Exception as exc:
        if _is_missing(exc):
            raise ValueError(
                f"run {run_id!r} has no artifact {artifact_path!r} in the MLflow store at "
                f"{redact_uri(uri)} ({short_error(exc)})"
            ) from None
        raise


def load_model(run_id: str, *, tracking_uri: str | None = None, name: str = "model"):
    """The fitted scikit-learn Pipeline logged by a run (``runs:/<run_id>/model``)."""
    uri = resolve_tracking_uri(tracking_uri)
    if not _store_exists(uri):
        raise ValueError(f"no MLflow store at {uri}")
    _client(uri, reading=True)
    with _fluent_uri(uri) as mlflow:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(f"runs:/{run_id}/{name}")


def csv_text(frame: pd.DataFrame) -> str:
    """CSV text of a frame (``history.csv``, ``results.csv`` artifacts)."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue()
