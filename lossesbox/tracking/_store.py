"""The store: URIs, probing, the cached client, retries on a locked sqlite file, experiments."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


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
#: The caller never waits on them (see ``_run._bounded``): they only bound how long a
#: background request to a hung server lingers before its metrics go to the spool.
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
#: How long "database is locked" is retried before giving up.
_LOCK_DEADLINE = 60.0

_LOCK = threading.RLock()
_STALE_CHECKED: dict[str, float] = {}
_STALE_INTERVAL = 30.0


class TrackingUnavailable(RuntimeError):
    """The tracking store cannot be used; the message says why and how to fix it.

    ``transient`` is True when it may come back by itself (a server that does not answer):
    a run then goes to the spool; ``cause`` is the first clause (what is wrong)."""

    def __init__(self, message: str, *, transient: bool = False, cause: str | None = None):
        super().__init__(message)
        self.transient = transient
        self.cause = cause or message


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
            cause = f"MLflow tracking server {redact_uri(uri)} is unreachable ({reason})"
            raise TrackingUnavailable(
                f"{cause}; {lost}. "
                "Start the server (e.g. `mlflow server --host 127.0.0.1 --port 5000`) or fix "
                f"MLFLOW_TRACKING_URI (or --tracking-uri){no_track}.",
                transient=True,
                cause=cause,
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


def warm_up(tracking_uri: str | None = None) -> None:
    """Import everything a first tracked run needs; with ``tracking_uri``, open its store.

    ``import mlflow`` and ``import skops.io`` (which walks every scikit-learn estimator)
    take seconds each, and a new sqlite store runs its schema migrations on first open:
    the dashboard calls this once per server, in the page's own thread, so the first
    click on Train does not pay for them. Imports run in the caller's thread: importing a
    package in two threads at once can hand one of them a half-initialized module."""
    _mlflow()
    import mlflow.models
    import mlflow.pyfunc
    import mlflow.sklearn  # noqa: F401
    import skops.io  # noqa: F401

    if tracking_uri is not None:
        _client(resolve_tracking_uri(tracking_uri))


def short_error(exc: BaseException, limit: int = 300) -> str:
    """One readable line for an exception from MLflow or its database layer.

    SQLAlchemy appends the SQL statement (``[SQL: ...]``), its parameters and a link
    (``(Background on this error at: ...)``); those are cut, as is anything past the
    first line or ``limit`` characters."""
    text = str(exc).strip()
    request = re.search(r"API request to (\S+) failed with exception", text)
    if request and ("HTTPConnectionPool" in text or "Max retries" in text):
        # urllib3's retry chain (a paragraph) for "the server did not answer"
        low = text.lower()
        if "timed out" in low or "timeout" in low:
            why = "no answer (timed out)"
        elif "refused" in low or "newconnectionerror" in low:
            why = "connection refused"
        elif "reset" in low or "aborted" in low:
            why = "connection reset"
        else:
            why = "connection failed"
        return f"request to {request.group(1)} failed: {why}"
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
        if exp.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            _tag_kind(client, exp.experiment_id)
        return exp.experiment_id
    try:
        experiment_id = _create_experiment(client, uri, name)
    except Exception as exc:
        exp = _retry(client.get_experiment_by_name, name)
        if exp is None:  # not a creation race: a real error
            raise
        del exc
        return exp.experiment_id
    _tag_kind(client, experiment_id)
    return experiment_id


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
"""MLflow 3's UI opens an experiment with this tag on its runs and charts, not on the
GenAI trace view (with its "Detect issues" popup)."""


def _tag_kind(client, experiment_id: str) -> None:
    try:
        _retry(client.set_experiment_tag, experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    except Exception:  # a read-only or older store: the UI's default view is still usable
        import logging

        logging.getLogger(__name__).debug("could not tag %s", experiment_id, exc_info=True)


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


# ---------------------------------------------------------------- searching
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
