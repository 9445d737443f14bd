"""The run lifecycle: :class:`TrackedRun` (start, log, finish with a true status).

Never stall, never lose a run: every call to the store made from the caller's thread is
bounded (:func:`_bounded`: a few seconds for a tracking server, longer for a local sqlite
file; uploads get more time the larger they are), metrics go through the background sender
(:class:`._sender._MetricSender`), and whatever the store does not take in time goes to the
run's spool (:mod:`._spool`) instead, for ``python -m lossesbox sync``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._model import _param_str, deliver_model, save_model_dir
from ._process import _host, _mark_stale_throttled, _process_start, _run_tags
from ._sender import _finite_or_inf, _MetricSender, is_epoch_metric
from ._spool import RUN_FILE, TAG_SPOOL, Spool, _write_json, not_delivered_message, spool_root
from ._store import (
    _MAX_METRICS,
    _MAX_PARAMS,
    _MAX_TAGS,
    TAG_PARENT,
    TAG_STOP_REASON,
    TrackingUnavailable,
    _client,
    _is_http,
    _mlflow,
    _retry,
    _sqlite_path,
    get_or_create_experiment,
    probe_store,
    redact_uri,
    resolve_tracking_uri,
    short_error,
)

#: Seconds the caller may wait for one store call: (tracking server, other stores).
_CALL_LIMIT = (4.0, 30.0)
#: Seconds the metric buffer may stay full without the store acknowledging anything.
_STALL_LIMIT = (2.0, 15.0)
#: Seconds to create a run (probe, experiment, stale runs, the run, its parameters).
_START_LIMIT = (10.0, 60.0)
#: Upload speed assumed when scaling a limit with a payload's size (bytes per second).
_UPLOAD_RATE = 1e6


class _NoAnswer(TimeoutError):
    """A store call did not return within its limit (it goes on in a daemon thread)."""


def _bounded(limit: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a daemon thread; :class:`_NoAnswer` after ``limit`` s.

    A store that hangs (a frozen server: the TCP connection is open, nothing answers)
    cannot hold the caller longer than ``limit``; the abandoned call ends by itself with
    MLflow's own HTTP timeout."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="lossesbox-store-call", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        raise _NoAnswer(f"no answer within {limit:.0f} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------- the run
class TrackedRun:
    """Context manager owning one MLflow run (see the package docstring).

    >>> with TrackedRun("iris", params={"lam": 1e-3}) as run:   # doctest: +SKIP
    ...     run.log_record({"epoch": 0, "objective": 1.1})
    ...     run.finish("FINISHED")

    Without an explicit :meth:`finish`, leaving the block normally ends the run
    FINISHED; an ``Exception`` ends it FAILED (``stop_reason = "error: <type>: <msg>"``),
    any other ``BaseException`` (Ctrl-C, ``SystemExit``, Streamlit's rerun/stop) KILLED;
    the exception propagates. Tracking problems never raise and never hold training for
    more than a few seconds: what the store does not take goes to :attr:`spool` and
    :attr:`error` says so (one sentence: what failed, where it is kept, how to sync it).

    After :meth:`finish`: :attr:`status` is the run's true final status,
    :attr:`store_status` the status the store holds (``None`` when it could not be read),
    :attr:`blocked_seconds` the time the caller spent waiting for the store after the run
    started (backpressure, bounded calls, probes).
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
        spool: bool = True,
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
        self._use_spool = spool
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.status: str | None = None
        self.store_status: str | None = None
        self.error: str | None = None
        self.model_uri: str | None = None
        self.spool: Spool | None = None
        self._spool_lock = threading.Lock()
        self._spool_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"
        self._offline = False
        self._spooled_model: str | None = None
        self._problem: str | None = None  # what first went wrong with the store
        self._client = None
        self._sender: _MetricSender | None = None
        self._waited_before = 0.0  # sender waits of senders already closed
        self._blocked = 0.0
        self._last_step = 0
        self._start_ms: int | None = None
        self._all_tags: dict[str, str] = {}
        http = 0 if _is_http(self.tracking_uri) else 1
        self._call_limit = _CALL_LIMIT[http]
        self._stall = _STALL_LIMIT[http]
        self._start_limit = _START_LIMIT[http]

    # -- state
    @property
    def active(self) -> bool:
        """True while the run is open and what it logs is kept (store or spool)."""
        return (
            self.status is None
            and (self.run_id is not None or self.spool is not None)
            and not (self.error is not None and self.spool is None)
        )

    @property
    def blocked_seconds(self) -> float:
        """Seconds the caller's thread waited for the store since the run started."""
        sender = self._sender.waited if self._sender is not None else 0.0
        return self._blocked + self._waited_before + sender

    @property
    def delivered(self) -> bool:
        """Whether the store has everything (no spool left)."""
        return self.spool is None and self.error is None

    def _message(self, what: str, exc: BaseException) -> str:
        if isinstance(exc, TrackingUnavailable):
            return exc.cause
        return (
            f"MLflow tracking failed while {what} ({type(exc).__name__}: {short_error(exc)}) "
            f"at {redact_uri(self.tracking_uri)}"
        )

    def _fail(self, what: str, exc: BaseException) -> None:
        """No spool can hold it: say what was lost."""
        if self.error is None:
            lost = (
                "no run was created"
                if self.run_id is None
                else f"run {self.run_id} may be incomplete"
            )
            msg = self._message(what, exc)
            if isinstance(exc, TrackingUnavailable):
                self.error = str(exc)
            else:
                self.error = (
                    f"{msg}; {lost}. Check the store (--tracking-uri / MLFLOW_TRACKING_URI) "
                    "or use --no-track."
                )

    def _timed(self, limit: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t = time.monotonic()
        try:
            return _bounded(limit, fn, *args, **kwargs)
        finally:
            self._blocked += time.monotonic() - t

    # -- the spool
    def _ensure_spool(self) -> Spool | None:
        """The run's spool, created on first need (``None`` if it cannot be written)."""
        if not self._use_spool:
            return None
        with self._spool_lock:
            if self.spool is None:
                meta = {
                    "tracking_uri": redact_uri(self.tracking_uri),  # never a password
                    "experiment": self.experiment,
                    "run_name": self.run_name,
                    "run_id": self.run_id,
                    "parent_run_id": self.parent_run_id,
                    "start_time": self._start_ms,
                    "params": {str(k): _param_str(v) for k, v in self._params.items()},
                    "tags": self._all_tags,
                    "host": _host(),
                    "pid": os.getpid(),
                    "pid_start": _process_start(os.getpid()),
                    "status": None,
                }
                try:
                    root = spool_root(self.tracking_uri)
                    path = root / self._spool_id
                    path.mkdir(parents=True, exist_ok=False)
                    spool = Spool(path)
                    _write_json(path / RUN_FILE, {"spool_id": self._spool_id, **meta})
                except OSError:
                    return None
                self.spool = spool
            return self.spool

    def _go_offline(self, what: str, exc: BaseException) -> Spool | None:
        """The store failed: keep everything from now on in the spool (unless the store
        can never work as configured, e.g. an unwritable sqlite folder: then say so)."""
        permanent = isinstance(exc, TrackingUnavailable) and not exc.transient
        spool = None if permanent else self._ensure_spool()
        if spool is None:
            self._fail(what, exc)
            return None
        self._offline = True
        if self._problem is None:
            self._problem = self._message(what, exc)
        if self._sender is not None:
            with self._sender._cond:
                rest = self._sender._go_offline(exc)
            self._sender._to_spool(rest)
        self.error = self._kept_message(spool)
        return spool

    def _kept_message(self, spool: Spool) -> str:
        created = "no run was created; " if self.run_id is None else ""
        hint = ""
        if "is unreachable" in (self._problem or ""):
            hint = (
                " once the server is back (start it, e.g. `mlflow server --host 127.0.0.1 "
                "--port 5000`, or fix MLFLOW_TRACKING_URI / --tracking-uri)"
            )
        return f"{self._problem}; {created}{not_delivered_message(spool.path)}{hint}"

    def _spill_metrics(self, metrics: list) -> None:
        spool = self._ensure_spool()
        if spool is None:
            raise OSError("the spool folder cannot be written")
        if not self._offline:
            problem = self._sender.error if self._sender is not None else None
            self._offline = True
            if self._problem is None:
                self._problem = self._message(
                    "sending metrics", problem or TimeoutError("no answer")
                )
            self.error = self._kept_message(spool)
        spool.add_metrics(metrics)

    def _reconnect(self) -> bool:
        """Background: is the store back? Then deliver the spooled metrics and go on."""
        if self.run_id is None or self.spool is None or self.status is not None:
            return False
        probe_store(self.tracking_uri, timeout=1.0)
        from ._sync import _exclusive, send_new_metrics

        with _exclusive(self.spool.path) as mine:
            if not mine or self.status is not None:
                return False
            for _ in range(100):
                file = self.spool.take_metrics_file()
                if file is None:
                    break
                send_new_metrics(self._client, self.run_id, Spool.read_metrics(file))
                file.unlink()
        self._offline = False
        return True

    def _new_sender(self) -> _MetricSender:
        sender = _MetricSender(
            self._send_metrics,
            self._flush_interval,
            self._max_pending,
            self._background,
            spill=self._spill_metrics if self._use_spool else None,
            stall=self._stall,
            reconnect=self._reconnect if self._use_spool else None,
        )
        sender.offline = self._offline
        return sender

    # -- lifecycle
    def start(self) -> TrackedRun:
        """Create the run (after marking stale runs KILLED). If the store cannot create
        it, the whole run goes to the spool; only if that fails too is :attr:`error` set
        and nothing kept."""
        self._start_ms = int(time.time() * 1000)
        self._all_tags = {**_run_tags(), **self._tags, TAG_SPOOL: self._spool_id}
        if self.parent_run_id:
            self._all_tags[TAG_PARENT] = self.parent_run_id
        try:
            _mlflow()  # the import itself is not the store's fault; never bound it
            _bounded(self._start_limit, self._start_in_store)
        except Exception as exc:
            what = "starting the run" if self.run_id is None else "logging parameters"
            if self.run_id is None and _sqlite_path(self.tracking_uri) is not None:
                # A local file that cannot hold a run is a set-up problem, not an outage:
                # say what to fix rather than spool runs for a store that never comes.
                self._fail(what, exc)
                return self
            if self._go_offline(what, exc) is None:
                return self
        self._sender = self._new_sender()
        return self

    def _start_in_store(self) -> None:
        client = _client(self.tracking_uri)
        self._client = client
        self.experiment_id = get_or_create_experiment(self.experiment, self.tracking_uri)
        try:
            _mark_stale_throttled(self.tracking_uri)
        except Exception:
            pass  # cleaning up other runs must never stop this one
        run = _retry(
            client.create_run,
            self.experiment_id,
            run_name=self.run_name,
            tags=self._all_tags,
            start_time=self._start_ms,
        )
        self.run_id = run.info.run_id
        if self._params:
            from mlflow.entities import Param

            items = [Param(str(k), _param_str(v)) for k, v in self._params.items()]
            for i in range(0, len(items), _MAX_PARAMS):
                _retry(client.log_batch, self.run_id, params=items[i : i + _MAX_PARAMS])

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
                if getattr(exc, "signal_name", None):
                    name = str(exc.signal_name)
                elif isinstance(exc, SystemExit) and exc.code not in (None, 0):
                    name += f" {exc.code}"
                self.finish("KILLED", stop_reason=f"interrupted ({name})")
        return False

    def finish(self, status: str = "FINISHED", stop_reason: str | None = None) -> None:
        """Flush every buffered metric, set the ``stop_reason`` tag, end the run. What the
        store does not take goes to the spool with the true status; when the store answers
        again by then, the spool is delivered at once."""
        if self.status is not None:
            return
        self.status = status
        if self.run_id is None and self.spool is None:
            return
        self._close_sender()
        if self.run_id is not None and not self._offline:
            try:
                if stop_reason:
                    self._timed(
                        self._call_limit,
                        _retry,
                        self._client.set_tag,
                        self.run_id,
                        TAG_STOP_REASON,
                        str(stop_reason)[:5000],
                    )
                self._timed(
                    self._call_limit, _retry, self._client.set_terminated, self.run_id, status
                )
                self.store_status = status
            except Exception as exc:
                self._go_offline("ending the run", exc)
        if self.spool is not None:
            self._finish_spool(status, stop_reason)

    def _finish_spool(self, status: str, stop_reason: str | None) -> None:
        spool = self.spool
        try:
            spool.update(
                run_id=self.run_id,
                status=status,
                stop_reason=str(stop_reason)[:5000] if stop_reason else None,
                end_time=int(time.time() * 1000),
                tags=self._all_tags,
            )
        except OSError as exc:
            self._fail("writing the spool", exc)
            return
        from ._sync import sync_spool

        t = time.monotonic()
        try:
            probe_store(self.tracking_uri, timeout=1.0)
            reachable = True
        except Exception:
            reachable = False
        finally:
            self._blocked += time.monotonic() - t
        result = None
        if reachable:
            try:
                limit = self._start_limit + _tree_bytes(spool.path) / _UPLOAD_RATE
                result = _bounded(limit, sync_spool, spool.path)
            except Exception:
                result = None
        if result is not None and result.outcome == "delivered":
            self.run_id = result.run_id
            if self._spooled_model:
                self.model_uri = f"runs:/{self.run_id}/{self._spooled_model}"
            self.store_status = result.status
            self.spool = None
            self.error = None
            self._offline = False
            return
        self.store_status = self._status_in_store()
        if result is not None and result.run_id:
            self.run_id = result.run_id

    def _status_in_store(self) -> str | None:
        if self.run_id is None or self._client is None:
            return None
        try:
            return _bounded(1.0, self._client.get_run, self.run_id).info.status
        except Exception:
            return None

    def _close_sender(self) -> None:
        if self._sender is not None:
            sender = self._sender
            sender.close()
            self._waited_before += sender.waited
            self._sender = None
            if sender.spill_error is not None or (sender.error is not None and not self._use_spool):
                self._fail("sending metrics", sender.spill_error or sender.error)

    # -- logging
    def _deliver(
        self,
        what: str,
        online: Callable[[], Any],
        offline: Callable[[Spool], Any],
        limit: float | None = None,
    ) -> None:
        """Run ``online()`` against the store within ``limit`` s; on failure (or when the
        run is already offline) ``offline(spool)`` keeps the same thing in the spool."""
        if not self.active:
            return
        if not self._offline and self.run_id is not None:
            try:
                self._timed(limit or self._call_limit, online)
                return
            except Exception as exc:
                spool = self._go_offline(what, exc)
        else:
            spool = self._ensure_spool()
        if spool is None:
            return
        try:
            offline(spool)
        except Exception as exc:
            self._fail(f"{what} (into the spool {spool.path})", exc)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters once (values as strings, ≤ 6000 characters each)."""
        from mlflow.entities import Param

        self._params.update(params)
        items = [Param(str(k), _param_str(v)) for k, v in params.items()]

        def online() -> None:
            for i in range(0, len(items), _MAX_PARAMS):
                _retry(self._client.log_batch, self.run_id, params=items[i : i + _MAX_PARAMS])

        def offline(spool: Spool) -> None:
            meta = spool.meta()
            spool.update(params={**meta.get("params", {}), **{p.key: p.value for p in items}})

        self._deliver("logging parameters", online, offline)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(str(k), str(v)[:5000]) for k, v in tags.items()]
        self._all_tags.update({t.key: t.value for t in items})

        def online() -> None:
            for i in range(0, len(items), _MAX_TAGS):
                _retry(self._client.log_batch, self.run_id, tags=items[i : i + _MAX_TAGS])

        self._deliver("setting tags", online, lambda s: s.add_tags(self._all_tags))

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
        """Log end-of-run metrics now (after the buffered ones), into the store or spool."""
        if not self.active:
            return
        self.flush()
        self.log_metrics(metrics, self._last_step if step is None else step)
        self.flush()

    def flush(self) -> None:
        """Send every buffered metric now (what the store does not take is spooled)."""
        if self._sender is None or not self.active:
            return
        self._close_sender()
        if self.active:
            self._sender = self._new_sender()

    def _send_metrics(self, metrics: list) -> None:
        for i in range(0, len(metrics), _MAX_METRICS):
            _retry(self._client.log_batch, self.run_id, metrics=metrics[i : i + _MAX_METRICS])

    def log_artifacts(self, files: Mapping[str, str | bytes], artifact_path: str | None = None):
        """Log ``{relative name: text or bytes}`` in one call (upload time limit grows with
        the total size)."""
        if not self.active or not files:
            return
        size = sum(len(c) for c in files.values())

        def online() -> None:
            with tempfile.TemporaryDirectory() as tmp:
                Spool(tmp).add_artifacts(files, None)
                _retry(
                    self._client.log_artifacts,
                    self.run_id,
                    str(Path(tmp, "artifacts")),
                    artifact_path,
                )

        self._deliver(
            "logging artifacts",
            online,
            lambda s: s.add_artifacts(files, artifact_path),
            self._call_limit + size / _UPLOAD_RATE,
        )

    def log_artifact_file(self, path: str | os.PathLike, artifact_path: str | None = None):
        if not self.active:
            return
        size = os.path.getsize(path)
        self._deliver(
            "logging an artifact",
            lambda: _retry(self._client.log_artifact, self.run_id, os.fspath(path), artifact_path),
            lambda s: s.add_artifact_file(path, artifact_path),
            self._call_limit + size / _UPLOAD_RATE,
        )

    def log_model(
        self,
        model: Any,
        input_example: Any,
        *,
        name: str = "model",
        metadata: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Log a fitted scikit-learn model (e.g. a Pipeline) as an MLflow model.

        Saved locally first (:func:`._model.save_model_dir`: signature, skops format
        trusting exactly the lossesbox types, explicit pip requirements), then attached to
        the run (:func:`._model.deliver_model`) within a limit that grows with its size, or
        kept in the spool. Returns ``runs:/<run id>/<name>`` (``None`` if not kept).
        """
        if not self.active:
            return None
        tmp = tempfile.mkdtemp(prefix="lossesbox-model-")
        try:
            try:
                size = save_model_dir(model, input_example, Path(tmp, name), metadata=metadata)
            except Exception as exc:  # the model itself cannot be saved: no store can help
                self._fail("saving the model", exc)
                return None
            info = {"name": name, "params": dict(params or {}), "step": self._last_step}

            def online() -> None:
                deliver_model(
                    self._client,
                    self.experiment_id,
                    self.run_id,
                    Path(tmp, name),
                    name=name,
                    params=params,
                    step=self._last_step,
                )

            def offline(spool: Spool) -> None:
                spool.add_model(Path(tmp, name), {k: _json_safe(v) for k, v in info.items()})
                self._spooled_model = name

            self._deliver(
                "logging the model", online, offline, self._call_limit + size / _UPLOAD_RATE
            )
            if self.error is not None and self.spool is None:
                return None
            self.model_uri = f"runs:/{self.run_id}/{name}" if self.run_id else None
            return self.model_uri
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _param_str(v) for k, v in value.items()}
    return value
