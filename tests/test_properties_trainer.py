r"""Trainer property: full-batch gradient descent with a small enough step decreases J.

The step is not guessed, it is derived. With augmented inputs ``x̃ = (x, 1)`` (or ``x``
without an intercept) the Hessian of the objective
``J(W, b) = (1/N) Σ L(s_i, y_i) + (λ/2)‖W‖²`` with respect to the flat ``(W, b)`` is

    ∇²J = (1/N) Σ_i H_i ⊗ x̃_i x̃_iᵀ + λ·(I_W ⊕ 0_b),      H_i = ∇²_s L(s_i, y_i).

If ``‖H_i‖₂ ≤ β`` for every sample, then ``‖∇²J‖₂ ≤ β·σ_max(X̃)²/N + λ =: L`` (the sum is
bounded in Loewner order by ``β·I ⊗ X̃ᵀX̃``). The descent lemma then gives, for one
gradient step of size ``η < 2/L``,

    J(θ − η∇J) ≤ J(θ) − η(1 − ηL/2)‖∇J(θ)‖²,

a quantitative decrease the test checks against the trainer's own ``history_``
(``objective`` and ``grad_norm`` per epoch). The per-sample curvature bounds β
(one-hot y, K classes, p = softmax(s)):

- ``cross_entropy`` and ``label_smoothing`` (CE with a probability target):
  ``H = diag(p) − ppᵀ``, Gershgorin row sums ``2 p_i (1 − p_i) ≤ 1/2``, so β = 1/2.
- ``squentropy``: CE plus ``(1/(K−1)) Σ_{j≠y} s_j²``, so β = 1/2 + 2/(K−1).
- ``mse``: ``H = (2/K) I``, β = 2/K (exact, so ``η > 2/L`` really diverges; tested).
- ``softmax_mse``: ``H = (2/K)[J_pᵀJ_p − Σ_k (y_k − p_k) ∇²p_k]`` with ``J_p = diag(p) − ppᵀ``
  (‖J_p‖ ≤ 1/2) and ``∇²p_k = p_k[(e_k − p)(e_k − p)ᵀ − J_p]``, a difference of two PSD
  matrices of norms ``≤ 2(1 − p_k)²`` and ``≤ 1/2``, so ``‖∇²p_k‖ ≤ 2 p_k``;
  hence β = (2/K)(1/4 + 2) = 4.5/K.
- ``focal``: ``L = g(u)`` with ``u = log p_y``, ``g(u) = −(1 − e^u)^γ u``; ``∇_s u = e_y − p``
  (squared norm ≤ 2(1 − p_y)²) and ``∇²_s u = −J_p``, so
  β = sup_{0<p<1} [2(1 − p)² |g''(u)| + |g'(u)|/2], a one-dimensional supremum computed
  below on a fine grid (with a safety factor).
- ``exp_mse`` has unbounded curvature (``H = (2/K) diag(2e^{2s} − y e^{s})``), but GD that
  decreases J stays in the sublevel set ``{J ≤ J₀}``, where every sample has
  ``L_i ≤ N J₀`` and therefore ``e^{s_j} ≤ 1 + √(K N J₀) =: M``; there β = 4M²/K. The
  descent lemma needs the bound only on that set: along the step, the first point that
  would leave it would have to have ``J = J₀`` while the lemma already gives ``J < J₀``.

``hinge`` is not smooth (β does not exist) and is excluded. A separate property checks
each β against a finite-difference Hessian, so an error in the derivation would show.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lossesbox import LinearSoftmaxClassifier
from lossesbox.losses import LOSSES

SMOOTH = sorted(name for name, loss in LOSSES.items() if loss.smooth)


def test_hinge_is_the_only_non_smooth_loss():
    assert set(LOSSES) - set(SMOOTH) == {"hinge"}


def _focal_beta(gamma: float) -> float:
    """``sup_p 2(1−p)²|g''(u)| + |g'(u)|/2`` for ``g(u) = −(1−e^u)^γ u``, ``u = log p``."""
    p = np.concatenate([np.logspace(-300, -1, 20_000), np.linspace(0.1, 1.0, 200_001)[:-1]])
    u = np.log(p)
    q = 1.0 - p
    # g'(u)  = γ q^{γ−1} p u − q^γ
    # g''(u) = γ[(1−γ) q^{γ−2} p² u + q^{γ−1} p u + q^{γ−1} p] + γ q^{γ−1} p
    qg1, qg2 = q ** (gamma - 1.0), q ** (gamma - 2.0)  # q > 0 on this grid
    g1 = gamma * qg1 * p * u - q**gamma
    g2 = gamma * ((1.0 - gamma) * qg2 * p**2 * u + qg1 * p * u + qg1 * p) + gamma * qg1 * p
    return 1.25 * float(np.max(2.0 * q**2 * np.abs(g2) + 0.5 * np.abs(g1)))


def curvature_bound(name: str, K: int, *, max_exp_score: float | None = None) -> float:
    """β ≥ ‖∇²_s L(s, y)‖₂ for one-hot y (see the module docstring).

    For ``exp_mse`` the bound holds where every ``e^{s_j} ≤ max_exp_score``.
    """
    if name in ("cross_entropy", "label_smoothing"):
        return 0.5
    if name == "squentropy":
        return 0.5 + 2.0 / (K - 1)
    if name == "mse":
        return 2.0 / K
    if name == "softmax_mse":
        return 4.5 / K
    if name == "focal":
        return _focal_beta(LOSSES["focal"].gamma)
    if name == "exp_mse":
        M = max(1.0, float(max_exp_score))
        return 4.0 * M * M / K
    raise KeyError(name)


def smoothness_constant(name: str, X: np.ndarray, codes: np.ndarray, lam: float, fit_intercept):
    """``L = β σ_max(X̃)²/N + λ`` for gd from ``init="zeros"`` (J₀ at S = 0 for exp_mse)."""
    N = X.shape[0]
    K = int(codes.max()) + 1
    Xt = np.hstack([X, np.ones((N, 1))]) if fit_intercept else X
    sigma = np.linalg.norm(Xt, 2)
    M = None
    if name == "exp_mse":
        J0 = float(LOSSES[name].loss(np.zeros((N, K)), np.eye(K)[codes]).mean())
        M = 1.0 + math.sqrt(K * N * J0)
    return curvature_bound(name, K, max_exp_score=M) * sigma**2 / N + lam


# --------------------------------------------------------------------------- the bounds


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(SMOOTH),
    K=st.integers(2, 5),
    data=st.data(),
)
def test_curvature_bounds_dominate_finite_difference_hessians(name, K, data):
    hi = 3.0 if name == "exp_mse" else 30.0
    s = data.draw(hnp.arrays(np.float64, K, elements=st.floats(-hi, hi)))
    y = np.eye(K)[data.draw(st.integers(0, K - 1))]
    loss = LOSSES[name]
    h = 1e-5
    H = np.empty((K, K))
    for j in range(K):
        e = np.zeros(K)
        e[j] = h
        H[:, j] = (loss.gradient(s + e, y) - loss.gradient(s - e, y))[0] / (2 * h)
    H = 0.5 * (H + H.T)
    norm = np.abs(np.linalg.eigvalsh(H)).max()
    beta = curvature_bound(name, K, max_exp_score=math.exp(s.max() + h))
    assert norm <= beta * (1 + 1e-6) + 1e-6, (name, norm, beta)


def test_cross_entropy_bound_is_attained():
    """β = 1/2 for CE is sharp (p = (1/2, 1/2)), so the step derived from it is not timid."""
    H = np.diag([0.5, 0.5]) - np.outer([0.5, 0.5], [0.5, 0.5])
    assert np.linalg.eigvalsh(H).max() == pytest.approx(curvature_bound("cross_entropy", 2))


# --------------------------------------------------------------------------- the trainer


@st.composite
def problems(draw):
    N = draw(st.integers(4, 30))
    D = draw(st.integers(1, 4))
    grid = st.integers(-300, 300).map(lambda k: k / 100)  # no denormal-tiny data
    X = draw(hnp.arrays(np.float64, (N, D), elements=grid))
    X = X * draw(st.sampled_from([0.1, 1.0, 5.0]))
    labels = draw(hnp.arrays(np.int64, N, elements=st.integers(0, draw(st.integers(1, 3)))))
    assume(np.unique(labels).size >= 2)
    _, codes = np.unique(labels, return_inverse=True)
    return X, codes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    problem=problems(),
    name=st.sampled_from(SMOOTH),
    lam=st.sampled_from([0.0, 1e-3, 0.1, 1.0]),
    fit_intercept=st.booleans(),
    fraction=st.floats(0.05, 1.9),
)
def test_gd_decreases_the_objective_at_least_as_the_descent_lemma_says(
    problem, name, lam, fit_intercept, fraction
):
    X, codes = problem
    L = smoothness_constant(name, X, codes, lam, fit_intercept)
    assume(L > 0)  # X = 0, no intercept, λ = 0: J is constant
    eta = fraction / L
    clf = LinearSoftmaxClassifier(
        loss=name,
        lam=lam,
        solver="gd",
        learning_rate=eta,
        max_epochs=25,
        tol=0.0,
        fit_intercept=fit_intercept,
    ).fit(X, codes)
    assert clf.status_ == "max_epochs", clf.stop_reason_
    J = np.array([r["objective"] for r in clf.history_])
    g = np.array([r["grad_norm"] for r in clf.history_])
    assert len(J) == 26 and np.isfinite(J).all()
    guaranteed = eta * (1.0 - eta * L / 2.0) * g[:-1] ** 2
    slack = 1e-11 * np.maximum(1.0, np.abs(J[:-1]))  # rounding in the mean of N losses
    assert np.all(J[1:] <= J[:-1] - guaranteed + slack), (J, guaranteed)


def test_gd_on_iris_decreases_for_every_smooth_loss():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for name in SMOOTH:
        eta = 1.0 / smoothness_constant(name, X, y, 1e-3, True)
        clf = LinearSoftmaxClassifier(
            loss=name, solver="gd", learning_rate=eta, max_epochs=60, tol=0.0
        ).fit(X, y)
        J = np.array([r["objective"] for r in clf.history_])
        assert np.all(np.diff(J) < 0), name  # strict: the gradient never vanishes here
        assert J[-1] < J[0] - 1e-3, name


def test_the_mse_bound_is_tight_a_step_beyond_2_over_L_increases_the_objective():
    """For mse with λ = 0, L is the exact top curvature: 2.2/L must blow up, 1.9/L not."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) @ np.diag([3.0, 1.0, 0.3])
    y = rng.integers(0, 3, size=40)
    L = smoothness_constant("mse", X, y, 0.0, True)
    runs = {}
    for fraction in (1.9, 2.2):
        clf = LinearSoftmaxClassifier(
            loss="mse", lam=0.0, solver="gd", learning_rate=fraction / L, max_epochs=80, tol=0
        ).fit(X, y)
        runs[fraction] = np.array([r["objective"] for r in clf.history_])
    assert np.all(np.diff(runs[1.9]) <= 1e-12)
    assert np.any(np.diff(runs[2.2]) > 0)
    assert runs[2.2][-1] > runs[2.2][0]  # (1.2)^80 amplification along the top direction
