r"""The ``O(N·K)`` part of every pass, done once per cache-sized block of samples.

A pass (full batch or one mini-batch) has two kinds of work: the model's matrix products,
and the per-sample work on the scores ``S.T`` (K, n): the loss, its gradient
``G = ∂L_i/∂s_i`` and, for the history, the accuracy and the gradient-sign counts. Done
as whole-array numpy operations, the second kind streams ``(K, n)`` arrays through memory
some twenty times; here it runs block by block over columns of ``S.T`` (``_BLOCK``
entries, a few hundred KB) so each block stays in cache while every step touches it, and
the loss's fused kernel (:meth:`lossesbox.losses.Loss._loss_grad_t`) overwrites the
scores with ``G.T`` in place. The model's backward pass then reads ``G.T`` from the same
buffer.

:class:`PassStats` accumulates what a history record needs, from one full pass (the
exact history) or from every mini-batch of an epoch (the running history): the summed
loss, the hits of the arg-max, per class the negative / zero / NaN gradient entries over
all samples and over the true-class entries, and the column sums of ``G``.
"""

from __future__ import annotations

import math

import numpy as np

from ..diagnostics import GradientSigns, sign_shares_from_counts
from ..losses import Loss

__all__ = ["PassStats", "loss_pass", "true_index"]

_BLOCK = 1 << 17
"""Entries (K × columns) per block: about 1 MB in float64, the scale of a core's L2."""


class PassStats:
    """What a history record needs, summed over the blocks (and batches) of a pass."""

    def __init__(self, n_classes: int):
        K = n_classes
        self.n = 0
        self.loss_sum = 0.0
        self.hits = 0
        self.neg = np.zeros(K, dtype=np.int64)  # G < 0, all samples, per class
        self.zero = np.zeros(K, dtype=np.int64)  # G == 0
        self.nan = np.zeros(K, dtype=np.int64)  # G is NaN (counted only in non-finite blocks)
        self.true_neg = np.zeros(K, dtype=np.int64)  # the same over true-class entries
        self.true_zero = np.zeros(K, dtype=np.int64)
        self.true_nan = np.zeros(K, dtype=np.int64)
        self.n_true = np.zeros(K, dtype=np.int64)
        self.col_sum = np.zeros(K, dtype=np.float64)  # Σ_i G[i, c]
        self._tie_dtype = np.uint8 if K < 255 else np.int64

    def merge(self, other: PassStats) -> None:
        """Add the counts and sums of ``other`` (another shard of the same pass)."""
        self.n += other.n
        self.loss_sum += other.loss_sum
        self.hits += other.hits
        for name in ("neg", "zero", "nan", "true_neg", "true_zero", "true_nan", "n_true"):
            getattr(self, name).__iadd__(getattr(other, name))
        self.col_sum += other.col_sum

    @property
    def accuracy(self) -> float:
        return self.hits / self.n if self.n else math.nan

    def signs(self) -> GradientSigns:
        """The gradient-sign shares of every entry counted so far."""
        with np.errstate(invalid="ignore"):
            mean = self.col_sum / self.n if self.n else np.full(self.col_sum.shape, np.nan)
        return sign_shares_from_counts(
            n=self.n,
            n_true=self.n_true,
            neg=self.neg,
            zero=self.zero,
            true_neg=self.true_neg,
            true_zero=self.true_zero,
            nan=self.nan,
            true_nan=self.true_nan,
            mean_gradient=mean,
        )

    def _add_scores(self, S: np.ndarray, s_true: np.ndarray, codes: np.ndarray, m) -> None:
        """Arg-max hits of a block: ``s_true == max``, ties settled by argmax (first max)."""
        hit = s_true == m
        # columns with two maxima or more; adding K booleans row by row (uint8/uint16
        # sums) is about 3x faster than count_nonzero(axis=0)'s cast to intp
        n_max = np.add.reduce(S == m, axis=0, dtype=self._tie_dtype)
        tied = hit & (n_max > 1)
        if tied.any():
            idx = np.flatnonzero(tied)
            hit[idx] = S[:, idx].argmax(axis=0) == codes[idx]
        self.hits += int(np.count_nonzero(hit))

    def _add_gradient(self, Gt: np.ndarray, g_true: np.ndarray, codes, finite: bool) -> None:
        K = Gt.shape[0]
        # one class row at a time: count_nonzero without an axis is a fast popcount,
        # about 2x faster than count_nonzero(axis=1) on the whole block
        # (a short block, e.g. a mini-batch: one call per kind instead)
        if Gt.shape[1] < 2048:
            self.neg += np.count_nonzero(Gt < 0, axis=1)
            self.zero += np.count_nonzero(Gt == 0, axis=1)
        else:
            neg, zero = self.neg, self.zero
            for c in range(K):
                row = Gt[c]
                neg[c] += np.count_nonzero(row < 0)
                zero[c] += np.count_nonzero(row == 0)
        self.true_neg += np.bincount(codes[g_true < 0], minlength=K)
        self.true_zero += np.bincount(codes[g_true == 0], minlength=K)
        if not finite:  # NaN is neither sign: count it apart (only where it can occur)
            self.nan += np.count_nonzero(np.isnan(Gt), axis=1)
            self.true_nan += np.bincount(codes[np.isnan(g_true)], minlength=K)


def true_index(codes: np.ndarray, n: int, out: np.ndarray | None = None) -> np.ndarray:
    """Flat indices ``codes[i]·n + i`` of the true-class entries of a ``(K, n)`` buffer."""
    return np.add(np.multiply(codes, n, out=out), np.arange(codes.shape[0]), out=out)


def _blocks(loss, St, flat, codes, t, lo, hi, width, col_sum, stats, bias, rows) -> float:
    """The block loop of :func:`loss_pass` over the columns ``lo:hi`` of ``St``."""
    n = St.shape[1]
    total = 0.0
    for a in range(lo, hi, width):
        b = min(a + width, hi)
        S = St[:, a:b] if (a, b) != (0, n) else St
        c = codes[a:b]
        ti = t[a:b]
        if rows is not None:
            if bias is not None:
                np.add(rows[a:b].T, bias, out=S)
            else:
                np.copyto(S, rows[a:b].T)
        elif bias is not None:
            S += bias
        m = None
        if stats is not None:
            m = S.max(axis=0)
            stats._add_scores(S, np.take(flat, ti), c, m)
        part = loss._loss_grad_t(S, c, flat, ti, m)
        total += part
        col_sum += S.sum(axis=1)
        if stats is not None:
            stats._add_gradient(S, np.take(flat, ti), c, math.isfinite(part))
    return total


def loss_pass(
    loss: Loss,
    St: np.ndarray,
    codes: np.ndarray,
    t: np.ndarray,
    col_sum: np.ndarray,
    stats: PassStats | None = None,
    bias: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> float:
    """Loss and gradient of the scores ``St`` (K, n), in place, block by block.

    ``St`` must be C-contiguous; on return it holds ``G.T``. ``t`` = :func:`true_index`
    of ``codes``. Writes ``Σ_i G[i, c]`` into ``col_sum`` (K,) and returns ``Σ_i L_i``.
    With ``stats``, also adds the block's accuracy hits and gradient-sign counts (from the
    scores before they are overwritten, and from ``G``). ``bias`` (K,), if given, is added
    to the scores first. ``rows``, if given, holds the scores as ``(n, K)`` (C-ordered):
    each block is then first copied, transposed, into ``St`` (with the bias in the same
    step), while it is in cache.

    One thread per call: on several cores a large pass is split into row shards, each
    with its own call of this function on its own thread (:mod:`._shards`), rather than
    handing blocks of one call to helper threads, which measured 2-2.6x *slower* under
    load (N = 1e5, load average 10) as the threads traded the GIL at every block.
    """
    if bias is not None:
        bias = bias[:, None]
    K, n = St.shape
    flat = St.reshape(-1)
    width = max(64, _BLOCK // K)
    col_sum[:] = 0
    total = _blocks(loss, St, flat, codes, t, 0, n, width, col_sum, stats, bias, rows)
    if stats is not None:
        stats.n += n
        stats.loss_sum += total
        stats.col_sum += col_sum
        stats.n_true += np.bincount(codes, minlength=K)
    return total
