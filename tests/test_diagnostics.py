"""Gradient-sign shares: hand-checked counts, the seeds' claims, the zero-init mse case."""

from __future__ import annotations

import numpy as np
import pytest

from lossesbox.diagnostics import gradient_signs, sign_shares
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
