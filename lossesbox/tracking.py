"""MLflow tracking: the only lossesbox module that imports ``mlflow`` (always lazily).

Store
    ``resolve_tracking_uri(uri)``: an explicit URI, else ``$MLFLOW_TRACKING_URI``, else
    ``sqlite:///mlruns/mlflow.db`` relative to the working directory (made absolute, so
    worker processes write to the same file). A sqlite store is created on first use.
    New experiments of a sqlite store keep their artifacts next to the database,
    ``<db dir>/<experiment id>/`` (``mlruns/<id>/`` by default);
    ``$LOSSESBOX_ARTIFACT_ROOT`` overrides that root. A tracking server decides itself.

Runs
    :class:`TrackedRun` owns one run: tags (lossesbox version, git commit, host, PID),
    parameters, per-epoch metrics (buffered and sent with ``log_batch`` from a background
    thread), artifacts and the model. Whatever happens the run is closed: FINISHED,
    FAILED (exception or divergence, with a ``stop_reason`` tag) or KILLED (Ctrl-C or any
    other ``BaseException``, re-raised). Starting a run first marks RUNNING runs of this
    host whose process is gone as KILLED (:func:`mark_stale_runs`).

    Tracking is best effort: when the store is unreachable or fails mid-run, training goes
    on, :attr:`TrackedRun.error` says what happened and how to fix it, and no further
    calls are attempted. A tracking server is probed first with a short timeout (MLflow's
    default HTTP retries take minutes on a closed port); sqlite's "database is locked" is
    retried with exponential backoff.

Queries (for the dashboard; an empty or missing store gives empty frames)
    :func:`list_experiments`, :func:`list_runs`, :func:`get_histories`,
    :func:`get_history_frame`, :func:`load_model`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ARTIFACT_ROOT_ENV",
    "DEFAULT_TRACKING_URI",
    "TAG_HOST",
    "TAG_PARENT",
    "TAG_PID",
    "TAG_STOP_REASON",
    "TrackedRun",
    "TrackingUnavailable",
    "artifact_root",
    "download_artifacts",
    "get_histories",
    "get_history_frame",
    "get_or_create_experiment",
    "is_epoch_metric",
    "list_experiments",
    "list_runs",
    "load_model",
    "mark_stale_runs",
    "probe_store",
    "resolve_tracking_uri",
    "short_error",
    "ui_command",
    "warm_up",
]

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
ARTIFACT_ROOT_ENV = "LOSSESBOX_ARTIFACT_ROOT"

TAG_HOST = "host"
TAG_PID = "pid"
TAG_PID_START = "pid_start"
TAG_STOP_REASON = "stop_reason"
TAG_VERSION = "lossesbox_version"
TAG_GIT = "git_commit"
TAG_PARENT = "mlflow.parentRunId"

#: MLflow accepts at most 1000 metrics, 100 params and 100 tags per ``log_batch``.
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS = 1000, 100, 100
_MAX_PARAM_CHARS = 6000
_PROBE_TIMEOUT = 3.0
#: Defaults for MLflow's HTTP client when the user has not chosen (theirs: 7 retries, 120 s).
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
#: How long "database is locked" is retried before giving up.
_LOCK_DEADLINE = 60.0

_LOCK = threading.RLock()
_STALE_CHECKED: dict[str, float] = {}
_STALE_INTERVAL = 30.0


class TrackingUnavailable(RuntimeError):
    """The tracking store cannot be used; the message says why and how to fix it."""


# ---------------------------------------------------------------- store and URIs
def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """The store to use: ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else the default.

    A relative sqlite path (``sqlite:///mlruns/mlflow.db``) is made absolute against the
    working directory; other URIs are returned unchanged.
    """
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    path = _sqlite_path(uri)
    if path is not None and path != ":memory:" and not os.path.isabs(path):
        return "sqlite:///" + os.path.abspath(path)
    return uri


def _sqlite_path(uri: str) -> str | None:
    """File path of a ``sqlite:///path`` URI (``None`` for other schemes)."""
    if not uri.startswith("sqlite:"):
        return None
    rest = uri[len("sqlite:") :]
    if rest.startswith("///"):
        path = rest[3:]
    elif rest.startswith("//"):
        path = rest[2:]
    else:
        path = rest
    path = urllib.parse.unquote(path.split("?", 1)[0])
    return path or ":memory:"


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def artifact_root(tracking_uri: str | None = None) -> str | None:
    """Root folder for the artifacts of new experiments (``<root>/<experiment id>/``).

    ``$LOSSESBOX_ARTIFACT_ROOT`` if set; for a sqlite store the database's folder
    (``mlruns/`` for the default store); ``None`` (MLflow's choice) for servers.
    """
    uri = resolve_tracking_uri(tracking_uri)
    if _is_http(uri) or uri.startswith("databricks"):
        return None
    env = os.environ.get(ARTIFACT_ROOT_ENV)
    if env:
        return os.path.abspath(env) if "://" not in env else env
    path = _sqlite_path(uri)
    if path is not None and path != ":memory:":
        return os.path.dirname(os.path.abspath(path))
    return None


def redact_uri(uri: str) -> str:
    """``uri`` for messages: any user-info (``user:password@``, a token) shown as ``***@``."""
    parts = urllib.parse.urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def ui_command(tracking_uri: str | None = None) -> str:
    """How to look at the runs: the ``mlflow ui`` command, or the server's address."""
    uri = resolve_tracking_uri(tracking_uri)
    if _is_http(uri):
        return f"open {redact_uri(uri)} in a browser"
    default = resolve_tracking_uri(DEFAULT_TRACKING_URI)
    shown = DEFAULT_TRACKING_URI if uri == default else uri
    return f"mlflow ui --backend-store-uri {shown} --host 127.0.0.1 --port 5000"


def probe_store(
    tracking_uri: str | None = None, timeout: float = _PROBE_TIMEOUT, *, reading: bool = False
) -> None:
    """Fail fast (``TrackingUnavailable``) when the store cannot work, in ≤ ``timeout`` s.

    HTTP(S): one GET of ``<uri>/health`` without retries (any HTTP answer counts as
    reachable). sqlite: to log runs, the database's folder must be creatable and
    writable; to read them (``reading=True``) an existing database must be readable.
    Other schemes are not probed. The message says what was lost (a run not logged, or
    runs not read) and what to change.
    """
    uri = resolve_tracking_uri(tracking_uri)
    if reading:
        lost = "runs cannot be read"
        fix_uri = "Point MLFLOW_TRACKING_URI (or --tracking-uri) at the store"
        no_track = ""
    else:
        lost = "the run was not logged"
        fix_uri = (
            "Choose a writable place with --tracking-uri sqlite:///path/to/mlflow.db "
            "(or MLFLOW_TRACKING_URI)"
        )
        no_track = ", or use --no-track"
    if _is_http(uri):
        # urllib cannot take credentials in the URL (it resolves "user:pw@host" as a host
        # name); reachability needs none: a 401 answer counts as reachable.
        parts = urllib.parse.urlsplit(uri)
        bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        url = bare.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                pass
        except urllib.error.HTTPError:
            return  # the server answered (maybe auth or an old server without /health)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TrackingUnavailable(
                f"MLflow tracking server {redact_uri(uri)} is unreachable ({reason}); {lost}. "
                "Start the server (e.g. `mlflow server --host 127.0.0.1 --port 5000`) or fix "
                f"MLFLOW_TRACKING_URI (or --tracking-uri){no_track}."
            ) from None
        return
    path = _sqlite_path(uri)
    if path is None or path == ":memory:":
        return
    folder = os.path.dirname(os.path.abspath(path))
    if reading:
        if os.path.exists(path) and not os.access(path, os.R_OK):
            raise TrackingUnavailable(
                f"the MLflow store {path} is not readable (permissions); {lost}. {fix_uri}, "
                "or give this user read access."
            )
        return
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise TrackingUnavailable(
            f"cannot create the MLflow store folder {folder} ({exc.strerror or exc}); "
            f"{lost}. {fix_uri}{no_track}."
        ) from None
    writable = os.access(path, os.W_OK) if os.path.exists(path) else os.access(folder, os.W_OK)
    if not writable:
        raise TrackingUnavailable(
            f"the MLflow store {path} is not writable; {lost}. {fix_uri}{no_track}."
        )


def _store_exists(uri: str) -> bool:
    path = _sqlite_path(uri)
    return path is None or path == ":memory:" or os.path.exists(path)


@functools.cache
def _mlflow():
    """Import mlflow once, with quiet defaults that the user's environment can override."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for key, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    import logging

    import mlflow

    for name in ("mlflow.store.db.utils", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return mlflow


def warm_up() -> None:
    """Import mlflow (and its scikit-learn flavour) now, touching no store.

    ``import mlflow`` takes seconds; the dashboard calls this in a background thread
    while the user picks settings, so the first tracked run starts sooner."""
    _mlflow()
    import mlflow.sklearn  # noqa: F401


def short_error(exc: BaseException, limit: int = 300) -> str:
    """One readable line for an exception from MLflow or its database layer.

    SQLAlchemy appends the SQL statement (``[SQL: ...]``), its parameters and a link
    (``(Background on this error at: ...)``); those are cut, as is anything past the
    first line or ``limit`` characters."""
    text = str(exc).strip()
    for marker in ("[SQL:", "[parameters:", "(Background on this error"):
        i = text.find(marker)
        if i >= 0:
            text = text[:i]
    text = " ".join(text.split("\n", 1)[0].split()) if text else ""
    if text.startswith("(") and ")" in text:  # "(sqlite3.OperationalError) disk I/O error"
        text = text[text.index(")") + 1 :].strip() or text
    return text[:limit] if len(text) <= limit else text[: limit - 1] + "…"


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text


def _retry(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; retry on sqlite's "database is locked" with backoff (≤ 60 s in all)."""
    deadline = time.monotonic() + _LOCK_DEADLINE
    delay = 0.05
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not _is_locked(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(2.0 * delay, 2.0)


@contextlib.contextmanager
def _init_lock(uri: str):
    """Serialize the creation of a sqlite store between processes (an exclusive ``flock``
    on its folder): MLflow's table migrations fail when two processes run them at once."""
    path = _sqlite_path(uri)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: rely on the retry in _client
        fcntl = None
    if path is None or path == ":memory:" or fcntl is None:
        yield
        return
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@functools.lru_cache(maxsize=16)
def _client_cached(uri: str):
    mlflow = _mlflow()
    # The store (and a new sqlite database's tables) is created lazily; do it here, one
    # process at a time.
    with _init_lock(uri):
        client = mlflow.MlflowClient(tracking_uri=uri)
        _retry(client.search_experiments, max_results=1)
    return client


def _client(uri: str, *, reading: bool = False):
    """A cached ``MlflowClient`` for ``uri`` (probed first; creates a sqlite store)."""
    probe_store(uri, reading=reading)
    try:
        return _client_cached(uri)
    except Exception as first:
        if "already exists" not in str(first).lower():
            raise
        time.sleep(0.5)  # another process was creating the same database's tables
        return _client_cached(uri)


@contextlib.contextmanager
def _fluent_uri(uri: str):
    """Make ``uri`` mlflow's global tracking URI (fluent APIs read it) while holding a lock.

    ``mlflow.set_tracking_uri`` also exports the URI to ``$MLFLOW_TRACKING_URI``; that is
    undone, so one explicit URI does not become the default of later runs.
    """
    mlflow = _mlflow()
    with _LOCK:
        if mlflow.get_tracking_uri() != uri:
            before = os.environ.get("MLFLOW_TRACKING_URI")
            mlflow.set_tracking_uri(uri)
            if before is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = before
        yield mlflow


def get_or_create_experiment(name: str, tracking_uri: str | None = None) -> str:
    """Id of the active experiment ``name``; created (or restored if deleted) when needed.

    New experiments of a sqlite store put their artifacts under ``artifact_root()/<id>``.
    """
    if not name or not str(name).strip():
        raise ValueError("experiment name must be a non-empty string")
    uri = resolve_tracking_uri(tracking_uri)
    client = _client(uri)
    exp = _retry(client.get_experiment_by_name, name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            _retry(client.restore_experiment, exp.experiment_id)
        return exp.experiment_id
    try:
        return _create_experiment(client, uri, name)
    except Exception as exc:
        exp = _retry(client.get_experiment_by_name, name)
        if exp is None:  # not a creation race: a real error
            raise
        del exc
        return exp.experiment_id


def _create_experiment(client, uri: str, name: str) -> str:
    root = artifact_root(uri)
    if root is None:
        return _retry(client.create_experiment, name)
    if _sqlite_path(uri) is not None or uri.startswith(("postgresql", "mysql", "mssql")):
        # The artifact location must be <root>/<id>, but the id is only known once created:
        # let a store whose default artifact root is ``root`` derive it.
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore(uri, root)
        return _retry(store.create_experiment, name)
    return _retry(client.create_experiment, name)


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
    root = Path(__file__).resolve().parent.parent
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
    from . import __version__

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


# ---------------------------------------------------------------- metrics
_PER_CLASS_IN_HISTORY_ONLY = ("wrong_zero_share.class_", "true_wrong_way_share.class_")


def is_epoch_metric(key: str) -> bool:
    """Whether a history key is logged as an MLflow metric each epoch.

    Every key of DESIGN.md's history (and the overall ``wrong_zero_share`` /
    ``true_zero_share``) except ``epoch`` (it is the step). The per-class
    ``wrong_zero_share.class_<c>`` and ``true_wrong_way_share.class_<c>`` live only in the
    ``history.csv`` artifact: they would double the rows sqlite must write.
    """
    return key != "epoch" and not key.startswith(_PER_CLASS_IN_HISTORY_ONLY)


def _finite_or_inf(value: Any) -> float | None:
    """A float for MLflow, or None to skip (None/NaN/non-numbers: nothing to plot)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


class _MetricSender:
    """Buffer metrics and send them with ``log_batch``: every ``interval`` s or
    ``max_pending`` values, from a background thread (or synchronously).

    The buffer is bounded: when the store cannot keep up (a fast trainer, a slow or busy
    store), :meth:`add` waits once ``backlog`` values are pending. Memory stays flat and
    closing the run (also on Ctrl-C) only has a bounded backlog left to send; nothing
    is dropped."""

    def __init__(
        self,
        send: Callable[[list], None],
        interval: float,
        max_pending: int,
        bg: bool,
        backlog: int | None = None,
    ):
        self._send = send
        self._interval = interval
        self._max = max_pending
        self._backlog = max(backlog or 10 * max_pending, max_pending)
        self.waited = 0.0  # seconds add() spent waiting for the store
        self._pending: list = []
        self._cond = threading.Condition()
        self._closed = False
        self.error: BaseException | None = None
        self.sent = 0
        self._thread = None
        if bg:
            self._thread = threading.Thread(
                target=self._loop, name="lossesbox-metrics", daemon=True
            )
            self._thread.start()

    def add(self, metrics: list) -> None:
        if self.error is not None or not metrics:
            return
        with self._cond:
            if self._thread is not None and len(self._pending) >= self._backlog:
                t = time.perf_counter()
                self._cond.notify_all()
                while (
                    len(self._pending) >= self._backlog
                    and self.error is None
                    and not self._closed
                    and self._thread.is_alive()
                ):
                    self._cond.wait(0.5)
                self.waited += time.perf_counter() - t
            self._pending.extend(metrics)
            full = len(self._pending) >= self._max
            if full and self._thread is not None:
                self._cond.notify_all()
        if full and self._thread is None:
            self._flush()

    def _take(self) -> list:
        with self._cond:
            batch, self._pending = self._pending, []
            self._cond.notify_all()  # an add() waiting on the backlog can go on
        return batch

    def _flush(self) -> None:
        batch = self._take()
        if batch and self.error is None:
            try:
                self._send(batch)
                self.sent += len(batch)
            except Exception as exc:
                self.error = exc

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._closed or len(self._pending) >= self._max, self._interval
                )
                closed = self._closed
            self._flush()
            if closed:
                return

    def close(self) -> None:
        """Send everything still buffered (blocks until done)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        self._flush()


# ---------------------------------------------------------------- the run
class TrackedRun:
    """Context manager owning one MLflow run (see the module docstring).

    >>> with TrackedRun("iris", params={"lam": 1e-3}) as run:   # doctest: +SKIP
    ...     run.log_record({"epoch": 0, "objective": 1.1})
    ...     run.finish("FINISHED")

    Without an explicit :meth:`finish`, leaving the block normally ends the run
    FINISHED; an ``Exception`` ends it FAILED (``stop_reason = "error: <type>: <msg>"``),
    any other ``BaseException`` (Ctrl-C, ``SystemExit``, Streamlit's rerun/stop) KILLED;
    the exception propagates. Tracking problems never raise: they set :attr:`error`
    (one sentence with the fix) and switch tracking off for the rest of the run.
    """

    def __init__(
        self,
        experiment: str,
        *,
        tracking_uri: str | None = None,
        run_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        flush_interval: float = 2.0,
        max_pending: int = _MAX_METRICS,
        background: bool = True,
        metric_filter: Callable[[str], bool] = is_epoch_metric,
    ):
        self.experiment = experiment
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.run_name = run_name
        self._params = dict(params or {})
        self._tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.parent_run_id = parent_run_id
        self._flush_interval = flush_interval
        self._max_pending = max(1, min(int(max_pending), _MAX_METRICS))
        self._background = background
        self._metric_filter = metric_filter
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.status: str | None = None
        self.error: str | None = None
        self.model_uri: str | None = None
        self._client = None
        self._sender: _MetricSender | None = None
        self._last_step = 0

    # -- state
    @property
    def active(self) -> bool:
        """True while the run is open and tracking works."""
        return self.run_id is not None and self.error is None and self.status is None

    def _fail(self, what: str, exc: BaseException) -> None:
        if self.error is None:
            if isinstance(exc, TrackingUnavailable):
                self.error = str(exc)
            else:
                msg = short_error(exc)
                lost = (
                    "no run was created"
                    if self.run_id is None
                    else f"run {self.run_id} may be incomplete"
                )
                self.error = (
                    f"MLflow tracking failed while {what} ({type(exc).__name__}: {msg}) "
                    f"at {redact_uri(self.tracking_uri)}; {lost}. Check the store "
                    "(--tracking-uri / MLFLOW_TRACKING_URI) or use --no-track."
                )

    @contextlib.contextmanager
    def _guard(self, what: str):
        try:
            yield
        except Exception as exc:
            self._fail(what, exc)

    # -- lifecycle
    def start(self) -> TrackedRun:
        """Create the run (after marking stale runs KILLED); on failure set :attr:`error`."""
        try:
            client = _client(self.tracking_uri)
            self._client = client
            self.experiment_id = get_or_create_experiment(self.experiment, self.tracking_uri)
            try:
                _mark_stale_throttled(self.tracking_uri)
            except Exception:
                pass  # cleaning up other runs must never stop this one
            tags = {**_run_tags(), **self._tags}
            if self.parent_run_id:
                tags[TAG_PARENT] = self.parent_run_id
            run = _retry(client.create_run, self.experiment_id, run_name=self.run_name, tags=tags)
            self.run_id = run.info.run_id
        except Exception as exc:
            self._fail("starting the run", exc)
            return self
        if self._params:
            self.log_params(self._params)
        self._sender = _MetricSender(
            self._send_metrics, self._flush_interval, self._max_pending, self._background
        )
        return self

    def __enter__(self) -> TrackedRun:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.status is None:
            if exc is None:
                self.finish("FINISHED")
            elif isinstance(exc, Exception):
                reason = f"error: {type(exc).__name__}: {exc}".strip()
                self.finish("FAILED", stop_reason=reason[:1000])
            else:
                name = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
                if isinstance(exc, SystemExit) and exc.code not in (None, 0):
                    name += f" {exc.code}"
                self.finish("KILLED", stop_reason=f"interrupted ({name})")
        return False

    def finish(self, status: str = "FINISHED", stop_reason: str | None = None) -> None:
        """Flush every buffered metric, set the ``stop_reason`` tag, end the run."""
        if self.status is not None:
            return
        self.status = status
        if self.run_id is None:
            return
        self._close_sender()
        client = self._client
        # Even after a tracking error, try to close the run so it does not stay RUNNING.
        try:
            if stop_reason:
                _retry(client.set_tag, self.run_id, TAG_STOP_REASON, str(stop_reason)[:5000])
            _retry(client.set_terminated, self.run_id, status)
        except Exception as exc:
            self._fail("ending the run", exc)

    def _close_sender(self) -> None:
        if self._sender is not None:
            self._sender.close()
            if self._sender.error is not None:
                self._fail("sending metrics", self._sender.error)
            self._sender = None

    # -- logging
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters once (values as strings, ≤ 6000 characters each)."""
        if not self.active:
            return
        from mlflow.entities import Param

        items = [Param(str(k), _param_str(v)) for k, v in params.items()]
        with self._guard("logging parameters"):
            for i in range(0, len(items), _MAX_PARAMS):
                _retry(self._client.log_batch, self.run_id, params=items[i : i + _MAX_PARAMS])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if not self.active:
            return
        from mlflow.entities import RunTag

        items = [RunTag(str(k), str(v)[:5000]) for k, v in tags.items()]
        with self._guard("setting tags"):
            for i in range(0, len(items), _MAX_TAGS):
                _retry(self._client.log_batch, self.run_id, tags=items[i : i + _MAX_TAGS])

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Queue ``metrics`` at ``step`` (NaN/None skipped); sent in the background."""
        if not self.active or self._sender is None:
            return
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        batch = []
        for key, value in metrics.items():
            number = _finite_or_inf(value)
            if number is not None:
                batch.append(Metric(str(key), number, ts, int(step)))
        self._last_step = max(self._last_step, int(step))
        self._sender.add(batch)

    def log_record(self, record: Mapping[str, Any]) -> None:
        """Queue one history record: its metric keys at ``step = record["epoch"]``."""
        step = int(record.get("epoch", self._last_step))
        self.log_metrics({k: v for k, v in record.items() if self._metric_filter(k)}, step)

    def log_final_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log end-of-run metrics now (synchronously, after the buffered ones)."""
        if not self.active:
            return
        self.flush()
        self.log_metrics(metrics, self._last_step if step is None else step)
        self.flush()

    def flush(self) -> None:
        """Send every buffered metric now and restart the sender."""
        if self._sender is None or not self.active:
            return
        self._close_sender()
        if self.active:
            self._sender = _MetricSender(
                self._send_metrics, self._flush_interval, self._max_pending, self._background
            )

    def _send_metrics(self, metrics: list) -> None:
        for i in range(0, len(metrics), _MAX_METRICS):
            _retry(self._client.log_batch, self.run_id, metrics=metrics[i : i + _MAX_METRICS])

    def log_artifacts(self, files: Mapping[str, str | bytes], artifact_path: str | None = None):
        """Write ``{relative name: text or bytes}`` to a temp folder and log it in one call."""
        if not self.active or not files:
            return
        with self._guard("logging artifacts"), tempfile.TemporaryDirectory() as tmp:
            for name, content in files.items():
                target = Path(tmp, name)
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content, encoding="utf-8")
            _retry(self._client.log_artifacts, self.run_id, tmp, artifact_path)

    def log_artifact_file(self, path: str | os.PathLike, artifact_path: str | None = None):
        if not self.active:
            return
        with self._guard("logging an artifact"):
            _retry(self._client.log_artifact, self.run_id, os.fspath(path), artifact_path)

    def log_model(
        self,
        model: Any,
        input_example: Any,
        *,
        name: str = "model",
        metadata: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Log a fitted scikit-learn model (e.g. a Pipeline) with ``mlflow.sklearn``.

        Signature inferred from ``input_example`` and the model's predictions, skops
        format trusting exactly the lossesbox types found in the model, explicit pip
        requirements. Returns ``runs:/<run id>/<name>`` (``None`` if not logged).
        """
        if not self.active:
            return None
        with self._guard("logging the model"):
            _mlflow()
            import mlflow.sklearn
            from mlflow.models import infer_signature

            signature = infer_signature(input_example, model.predict(input_example))
            trusted = _skops_trusted_types(model)
            str_params = {str(k): _param_str(v) for k, v in (params or {}).items()}
            logged = _retry(
                self._client.create_logged_model,
                self.experiment_id,
                name=name,
                source_run_id=self.run_id,
                params=str_params or None,
                model_type="sklearn",
            )
            with _fluent_uri(self.tracking_uri):
                mlflow.sklearn.log_model(
                    model,
                    name=name,
                    signature=signature,
                    input_example=input_example,
                    pip_requirements=_pip_requirements(),
                    serialization_format="skops",
                    skops_trusted_types=trusted,
                    metadata=dict(metadata or {}),
                    run_id=self.run_id,
                    model_id=logged.model_id,
                    step=self._last_step,
                )
            with contextlib.suppress(Exception):
                self._client.finalize_logged_model(logged.model_id, "READY")
            self.model_uri = f"runs:/{self.run_id}/{name}"
        return self.model_uri


def _param_str(value: Any) -> str:
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return text[:_MAX_PARAM_CHARS]


def _skops_trusted_types(model: Any) -> list[str]:
    """The types skops would refuse in ``model``; only lossesbox's own may be trusted."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    foreign = [t for t in untrusted if not t.startswith("lossesbox.")]
    if foreign:
        raise TypeError(
            "the model holds types skops does not trust and lossesbox will not vouch for: "
            + ", ".join(foreign)
        )
    return list(untrusted)


@functools.cache
def _pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for dist in ("mlflow", "numpy", "scipy", "scikit-learn", "skops", "pandas"):
        try:
            reqs.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return reqs


# ---------------------------------------------------------------- queries
def _empty(columns: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


_EXPERIMENT_COLUMNS = ("experiment_id", "name", "artifact_location", "lifecycle_stage")
_EXPERIMENT_COLUMNS += ("creation_time", "last_update_time")
_RUN_COLUMNS = ("run_id", "run_name", "experiment", "experiment_id", "status")
_RUN_COLUMNS += ("start_time", "end_time", "parent_run_id", "artifact_uri")
_HISTORY_COLUMNS = ("run_id", "key", "step", "value")


def _search_experiments(client) -> list:
    out, token = [], None
    while True:
        page = _retry(client.search_experiments, max_results=1000, page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


def _search_all_runs(client, experiment_ids: list[str], filter_string: str = "") -> list:
    out, token = [], None
    while True:
        page = _retry(
            client.search_runs,
            experiment_ids,
            filter_string=filter_string,
            max_results=1000,
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        out.extend(page)
        token = page.token
        if not token:
            return out


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
