"""Property-based tests (hypothesis) for the maths: any finite scores, any valid targets."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lossesbox import information as info
from lossesbox.losses import LOSSES

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scores_and_labels(draw, max_abs=1e3, n_max=6, k_max=6):
    n = draw(st.integers(1, n_max))
    k = draw(st.integers(2, k_max))
    S = draw(
        hnp.arrays(
            np.float64,
            (n, k),
            elements=st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False),
        )
    )
    labels = draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    return S, np.eye(k)[labels]


@st.composite
def distributions(draw, k=None):
    k = k or draw(st.integers(1, 8))
    w = draw(hnp.arrays(np.float64, k, elements=st.floats(0, 10)))
    assume(w.sum() > 1e-3)
    return w / w.sum()


@SETTINGS
@given(scores_and_labels())
def test_every_loss_is_finite_or_inf_never_nan(data):
    S, Y = data
    for name, loss in LOSSES.items():
        with np.errstate(over="ignore", under="ignore"):
            v, g = loss.loss_and_gradient(S, Y)
        assert not np.isnan(v).any(), name
        assert not np.isnan(g).any(), name
        if name == "exp_mse":
            # finite well below the overflow of e^{2s} (s ≈ 354.9), inf above it
            assert np.all(np.isfinite(v[(S < 350).all(axis=1)]))
            assert np.all(np.isposinf(v[(S > 356).any(axis=1)]))
        else:
            assert np.all(np.isfinite(v)), name
            assert np.all(np.isfinite(g)), name
            assert np.all(v >= -1e-12), name  # every loss here is non-negative


@SETTINGS
@given(scores_and_labels(max_abs=8.0, n_max=3, k_max=5))
def test_gradients_match_finite_differences(data):
    S, Y = data
    h = 1e-6
    for name, loss in LOSSES.items():
        if not loss.smooth:
            s_true = (S * Y).sum(axis=1, keepdims=True)
            if not np.all((np.abs(S - s_true + 1) > 1e-3) | (Y == 1)):
                continue  # at a hinge kink the difference quotient is not the gradient
        g = loss.gradient(S, Y)
        fd = np.zeros_like(S)
        for idx in np.ndindex(*S.shape):
            E = np.zeros_like(S)
            E[idx] = h
            fd[idx] = (loss.loss(S + E, Y)[idx[0]] - loss.loss(S - E, Y)[idx[0]]) / (2 * h)
        scale = np.abs(loss.loss(S, Y)).max() + 1.0
        assert np.linalg.norm(g - fd) <= 1e-5 * (np.linalg.norm(fd) + scale), name


@SETTINGS
@given(scores_and_labels())
def test_softmax_rows_sum_to_one(data):
    S, _ = data
    P = info.softmax(S)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(P >= 0)
    np.testing.assert_allclose(np.exp(info.log_softmax(S)), P, atol=1e-12)


@SETTINGS
@given(st.data())
def test_information_identities(data):
    p = data.draw(distributions())
    q = data.draw(distributions(k=len(p)))
    h, ce, kl = info.entropy(p), info.cross_entropy(p, q), info.kl_divergence(p, q)
    assert h >= 0
    assert kl >= -1e-12
    if np.isfinite(ce):
        assert abs(ce - (h + kl)) <= 1e-9 * max(1.0, abs(ce))
    else:
        assert kl == np.inf


@SETTINGS
@given(scores_and_labels(max_abs=50.0))
def test_wrong_class_sign_claims(data):
    """exp_mse and CE never push a wrong score up; mse does exactly when that score < 0."""
    S, Y = data
    wrong = Y == 0
    assert np.all(LOSSES["exp_mse"].gradient(S, Y)[wrong] >= 0)
    assert np.all(LOSSES["cross_entropy"].gradient(S, Y)[wrong] >= 0)
    g = LOSSES["mse"].gradient(S, Y)
    np.testing.assert_array_equal(g[wrong] < 0, S[wrong] < 0)
