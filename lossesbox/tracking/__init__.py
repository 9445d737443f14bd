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

Layout: ``_store`` (URIs, probe, client, retries, experiments), ``_process`` (which
process owns a run; stale runs), ``_sender`` (buffered metrics), ``_run``
(:class:`TrackedRun`), ``_queries`` (reading runs back). Import from this package.
"""

from __future__ import annotations

from ._process import mark_stale_runs, settle_children, supersede_run
from ._queries import (
    csv_text,
    download_artifacts,
    get_histories,
    get_history_frame,
    list_experiments,
    list_runs,
    load_model,
)
from ._run import TrackedRun
from ._sender import _MetricSender, is_epoch_metric  # noqa: F401 (_MetricSender: tests)
from ._spool import (
    SPOOL_ENV,
    TAG_SPOOL,
    Spool,
    describe_spools,
    list_spools,
    not_delivered_message,
    spool_root,
)
from ._store import (
    _STALE_CHECKED,  # noqa: F401 (tests reset the throttle)
    ARTIFACT_ROOT_ENV,
    DEFAULT_TRACKING_URI,
    TAG_HOST,
    TAG_PARENT,
    TAG_PID,
    TAG_STOP_REASON,
    TrackingUnavailable,
    artifact_root,
    get_or_create_experiment,
    probe_store,
    redact_uri,
    resolve_tracking_uri,
    short_error,
    ui_command,
    warm_up,
)
from ._sync import SyncResult, sync_spool, sync_spools

__all__ = [
    "ARTIFACT_ROOT_ENV",
    "DEFAULT_TRACKING_URI",
    "SPOOL_ENV",
    "TAG_HOST",
    "TAG_PARENT",
    "TAG_PID",
    "TAG_SPOOL",
    "TAG_STOP_REASON",
    "Spool",
    "SyncResult",
    "TrackedRun",
    "TrackingUnavailable",
    "artifact_root",
    "csv_text",
    "describe_spools",
    "download_artifacts",
    "get_histories",
    "get_history_frame",
    "get_or_create_experiment",
    "is_epoch_metric",
    "list_experiments",
    "list_runs",
    "list_spools",
    "load_model",
    "mark_stale_runs",
    "not_delivered_message",
    "probe_store",
    "redact_uri",
    "resolve_tracking_uri",
    "settle_children",
    "short_error",
    "spool_root",
    "supersede_run",
    "sync_spool",
    "sync_spools",
    "ui_command",
    "warm_up",
]
