"""MLPSoftmaxClassifier: gradients against finite differences, scikit-learn's MLP as a
reference, the estimator contract and warm starts."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from lossesbox import LOSSES, LinearSoftmaxClassifier, MLPSoftmaxClassifier
from lossesbox.diagnostics import sign_shares
from lossesbox.estimator import history_keys
from lossesbox.models.mlp import _MLPObjective


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# --------------------------------------------------------------------------- gradients
def _fd_case(name, activation, seed=0, N=16, D=3, K=4, hidden=(5, 4)):
    """A random problem whose every ReLU pre-activation and hinge margin is ≥1e-4 from 0."""
    rng = np.random.default_rng(seed)
    for _ in range(200):  # redraw until no point sits near a kink
        X = rng.normal(size=(N, D))
        codes = np.arange(N) % K
        obj = _MLPObjective(
            X, codes, K, LOSSES[name], 0.3, True, np.dtype("f8"), hidden, activation
        )
        theta = rng.normal(scale=0.6, size=obj.size)
        A, near_kink = X, False
        for W, b in obj.layers(theta)[:-1]:
            Z = A @ W + b
            near_kink |= activation == "relu" and bool(np.abs(Z).min() < 1e-4)
            A = np.maximum(Z, 0) if activation == "relu" else np.tanh(Z)
        W, b = obj.layers(theta)[-1]
        S = A @ W + b
        if name == "hinge":
            M = S - S[np.arange(N), codes][:, None] + 1
            M[np.arange(N), codes] = 1
            near_kink |= bool(np.abs(M).min() < 1e-4)
        if not near_kink:
            return obj, theta
    raise AssertionError("no kink-free point found")


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_through_the_mlp_matches_central_differences(name, activation):
    obj, theta = _fd_case(name, activation)
    grad = np.empty_like(theta)
    obj.evaluate(theta, grad)
    h, scratch, fd = 1e-6, np.empty_like(theta), np.empty_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fd[i] = (obj.evaluate(tp, scratch).objective - obj.evaluate(tm, scratch).objective) / (
            2 * h
        )
    assert np.linalg.norm(grad - fd) <= 1e-6 * np.linalg.norm(fd) + 1e-9


def test_penalty_covers_every_weight_matrix_and_no_bias():
    obj, theta = _fd_case("cross_entropy", "tanh")
    ev = obj.evaluate(theta, np.empty_like(theta))
    weights = sum(float((W**2).sum()) for W, _ in obj.layers(theta))
    assert ev.penalty == pytest.approx(0.5 * 0.3 * weights, rel=1e-12)
    assert ev.weight_norm == pytest.approx(math.sqrt(weights), rel=1e-12)


def test_without_intercept_the_bias_gradient_is_zero():
    X = np.random.default_rng(1).normal(size=(10, 3))
    obj = _MLPObjective(
        X, np.arange(10) % 3, 3, LOSSES["mse"], 0.1, False, np.dtype("f8"), (4,), "relu"
    )
    theta = np.random.default_rng(2).normal(size=obj.size)
    theta[obj.n_weights :] = 0
    grad = np.empty_like(theta)
    obj.evaluate(theta, grad)
    np.testing.assert_array_equal(grad[obj.n_weights :], 0)


# --------------------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_full_batch_gd_follows_scikit_learns_mlp_step_for_step(iris, activation):
    """Same seed ⇒ same glorot init (drawn in scikit-learn's order); plain full-batch
    gradient steps with alpha = λN give the same parameters and loss curve."""
    X, y = iris
    lam, lr, steps = 1e-2, 0.2, 15
    ours = MLPSoftmaxClassifier(
        hidden_layer_sizes=(6, 5),
        activation=activation,
        lam=lam,
        solver="gd",
        learning_rate=lr,
        max_epochs=steps,
        tol=0,
        random_state=3,
    ).fit(X, y)
    ref = MLPClassifier(
        hidden_layer_sizes=(6, 5),
        activation=activation,
        alpha=lam * len(y),
        solver="sgd",
        momentum=0.0,
        nesterovs_momentum=False,
        learning_rate_init=lr,
        batch_size=len(y),
        shuffle=False,
        max_iter=steps,
        tol=0,
        n_iter_no_change=10 * steps,
        random_state=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y)
    for ours_W, ref_W in zip(
        ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_, strict=True
    ):
        np.testing.assert_allclose(ours_W, ref_W, rtol=1e-9, atol=1e-12)
    # scikit-learn's loss_curve_[t] is J before step t+1: our history at epoch t
    objective = [r["objective"] for r in ours.history_[:steps]]
    np.testing.assert_allclose(objective, ref.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-9)


def test_glorot_init_draws_weights_and_biases_within_their_bound():
    X, y = np.random.default_rng(0).normal(size=(30, 7)), np.arange(30) % 3
    clf = MLPSoftmaxClassifier(hidden_layer_sizes=(20,), max_epochs=1, random_state=0)
    clf.set_params(callback=lambda rec: False).fit(X, y)  # stop at epoch 0: the init
    for W, b in zip(clf.coefs_, clf.intercepts_, strict=True):
        bound = math.sqrt(6 / sum(W.shape))
        assert np.abs(W).max() <= bound and np.abs(b).max() <= bound
        assert np.abs(W).max() > 0.8 * bound and np.abs(b).max() > 0.5 * bound


# --------------------------------------------------------------------------- estimator
def test_shapes_for_every_k_including_two():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    for K in (2, 4):
        y = np.arange(40) % K
        clf = MLPSoftmaxClassifier(hidden_layer_sizes=(7, 3), max_epochs=3, random_state=0)
        clf.fit(X, y)
        assert [W.shape for W in clf.coefs_] == [(5, 7), (7, 3), (3, K)]
        assert [b.shape for b in clf.intercepts_] == [(7,), (3,), (K,)]
        assert clf.scores(X).shape == (40, K) and clf.n_layers_ == 4 and clf.n_outputs_ == K
        assert clf.decision_function(X).shape == ((40,) if K == 2 else (40, K))
        np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1)


def test_history_keys_signs_and_objective_match_the_linear_models(iris):
    X, y = iris
    clf = MLPSoftmaxClassifier(
        hidden_layer_sizes=(8,),
        loss="mse",
        solver="adam",
        learning_rate=0.01,
        batch_size=32,
        max_epochs=20,
        tol=0,
        random_state=0,
        validation_fraction=0.2,
    ).fit(X, y)
    assert list(clf.history_[0]) == history_keys(3)
    assert clf.n_iter_ == 20 == len(clf.history_) - 1 and clf.status_ == "max_epochs"
    last = clf.history_[-1]
    assert 0 <= last["val_accuracy"] <= 1 and math.isfinite(last["val_loss"])
    # history signs are those of dL/ds at the output scores on the training rows
    assert math.isclose(clf.objective(X, y), clf.objective(X, y))
    S = clf.scores(X)
    Y = np.eye(3)[y]
    signs = sign_shares(LOSSES["mse"].gradient(S, Y), Y)
    assert 0 <= signs.wrong_way_share <= 1
    J = np.mean(LOSSES["mse"].loss(S, Y)) + 0.5 * 1e-3 * sum((W**2).sum() for W in clf.coefs_)
    assert clf.objective(X, y) == pytest.approx(J, rel=1e-12)


def test_solvers_and_float32_train(iris):
    X, y = iris
    for solver, lr in [("sgd", 0.1), ("momentum", 0.1), ("lbfgs", 0.1), ("adam", 0.01)]:
        for dtype in ("float64", "float32"):
            clf = MLPSoftmaxClassifier(
                hidden_layer_sizes=(10,),
                solver=solver,
                learning_rate=lr,
                max_epochs=60,
                batch_size=32,
                random_state=0,
                dtype=dtype,
            ).fit(X, y)
            assert clf.coefs_[0].dtype == np.dtype(dtype)
            assert clf.score(X, y) > 0.9, (solver, dtype)
            assert clf.history_[-1]["objective"] < clf.history_[0]["objective"]


def test_zeros_init_and_bad_parameters_are_clear_value_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match="identical"):
        MLPSoftmaxClassifier(init="zeros").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPSoftmaxClassifier(hidden_layer_sizes=(10, 0)).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        MLPSoftmaxClassifier(activation="sigmoid").fit(X, y)


def test_divergence_keeps_last_finite_parameters_and_warns(iris):
    X, y = iris
    with pytest.warns(RuntimeWarning, match="Diverged"):
        clf = MLPSoftmaxClassifier(
            loss="exp_mse", solver="gd", learning_rate=1e3, max_epochs=50, random_state=0
        ).fit(X * 10, y)
    assert clf.status_ == "diverged"
    assert all(np.isfinite(W).all() for W in clf.coefs_)
    assert math.isfinite(clf.history_[-1]["objective"])


def test_warm_start_continues_from_the_fitted_parameters(iris):
    X, y = iris
    params = dict(hidden_layer_sizes=(6,), solver="gd", learning_rate=0.3, tol=0, random_state=0)
    once = MLPSoftmaxClassifier(max_epochs=10, **params).fit(X, y)
    warm = MLPSoftmaxClassifier(max_epochs=4, warm_start=True, **params).fit(X, y)
    end_of_first = [W.copy() for W in warm.coefs_]
    warm.set_params(max_epochs=6).fit(X, y)
    # epoch 0 of the second fit is where the first ended; n_iter_ counts this fit
    assert warm.n_iter_ == 6 and warm.history_[0]["epoch"] == 0
    second_start = MLPSoftmaxClassifier(max_epochs=4, **params).fit(X, y)
    assert warm.history_[0]["objective"] == pytest.approx(second_start.history_[-1]["objective"])
    # plain gd has no optimizer state: 4 + 6 steps are the 10 steps of one fit
    for a, b in zip(warm.coefs_ + warm.intercepts_, once.coefs_ + once.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert not np.allclose(end_of_first[0], warm.coefs_[0])
    # without warm_start the second fit starts afresh
    cold = MLPSoftmaxClassifier(max_epochs=4, **params).fit(X, y)
    cold.set_params(max_epochs=6).fit(X, y)
    assert cold.history_[0]["objective"] == pytest.approx(once.history_[0]["objective"])
    with pytest.raises(ValueError, match="classes"):
        warm.fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="architecture"):
        warm.set_params(hidden_layer_sizes=(5,)).fit(X, y)


def test_no_hidden_layer_is_the_linear_model(iris):
    X, y = iris
    mlp = MLPSoftmaxClassifier(hidden_layer_sizes=(), solver="lbfgs", tol=1e-10, max_epochs=500)
    lin = LinearSoftmaxClassifier(tol=1e-10, max_epochs=500)
    assert mlp.fit(X, y).objective(X, y) == pytest.approx(lin.fit(X, y).objective(X, y), rel=1e-6)


@parametrize_with_checks(
    [MLPSoftmaxClassifier(hidden_layer_sizes=(8,), max_epochs=30, learning_rate=0.01)]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
