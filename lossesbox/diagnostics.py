r"""Gradient-sign diagnostics: which classes' scores a loss pushes the right or wrong way.

Gradient descent moves a score by :math:`-\eta\,\partial L/\partial s`. For an entry
:math:`G_{ic} = \partial L_i/\partial s_{ic}`:

- **wrong-class** entries (:math:`y_{ic} = 0`): :math:`G > 0` pushes the score down, the
  **right** way; :math:`G < 0` pushes it up, the **wrong** way; :math:`G = 0` is **zero**.
- **true-class** entries (:math:`y_{ic} > 0`): :math:`G < 0` is the right way,
  :math:`G > 0` the wrong way.

Signs are exact (``> 0``, ``< 0``, ``== 0``), no threshold: a saturated softmax or a hinge
outside its margin gives exact zeros, and so does ``mse`` on wrong classes when all scores
are 0 (``init="zeros"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .losses import Loss, get_loss

__all__ = [
    "GradientSigns",
    "gradient_signs",
    "sign_shares",
    "sign_shares_from_counts",
    "sign_shares_from_labels",
]


@dataclass(frozen=True)
class GradientSigns:
    """Per-class sign shares; every array has shape ``(K,)``.

    ``wrong_*`` are shares over the entries :math:`G_{ic}` of samples whose true class is
    not c (they sum to 1 per class); ``true_*`` over the samples whose true class is c.
    A class without such samples has NaN shares. ``mean_gradient[c]`` is the mean of
    ``G[:, c]`` over all samples.
    """

    wrong_right: np.ndarray
    wrong_wrong: np.ndarray
    wrong_zero: np.ndarray
    true_right: np.ndarray
    true_wrong: np.ndarray
    true_zero: np.ndarray
    mean_gradient: np.ndarray
    n_wrong: np.ndarray
    n_true: np.ndarray

    @property
    def wrong_way_share(self) -> float:
        """Share of all wrong-class entries pushed the wrong way (classes weighted by counts)."""
        return _weighted(self.wrong_wrong, self.n_wrong)

    @property
    def true_wrong_way_share(self) -> float:
        """Share of all true-class entries pushed the wrong way (classes weighted by counts)."""
        return _weighted(self.true_wrong, self.n_true)

    @property
    def wrong_zero_share(self) -> float:
        """Share of all wrong-class entries with an exactly zero gradient."""
        return _weighted(self.wrong_zero, self.n_wrong)


def _weighted(share: np.ndarray, n: np.ndarray) -> float:
    total = n.sum()
    if total == 0:
        return float("nan")
    return float(np.nansum(share * n) / total)


def sign_shares(G: np.ndarray, Y: np.ndarray) -> GradientSigns:
    """Sign shares of an already computed gradient ``G`` (N, K) for targets ``Y`` (N, K)."""
    G = np.asarray(G)
    Y = np.asarray(Y)
    if G.shape != Y.shape or G.ndim != 2:
        raise ValueError(f"G and Y must both have shape (N, K); got {G.shape} and {Y.shape}")
    wrong = Y == 0
    true = ~wrong
    pos = G > 0
    neg = G < 0
    zero = G == 0
    n_wrong = wrong.sum(axis=0)
    n_true = true.sum(axis=0)

    def share(mask: np.ndarray, n: np.ndarray) -> np.ndarray:
        counts = mask.sum(axis=0).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, counts / np.maximum(n, 1), np.nan)

    with np.errstate(invalid="ignore"):
        mean_gradient = G.mean(axis=0) if G.shape[0] else np.full(G.shape[1], np.nan)
    return GradientSigns(
        wrong_right=share(pos & wrong, n_wrong),
        wrong_wrong=share(neg & wrong, n_wrong),
        wrong_zero=share(zero & wrong, n_wrong),
        true_right=share(neg & true, n_true),
        true_wrong=share(pos & true, n_true),
        true_zero=share(zero & true, n_true),
        mean_gradient=mean_gradient,
        n_wrong=n_wrong,
        n_true=n_true,
    )


def sign_shares_from_labels(
    G: np.ndarray,
    labels: np.ndarray,
    *,
    n_true: np.ndarray | None = None,
    mean_gradient: np.ndarray | None = None,
) -> GradientSigns:
    """:func:`sign_shares` for one-hot targets given as integer ``labels`` (N,) in [0, K).

    The same numbers with fewer passes over ``G`` (the trainer calls it every epoch):
    per class, the negative and zero entries are counted over all samples, and the
    true-class entries ``G[i, labels[i]]`` are counted apart with ``bincount``; the
    wrong-class counts are the differences. ``n_true`` (the class counts) and
    ``mean_gradient`` (``G.mean(axis=0)``) may be passed when already known. A ``G``
    with NaN entries falls back to :func:`sign_shares` (NaN is neither sign).
    """
    G = np.asarray(G)
    labels = np.asarray(labels)
    if G.ndim != 2 or labels.shape != (G.shape[0],):
        raise ValueError(
            f"G must have shape (N, K) and labels (N,); got {G.shape} and {labels.shape}"
        )
    N, K = G.shape
    if N and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"labels must be integers in [0, {K}); got {labels.min()}..{labels.max()}")
    g_true = G[np.arange(N), labels]
    neg_all = np.count_nonzero(G < 0, axis=0)
    zero_all = np.count_nonzero(G == 0, axis=0)
    true_neg = np.bincount(labels, weights=g_true < 0, minlength=K)
    true_zero = np.bincount(labels, weights=g_true == 0, minlength=K)
    if n_true is None:
        n_true = np.bincount(labels, minlength=K)
    if mean_gradient is None:
        with np.errstate(invalid="ignore"):  # inf - inf in a column: NaN mean, no warning
            mean_gradient = G.mean(axis=0) if N else np.full(K, np.nan)
    # a NaN entry would be counted as positive below; NaN shows in the column means
    if N and not np.isfinite(mean_gradient).all() and np.isnan(G).any():
        return sign_shares(G, np.eye(K, dtype=np.int8)[labels])
    return sign_shares_from_counts(
        n=N,
        n_true=n_true,
        neg=neg_all,
        zero=zero_all,
        true_neg=true_neg,
        true_zero=true_zero,
        mean_gradient=mean_gradient,
    )


def sign_shares_from_counts(
    *,
    n: int,
    n_true: np.ndarray,
    neg: np.ndarray,
    zero: np.ndarray,
    true_neg: np.ndarray,
    true_zero: np.ndarray,
    mean_gradient: np.ndarray,
    nan: np.ndarray | None = None,
    true_nan: np.ndarray | None = None,
) -> GradientSigns:
    """:class:`GradientSigns` from per-class counts of a gradient ``G`` (N, K), one-hot targets.

    ``neg[c]`` / ``zero[c]`` / ``nan[c]``: entries of column c that are ``< 0`` / ``== 0`` /
    NaN over all ``n`` samples; ``true_*[c]``: the same over the ``n_true[c]`` samples of
    class c (their true-class entry). Positive counts are what is left; NaN is neither
    sign (the trainer counts those blocks apart). Counts add up over batches, so the
    trainer sums them over the mini-batches of an epoch (its running history).
    """
    if nan is None:
        nan = np.zeros_like(neg)
    if true_nan is None:
        true_nan = np.zeros_like(true_neg)
    true_pos = n_true - true_neg - true_zero - true_nan
    n_wrong = n - n_true
    wrong_neg = neg - true_neg
    wrong_zero = zero - true_zero
    wrong_pos = n_wrong - wrong_neg - wrong_zero - (nan - true_nan)

    def share(counts: np.ndarray, n: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, counts / np.maximum(n, 1), np.nan)

    return GradientSigns(
        wrong_right=share(wrong_pos, n_wrong),
        wrong_wrong=share(wrong_neg, n_wrong),
        wrong_zero=share(wrong_zero, n_wrong),
        true_right=share(true_neg, n_true),
        true_wrong=share(true_pos, n_true),
        true_zero=share(true_zero, n_true),
        mean_gradient=mean_gradient,
        n_wrong=n_wrong,
        n_true=n_true,
    )


def gradient_signs(S, Y, loss: str | Loss) -> GradientSigns:
    """Gradient-sign shares of ``loss`` at scores ``S`` (N, K) with targets ``Y`` (N, K)."""
    G = get_loss(loss).gradient(S, Y)
    return sign_shares(G, np.asarray(Y))
