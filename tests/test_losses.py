"""Losses: values by hand, gradients by finite differences, the seeds' sign claims, numerics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from lossesbox.information import softmax
from lossesbox.losses import LOSSES, FocalLoss, LabelSmoothingCrossEntropy, get_loss

ALL = sorted(LOSSES)
RNG = np.random.default_rng(12345)


def one_hot(labels, K):
    return np.eye(K)[np.asarray(labels)]


def central_differences(loss, S, Y, h=1e-6):
    """Gradient of the per-sample loss by central differences, entry by entry."""
    G = np.zeros_like(S)
    for idx in np.ndindex(*S.shape):
        E = np.zeros_like(S)
        E[idx] = h
        G[idx] = (loss.loss(S + E, Y)[idx[0]] - loss.loss(S - E, Y)[idx[0]]) / (2 * h)
    return G


def away_from_kinks(S, Y, gap=1e-3):
    """Hinge margins s_j - s_y + 1 must be away from 0 for the difference quotient."""
    s_true = (S * Y).sum(axis=1, keepdims=True)
    margins = S - s_true + 1
    return np.all((np.abs(margins) > gap) | (Y == 1))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_gradient_matches_finite_differences(name, scale):
    loss = LOSSES[name]
    rng = np.random.default_rng(hash((name, scale)) % 2**32)
    K, N = 5, 7
    while True:
        S = rng.normal(scale=scale, size=(N, K))
        Y = one_hot(rng.integers(0, K, N), K)
        if away_from_kinks(S, Y):
            break
    if name == "exp_mse":
        S = np.clip(S, -5, 3)  # keep e^{2s} moderate so h=1e-6 stays accurate
    g = loss.gradient(S, Y)
    g_fd = central_differences(loss, S, Y)
    assert g.shape == S.shape
    assert np.linalg.norm(g - g_fd) <= 1e-6 * np.linalg.norm(g_fd) + 1e-9


@pytest.mark.parametrize("name", [n for n in ALL if not LOSSES[n].hard_labels_only])
def test_gradient_soft_labels(name):
    loss = LOSSES[name]
    rng = np.random.default_rng(7)
    S = rng.normal(size=(6, 4))
    Y = rng.dirichlet(np.ones(4), size=6)
    g_fd = central_differences(loss, S, Y)
    g = loss.gradient(S, Y)
    assert np.linalg.norm(g - g_fd) <= 1e-6 * np.linalg.norm(g_fd) + 1e-9


@pytest.mark.parametrize("name", ALL)
def test_loss_and_gradient_agree_with_separate_calls(name):
    loss = LOSSES[name]
    S = RNG.normal(size=(9, 3))
    Y = one_hot(RNG.integers(0, 3, 9), 3)
    v, g = loss.loss_and_gradient(S, Y)
    np.testing.assert_array_equal(v, loss.loss(S, Y))
    np.testing.assert_array_equal(g, loss.gradient(S, Y))
    assert v.shape == (9,)
    assert g.shape == (9, 3)


# --- values worked by hand -------------------------------------------------------------

SEED_P = np.array([0.1, 0.2, 0.1, 0.4, 0.2])
SEED_Y = np.array([0, 0, 0, 1, 0])


def test_seed_worked_example_cross_entropy_gradient():
    """ce-gradient-question.md: y=(0,0,0,1,0), ŷ=(.1,.2,.1,.4,.2) -> ŷ - y."""
    S = np.log(SEED_P)[None]
    g = LOSSES["cross_entropy"].gradient(S, SEED_Y[None])
    np.testing.assert_allclose(g[0], [0.1, 0.2, 0.1, -0.6, 0.2], atol=1e-12)
    np.testing.assert_allclose(LOSSES["cross_entropy"].loss(S, SEED_Y[None]), [-np.log(0.4)])


def test_cross_entropy_is_shift_invariant_and_matches_sklearn_log_loss():
    S = RNG.normal(size=(20, 4)) * 3
    labels = np.arange(20) % 4
    Y = one_hot(labels, 4)
    ce = LOSSES["cross_entropy"]
    np.testing.assert_allclose(ce.loss(S + 100.0, Y), ce.loss(S, Y), rtol=1e-12, atol=1e-12)
    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)
    assert ce.loss(S, Y).mean() == pytest.approx(log_loss(labels, P), rel=1e-12)


@pytest.mark.parametrize(
    ("name", "s", "y", "value", "grad"),
    [
        ("mse", [1.0, 2.0, 0.0], [0, 1, 0], 2 / 3, [2 / 3, 2 / 3, 0.0]),
        (
            "softmax_mse",
            np.log([0.1, 0.2, 0.7]),
            [0, 0, 1],
            0.14 / 3,
            [0.052 / 3, 0.144 / 3, -0.196 / 3],
        ),
        ("exp_mse", np.log([1.0, 2.0, 0.5]), [1, 0, 0], 4.25 / 3, [0.0, 8 / 3, 1 / 6]),
        # CS231n's worked SVM example: cat 3.2, car 5.1, frog -1.7, true cat -> 2.9
        ("hinge", [3.2, 5.1, -1.7], [1, 0, 0], 2.9, [-1.0, 1.0, 0.0]),
        (
            "squentropy",
            [1.0, 2.0, 0.0],
            [0, 1, 0],
            np.log(np.e + np.e**2 + 1) - 2 + 0.5,
            None,
        ),
        (
            "label_smoothing",
            np.log(SEED_P),
            SEED_Y,
            -(0.02 * np.log(SEED_P)).sum() - 0.9 * np.log(0.4),
            [0.08, 0.18, 0.08, -0.52, 0.18],
        ),
        ("focal", np.log(SEED_P), SEED_Y, -(0.6**2) * np.log(0.4), None),
    ],
)
def test_hand_computed_values(name, s, y, value, grad):
    loss = LOSSES[name]
    S = np.asarray(s, dtype=float)[None]
    Y = np.asarray(y, dtype=float)[None]
    v, g = loss.loss_and_gradient(S, Y)
    assert v[0] == pytest.approx(value, rel=1e-12, abs=1e-14)
    if grad is not None:
        np.testing.assert_allclose(g[0], grad, rtol=1e-12, atol=1e-14)


def test_focal_with_gamma_zero_is_cross_entropy():
    S = RNG.normal(size=(10, 4)) * 2
    Y = one_hot(RNG.integers(0, 4, 10), 4)
    f0, ce = FocalLoss(gamma=0.0), LOSSES["cross_entropy"]
    np.testing.assert_allclose(f0.loss(S, Y), ce.loss(S, Y), rtol=1e-12)
    np.testing.assert_allclose(f0.gradient(S, Y), ce.gradient(S, Y), atol=1e-12)


def test_label_smoothing_zero_is_cross_entropy():
    S = RNG.normal(size=(10, 4))
    Y = one_hot(RNG.integers(0, 4, 10), 4)
    ls0 = LabelSmoothingCrossEntropy(epsilon=0.0)
    np.testing.assert_allclose(ls0.loss(S, Y), LOSSES["cross_entropy"].loss(S, Y), rtol=1e-12)


def test_loss_parameters_are_validated():
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="epsilon"):
        LabelSmoothingCrossEntropy(epsilon=1.0)


# --- the sign claims of nn-loss-exploration.md ------------------------------------------


def test_mse_pushes_a_negative_wrong_score_up():
    S = np.array([[-0.5, 0.3, 0.2]])
    Y = np.array([[0.0, 1.0, 0.0]])
    g = LOSSES["mse"].gradient(S, Y)
    assert g[0, 0] < 0  # wrong class, negative score -> negative gradient -> pushed up
    assert g[0, 2] > 0  # wrong class, positive score -> pushed down
    # the sign is exactly the sign of the wrong score: (2/K) s_j
    np.testing.assert_allclose(g[0, [0, 2]], 2 / 3 * S[0, [0, 2]])


@pytest.mark.parametrize("name", ["exp_mse", "cross_entropy"])
def test_wrong_class_gradient_never_negative(name):
    rng = np.random.default_rng(3)
    S = rng.normal(scale=10, size=(2000, 6))
    Y = one_hot(rng.integers(0, 6, 2000), 6)
    G = LOSSES[name].gradient(S, Y)
    wrong = Y == 0
    assert np.all(G[wrong] >= 0)
    # strictly positive wherever e^{2s} (exp_mse) or the softmax (CE) does not underflow
    if name == "exp_mse":
        visible = np.exp(2 * S) > 0
    else:
        visible = softmax(S) > 0
    assert np.all(G[wrong & visible] > 0)


def test_exp_mse_wrong_gradient_is_2_over_K_e_to_2s():
    S = np.array([[-1.0, 0.5, 2.0]])
    Y = np.array([[0.0, 0.0, 1.0]])
    g = LOSSES["exp_mse"].gradient(S, Y)
    np.testing.assert_allclose(g[0, :2], 2 / 3 * np.exp(2 * S[0, :2]), rtol=1e-14)


def test_softmax_mse_wrong_class_gradient_can_be_negative():
    """DESIGN.md's case: p ≈ (.007, .007, .978, .002, .007) with class 3 true."""
    p = np.array([0.007, 0.007, 0.978, 0.002, 0.007])
    p = p / p.sum()  # the rounded values sum to 1.001
    S = np.log(p)[None]
    Y = one_hot([3], 5)
    g = LOSSES["softmax_mse"].gradient(S, Y)[0]
    # wrong-class gradient (2/K) p_j (p_j + (y - p).p): (y - p).p ≈ -0.955 here, so every
    # wrong class with p_j < 0.955 is pushed *up*; the dominant wrong class 2 is pushed down
    c = (Y[0] - p) @ p
    np.testing.assert_allclose(g[[0, 1, 2, 4]], 2 / 5 * p[[0, 1, 2, 4]] * (p[[0, 1, 2, 4]] + c))
    assert np.all(g[[0, 1, 4]] < 0)
    assert g[2] > 0
    assert g[3] < 0  # the true class is pushed up (the right way)


# --- numerics ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("magnitude", [1.0, 50.0, 1e3])
def test_finite_for_large_scores(name, magnitude):
    rng = np.random.default_rng(11)
    S = rng.choice([-1.0, 1.0], size=(50, 4)) * magnitude * rng.uniform(0.5, 1, size=(50, 4))
    Y = one_hot(rng.integers(0, 4, 50), 4)
    # underflow (a saturated softmax) is expected; NaN-producing or overflowing ops are not,
    # except exp_mse's documented overflow to inf
    over = "ignore" if name == "exp_mse" else "raise"
    with np.errstate(invalid="raise", divide="raise", over=over, under="ignore"):
        v, g = LOSSES[name].loss_and_gradient(S, Y)
    assert not np.isnan(v).any()
    assert not np.isnan(g).any()
    if name == "exp_mse":
        overflow = (S > 354).any(axis=1)
        assert np.all(np.isinf(v[overflow]))
        assert np.all(np.isfinite(v[~overflow]))
    else:
        assert np.all(np.isfinite(v))
        assert np.all(np.isfinite(g))


def test_exp_mse_overflow_is_inf_not_nan():
    S = np.array([[400.0, 0.0], [800.0, -800.0]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    v, g = LOSSES["exp_mse"].loss_and_gradient(S, Y)
    assert np.all(np.isposinf(v))
    assert np.isposinf(g[0, 0]) and np.isposinf(g[1, 0])
    assert not np.isnan(g).any()


@pytest.mark.parametrize("name", ALL)
def test_float32_in_float32_out(name):
    S = RNG.normal(size=(8, 3)).astype(np.float32)
    Y = one_hot(RNG.integers(0, 3, 8), 3).astype(np.float32)
    v, g = LOSSES[name].loss_and_gradient(S, Y)
    assert v.dtype == np.float32
    assert g.dtype == np.float32
    v64, g64 = LOSSES[name].loss_and_gradient(S.astype(float), Y.astype(float))
    np.testing.assert_allclose(v, v64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, g64, rtol=1e-4, atol=1e-6)


def test_inputs_are_not_modified():
    S = RNG.normal(size=(5, 3))
    Y = one_hot([0, 1, 2, 0, 1], 3)
    S0, Y0 = S.copy(), Y.copy()
    for loss in LOSSES.values():
        loss.loss_and_gradient(S, Y)
    np.testing.assert_array_equal(S, S0)
    np.testing.assert_array_equal(Y, Y0)


# --- registry and errors -------------------------------------------------------------------


def test_registry_has_the_required_names_and_metadata():
    for name in ["cross_entropy", "mse", "softmax_mse", "exp_mse", "hinge"]:
        assert name in LOSSES
    for name, loss in LOSSES.items():
        assert loss.name == name
        assert loss.formula.startswith("L")
        assert loss.gradient_formula
        assert loss.reference
    assert LOSSES["hinge"].smooth is False
    assert get_loss("mse") is LOSSES["mse"]
    assert get_loss(LOSSES["mse"]) is LOSSES["mse"]


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown loss 'msee'.*cross_entropy.*exp_mse"):
        get_loss("msee")


def test_shape_mismatch_and_hinge_soft_labels_raise():
    with pytest.raises(ValueError, match=r"shape \(N, K\)"):
        LOSSES["mse"].loss(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="one-hot"):
        LOSSES["hinge"].loss(np.zeros((1, 3)), np.array([[0.5, 0.5, 0.0]]))


def test_one_dimensional_input_is_one_sample():
    v = LOSSES["cross_entropy"].loss(np.log(SEED_P), SEED_Y)
    assert v.shape == (1,)
