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
    ``max_pending`` values, from a background thread (or synchronously), in chunks of at
    most ``max_pending`` values.

    The buffer is bounded: when the store cannot keep up (a fast trainer, a slow or busy
    store), :meth:`add` waits once ``backlog`` values are pending (default three batches):
    deliberate backpressure for a store that is slow but working, and a bound on what is
    left to send when the run closes (also on Ctrl-C). Nothing is dropped.

    With a ``spill`` function (the run's spool) the sender never stalls training: when a
    send fails, or :meth:`add` has waited ``stall`` s without the store acknowledging a
    chunk (down or hung), the sender goes *offline*: every pending and later value is
    handed to ``spill`` at once. Offline, the background thread calls ``reconnect`` with
    exponential backoff (1 s … 30 s); when it returns True the sender sends again.
    :attr:`waited` is the time :meth:`add` and :meth:`close` held the caller."""

    def __init__(
        self,
        send: Callable[[list], None],
        interval: float,
        max_pending: int,
        bg: bool,
        backlog: int | None = None,
        *,
        spill: Callable[[list], None] | None = None,
        stall: float = 2.0,
        reconnect: Callable[[], bool] | None = None,
    ):
        self._send = send
        self._interval = interval
        self._max = max_pending
        self._backlog = max(backlog or 3 * max_pending, max_pending)
        self._spill = spill
        self._stall = stall
        self._reconnect = reconnect
        self.waited = 0.0  # seconds add()/close() held the caller waiting for the store
        self._pending: list = []
        self._inflight: list = []
        self._cond = threading.Condition()
        self._closed = False
        self._abandoned = False
        self._progress = time.monotonic()
        self.offline = False
        self.error: BaseException | None = None
        self.spill_error: BaseException | None = None
        self.sent = 0
        self.spilled = 0
        self._thread = None
        if bg:
            self._thread = threading.Thread(
                target=self._loop, name="lossesbox-metrics", daemon=True
            )
            self._thread.start()

    # -- offline
    def _to_spool(self, metrics: list) -> None:
        """Hand ``metrics`` to the spool (caller holds no lock); a spool error is kept."""
        if not metrics or self._spill is None:
            return
        try:
            self._spill(metrics)
            self.spilled += len(metrics)
        except Exception as exc:  # the spool folder is unwritable: nothing more to do
            self.spill_error = exc

    def _go_offline(self, exc: BaseException | None) -> list:
        """Switch to the spool; return what was pending (caller holds ``_cond``)."""
        self.offline = True
        if exc is not None and self.error is None:
            self.error = exc
        batch, self._pending = self._pending, []
        self._cond.notify_all()
        return batch

    def add(self, metrics: list) -> None:
        if not metrics:
            return
        if self._spill is None and self.error is not None:
            return
        spill: list = []
        with self._cond:
            if self.offline:
                spill = metrics
            else:
                if self._thread is not None and len(self._pending) >= self._backlog:
                    t = time.monotonic()
                    self._cond.notify_all()
                    while (
                        len(self._pending) >= self._backlog
                        and not self.offline
                        and (self._spill is not None or self.error is None)
                        and not self._closed
                        and self._thread.is_alive()
                    ):
                        if (
                            self._spill is not None
                            and time.monotonic() - max(t, self._progress) > self._stall
                        ):
                            spill = self._go_offline(
                                TimeoutError(
                                    f"the store acknowledged nothing for {self._stall:g} s"
                                )
                            )
                            break
                        self._cond.wait(0.1)
                    self.waited += time.monotonic() - t
                if self.offline:
                    spill = spill + metrics
                else:
                    self._pending.extend(metrics)
            full = not self.offline and len(self._pending) >= self._max
            if full and self._thread is not None:
                self._cond.notify_all()
        self._to_spool(spill)
        if full and self._thread is None:
            self._flush()

    def _take(self) -> list:
        with self._cond:
            batch, self._pending = self._pending, []
            self._inflight = batch
            self._cond.notify_all()  # an add() waiting on the backlog can go on
        return batch

    def _flush(self) -> None:
        batch = self._take()
        if not batch:
            return
        if self.offline:
            self._inflight = []
            self._to_spool(batch)
            return
        if self._spill is None and self.error is not None:
            return
        done = 0
        try:
            for i in range(0, len(batch), self._max):
                if self._abandoned:
                    return  # close() spooled the whole batch already
                self._send(batch[i : i + self._max])
                done = i + self._max
                self.sent += len(batch[i : i + self._max])
                with self._cond:
                    self._progress = time.monotonic()
                    self._cond.notify_all()
        except Exception as exc:
            if self._spill is None:
                self.error = exc
                return
            with self._cond:
                rest = self._go_offline(exc)
                abandoned = self._abandoned
            if not abandoned:
                self._to_spool(batch[done:] + rest)
        finally:
            self._inflight = []

    def _loop(self) -> None:
        delay = 1.0
        next_try = time.monotonic() + delay
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._closed or len(self._pending) >= self._max, self._interval
                )
                closed = self._closed
            if self._abandoned:
                return
            self._flush()
            if closed:
                return
            if (
                self.offline
                and self._reconnect is not None
                and not self._closed
                and time.monotonic() >= next_try
            ):
                try:
                    back = self._reconnect()
                except Exception:
                    back = False
                if back:
                    with self._cond:
                        self.offline = False
                        self._progress = time.monotonic()
                    delay = 1.0
                else:
                    delay = min(2.0 * delay, 30.0)
                next_try = time.monotonic() + delay

    def close(self, timeout: float | None = None) -> None:
        """Send everything still buffered. With a spool, wait at most ``timeout`` s (default
        ``stall``) for the thread; a thread still stuck in a request is left behind and what
        it held goes to the spool (a replay skips what the store did get)."""
        t = time.monotonic()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            if self._spill is None:
                self._thread.join()
            else:
                limit = self._stall if timeout is None else timeout
                while self._thread.is_alive():
                    self._thread.join(0.05)
                    # Offline already: do not wait for a hung request; online: wait while
                    # the store keeps acknowledging chunks (a slow store, not a dead one).
                    if self.offline or time.monotonic() - max(t, self._progress) > limit:
                        break
                if self._thread.is_alive():
                    with self._cond:
                        self._abandoned = True
                        stuck = self._inflight + self._go_offline(
                            TimeoutError("the store did not answer while the run was closed")
                        )
                    self._to_spool(stuck)
        self._flush()
        self.waited += time.monotonic() - t
