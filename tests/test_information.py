"""Information measures: the identities of cross-entropy-derivation.md, references, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lossesbox import information as info
from lossesbox.losses import LOSSES

RNG = np.random.default_rng(2026)


def test_entropy_known_values():
    assert info.entropy([0.5, 0.5]) == pytest.approx(np.log(2), rel=1e-15)
    assert info.entropy([1.0, 0.0, 0.0]) == 0.0  # 0 log 0 = 0
    assert info.entropy(np.full(7, 1 / 7)) == pytest.approx(np.log(7), rel=1e-14)


def test_against_scipy_stats():
    P = RNG.dirichlet(np.ones(6), size=10)
    Q = RNG.dirichlet(np.ones(6), size=10)
    np.testing.assert_allclose(info.entropy(P), stats.entropy(P, axis=1), rtol=1e-13)
    np.testing.assert_allclose(info.kl_divergence(P, Q), stats.entropy(P, Q, axis=1), rtol=1e-12)


def test_cross_entropy_is_entropy_plus_kl():
    P = RNG.dirichlet(np.ones(5) * 0.5, size=50)
    Q = RNG.dirichlet(np.ones(5), size=50)
    np.testing.assert_allclose(
        info.cross_entropy(P, Q), info.entropy(P) + info.kl_divergence(P, Q), rtol=1e-12
    )
    assert np.all(info.kl_divergence(P, Q) >= 0)
    np.testing.assert_allclose(info.kl_divergence(P, P), 0.0, atol=1e-15)


def test_one_hot_cross_entropy_equals_kl_equals_minus_log_q_true():
    """For one-hot P: H(P) = 0, so H(P,Q) = KL(P||Q) = -log q_true (the CE loss)."""
    q = np.array([0.1, 0.2, 0.1, 0.4, 0.2])
    p = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    assert info.entropy(p) == 0.0
    assert info.cross_entropy(p, q) == pytest.approx(-np.log(0.4), rel=1e-15)
    assert info.kl_divergence(p, q) == pytest.approx(-np.log(0.4), rel=1e-15)
    # and it is exactly the softmax cross-entropy loss on scores log q
    ce = LOSSES["cross_entropy"].loss(np.log(q)[None], p[None])[0]
    assert ce == pytest.approx(info.cross_entropy(p, q), rel=1e-14)


def test_zero_mass_where_p_has_mass_is_infinite():
    assert info.cross_entropy([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert info.kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert info.kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))


def test_softmax_and_log_softmax():
    S = np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(2), np.log(3)]])
    P = info.softmax(S)
    np.testing.assert_allclose(P[0], [0.5, 0.5, 0.0], atol=0)
    np.testing.assert_allclose(P[1], [1 / 6, 2 / 6, 3 / 6], rtol=1e-15)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    L = info.log_softmax(S)
    np.testing.assert_allclose(L[0, :2], np.log(0.5), rtol=1e-15)
    assert L[0, 2] == pytest.approx(-2000 - np.log(2), rel=1e-15)  # finite, no -inf
    np.testing.assert_allclose(info.softmax([0.0, 0.0]), [0.5, 0.5])


def test_seed_softmax_example():
    y_hat = np.array([0.1, 0.2, 0.1, 0.4, 0.2])
    np.testing.assert_allclose(info.softmax(np.log(y_hat)), y_hat, rtol=1e-14)


@pytest.mark.parametrize(
    ("p", "message"),
    [
        ([0.5, -0.1, 0.6], "negative"),
        ([0.5, 0.4], "sums to"),
        ([0.5, np.nan, 0.5], "non-finite"),
        ([], "non-empty"),
        (np.ones((2, 2, 2)) / 4, "non-empty 1-D"),
    ],
)
def test_invalid_distributions_raise(p, message):
    with pytest.raises(ValueError, match=message):
        info.entropy(p)
    with pytest.raises(ValueError, match=message):
        info.kl_divergence(np.full(3, 1 / 3), p) if np.shape(p) == (3,) else info.entropy(p)


def test_tolerance_is_1e_8_and_rows_are_named():
    info.entropy([0.5, 0.5 + 5e-9])  # inside the tolerance
    with pytest.raises(ValueError, match="row 1 sums to"):
        info.entropy([[0.5, 0.5], [0.5, 0.5 + 1e-7]])


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        info.cross_entropy([0.5, 0.5], [1 / 3, 1 / 3, 1 / 3])


def test_scalar_for_1d_and_array_for_2d():
    assert isinstance(info.entropy([0.2, 0.8]), float)
    out = info.entropy(np.array([[0.2, 0.8], [0.5, 0.5]]))
    assert out.shape == (2,)
