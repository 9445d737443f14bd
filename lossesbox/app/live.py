"""Live training for the dashboard: train in a worker thread, let the page poll.

Why a thread: Streamlit interrupts a running script when the user clicks a widget (say,
Stop) by raising a ``BaseException`` inside the next ``st.*`` call. Training inside the
script would then be torn down mid-run (DESIGN.md). Here the script only *polls* a
:class:`TrainingJob` kept in ``st.session_state``; the job keeps going across reruns and
page switches, Stop sets an event the trainer's callback checks after each epoch, and the
run is finished and logged by :func:`lossesbox.experiment.run_experiment` as usual
(a user stop is logged FINISHED with ``stop_reason=user``).

The callback only appends the epoch record under a lock, so the trainer is not slowed by
the UI; the page redraws from :meth:`TrainingJob.records` a few times a second (a
``st.fragment(run_every=...)``), independently of the epoch rate.

No Streamlit import here.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["TrainingJob"]


class TrainingJob:
    """One training run in a daemon thread.

    Parameters
    ----------
    config : lossesbox.experiment.TrainConfig
    dataset : lossesbox.datasets.Dataset or None
        A preloaded dataset (an uploaded CSV); ``None`` loads ``config.dataset``.
    track, experiment : passed to ``run_experiment``.
    runner : callable, optional
        ``run_experiment`` by default; tests may pass a stand-in with the same signature.

    Attributes read by the page: :meth:`records` (a copy of the epoch records so far),
    ``result`` (the ``ExperimentResult`` once done), ``error_message`` (a one-line message
    if ``run_experiment`` raised), ``done``, ``stop_requested``, ``seconds``.
    """

    MAX_SNAPSHOTS = 400
    """Parameter snapshots kept for the replay; past that, every other one is dropped and
    only every 2nd (4th, …) epoch is kept from then on."""

    def __init__(
        self,
        config: Any,
        dataset: Any = None,
        *,
        track: bool = True,
        experiment: str | None = None,
        runner: Callable[..., Any] | None = None,
        keep_parameters: bool = False,
    ):
        self.config = config
        self.keep_parameters = keep_parameters
        self._snapshots: dict[int, dict] = {}
        self._stride = 1
        self.dataset = dataset
        self.track = track
        self.experiment = experiment
        self._runner = runner
        self._records: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.error_message: str | None = None
        self.error_traceback: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.last_record_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="lossesbox-train", daemon=True)

    # -- control ----------------------------------------------------------------------------
    def start(self) -> TrainingJob:
        """Start the worker thread (once)."""
        self.started_at = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the trainer to stop after the current epoch (the run is still logged)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is done (or ``timeout`` s pass); returns ``done``."""
        return self._done.wait(timeout)

    # -- state ------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def seconds(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return end - self.started_at

    def records(self) -> list[dict]:
        """A copy of the epoch records received so far."""
        with self._lock:
            return list(self._records)

    @property
    def n_records(self) -> int:
        with self._lock:
            return len(self._records)

    def phase(self) -> str:
        """``"starting"`` (no epoch yet), ``"training"``, ``"finishing"`` (no new epoch for
        a while: evaluating and logging to MLflow) or ``"done"``."""
        if self.done:
            return "done"
        if self.last_record_at is None:
            return "starting"
        if time.perf_counter() - self.last_record_at > 0.75:
            return "finishing"
        return "training"

    # -- worker -----------------------------------------------------------------------------
    def snapshots(self) -> dict[int, dict]:
        """``{epoch: fitted attributes}`` kept so far (with ``keep_parameters``): every
        epoch up to :data:`MAX_SNAPSHOTS`, then thinned evenly, the latest always kept."""
        with self._lock:
            return dict(self._snapshots)

    def latest_snapshot(self) -> tuple[int, dict] | None:
        with self._lock:
            if not self._snapshots:
                return None
            epoch = max(self._snapshots)
            return epoch, self._snapshots[epoch]

    def _callback(self, record: dict) -> bool:
        parameters = record.pop("parameters", None)
        with self._lock:
            self._records.append(record)
            if parameters is not None:
                self._keep(int(record["epoch"]), parameters)
        self.last_record_at = time.perf_counter()
        return not self._stop.is_set()

    def _keep(self, epoch: int, parameters: dict) -> None:
        latest = max(self._snapshots, default=None)
        if latest is not None and latest % self._stride != 0:
            del self._snapshots[latest]  # it was kept only as "the latest"
        self._snapshots[epoch] = parameters
        if len(self._snapshots) > self.MAX_SNAPSHOTS:
            self._stride *= 2
            for e in [e for e in self._snapshots if e % self._stride != 0 and e != epoch]:
                del self._snapshots[e]

    def _run(self) -> None:
        try:
            runner = self._runner
            if runner is None:
                from ..experiment import run_experiment as runner
            callback: Callable[[dict], bool] = self._callback
            if self.keep_parameters:
                callback = _WithParameters(self._callback)
            self.result = runner(
                self.config,
                dataset=self.dataset,
                track=self.track,
                experiment=self.experiment,
                callback=callback,
            )
        except Exception as exc:  # reported to the page, never raised into Streamlit
            self.error = exc
            self.error_message = (
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            )
            self.error_traceback = traceback.format_exc()
        finally:
            self.finished_at = time.perf_counter()
            self._done.set()


class _WithParameters:
    """A callback asking the trainer for each epoch's parameters (``wants_parameters``)."""

    wants_parameters = True

    def __init__(self, callback: Callable[[dict], bool]):
        self._callback = callback

    def __call__(self, record: dict) -> bool:
        return self._callback(record)
