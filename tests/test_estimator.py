"""Tests of the linear softmax trainer: optima against scikit-learn, gradients against
finite differences, every solver, history records, statuses and input validation."""

from __future__ import annotations

import itertools
import math
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from lossesbox import LOSSES
from lossesbox.diagnostics import sign_shares
from lossesbox.estimator import (
    SOLVERS,
    LinearSoftmaxClassifier,
    _accuracy,
    _LinearObjective,
    history_keys,
)
from lossesbox.losses import LabelSmoothingCrossEntropy

LAM = 1e-3


def _standardized(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris():
    return _standardized(load_iris)


# --------------------------------------------------------------------------- optima
@pytest.mark.parametrize("loader", [load_iris, load_wine], ids=["iris", "wine"])
def test_cross_entropy_optimum_matches_logistic_regression_multiclass(loader):
    X, y = _standardized(loader)
    N = X.shape[0]
    ours = LinearSoftmaxClassifier(lam=LAM, tol=1e-12, max_epochs=10_000).fit(X, y)
    ref = LogisticRegression(C=1 / (LAM * N), tol=1e-12, max_iter=10_000).fit(X, y)
    assert ours.status_ == "converged"
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-5)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-4 * scale)
    ours_b = ours.intercept_ - ours.intercept_.mean()
    ref_b = ref.intercept_ - ref.intercept_.mean()
    np.testing.assert_allclose(ours_b, ref_b, rtol=0, atol=1e-4 * max(1.0, np.abs(ref_b).max()))
    # the penalty keeps the softmax's free shift out of W: its columns sum to 0
    np.testing.assert_allclose(ours.coef_.sum(axis=0), 0, atol=1e-6)


def test_cross_entropy_optimum_matches_logistic_regression_binary():
    X, y = _standardized(load_breast_cancer)
    N = X.shape[0]
    ours = LinearSoftmaxClassifier(lam=LAM, tol=1e-12, max_epochs=10_000).fit(X, y)
    ref = LogisticRegression(C=2 / (LAM * N), tol=1e-12, max_iter=10_000).fit(X, y)
    assert ours.coef_.shape == (2, X.shape[1]) and ours.intercept_.shape == (2,)
    w = ours.coef_[1] - ours.coef_[0]
    np.testing.assert_allclose(w, ref.coef_[0], rtol=0, atol=1e-4 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(
        ours.intercept_[1] - ours.intercept_[0], ref.intercept_[0], rtol=0, atol=1e-4
    )
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        ours.decision_function(X), ref.decision_function(X), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("loader", [load_iris, load_wine], ids=["iris", "wine"])
def test_mse_optimum_matches_ridge_on_one_hot_targets(loader):
    X, y = _standardized(loader)
    N, K = X.shape[0], np.unique(y).size
    ours = LinearSoftmaxClassifier(loss="mse", lam=LAM, tol=1e-12, max_epochs=10_000).fit(X, y)
    ref = Ridge(alpha=LAM * N * K / 2).fit(X, np.eye(K)[y])
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-4 * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-6)


def test_objective_method_agrees_with_history_and_formula(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(loss="mse", lam=0.05).fit(X, y)
    S = X @ clf.coef_.T + clf.intercept_
    Y = np.eye(3)[y]
    by_hand = np.mean(np.sum((Y - S) ** 2, axis=1) / 3) + 0.025 * np.sum(clf.coef_**2)
    assert clf.objective(X, y) == pytest.approx(by_hand, rel=1e-12)
    assert clf.history_[-1]["objective"] == pytest.approx(by_hand, rel=1e-12)
    rec = clf.history_[-1]
    assert rec["objective"] == pytest.approx(rec["data_loss"] + rec["penalty"], rel=1e-14)
    assert rec["penalty"] == pytest.approx(0.025 * np.sum(clf.coef_**2), rel=1e-12)


# --------------------------------------------------------------------------- gradients
def _fd_problem(seed=0, N=24, D=3, K=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    codes = np.arange(N) % K
    theta = rng.normal(scale=0.7, size=K * D + K)
    return X, codes, theta


@pytest.mark.parametrize("lam", [0.0, 0.3])
@pytest.mark.parametrize("name", list(LOSSES))
def test_objective_gradient_matches_central_differences(name, lam):
    X, codes, theta = _fd_problem()
    obj = _LinearObjective(X, codes, 4, LOSSES[name], lam, True, np.dtype(np.float64))
    if name == "hinge":  # stay away from kinks: every margin at least 1e-3 from 0
        W, b = obj.split(theta)
        S = X @ W.T + b
        M = S - S[np.arange(len(codes)), codes][:, None] + 1
        M[np.arange(len(codes)), codes] = 1
        assert np.abs(M).min() > 1e-3
    grad = np.empty_like(theta)
    obj.evaluate(theta, grad)
    h = 1e-6
    fd = np.empty_like(theta)
    scratch = np.empty_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        fd[i] = (obj.evaluate(tp, scratch).objective - obj.evaluate(tm, scratch).objective) / (
            2 * h
        )
    assert np.linalg.norm(grad - fd) <= 1e-6 * np.linalg.norm(fd) + 1e-9


def test_gradient_without_intercept_has_zero_bias_part():
    X, codes, theta = _fd_problem()
    theta[-4:] = 0
    obj = _LinearObjective(X, codes, 4, LOSSES["cross_entropy"], 0.1, False, np.dtype("f8"))
    grad = np.empty_like(theta)
    ev = obj.evaluate(theta, grad)
    np.testing.assert_array_equal(grad[-4:], 0)
    assert ev.grad_norm == pytest.approx(np.linalg.norm(grad[:-4]), rel=1e-14)


# --------------------------------------------------------------------------- solvers
SOLVER_SETTINGS = {
    # solver: (learning_rate, max_epochs, batch_size, relative objective gap allowed)
    "gd": (2.0, 1000, None, 1e-6),
    "momentum": (0.3, 500, None, 1e-6),
    "sgd": (0.1, 300, 32, 1e-2),  # constant step: stays in a noise ball (~3e-3 here)
    "adam": (0.01, 300, 32, 1e-3),
}


@pytest.mark.parametrize("solver", list(SOLVER_SETTINGS))
def test_gradient_solvers_reach_lbfgs_objective(iris, solver):
    X, y = iris
    lam = 1e-2
    J_star = LinearSoftmaxClassifier(lam=lam, tol=1e-12, max_epochs=5000).fit(X, y)
    J_star = J_star.objective(X, y)
    lr, epochs, batch, gap = SOLVER_SETTINGS[solver]
    clf = LinearSoftmaxClassifier(
        lam=lam,
        solver=solver,
        learning_rate=lr,
        max_epochs=epochs,
        batch_size=batch,
        tol=0,
        random_state=0,
    ).fit(X, y)
    J = clf.objective(X, y)
    assert J >= J_star * (1 - 1e-9)
    assert (J - J_star) / J_star <= gap, (solver, J, J_star)
    assert clf.status_ == "max_epochs" and clf.n_iter_ == epochs


def test_gd_first_step_is_a_gradient_step(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(solver="gd", learning_rate=0.5, max_epochs=1, tol=0).fit(X, y)
    # at W = 0, b = 0 the CE gradient is (P - Y)/N with P = 1/K everywhere
    G = np.full((150, 3), 1 / 3) - np.eye(3)[y]
    np.testing.assert_allclose(clf.coef_, -0.5 * G.T @ X / 150, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(clf.intercept_, -0.5 * G.mean(axis=0), atol=1e-15)


def _manual_gradient(X, y, W, b, lam):
    obj = _LinearObjective(X, y, 3, LOSSES["cross_entropy"], lam, True, np.dtype("f8"))
    theta = np.concatenate([W.ravel(), b])
    grad = np.empty_like(theta)
    obj.evaluate(theta, grad)
    return theta, grad


def test_momentum_and_adam_follow_their_update_rules(iris):
    X, y = iris
    lr, lam = 0.05, 0.01
    theta = np.zeros(3 * 4 + 3)
    v = np.zeros_like(theta)
    m = np.zeros_like(theta)
    s = np.zeros_like(theta)
    theta_m = theta.copy()
    theta_a = theta.copy()
    for t in range(1, 4):
        _, g = _manual_gradient(X, y, theta_m[:12].reshape(3, 4), theta_m[12:], lam)
        v = 0.9 * v + g
        theta_m = theta_m - lr * v
        _, g = _manual_gradient(X, y, theta_a[:12].reshape(3, 4), theta_a[12:], lam)
        m = 0.9 * m + 0.1 * g
        s = 0.999 * s + 0.001 * g * g
        m_hat, s_hat = m / (1 - 0.9**t), s / (1 - 0.999**t)
        theta_a = theta_a - lr * m_hat / (np.sqrt(s_hat) + 1e-8)
    common = dict(lam=lam, learning_rate=lr, max_epochs=3, tol=0, batch_size=None)
    mom = LinearSoftmaxClassifier(solver="momentum", **common).fit(X, y)
    adam = LinearSoftmaxClassifier(solver="adam", **common).fit(X, y)
    np.testing.assert_allclose(mom.coef_.ravel(), theta_m[:12], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(mom.intercept_, theta_m[12:], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(adam.coef_.ravel(), theta_a[:12], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(adam.intercept_, theta_a[12:], rtol=1e-10, atol=1e-14)
    # Adam's first step moves every parameter with a non-zero gradient by ~lr
    first = LinearSoftmaxClassifier(solver="adam", **{**common, "max_epochs": 1}).fit(X, y)
    assert np.allclose(np.abs(first.coef_), lr, rtol=1e-6)


def test_sgd_follows_a_seeded_shuffle_of_mini_batches(iris):
    X, y = iris
    lr, lam, B = 0.1, 0.01, 64
    clf = LinearSoftmaxClassifier(
        solver="sgd", lam=lam, learning_rate=lr, batch_size=B, max_epochs=2, tol=0, random_state=7
    ).fit(X, y)
    rng = np.random.RandomState(7)  # no validation split, zero init: only shuffles draw
    theta = np.zeros(15)
    for _ in range(2):
        order = rng.permutation(150)
        for start in range(0, 150, B):
            idx = order[start : start + B]
            _, g = _manual_gradient(X[idx], y[idx], theta[:12].reshape(3, 4), theta[12:], lam)
            theta = theta - lr * g
    np.testing.assert_allclose(clf.coef_.ravel(), theta[:12], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(clf.intercept_, theta[12:], rtol=1e-10, atol=1e-14)


def test_sgd_full_batch_equals_gd(iris):
    X, y = iris
    common = dict(learning_rate=0.3, max_epochs=20, tol=0, random_state=0)
    gd = LinearSoftmaxClassifier(solver="gd", **common).fit(X, y)
    sgd = LinearSoftmaxClassifier(solver="sgd", batch_size=None, **common).fit(X, y)
    big = LinearSoftmaxClassifier(solver="sgd", batch_size=10_000, **common).fit(X, y)
    np.testing.assert_allclose(sgd.coef_, gd.coef_, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(big.coef_, gd.coef_, rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------- history
def test_cross_entropy_at_zero_init_is_log_k(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(max_epochs=1).fit(X, y)
    first = clf.history_[0]
    assert first["epoch"] == 0
    assert first["objective"] == pytest.approx(math.log(3), rel=1e-15, abs=0)
    assert first["penalty"] == 0
    # all probabilities are 1/3: every wrong-class gradient is +1/3 (right way)
    assert first["wrong_way_share"] == 0 and first["wrong_zero_share"] == 0
    assert first["true_wrong_way_share"] == 0 and first["true_zero_share"] == 0


def test_mse_at_zero_init_has_only_zero_wrong_class_gradients(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(loss="mse", solver="gd", max_epochs=3, tol=0).fit(X, y)
    first = clf.history_[0]
    assert first["wrong_way_share"] == 0.0
    assert first["wrong_zero_share"] == 1.0
    for c in range(3):
        assert first[f"wrong_zero_share.class_{c}"] == 1.0
        assert first[f"wrong_way_share.class_{c}"] == 0.0
    assert first["true_wrong_way_share"] == 0.0  # -(2/K)(1 - 0) < 0 is the right way
    # MSE objective at zero: (1/K)·1 per sample
    assert first["objective"] == pytest.approx(1 / 3, rel=1e-15)
    assert clf.history_[1]["wrong_zero_share"] < 1.0


def test_history_records_match_sign_shares_and_accuracy(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(loss="mse", max_epochs=50).fit(X, y)
    last = clf.history_[-1]
    S = X @ clf.coef_.T + clf.intercept_
    Y = np.eye(3)[y]
    signs = sign_shares(LOSSES["mse"].gradient(S, Y), Y)
    assert last["wrong_way_share"] == pytest.approx(signs.wrong_way_share, abs=1e-12)
    assert last["true_wrong_way_share"] == pytest.approx(signs.true_wrong_way_share, abs=1e-12)
    for c in range(3):
        assert last[f"wrong_way_share.class_{c}"] == pytest.approx(signs.wrong_wrong[c])
        assert last[f"wrong_zero_share.class_{c}"] == pytest.approx(signs.wrong_zero[c])
        assert last[f"true_wrong_way_share.class_{c}"] == pytest.approx(signs.true_wrong[c])
    assert last["train_accuracy"] == pytest.approx(clf.score(X, y), abs=1e-12)
    assert 0 < last["wrong_way_share"] < 1  # mse pushes some wrong scores up at its optimum


def test_history_keys_and_epochs(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(solver="sgd", max_epochs=4, tol=0, random_state=0).fit(X, y)
    expected = [
        "epoch",
        "objective",
        "data_loss",
        "penalty",
        "train_accuracy",
        "val_accuracy",
        "val_loss",
        "grad_norm",
        "weight_norm",
        "seconds",
        "wrong_way_share",
        "true_wrong_way_share",
        "wrong_zero_share",
        "true_zero_share",
    ] + [
        f"{k}.class_{c}"
        for c in range(3)
        for k in ("wrong_way_share", "wrong_zero_share", "true_wrong_way_share")
    ]
    assert history_keys(3) == expected
    assert len(clf.history_) == 5 and clf.n_iter_ == 4
    for epoch, rec in enumerate(clf.history_):
        assert list(rec) == expected
        assert rec["epoch"] == epoch
        assert math.isnan(rec["val_accuracy"]) and math.isnan(rec["val_loss"])
        assert all(isinstance(rec[k], float) for k in expected[1:])
    seconds = [r["seconds"] for r in clf.history_]
    assert seconds == sorted(seconds) and seconds[0] >= 0


@pytest.mark.parametrize("lam", [0.0, LAM])
def test_weight_norm_is_the_frobenius_norm_of_the_weights(iris, lam):
    X, y = iris
    clf = LinearSoftmaxClassifier(solver="gd", lam=lam, max_epochs=5, tol=0).fit(X, y)
    assert clf.history_[0]["weight_norm"] == 0.0  # init="zeros"
    last = clf.history_[-1]
    assert last["weight_norm"] == pytest.approx(np.linalg.norm(clf.coef_), rel=1e-12)
    assert last["weight_norm"] > 0
    # the penalty is (λ/2)‖W‖²_F: consistent with weight_norm when λ > 0
    assert last["penalty"] == pytest.approx(lam / 2 * last["weight_norm"] ** 2, rel=1e-12, abs=0)


def test_grad_norm_is_the_norm_of_the_full_gradient(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(solver="gd", max_epochs=5, tol=0).fit(X, y)
    _, grad = _manual_gradient(X, y, clf.coef_, clf.intercept_, LAM)
    assert clf.history_[-1]["grad_norm"] == pytest.approx(np.linalg.norm(grad), rel=1e-12)


def test_validation_fraction_gives_finite_validation_metrics(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(validation_fraction=0.2, random_state=0, max_epochs=30)
    clf.fit(X, y)
    for rec in clf.history_:
        assert 0 <= rec["val_accuracy"] <= 1 and np.isfinite(rec["val_loss"])
    assert clf.history_[0]["val_loss"] == pytest.approx(math.log(3), rel=1e-14)
    assert clf.history_[-1]["val_accuracy"] > 0.8
    # the model trained on 80 % of the data: differs from the one on all data
    full = LinearSoftmaxClassifier(random_state=0, max_epochs=30).fit(X, y)
    assert not np.allclose(full.coef_, clf.coef_)


def test_validation_split_too_small_is_a_clear_error():
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="validation_fraction"):
        LinearSoftmaxClassifier(validation_fraction=0.1).fit(X, y)


def test_same_random_state_gives_the_same_run(iris):
    X, y = iris
    params = dict(
        solver="adam", learning_rate=0.01, init="normal", validation_fraction=0.2, max_epochs=5
    )
    a = LinearSoftmaxClassifier(random_state=3, **params).fit(X, y)
    b = LinearSoftmaxClassifier(random_state=3, **params).fit(X, y)
    c = LinearSoftmaxClassifier(random_state=4, **params).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    drop = {"seconds"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in a.history_] == [
        {k: v for k, v in r.items() if k not in drop} for r in b.history_
    ]
    assert not np.array_equal(a.coef_, c.coef_)


def test_normal_init_has_the_stated_scale():
    X = np.random.default_rng(0).normal(size=(40, 500))
    y = np.arange(40) % 4
    clf = LinearSoftmaxClassifier(init="normal", random_state=0, max_epochs=1, solver="gd")
    clf.set_params(learning_rate=1e-300).fit(X, y)  # a negligible step: coef_ ≈ init
    assert clf.coef_.std() == pytest.approx(0.01, rel=0.05)
    assert abs(clf.coef_.mean()) < 1e-3


# --------------------------------------------------------------------------- stopping
def test_divergence_keeps_last_finite_parameters_and_warns(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(loss="exp_mse", solver="gd", learning_rate=1e8, max_epochs=50)
    with pytest.warns(RuntimeWarning, match="epoch 1") as record:
        clf.fit(X, y)
    assert "learning_rate" in str(record[0].message)
    assert clf.status_ == "diverged"
    assert "non-finite" in clf.stop_reason_
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    assert clf.n_iter_ == 0 and len(clf.history_) == 1
    np.testing.assert_array_equal(clf.coef_, 0)  # the parameters of epoch 0
    assert np.isfinite(clf.predict_proba(X)).all()


def test_non_finite_objective_at_init_is_reported_not_raised(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(loss="exp_mse", init="normal", random_state=0)
    with pytest.warns(RuntimeWarning, match="objective is non-finite .*epoch 0") as w:
        clf.fit(X * 1e5, y)  # scores of order 1e3: e^(2s) overflows at once
    assert "init='zeros'" in str(w[0].message)
    assert clf.status_ == "diverged" and clf.n_iter_ == 0 and len(clf.history_) == 1
    assert clf.history_[0]["objective"] == math.inf
    assert np.isfinite(clf.coef_).all()


def test_lbfgs_backtracks_from_overflowing_trial_points(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = LinearSoftmaxClassifier(loss="exp_mse").fit(X * 100, y)  # unscaled features
    assert clf.status_ == "converged"
    assert "non-finite" in clf.stop_reason_ and "standardize" in clf.stop_reason_
    assert np.isfinite(clf.coef_).all()
    assert all(math.isfinite(r["objective"]) for r in clf.history_)


@pytest.mark.parametrize("solver", SOLVERS)
def test_callback_returning_false_stops(iris, solver):
    X, y = iris
    seen = []

    def callback(record):
        seen.append(record)
        return record["epoch"] < 2

    clf = LinearSoftmaxClassifier(solver=solver, callback=callback, tol=0, random_state=0)
    clf.fit(X, y)
    assert clf.status_ == "stopped"
    assert "callback" in clf.stop_reason_
    assert [r["epoch"] for r in seen] == [0, 1, 2]
    assert clf.n_iter_ == 2 and len(clf.history_) == 3
    assert seen == clf.history_ and seen[0] is not clf.history_[0]
    # the kept parameters are those of the last recorded epoch
    assert clf.objective(X, y) == pytest.approx(clf.history_[-1]["objective"], rel=1e-12)


def test_callback_returning_none_does_not_stop(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(solver="gd", max_epochs=5, tol=0, callback=lambda r: None)
    clf.fit(X, y)
    assert clf.status_ == "max_epochs" and clf.n_iter_ == 5
    assert "max_epochs=5" in clf.stop_reason_


def test_tol_stops_first_order_solvers(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(solver="gd", learning_rate=1.0, tol=1e-4, max_epochs=5000)
    clf.fit(X, y)
    assert clf.status_ == "converged" and clf.n_iter_ < 5000
    J = [r["objective"] for r in clf.history_]
    assert all(abs(a - b) <= 1e-4 * a for a, b in zip(J[-4:-1], J[-3:], strict=True))
    assert abs(J[-5] - J[-4]) > 1e-4 * J[-5]  # ... and not for one more epoch before
    loose = LinearSoftmaxClassifier(solver="gd", learning_rate=1.0, tol=1e-2).fit(X, y)
    assert loose.n_iter_ < clf.n_iter_


def test_lbfgs_statuses(iris):
    X, y = iris
    short = LinearSoftmaxClassifier(max_epochs=3, tol=1e-12).fit(X, y)
    assert short.status_ == "max_epochs" and short.n_iter_ == 3
    done = LinearSoftmaxClassifier(max_epochs=1000).fit(X, y)
    assert done.status_ == "converged" and done.n_iter_ < 1000
    J = [r["objective"] for r in done.history_]
    assert all(b <= a for a, b in itertools.pairwise(J))  # L-BFGS-B decreases J
    assert done.objective(X, y) == pytest.approx(J[-1], rel=1e-12)


# --------------------------------------------------------------------------- dtypes, shapes
@pytest.mark.parametrize("solver", ["lbfgs", "gd", "adam"])
def test_float32_computes_in_float32_and_agrees(iris, solver):
    X, y = iris
    lr = 0.01 if solver == "adam" else 0.05
    params = dict(solver=solver, learning_rate=lr, max_epochs=40, tol=0, random_state=0)
    f64 = LinearSoftmaxClassifier(**params).fit(X, y)
    f32 = LinearSoftmaxClassifier(dtype="float32", **params).fit(X, y)
    assert f32.coef_.dtype == np.float32 and f32.intercept_.dtype == np.float32
    assert f64.coef_.dtype == np.float64
    np.testing.assert_allclose(
        f32.history_[-1]["objective"], f64.history_[-1]["objective"], rtol=1e-4
    )
    if solver != "adam":  # Adam's g/sqrt(v) amplifies rounding in near-zero gradients
        np.testing.assert_allclose(f32.coef_, f64.coef_, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", list(LOSSES))
def test_float32_pass_stays_float32(name):
    X, codes, theta = _fd_problem()
    obj = _LinearObjective(X.astype(np.float32), codes, 4, LOSSES[name], 0.1, True, np.dtype("f4"))
    theta = theta.astype(np.float32)
    grad = np.empty_like(theta)
    ev = obj.evaluate(theta, grad)
    # the scores' buffer, which the pass overwrites with G.T, stays float32 too
    assert obj._St[X.shape[0]].dtype == grad.dtype == np.float32
    ref = _LinearObjective(X, codes, 4, LOSSES[name], 0.1, True, np.dtype("f8"))
    g64 = np.empty(theta.shape)
    ev64 = ref.evaluate(theta.astype(np.float64), g64)
    assert ev.objective == pytest.approx(ev64.objective, rel=1e-5)
    np.testing.assert_allclose(grad, g64, rtol=1e-4, atol=1e-5)


def test_small_problems_train_on_one_blas_thread_and_restore_it(iris):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    seen = []
    X, y = iris
    LinearSoftmaxClassifier(max_epochs=2, callback=lambda r: seen.append(blas_threads())).fit(X, y)
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert blas_threads() == before


def test_decision_function_shapes():
    X, y = _standardized(load_iris)
    multi = LinearSoftmaxClassifier(max_epochs=20).fit(X, y)
    assert multi.decision_function(X).shape == (150, 3)
    np.testing.assert_allclose(multi.decision_function(X), multi.scores(X))
    binary = LinearSoftmaxClassifier(max_epochs=20).fit(X[y < 2], y[y < 2])
    S = binary.scores(X[:7])
    assert S.shape == (7, 2) and binary.coef_.shape == (2, 4)
    np.testing.assert_allclose(binary.decision_function(X[:7]), S[:, 1] - S[:, 0])
    P = binary.predict_proba(X[:7])
    np.testing.assert_allclose(P[:, 1], 1 / (1 + np.exp(-(S[:, 1] - S[:, 0]))), rtol=1e-12)


def test_accuracy_follows_argmax_including_ties():
    rng = np.random.default_rng(0)
    St = rng.integers(0, 3, size=(4, 500)).astype(float)  # many tied maxima
    codes = rng.integers(0, 4, size=500)
    expected = np.mean(St.argmax(axis=0) == codes)
    assert _accuracy(St, codes) == expected
    assert _accuracy(np.zeros((3, 6)), np.array([0, 1, 2, 0, 1, 2])) == pytest.approx(1 / 3)


def test_predict_log_proba_is_log_of_predict_proba(iris):
    X, y = iris
    clf = LinearSoftmaxClassifier(max_epochs=30).fit(X, y)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1, rtol=1e-14)


@pytest.mark.parametrize(
    ("dtype", "solver", "budget"),
    [("float64", "gd", 0.3), ("float64", "lbfgs", 0.3), ("float32", "gd", 0.8)],
)
def test_fit_does_not_copy_X(dtype, solver, budget):
    """Peak extra memory of a full-batch fit stays far below the size of X (float64 in).

    float64: no copy of X at all, only O(N·K) buffers (scores, gradient, sign masks:
    about 0.13 X here, D = 200, K = 5); float32: plus one cast copy (half the size of X).
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 200))  # 32 MB
    y = np.arange(20_000) % 5
    clf = LinearSoftmaxClassifier(solver=solver, dtype=dtype, max_epochs=3, tol=0)
    tracemalloc.start()
    try:
        clf.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < budget * X.nbytes, peak / X.nbytes


def test_string_labels_and_fit_intercept_false(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = LinearSoftmaxClassifier(fit_intercept=False, max_epochs=50).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, np.unique(names))
    np.testing.assert_array_equal(clf.intercept_, 0)
    assert clf.score(X, names) > 0.8
    assert set(clf.predict(X)) <= set(names)
    assert clf.objective(X, names) == pytest.approx(clf.history_[-1]["objective"], rel=1e-12)
    with pytest.raises(ValueError, match="classes_"):
        clf.objective(X, np.where(names == "setosa", "rose", names))


def test_loss_instance_is_accepted(iris):
    X, y = iris
    a = LinearSoftmaxClassifier(loss=LabelSmoothingCrossEntropy(0.0), max_epochs=30).fit(X, y)
    b = LinearSoftmaxClassifier(loss="cross_entropy", max_epochs=30).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_loss_trains_with_every_family_of_solver(iris, name):
    X, y = iris
    for solver, lr in [("lbfgs", 0.1), ("gd", 0.1), ("adam", 0.01)]:
        clf = LinearSoftmaxClassifier(
            loss=name, solver=solver, learning_rate=lr, max_epochs=60, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning from numpy along the way
            clf.fit(X, y)
        assert clf.status_ in ("converged", "max_epochs")
        assert clf.history_[-1]["objective"] < clf.history_[0]["objective"]
        assert clf.score(X, y) > 0.6, (name, solver)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"loss": "nope"}, "valid losses: cross_entropy, mse"),
        ({"loss": 3}, "loss must be"),
        ({"solver": "newton"}, "valid solvers: gd, momentum, sgd, adam, lbfgs"),
        ({"lam": -1.0}, "lam must be"),
        ({"lam": float("nan")}, "lam must be"),
        ({"learning_rate": 0.0}, "learning_rate must be"),
        ({"learning_rate": -0.1}, "learning_rate must be"),
        ({"max_epochs": 0}, "max_epochs must be"),
        ({"max_epochs": 2.5}, "max_epochs must be"),
        ({"batch_size": 0}, "batch_size must be"),
        ({"batch_size": 12.0}, "batch_size must be"),
        ({"tol": -1e-3}, "tol must be"),
        ({"init": "ones"}, "init must be"),
        ({"fit_intercept": "yes"}, "fit_intercept must be"),
        ({"validation_fraction": 1.0}, r"validation_fraction must be in \[0, 1\)"),
        ({"validation_fraction": -0.1}, r"validation_fraction must be in \[0, 1\)"),
        ({"dtype": "float16"}, "dtype must be"),
        ({"dtype": "banana"}, "dtype must be"),
        ({"dtype": None}, "dtype must be"),
        ({"callback": 5}, "callback must be"),
    ],
)
def test_invalid_parameters_raise_clear_errors(iris, params, match):
    X, y = iris
    with pytest.raises(ValueError, match=match):
        LinearSoftmaxClassifier(**params).fit(X, y)


def test_one_class_is_a_clear_error():
    with pytest.raises(ValueError, match="only one class"):
        LinearSoftmaxClassifier().fit(np.ones((5, 2)), np.zeros(5))


def test_continuous_targets_are_rejected():
    with pytest.raises(ValueError, match="Unknown label type"):
        LinearSoftmaxClassifier().fit(np.ones((5, 2)), np.linspace(0, 1, 5))


def test_init_only_stores_parameters():
    clf = LinearSoftmaxClassifier(loss="nope", lam=-5, solver="x")  # validated in fit
    assert clf.get_params()["loss"] == "nope" and clf.lam == -5
