r"""One pass over many rows as row shards on the machine's cores, with the same numbers
whether the shards run side by side or one after another.

A pass over ``n`` rows (the whole training set, or one mini-batch) is split into ``S``
contiguous row ranges. Each shard ``s`` runs the model's own
:meth:`~lossesbox.models._training.Objective.forward_backward` on its rows with its own
buffers (an objective of the same model built on the shard's rows), on **one BLAS
thread**, giving its summed loss :math:`T_s`, its mean gradient
:math:`g_s = \frac1{n_s}\sum_{i\in s}\nabla L_i + \lambda w` and its statistics. They
are combined in shard order:

.. math:: \sum_i L_i = \sum_s T_s, \qquad
   \nabla J = \sum_s \frac{n_s}{n}\, g_s
   = \frac1n \sum_i \nabla L_i + \lambda w .

Why not one BLAS call on all rows with the BLAS's own threads: at these shapes
OpenBLAS leaves one of this machine's two cores partly idle (``Gᵀ X`` with ``K = 10``
outputs is split over the outputs, not over the long reduction), and the per-sample work
between the two products (softmax, loss, gradient signs) runs on one core. Two shards
on two threads run both products *and* the per-sample work on both cores: measured
here, ``Gᵀ X`` for 70000×784×10 took 34 ms on OpenBLAS's two threads and 28 ms as two
row halves on two Python threads (numpy releases the GIL inside BLAS calls and ufunc
loops).

Side by side or one after another is decided **by timing** (:class:`Chooser`): when
another process takes a core, the threads wait for each other and the shards are
faster run in turn, and the choice is checked again every so often. Because every shard
always runs on one BLAS thread and the combination order is fixed, both ways give
**bitwise the same** loss, gradient and statistics, so the choice never changes a fit's
result (OpenBLAS's own threaded products do not: their results differ from one thread's
in the last bits).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._pass import PassStats

__all__ = ["MIN_SHARD_MACS", "Chooser", "Shards", "gather_rows"]

MIN_SHARD_MACS = 1 << 20
"""Fewest multiply-adds (rows × macs per row) worth a shard of its own: about 0.1 ms of
BLAS work on one core here, against ≈30 µs to hand a shard to a thread and back."""


MIN_STEP_BYTES = 256 << 10
"""Fewest bytes of parameters per part for an optimizer step to be split over the
threads: measured on 20000×2000×50 Adam b=256 epochs, two parts of 400 KB (float64)
saved ≈10 ms of 220, two of 200 KB (float32) cost ≈20 ms of 118 (the hand-offs)."""


MARGIN = 0.85
"""The other way must take less than this share of the current way's time to be chosen:
with a fit's first decision made from one timing of each way, a single slow timing of the
threads (2x faster than one after another on an idle machine) once sent a short fit to
the slower way for good."""


class Chooser:
    """Pick the faster of two ways to run the same pass (``True`` = threads), by timing.

    The first ``2 * warm`` calls alternate (threads first: its first call also pays the
    buffers' allocation and is not counted); then threads are used unless one after
    another was clearly faster (below ``MARGIN`` × the threads' best recent time, the
    minimum of the last three), and the other way is tried once every ``period`` calls,
    ``period`` doubling up to ``max_period`` each time the try does not clearly beat the
    current way, and starting again at ``min_period`` when it does.
    """

    def __init__(self, warm: int = 2, min_period: int = 8, max_period: int = 128):
        self.warm = warm
        self.min_period = min_period
        self.max_period = max_period
        self.period = min_period
        self.times: dict[bool, list[float]] = {True: [], False: []}
        self.calls = 0
        self.current = True
        self.since_probe = 0

    def pick(self) -> bool:
        """The way to run the next call."""
        if self.calls <= 2 * self.warm:
            return self.calls % 2 == 0  # T (warm-up), S, T, S, T, …
        if self.since_probe >= self.period:
            return not self.current
        return self.current

    def tell(self, threads: bool, seconds: float) -> None:
        """Record how long the call made with ``threads`` took."""
        first = self.calls == 0
        self.calls += 1
        if first:
            return  # allocation and thread start-up: not what the pass costs
        recent = self.times[threads]
        recent.append(seconds)
        del recent[:-3]
        if self.calls <= 2 * self.warm + 1:
            if self.calls == 2 * self.warm + 1:
                self.current = self._best()
            return
        if threads == self.current:
            self.since_probe += 1
            return
        # a probe of the other way: switch only if clearly faster (one timing is noisy)
        self.since_probe = 0
        if seconds < MARGIN * min(self.times[self.current]):
            self.current = threads
            self.period = self.min_period
        else:
            self.period = min(2 * self.period, self.max_period)

    def _best(self) -> bool:
        t, s = self.times[True], self.times[False]
        if not t or not s:
            return bool(t)
        return not min(s) < MARGIN * min(t)  # threads unless one after another is clearly faster


class Shards:
    """Forward/backward passes as ``S`` row shards (see the module docstring).

    ``make(X_rows, codes_rows)`` builds an objective of the same model on some rows;
    ``X, codes`` are the full training set. Call :meth:`close` when done (or use the
    object as a context manager) to stop the helper threads.
    """

    def __init__(self, make: Callable, X: np.ndarray, codes: np.ndarray, n_shards: int, macs: int):
        self.S = n_shards
        self.macs = macs
        self.N = X.shape[0]
        self.X = X
        self.codes = codes
        self._gather: dict = {}  # gather_rows buffers by (shard, rows)
        self.parts = [make(X[a:b], codes[a:b]) for a, b in _bounds(self.N, n_shards)]
        size = self.parts[0].size
        dtype = self.parts[0].dtype
        self.grads = [np.empty(size, dtype=dtype) for _ in range(n_shards)]
        self.totals = [0.0] * n_shards
        self._stats: list[PassStats | None] = [None] * n_shards  # each pass's, per shard
        self.pool = ThreadPoolExecutor(max_workers=n_shards - 1, thread_name_prefix="lossesbox")
        self.full_chooser = Chooser(warm=1)
        self.batch_chooser = Chooser(warm=8, min_period=32, max_period=512)

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def __enter__(self) -> Shards:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wants(self, n: int) -> bool:
        """Whether a pass over ``n`` rows is worth sharding."""
        return n * self.macs >= self.S * MIN_SHARD_MACS

    def full(self, theta, grad, stats: PassStats | None) -> float:
        """The pass over the whole training set."""
        jobs = [(p, p.X, p.codes) for p in self.parts]
        return self._run(jobs, self.full_chooser, theta, grad, stats, self.N)

    def batch_rows(self, theta, grad, idx: np.ndarray, stats: PassStats | None) -> float:
        """The pass over the training rows ``idx`` (a shuffled mini-batch): each shard
        gathers its own share of the rows, so the copy runs on every core too and the
        rows are in that core's cache for its products."""
        n = idx.shape[0]
        bounds = _bounds(n, self.S)
        jobs = [(p, idx[a:b], None) for p, (a, b) in zip(self.parts, bounds, strict=True)]
        return self._run(jobs, self.batch_chooser, theta, grad, stats, n)

    def step(self, rule, theta: np.ndarray, grad: np.ndarray) -> None:
        """``rule.step(theta, grad)``, its elementwise update in ``S`` contiguous parts
        side by side when the mini-batch passes run on threads (the same numbers)."""
        size = theta.shape[0]
        if not self.batch_chooser.current or size * theta.itemsize < self.S * MIN_STEP_BYTES:
            rule.step(theta, grad)
            return
        rule.advance()
        edges = _bounds(size, self.S)
        futures = [self.pool.submit(rule.update, theta, grad, a, b) for a, b in edges[1:]]
        rule.update(theta, grad, *edges[0])
        for f in futures:
            f.result()

    def _one(self, s: int, job, theta, want_stats: bool) -> None:
        part, X, codes = job
        if codes is None:  # X holds row indices: gather them first, into shard s's buffers
            X, codes = gather_rows(self.X, self.codes, X, self._gather, (s, X.shape[0]))
        st = None
        if want_stats:
            st = self._stats[s] = PassStats(part.K)
        self.totals[s] = part.forward_backward(theta, self.grads[s], X, codes, st)

    def _run(self, jobs, chooser: Chooser, theta, grad, stats, n: int) -> float:
        want = stats is not None
        threads = chooser.pick()
        t0 = time.perf_counter()
        if threads:
            futures = [
                self.pool.submit(self._one, s, jobs[s], theta, want) for s in range(1, self.S)
            ]
            self._one(0, jobs[0], theta, want)
            for f in futures:
                f.result()
        else:
            for s in range(self.S):
                self._one(s, jobs[s], theta, want)
        chooser.tell(threads, (time.perf_counter() - t0) / n)  # per row: batches differ
        # combine in shard order: the same numbers either way
        total = 0.0
        for s, job in enumerate(jobs):
            w = job[1].shape[0] / n  # rows (or row indices) of shard s
            if s == 0:
                np.multiply(self.grads[0], w, out=grad, casting="same_kind")
            else:
                grad += w * self.grads[s]
            total += self.totals[s]
            if want:
                stats.merge(self._stats[s])
        return total


def gather_rows(X, codes, idx, buffers: dict, key) -> tuple[np.ndarray, np.ndarray]:
    """The rows ``idx`` of ``X`` and their labels, copied into ``buffers[key]`` (made on
    first use: at most two sizes per key, the batch's and the last remainder's)."""
    buf = buffers.get(key)
    if buf is None:
        n = idx.shape[0]
        buf = buffers[key] = (
            np.empty((n, X.shape[1]), dtype=X.dtype),
            np.empty(n, dtype=codes.dtype),
        )
    Xb, cb = buf
    np.take(X, idx, axis=0, out=Xb)
    np.take(codes, idx, out=cb)
    return Xb, cb


def _bounds(n: int, S: int) -> list[tuple[int, int]]:
    edges = [(n * s) // S for s in range(S + 1)]
    return list(itertools.pairwise(edges))
