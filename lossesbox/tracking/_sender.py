"""Per-epoch metrics: which history keys are logged, and the buffered background sender."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


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
