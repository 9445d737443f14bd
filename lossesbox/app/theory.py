r"""Live numeric checks for the Theory page (pure numpy; no Streamlit).

Each function evaluates one identity or derivation from the seeds with numbers the user
picks, computing both sides independently, so the page can show that they agree.

- :func:`information_check`: :math:`H(P,Q) = H(P) + \mathrm{KL}(P\|Q)`.
- :func:`softmax_check`: rows sum to 1, shift invariance, :math:`\log\mathrm{softmax}`.
- :func:`gradient_check`: each loss's analytic score gradient vs central differences.
- :func:`objective_check`: :math:`J = \frac1N\sum_i L_i + \frac\lambda2\|W\|_F^2`, its
  gradient :math:`\nabla_W J = \frac1N G^\top X + \lambda W` (W is K×D: one row per class)
  vs finite differences, and the sum-vs-mean relation :math:`\lambda_{sum} = N\lambda`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..information import cross_entropy, entropy, kl_divergence, log_softmax, softmax
from ..landscape import one_hot
from ..losses import get_loss

__all__ = [
    "gradient_check",
    "information_check",
    "objective_check",
    "parse_vector",
    "softmax_check",
]

_SPLIT = re.compile(r"[,\s;]+")


def parse_vector(text: str, name: str = "vector", *, min_len: int = 2, max_len: int = 50):
    """Parse ``"0.1, 0.2 0.7"`` (commas, spaces or semicolons) into a float array.

    Raises ``ValueError`` naming the bad entry, a wrong length, or non-finite values.
    """
    parts = [p for p in _SPLIT.split(str(text).strip()) if p]
    values = []
    for p in parts:
        try:
            values.append(float(p))
        except ValueError:
            raise ValueError(f"{name}: {p!r} is not a number") from None
    if not min_len <= len(values) <= max_len:
        raise ValueError(f"{name} needs {min_len} to {max_len} numbers, got {len(values)}")
    a = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must contain finite numbers only")
    return a


def information_check(p, q) -> dict[str, float]:
    """Entropy, KL and cross-entropy of P and Q, from the library and from the definitions.

    Library values (``H_P``, ``KL``, ``H_PQ``) come from :mod:`lossesbox.information`
    (scipy's ``entr``/``rel_entr``/``xlogy``); ``*_direct`` recompute them with plain
    sums over the support of P. ``gap`` is :math:`H(P,Q) - (H(P) + \\mathrm{KL})`.
    Raises ``ValueError`` for invalid distributions.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    h_p = float(entropy(p))
    kl = float(kl_divergence(p, q))
    h_pq = float(cross_entropy(p, q))
    support = p > 0
    with np.errstate(divide="ignore"):
        h_p_direct = float(-np.sum(p[support] * np.log(p[support])))
        h_pq_direct = float(-np.sum(p[support] * np.log(q[support])))
        kl_direct = float(np.sum(p[support] * (np.log(p[support]) - np.log(q[support]))))
    gap = h_pq - (h_p + kl) if np.isfinite(h_pq) else 0.0
    return {
        "H_P": h_p,
        "KL": kl,
        "H_PQ": h_pq,
        "H_P_plus_KL": h_p + kl,
        "gap": float(gap),
        "H_P_direct": h_p_direct,
        "KL_direct": kl_direct,
        "H_PQ_direct": h_pq_direct,
    }


def softmax_check(scores, shift: float = 0.0) -> dict[str, object]:
    r"""Softmax of ``scores``, its sum, and the shift invariance :math:`p(s + c) = p(s)`.

    ``direct`` is :math:`e^{s}/\sum e^{s}` without max-shifting (can overflow, which is
    the point of the stable version); ``max_shift_diff`` the largest entry of
    :math:`|p(s+c) - p(s)|`; ``log_softmax_diff`` compares ``log_softmax`` with
    :math:`\log p`.
    """
    s = np.asarray(scores, dtype=np.float64)
    p = softmax(s)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(s)
        direct = e / e.sum()
    shifted = softmax(s + shift)
    return {
        "p": p,
        "sum": float(p.sum()),
        "direct": direct,
        "direct_finite": bool(np.all(np.isfinite(direct))),
        "shifted": shifted,
        "max_shift_diff": float(np.max(np.abs(shifted - p))),
        "log_softmax": log_softmax(s),
        "log_softmax_diff": float(np.max(np.abs(log_softmax(s) - np.log(p))))
        if np.all(p > 0)
        else float("nan"),
    }


def gradient_check(loss: str, scores, true_class: int, h: float = 1e-6) -> pd.DataFrame:
    r"""Analytic gradient of ``loss`` at one sample vs central differences.

    Column ``finite_difference`` is :math:`(L(s + h e_c) - L(s - h e_c)) / 2h`;
    ``abs_error`` the absolute difference (≈1e-9 for smooth losses away from kinks).
    """
    loss_obj = get_loss(loss)
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = one_hot(true_class, s.size)[None, :]
    analytic = loss_obj.gradient(s[None, :], y)[0]
    fd = np.empty_like(s)
    for c in range(s.size):
        e = np.zeros_like(s)
        e[c] = h
        up = loss_obj.loss((s + e)[None, :], y)[0]
        down = loss_obj.loss((s - e)[None, :], y)[0]
        fd[c] = (up - down) / (2 * h)
    return pd.DataFrame(
        {
            "class": np.arange(s.size),
            "analytic": analytic,
            "finite_difference": fd,
            "abs_error": np.abs(analytic - fd),
        }
    )


def _objective(loss, X, Y, W, b, lam):
    S = X @ W.T + b
    values, G = loss.loss_and_gradient(S, Y)
    n = X.shape[0]
    J = float(values.mean() + 0.5 * lam * np.sum(W * W))
    dW = G.T @ X / n + lam * W
    db = G.mean(axis=0)
    return J, dW, db, float(values.sum())


def objective_check(
    loss: str = "cross_entropy",
    n: int = 20,
    d: int = 3,
    k: int = 4,
    lam: float = 0.1,
    seed: int = 0,
    h: float = 1e-6,
) -> dict[str, object]:
    r"""Check the regularized objective and the sum-vs-mean λ relation on random data.

    Draws X (n×d), labels, W (k×d — one row per class; the seed's "C×N" is a typo) and
    b (k,), then returns:

    - ``J``: :math:`\frac1N\sum_i L_i + \frac\lambda2\|W\|_F^2`;
    - ``grad_W`` (k×d) from the chain rule :math:`\frac1N G^\top X + \lambda W`, ``fd_W``
      the central-difference gradient, ``max_error_W`` their largest difference;
      ``max_error_b`` the same for the (unpenalized) bias;
    - ``J_sum``: the seed's :math:`\sum_i L_i + \frac{\lambda_{sum}}2\|W\|_F^2` with
      :math:`\lambda_{sum} = N\lambda`, and ``N_times_J`` = :math:`N\cdot J` (equal: the
      two objectives differ by the constant factor N, so they share the minimizer);
    - ``seed_grad_W``: the seed's :math:`\sum_i (\hat y_{m,i} - \delta_{m,k}) x_{n,i} +
      \lambda_{sum} W_{m,n}`, equal to ``N * grad_W``.
    """
    loss_obj = get_loss(loss)
    if n < 1 or d < 1 or k < 2:
        raise ValueError(f"need n >= 1, d >= 1, k >= 2; got n={n}, d={d}, k={k}")
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    labels = rng.integers(0, k, size=n)
    Y = np.eye(k)[labels]
    W = rng.normal(scale=0.5, size=(k, d))
    b = rng.normal(scale=0.5, size=k)
    J, dW, db, loss_sum = _objective(loss_obj, X, Y, W, b, lam)
    fd_W = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        fd_W[idx] = (
            _objective(loss_obj, X, Y, W + E, b, lam)[0]
            - _objective(loss_obj, X, Y, W - E, b, lam)[0]
        ) / (2 * h)
    fd_b = np.empty_like(b)
    for c in range(k):
        e = np.zeros_like(b)
        e[c] = h
        fd_b[c] = (
            _objective(loss_obj, X, Y, W, b + e, lam)[0]
            - _objective(loss_obj, X, Y, W, b - e, lam)[0]
        ) / (2 * h)
    lam_sum = n * lam
    J_sum = loss_sum + 0.5 * lam_sum * float(np.sum(W * W))
    S = X @ W.T + b
    G = loss_obj.gradient(S, Y)
    seed_grad_W = G.T @ X + lam_sum * W
    return {
        "J": J,
        "grad_W": dW,
        "fd_W": fd_W,
        "max_error_W": float(np.max(np.abs(dW - fd_W))),
        "grad_b": db,
        "max_error_b": float(np.max(np.abs(db - fd_b))),
        "lam_sum": lam_sum,
        "J_sum": J_sum,
        "N_times_J": n * J,
        "seed_grad_W": seed_grad_W,
        "max_error_sum_vs_mean": float(np.max(np.abs(seed_grad_W - n * dW))),
        "W_shape": W.shape,
        "X_shape": X.shape,
    }
