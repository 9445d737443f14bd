r"""Information measures of discrete distributions (natural log, nats).

Conventions: a 1-D input is one distribution and gives a float; a 2-D input holds one
distribution per row and gives one value per row. :math:`0\log 0 = 0`. Inputs to
:func:`entropy`, :func:`cross_entropy` and :func:`kl_divergence` must be valid
distributions (finite, non-negative, each row summing to 1 within ``1e-8``), otherwise
``ValueError`` says which row is wrong and how.

The identities of the seed ``cross-entropy-derivation.md`` hold exactly in exact
arithmetic and to rounding here:

.. math:: H(P,Q) = H(P) + \mathrm{KL}(P\|Q), \qquad
          \text{one-hot } P:\ H(P,Q) = \mathrm{KL}(P\|Q) = -\log q_{true}.

If Q puts zero mass where P has mass, :math:`H(P,Q) = \mathrm{KL}(P\|Q) = +\infty`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["cross_entropy", "entropy", "kl_divergence", "log_softmax", "softmax"]

ATOL = 1e-8


def _distributions(p, name: str) -> np.ndarray:
    a = np.asarray(p, dtype=np.float64)
    if a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D distribution or 2-D array of rows")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")
    rows = np.atleast_2d(a)
    neg = np.flatnonzero((rows < 0).any(axis=1))
    if neg.size:
        raise ValueError(f"{name} has negative entries (row {neg[0]}); probabilities are >= 0")
    sums = rows.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ATOL)
    if bad.size:
        raise ValueError(
            f"{name} row {bad[0]} sums to {float(sums[bad[0]]):.10g}, not 1 (tolerance {ATOL:g})"
        )
    return a


def _reduce(values: np.ndarray, a: np.ndarray):
    out = values.sum(axis=-1)
    return float(out) if a.ndim == 1 else out


def entropy(p) -> float | np.ndarray:
    r""":math:`H(P) = -\sum_x p(x)\log p(x)`, with :math:`0\log 0 = 0`.

    >>> round(entropy([0.5, 0.5]), 6)   # log 2
    0.693147
    """
    a = _distributions(p, "p")
    return _reduce(special.entr(a), a)


def cross_entropy(p, q) -> float | np.ndarray:
    r""":math:`H(P,Q) = -\sum_x p(x)\log q(x)` (terms with p(x) = 0 contribute 0)."""
    a = _distributions(p, "p")
    b = _distributions(q, "q")
    if a.shape != b.shape:
        raise ValueError(f"p and q must have the same shape; got {a.shape} and {b.shape}")
    with np.errstate(divide="ignore"):
        return _reduce(-special.xlogy(a, b), a)


def kl_divergence(p, q) -> float | np.ndarray:
    r""":math:`\mathrm{KL}(P\|Q) = \sum_x p(x)\log\frac{p(x)}{q(x)} \ge 0`."""
    a = _distributions(p, "p")
    b = _distributions(q, "q")
    if a.shape != b.shape:
        raise ValueError(f"p and q must have the same shape; got {a.shape} and {b.shape}")
    return _reduce(special.rel_entr(a, b), a)


def _scores(S) -> np.ndarray:
    a = np.asarray(S)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    if a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise ValueError("scores must be a non-empty 1-D vector or a 2-D (N, K) array")
    return a


def softmax(S) -> np.ndarray:
    r"""Row-wise :math:`\hat y_j = e^{s_j} / \sum_k e^{s_k}` (max-shifted, stable)."""
    return special.softmax(_scores(S), axis=-1)


def log_softmax(S) -> np.ndarray:
    r"""Row-wise :math:`\log\hat y_j = s_j - \log\sum_k e^{s_k}` (stable)."""
    return special.log_softmax(_scores(S), axis=-1)
