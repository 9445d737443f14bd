"""The run lifecycle: :class:`TrackedRun` (start, log, finish with a true status)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from ._process import _mark_stale_throttled, _run_tags
from ._sender import _finite_or_inf, _MetricSender, is_epoch_metric
from ._store import (
    _MAX_METRICS,
    _MAX_PARAM_CHARS,
    _MAX_PARAMS,
    _MAX_TAGS,
    TAG_PARENT,
    TAG_STOP_REASON,
    TrackingUnavailable,
    _client,
    _fluent_uri,
    _mlflow,
    _retry,
    get_or_create_experiment,
    redact_uri,
    resolve_tracking_uri,
    short_error,
)


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

        A DataFrame example gives a signature of named columns, every one required (a
        request without one is refused by name) and taking missing values (they reach
        the model's imputer); MLflow matches request columns by name, in any order.
        """
        if not self.active:
            return None
        with self._guard("logging the model"):
            _mlflow()
            import mlflow.sklearn
            from mlflow.models import infer_signature

            signature = infer_signature(input_example, model.predict(input_example))
            if signature.inputs is not None and signature.inputs.has_input_names():
                from mlflow.types import ColSpec, Schema

                signature.inputs = Schema(
                    [ColSpec(c.type, c.name, required=True) for c in signature.inputs.inputs]
                )
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
    # numpy.dtype: SimpleImputer keeps the dtype it was fitted on (a plain value)
    foreign = [t for t in untrusted if not t.startswith("lossesbox.") and t != "numpy.dtype"]
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
