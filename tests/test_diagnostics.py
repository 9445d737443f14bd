"""Gradient-sign shares: hand-checked counts, the seeds' claims, the zero-init mse case."""

from __future__ import annotations

import numpy as np
import pytest

from lossesbox.diagnostics import gradient_signs, sign_shares, sign_shares_from_labels
from lossesbox.losses import LOSSES


def test_hand_counted_shares():
    G = np.array([[-1.0, 2.0, 0.0], [3.0, -1.0, -2.0], [0.5, 0.0, -4.0], [1.0, -1.0, 1.0]])
    Y = np.eye(3)[[0, 1, 2, 0]]
    sg = sign_shares(G, Y)
    # class 0: wrong entries at rows 1, 2 -> G = 3, 0.5 -> both right way
    # class 1: wrong entries at rows 0, 2, 3 -> 2, 0, -1 -> right, zero, wrong
    # class 2: wrong entries at rows 0, 1, 3 -> 0, -2, 1 -> zero, wrong, right
    np.testing.assert_allclose(sg.wrong_right, [1.0, 1 / 3, 1 / 3])
    np.testing.assert_allclose(sg.wrong_wrong, [0.0, 1 / 3, 1 / 3])
    np.testing.assert_allclose(sg.wrong_zero, [0.0, 1 / 3, 1 / 3])
    # true entries: class 0 rows 0, 3 -> -1 (right), 1 (wrong); class 1 row 1 -> -1 right
    np.testing.assert_allclose(sg.true_right, [0.5, 1.0, 1.0])
    np.testing.assert_allclose(sg.true_wrong, [0.5, 0.0, 0.0])
    np.testing.assert_allclose(sg.true_zero, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(sg.mean_gradient, G.mean(axis=0))
    np.testing.assert_array_equal(sg.n_wrong, [2, 3, 3])
    np.testing.assert_array_equal(sg.n_true, [2, 1, 1])
    # overall shares weight classes by their counts: 2 wrong-way entries out of 8
    assert sg.wrong_way_share == pytest.approx(2 / 8)
    assert sg.wrong_zero_share == pytest.approx(2 / 8)
    assert sg.true_wrong_way_share == pytest.approx(1 / 4)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_shares_partition(name):
    rng = np.random.default_rng(5)
    S = rng.normal(size=(100, 4))
    Y = np.eye(4)[rng.integers(0, 4, 100)]
    sg = gradient_signs(S, Y, name)
    np.testing.assert_allclose(sg.wrong_right + sg.wrong_wrong + sg.wrong_zero, 1.0)
    np.testing.assert_allclose(sg.true_right + sg.true_wrong + sg.true_zero, 1.0)


def test_seed_claims_in_share_language():
    rng = np.random.default_rng(8)
    S = rng.normal(size=(500, 5))
    Y = np.eye(5)[rng.integers(0, 5, 500)]
    assert gradient_signs(S, Y, "exp_mse").wrong_way_share == 0.0
    assert gradient_signs(S, Y, "cross_entropy").wrong_way_share == 0.0
    # mse pushes exactly the negative wrong scores up: about half of N(0, 1) scores
    expected = (S[Y == 0] < 0).mean()
    assert gradient_signs(S, Y, "mse").wrong_way_share == pytest.approx(expected)
    assert 0.4 < expected < 0.6


def test_zero_scores_give_exact_zero_mse_wrong_gradients():
    Y = np.eye(3)[[0, 1, 2, 1]]
    sg = gradient_signs(np.zeros((4, 3)), Y, "mse")
    np.testing.assert_array_equal(sg.wrong_zero, [1.0, 1.0, 1.0])
    assert sg.wrong_way_share == 0.0
    np.testing.assert_array_equal(sg.true_right, [1.0, 1.0, 1.0])


def test_class_without_samples_is_nan_and_shape_checked():
    Y = np.eye(3)[[0, 0, 1]]
    sg = gradient_signs(np.zeros((3, 3)), Y, "cross_entropy")
    assert np.isnan(sg.true_right[2])
    with pytest.raises(ValueError, match="shape"):
        sign_shares(np.zeros((3, 2)), Y)


def _assert_same_signs(a, b):
    for name in ("wrong_right", "wrong_wrong", "wrong_zero", "true_right", "true_wrong"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=1e-15)
    np.testing.assert_allclose(a.true_zero, b.true_zero, rtol=0, atol=1e-15)
    np.testing.assert_allclose(a.mean_gradient, b.mean_gradient, rtol=1e-12)
    np.testing.assert_array_equal(a.n_wrong, b.n_wrong)
    np.testing.assert_array_equal(a.n_true, b.n_true)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("order", ["C", "F"])
def test_sign_shares_from_labels_equals_the_one_hot_version(seed, order):
    rng = np.random.default_rng(seed)
    N, K = rng.integers(1, 60), rng.integers(2, 7)
    G = rng.normal(size=(N, K))
    G[rng.random((N, K)) < 0.2] = 0.0  # exact zeros, as hinge or a saturated softmax give
    G[rng.random((N, K)) < 0.05] = np.inf
    G[rng.random((N, K)) < 0.05] = -np.inf
    labels = rng.integers(0, K - 1, size=N)  # the last class has no samples: NaN true shares
    G = np.asarray(G, order=order)
    fast = sign_shares_from_labels(G, labels)
    _assert_same_signs(fast, sign_shares(G, np.eye(K)[labels]))
    assert np.isnan(fast.true_right[-1]) and np.isnan(fast.true_wrong[-1])
    # the hand-counted example
    H = np.array([[-1.0, 2.0, 0.0], [3.0, -1.0, -2.0], [0.5, 0.0, -4.0], [1.0, -1.0, 1.0]])
    _assert_same_signs(
        sign_shares_from_labels(H, np.array([0, 1, 2, 0])), sign_shares(H, np.eye(3)[[0, 1, 2, 0]])
    )


def test_sign_shares_from_labels_with_nan_falls_back_to_exact_counting():
    G = np.array([[np.nan, 1.0, -1.0], [0.0, -2.0, 3.0], [1.0, 1.0, np.nan]])
    labels = np.array([0, 1, 1])
    _assert_same_signs(sign_shares_from_labels(G, labels), sign_shares(G, np.eye(3)[labels]))


def test_sign_shares_from_labels_rejects_bad_labels():
    G = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 2\); got 0..2"):
        sign_shares_from_labels(G, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"G must have shape \(N, K\) and labels \(N,\)"):
        sign_shares_from_labels(G, np.array([0, 1]))
