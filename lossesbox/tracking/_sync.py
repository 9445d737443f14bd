"""``python -m lossesbox sync``: replay spooled runs into their store, idempotently.

For each spool (see :mod:`._spool`): skip it while its process is alive and the run has not
ended (or another sync holds it); find the run (its id; else a run tagged with the spool's id,
left by an interrupted sync; else create one and write its id into ``run.json`` before
anything else is sent); send parameters and tags the store lacks, metric values whose
``(key, step)`` the store does not hold yet, the artifacts, the model (unless a READY one of
that name exists); end the run with its true final status; read back the status the store
holds; remove the spool. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from ._model import deliver_model
from ._process import _host, _pid_alive
from ._spool import MODEL_FILE, TAG_SPOOL, Spool, list_spools, read_json
from ._store import (
    _MAX_METRICS,
    _MAX_PARAMS,
    _MAX_TAGS,
    TAG_STOP_REASON,
    _client,
    _retry,
    get_or_create_experiment,
    redact_uri,
    short_error,
)

__all__ = ["TAG_SPOOL", "SyncResult", "send_new_metrics", "sync_spool", "sync_spools"]


@dataclass
class SyncResult:
    """What one spool's sync did: ``outcome`` is ``delivered``, ``skipped`` or ``failed``."""

    spool: str
    outcome: str
    run_id: str | None = None
    status: str | None = None  # the status the store holds after the sync
    metrics: int = 0  # metric values sent (0 when the store already had them all)
    message: str = ""

    def line(self) -> str:
        if self.outcome == "delivered":
            return (
                f"delivered {self.spool}: run {self.run_id} ({self.status}), "
                f"{self.metrics} metric values sent"
            )
        return f"{self.outcome} {self.spool}: {self.message}"


@contextlib.contextmanager
def _exclusive(path: Path):
    """A non-blocking ``flock`` on the spool; yields False when another sync holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield True
        return
    fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _live(meta: dict) -> bool:
    """Whether the process that owns the spool still runs the (unfinished) run."""
    if meta.get("status") or meta.get("host") != _host():
        return False
    try:
        pid = int(meta.get("pid"))
    except (TypeError, ValueError):
        return False
    if pid == os.getpid():
        return False  # this process: it asked for the sync itself
    return _pid_alive(pid, meta.get("pid_start"))


def _store_uri(recorded: str) -> str:
    """The URI to replay into: the recorded one, or ``$MLFLOW_TRACKING_URI`` when it is the
    same store with the credentials the spool left out."""
    current = os.environ.get("MLFLOW_TRACKING_URI")
    if current and "***@" in recorded and redact_uri(current) == recorded:
        return current
    return recorded


def _find_run(client, meta: dict) -> str | None:
    run_id = meta.get("run_id")
    if run_id:
        try:
            return _retry(client.get_run, run_id).info.run_id
        except Exception as exc:
            if "not found" not in str(exc).lower() and "does_not_exist" not in str(exc).lower():
                raise
    exp = _retry(client.get_experiment_by_name, meta["experiment"])
    if exp is None:
        return None
    found = _retry(
        client.search_runs,
        [exp.experiment_id],
        filter_string=f"tags.`{TAG_SPOOL}` = '{meta['spool_id']}'",
        max_results=1,
    )
    return found[0].info.run_id if found else None


def send_new_metrics(client, run_id: str, rows: list[tuple[str, float, int, int]]) -> int:
    """Send the ``(key, value, timestamp, step)`` rows whose ``(key, step)`` the run does not
    hold yet (one value per key and step); return how many were sent."""
    from mlflow.entities import Metric

    present: dict[str, set[int]] = {}
    for key in {r[0] for r in rows}:
        present[key] = {int(m.step) for m in _retry(client.get_metric_history, run_id, key)}
    todo, seen = [], set()
    for key, value, ts, step in rows:
        if step in present[key] or (key, step) in seen:
            continue
        seen.add((key, step))
        todo.append(Metric(key, value, ts, step))
    for i in range(0, len(todo), _MAX_METRICS):
        _retry(client.log_batch, run_id, metrics=todo[i : i + _MAX_METRICS])
    return len(todo)


def sync_spool(path: str | os.PathLike, *, tracking_uri: str | None = None) -> SyncResult:
    """Replay one spool folder into its store (or ``tracking_uri``); never raises."""
    from mlflow.entities import Param, RunTag

    spool = Spool(path)
    name = spool.path.name
    try:
        meta = spool.meta()
    except (OSError, ValueError) as exc:
        return SyncResult(name, "failed", message=f"unreadable run.json ({exc})")
    if _live(meta):
        return SyncResult(
            name, "skipped", meta.get("run_id"), message=f"process {meta['pid']} still runs it"
        )
    with _exclusive(spool.path) as mine:
        if not mine:
            return SyncResult(name, "skipped", meta.get("run_id"), message="another sync holds it")
        uri = tracking_uri or _store_uri(meta["tracking_uri"])
        stage = "connecting"
        try:
            if "***@" in uri:
                raise ValueError(
                    "the store's address held credentials, which the spool does not keep: set "
                    "MLFLOW_TRACKING_URI (or --tracking-uri) to it"
                )
            client = _client(uri)
            stage = "finding the run"
            run_id = _find_run(client, meta)
            experiment_id = get_or_create_experiment(meta["experiment"], uri)
            if run_id is None:
                stage = "creating the run"
                tags = {**meta.get("tags", {}), TAG_SPOOL: meta["spool_id"]}
                if meta.get("parent_run_id"):
                    tags["mlflow.parentRunId"] = meta["parent_run_id"]
                run = _retry(
                    client.create_run,
                    experiment_id,
                    start_time=meta.get("start_time"),
                    tags=tags,
                    run_name=meta.get("run_name"),
                )
                run_id = run.info.run_id
                spool.update(run_id=run_id)
            elif meta.get("run_id") != run_id:
                spool.update(run_id=run_id)
            run = _retry(client.get_run, run_id)
            experiment_id = run.info.experiment_id

            stage = "sending parameters and tags"
            have = run.data.params
            params = [Param(k, v) for k, v in meta.get("params", {}).items() if k not in have]
            for i in range(0, len(params), _MAX_PARAMS):
                _retry(client.log_batch, run_id, params=params[i : i + _MAX_PARAMS])
            tags = [
                RunTag(k, v) for k, v in meta.get("tags", {}).items() if run.data.tags.get(k) != v
            ]
            for i in range(0, len(tags), _MAX_TAGS):
                _retry(client.log_batch, run_id, tags=tags[i : i + _MAX_TAGS])

            stage = "sending metrics"
            sent = 0
            for file in spool.metric_files():
                sent += send_new_metrics(client, run_id, Spool.read_metrics(file))
                file.unlink()

            stage = "uploading artifacts"
            artifacts = spool.path / "artifacts"
            if artifacts.is_dir() and any(artifacts.iterdir()):
                _retry(client.log_artifacts, run_id, str(artifacts))

            stage = "logging the model"
            if (spool.path / MODEL_FILE).is_file():
                info = read_json(spool.path / MODEL_FILE)
                deliver_model(
                    client,
                    experiment_id,
                    run_id,
                    spool.path / "model",
                    name=info.get("name", "model"),
                    params=info.get("params"),
                    step=int(info.get("step", 0)),
                )

            stage = "ending the run"
            status, reason = meta.get("status"), meta.get("stop_reason")
            if not status:  # the process died before it could end the run
                status = "KILLED"
                reason = f"killed: process {meta.get('pid')} ended before the run did"
            if reason:
                _retry(client.set_tag, run_id, TAG_STOP_REASON, reason)
            _retry(client.set_terminated, run_id, status, meta.get("end_time"))
            held = _retry(client.get_run, run_id).info.status
        except Exception as exc:
            return SyncResult(
                name,
                "failed",
                meta.get("run_id"),
                message=f"{stage} at {redact_uri(uri)} failed ({short_error(exc)}); "
                "kept for the next sync",
            )
        spool.remove()
        return SyncResult(name, "delivered", run_id, held, sent)


def sync_spools(
    tracking_uri: str | None = None, *, root: str | os.PathLike | None = None
) -> list[SyncResult]:
    """Sync every spool under ``root`` (default: the spool folder of ``tracking_uri``'s
    store). ``tracking_uri`` also redirects the replay when given explicitly."""
    return [sync_spool(s.path, tracking_uri=tracking_uri) for s in list_spools(tracking_uri, root)]
