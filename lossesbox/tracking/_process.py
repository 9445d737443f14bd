"""Which process owns a run (host, PID, start time) and marking runs of dead processes KILLED."""

from __future__ import annotations

import functools
import math
import os
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from ._store import (
    _LOCK,
    _STALE_CHECKED,
    _STALE_INTERVAL,
    TAG_GIT,
    TAG_HOST,
    TAG_PID,
    TAG_PID_START,
    TAG_STOP_REASON,
    TAG_VERSION,
    _client,
    _retry,
    _search_all_runs,
    _search_experiments,
    _store_exists,
    resolve_tracking_uri,
)


# ---------------------------------------------------------------- process identity
@functools.cache
def _host() -> str:
    return socket.gethostname()


def _process_start(pid: int) -> float | None:
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:
        return None


def _pid_alive(pid: int, start: float | None) -> bool:
    """Is process ``pid`` (started at ``start``, if known) still running on this host?"""
    if pid == os.getpid():
        return True
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil ships with mlflow's dependencies
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if start is not None and abs(proc.create_time() - start) > 1.0:
            return False  # the PID was reused by another process
        return True
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


@functools.cache
def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _run_tags() -> dict[str, str]:
    from .. import __version__

    tags = {
        TAG_VERSION: __version__,
        TAG_HOST: _host(),
        TAG_PID: str(os.getpid()),
        "mlflow.source.name": "lossesbox",
        "mlflow.source.type": "LOCAL",
    }
    start = _process_start(os.getpid())
    if start is not None:
        tags[TAG_PID_START] = repr(start)
    commit = _git_commit()
    if commit:
        tags[TAG_GIT] = commit
        tags["mlflow.source.git.commit"] = commit
    return tags


def mark_stale_runs(
    tracking_uri: str | None = None, *, experiment_ids: Sequence[str] | None = None
) -> list[str]:
    """Mark RUNNING runs of this host whose process is gone as KILLED; return their ids.

    A run belongs to a process through its ``host``, ``pid`` (and ``pid_start``) tags;
    runs of live processes, of other hosts and without those tags are left alone.
    """
    uri = resolve_tracking_uri(tracking_uri)
    if not _store_exists(uri):
        return []
    client = _client(uri)
    if experiment_ids is None:
        experiment_ids = [e.experiment_id for e in _search_experiments(client)]
    if not experiment_ids:
        return []
    host = _host().replace("'", "\\'")
    runs = _search_all_runs(
        client,
        list(experiment_ids),
        f"attributes.status = 'RUNNING' and tags.{TAG_HOST} = '{host}'",
    )
    killed = []
    for run in runs:
        tags = run.data.tags
        try:
            pid = int(tags[TAG_PID])
        except (KeyError, ValueError):
            continue
        try:
            start = float(tags[TAG_PID_START]) if TAG_PID_START in tags else None
        except ValueError:
            start = None
        if _pid_alive(pid, start):
            continue
        reason = f"killed: process {pid} on {_host()} ended while the run was RUNNING"
        _retry(client.set_tag, run.info.run_id, TAG_STOP_REASON, reason)
        _retry(client.set_terminated, run.info.run_id, "KILLED")
        killed.append(run.info.run_id)
    return killed


def _mark_stale_throttled(uri: str) -> None:
    now = time.monotonic()
    with _LOCK:
        if now - _STALE_CHECKED.get(uri, -math.inf) < _STALE_INTERVAL:
            return
        _STALE_CHECKED[uri] = now
    mark_stale_runs(uri)


def supersede_run(run_id: str, reason: str, *, tracking_uri: str | None = None) -> None:
    """Tag run ``run_id`` ``superseded=true`` with ``stop_reason = reason``; a run not yet
    ended (RUNNING) is marked KILLED: another execution of the same work replaces it."""
    uri = resolve_tracking_uri(tracking_uri)
    client = _client(uri)
    run = _retry(client.get_run, run_id)
    _retry(client.set_tag, run_id, "superseded", "true")
    _retry(client.set_tag, run_id, TAG_STOP_REASON, reason)
    if run.info.status in ("RUNNING", "SCHEDULED"):
        _retry(client.set_terminated, run_id, "KILLED")


def settle_children(
    parent_run_ids: Sequence[str], *, tracking_uri: str | None = None, timeout: float = 30.0
) -> list[str]:
    """After an interrupted sweep: wait (≤ ``timeout`` s) until the processes of this host
    that own RUNNING children of ``parent_run_ids`` have ended, then mark runs of dead
    processes KILLED (:func:`mark_stale_runs`); return the ids marked.

    Marking at once would see workers that are still shutting down as alive and leave
    their children RUNNING for good."""
    if not parent_run_ids:
        return []
    import psutil

    from ._queries import list_runs

    uri = resolve_tracking_uri(tracking_uri)
    procs = []
    for parent in parent_run_ids:
        runs = list_runs(tracking_uri=uri, parent_run_id=parent)
        if not len(runs) or "tags.pid" not in runs:
            continue
        running = runs[runs["status"].eq("RUNNING") & runs.get("tags.host").eq(_host())]
        for pid in running["tags.pid"].dropna().unique():
            if int(pid) == os.getpid():
                continue
            try:
                procs.append(psutil.Process(int(pid)))
            except (psutil.Error, ValueError):
                continue
    if procs:
        psutil.wait_procs(procs, timeout=timeout)
    return mark_stale_runs(uri)
