"""``history="running"``: epoch statistics accumulated from the mini-batches, and the fused pass.

The running record is checked against a hand accumulation over the batches, replayed
with the same shuffles: scores, losses, accuracy and gradient signs from the public
functions (``lossesbox.losses``, ``lossesbox.diagnostics``), the linear gradient written
out (``Gᵀ X / n + λW``). The fused in-place kernels behind every pass are checked against
each loss's ``loss_and_gradient``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from lossesbox import LOSSES, LinearSoftmaxClassifier, MLPSoftmaxClassifier
from lossesbox.diagnostics import sign_shares
from lossesbox.models._pass import PassStats, loss_pass, true_index


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=230, n_features=6, n_informative=4, n_redundant=0, n_classes=3, random_state=3
    )
    return StandardScaler().fit_transform(X), y


def _one_hot(y, K):
    Y = np.zeros((y.size, K))
    Y[np.arange(y.size), y] = 1
    return Y


# ----------------------------------------------------------------------- fused kernels
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(LOSSES))
def test_fused_kernel_equals_loss_and_gradient(name, dtype):
    rng = np.random.default_rng(1)
    K, N = 5, 41
    St = (rng.standard_normal((K, N)) * 3).astype(dtype)
    codes = rng.integers(0, K, N)
    loss = LOSSES[name]
    values, G = loss.loss_and_gradient(St.T.copy(), _one_hot(codes, K).astype(dtype))
    for a, b in ((0, N), (7, 30)):  # the whole buffer and a block in its middle
        buf = St.copy()
        flat = buf.reshape(-1)
        t = codes[a:b] * N + np.arange(a, b)
        total = loss._loss_grad_t(buf[:, a:b], codes[a:b], flat, t)
        rtol = 1e-12 if dtype == np.float64 else 3e-5
        assert total == pytest.approx(float(values[a:b].sum(dtype=np.float64)), rel=rtol)
        np.testing.assert_allclose(buf[:, a:b], G[a:b].T, rtol=rtol, atol=rtol)
        assert buf.dtype == dtype
        np.testing.assert_array_equal(buf[:, :a], St[:, :a])  # nothing outside the block
        np.testing.assert_array_equal(buf[:, b:], St[:, b:])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 3.5])
def test_fused_focal_kernel_equals_loss_and_gradient_for_every_gamma(gamma):
    from lossesbox.losses import FocalLoss

    rng = np.random.default_rng(2)
    K, N = 7, 53
    St = rng.standard_normal((K, N)) * 4
    St[:, 0] = [40.0, 0, 0, 0, 0, 0, 0]  # p_true -> 1 for sample 0 (true class 0 below)
    codes = rng.integers(0, K, N)
    codes[0] = 0
    loss = FocalLoss(gamma)
    values, G = loss.loss_and_gradient(St.T.copy(), _one_hot(codes, K))
    buf = St.copy()
    total = loss._loss_grad_t(buf, codes, buf.reshape(-1), true_index(codes, N))
    assert total == pytest.approx(float(values.sum()), rel=1e-12)
    np.testing.assert_allclose(buf, G.T, rtol=1e-12, atol=1e-15)
    if gamma == 0.0:  # cross-entropy
        ce = St.copy()
        LOSSES["cross_entropy"]._loss_grad_t(ce, codes, ce.reshape(-1), true_index(codes, N))
        np.testing.assert_allclose(buf, ce, rtol=1e-12, atol=1e-15)


def test_fused_exp_mse_overflows_to_inf_not_nan():
    St = np.array([[400.0, 0.0], [0.0, 1.0]])  # K=2, N=2: sample 0 true class 0 overflows
    codes = np.array([0, 1])
    buf = St.copy()
    total = LOSSES["exp_mse"]._loss_grad_t(buf, codes, buf.reshape(-1), true_index(codes, 2))
    assert total == math.inf
    assert not np.isnan(buf).any() and buf[0, 0] == math.inf


def test_loss_pass_blocks_and_stats_match_whole_array_functions(monkeypatch):
    """Many small blocks (the block size shrunk: 8 blocks of 64 columns) give
    the numbers of one whole-array pass."""
    import lossesbox.models._pass as p

    monkeypatch.setattr(p, "_BLOCK", 3 * 64)  # K = 3: blocks of 64 columns
    rng = np.random.default_rng(0)
    K, N = 3, 450
    St = rng.standard_normal((K, N))
    St[:, :5] = 0.25  # tied columns: argmax takes the first class
    codes = rng.integers(0, K, N)
    Y = _one_hot(codes, K)
    bias = np.array([0.1, -0.2, 0.0])
    for name in ("cross_entropy", "hinge", "mse"):
        S = St.T + bias
        values, G = LOSSES[name].loss_and_gradient(S, Y)
        buf = St.copy()
        col_sum = np.empty(K)
        stats = PassStats(K)
        total = loss_pass(LOSSES[name], buf, codes, true_index(codes, N), col_sum, stats, bias)
        assert total == pytest.approx(values.sum(), rel=1e-12)
        np.testing.assert_allclose(buf, G.T, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(col_sum, G.sum(axis=0), rtol=1e-12, atol=1e-15)
        assert stats.accuracy == np.mean(S.argmax(axis=1) == codes)
        ref, got = sign_shares(G, Y), stats.signs()
        for field in ("wrong_right", "wrong_wrong", "wrong_zero", "true_right", "true_wrong"):
            np.testing.assert_allclose(getattr(got, field), getattr(ref, field), err_msg=field)
        assert got.wrong_way_share == pytest.approx(ref.wrong_way_share)


# ----------------------------------------------------------------------- running history
def _replay_linear_sgd(X, y, *, loss, lam, lr, batch_size, epochs, seed):
    """Running records of sgd from zeros, accumulated by hand over the batches."""
    N, D = X.shape
    K = int(y.max()) + 1
    Y = _one_hot(y, K)
    W, b = np.zeros((K, D)), np.zeros(K)
    rng = check_random_state(seed)
    f = LOSSES[loss]
    records = []
    for _ in range(epochs):
        order = rng.permutation(N)
        data_loss = pen = hits = 0.0
        grad_sum = np.zeros(K * D + K)
        Gs, Ys = [], []
        for start in range(0, N, batch_size):
            idx = order[start : start + batch_size]
            n = idx.size
            S = X[idx] @ W.T + b
            values, G = f.loss_and_gradient(S, Y[idx])
            data_loss += values.sum()
            pen += n * float(np.sum(W * W))
            hits += np.sum(S.argmax(axis=1) == y[idx])
            Gs.append(G)
            Ys.append(Y[idx])
            gW = G.T @ X[idx] / n + lam * W
            gb = G.mean(axis=0)
            grad_sum += n * np.concatenate([gW.ravel(), gb])
            W = W - lr * gW
            b = b - lr * gb
        signs = sign_shares(np.vstack(Gs), np.vstack(Ys))
        mean_grad = grad_sum / N
        records.append(
            {
                "data_loss": data_loss / N,
                "penalty": 0.5 * lam * pen / N,
                "objective": data_loss / N + 0.5 * lam * pen / N,
                "train_accuracy": hits / N,
                "grad_norm": float(np.linalg.norm(mean_grad)),
                "weight_norm": math.sqrt(pen / N),
                "wrong_way_share": signs.wrong_way_share,
                "true_wrong_way_share": signs.true_wrong_way_share,
                "wrong_zero_share": signs.wrong_zero_share,
                **{f"wrong_way_share.class_{c}": signs.wrong_wrong[c] for c in range(K)},
                **{f"true_wrong_way_share.class_{c}": signs.true_wrong[c] for c in range(K)},
            }
        )
    return records, W, b


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "hinge"])
def test_running_records_equal_a_hand_accumulation_over_the_batches(data, loss):
    X, y = data
    params = dict(loss=loss, lam=0.01, learning_rate=0.05, batch_size=32, max_epochs=3)
    est = LinearSoftmaxClassifier(
        solver="sgd", tol=0, random_state=7, history="running", **params
    ).fit(X, y)
    expected, W, b = _replay_linear_sgd(
        X, y, loss=loss, lam=0.01, lr=0.05, batch_size=32, epochs=3, seed=7
    )
    assert len(est.history_) == 4
    for rec, exp in zip(est.history_[1:], expected, strict=True):
        for key, value in exp.items():
            assert rec[key] == pytest.approx(value, rel=1e-10, abs=1e-13), key
    np.testing.assert_allclose(est.coef_, W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(est.intercept_, b, rtol=1e-12, atol=1e-14)


def test_running_changes_the_records_not_the_training(data):
    """Same seed: identical parameters and epoch 0; later epochs differ (lagged values)."""
    X, y = data
    kw = dict(solver="adam", learning_rate=0.05, batch_size=16, max_epochs=4, tol=0)
    exact = LinearSoftmaxClassifier(random_state=1, **kw).fit(X, y)
    running = LinearSoftmaxClassifier(random_state=1, history="running", **kw).fit(X, y)
    np.testing.assert_array_equal(exact.coef_, running.coef_)
    assert exact.history_[0] == pytest.approx(
        {**running.history_[0], "seconds": exact.history_[0]["seconds"]}, nan_ok=True
    )
    assert [set(r) for r in exact.history_] == [set(r) for r in running.history_]
    # the running objective of epoch t is a mean over epoch t's batches, which saw the
    # parameters from epoch t-1 on: on this easy problem it sits above the exact one
    for t in range(1, 5):
        assert running.history_[t]["objective"] > exact.history_[t]["objective"]
        assert running.history_[t]["objective"] < exact.history_[t - 1]["objective"] * 1.05


def test_full_batch_solvers_record_exactly_whatever_history_says(data):
    X, y = data
    for solver, batch in (("gd", 256), ("sgd", None), ("lbfgs", 256)):
        a = LinearSoftmaxClassifier(solver=solver, batch_size=batch, max_epochs=5).fit(X, y)
        b = LinearSoftmaxClassifier(
            solver=solver, batch_size=batch, max_epochs=5, history="running"
        ).fit(X, y)
        for ra, rb in zip(a.history_, b.history_, strict=True):
            assert ra == pytest.approx({**rb, "seconds": ra["seconds"]}, nan_ok=True)


def test_running_tol_compares_consecutive_running_objectives(data):
    X, y = data
    est = LinearSoftmaxClassifier(
        solver="sgd", learning_rate=1e-3, batch_size=64, max_epochs=200, tol=1e-3,
        random_state=0, history="running",
    ).fit(X, y)  # fmt: skip
    J = [r["objective"] for r in est.history_]
    quiet = [abs(J[t - 1] - J[t]) <= 1e-3 * abs(J[t - 1]) for t in range(1, len(J))]
    assert est.status_ == "converged"
    assert quiet[-3:] == [True, True, True]
    assert not any(all(quiet[t : t + 3]) for t in range(len(quiet) - 3))  # not earlier


def test_running_divergence_stops_at_the_first_bad_batch_and_keeps_the_epoch_start(data):
    X, y = data
    kw = dict(loss="exp_mse", solver="sgd", learning_rate=50.0, batch_size=16, tol=0)
    with pytest.warns(RuntimeWarning, match="mini-batch"):
        run = LinearSoftmaxClassifier(max_epochs=50, random_state=2, history="running", **kw)
        run.fit(X, y)
    assert run.status_ == "diverged"
    assert "kept the parameters of epoch" in run.stop_reason_
    assert all(math.isfinite(r["objective"]) for r in run.history_)
    # the same trajectory stopped before that epoch: the kept parameters are its end
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LinearSoftmaxClassifier(max_epochs=max(run.n_iter_, 1), random_state=2, **kw)
        ref.fit(X, y)
    if run.n_iter_ == 0:
        np.testing.assert_array_equal(run.coef_, 0)
    else:
        np.testing.assert_array_equal(run.coef_, ref.coef_)
    assert np.isfinite(run.coef_).all()


def test_mlp_running_records_equal_a_hand_accumulation(data):
    """The MLP shares the loop: its running record is the batches' own statistics."""
    X, y = data
    K = 3
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate=0.05, batch_size=40)
    kw |= dict(max_epochs=2, tol=0, lam=0.01, random_state=4)
    est = MLPSoftmaxClassifier(history="running", **kw).fit(X, y)
    exact = MLPSoftmaxClassifier(**kw).fit(X, y)
    for a, b in zip(est.coefs_, exact.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    # replay: the same initial parameters and shuffles, the model's own gradient
    rng = check_random_state(4)
    obj = est._objective(X, y, K, LOSSES["cross_entropy"], np.dtype("f8"))
    theta = est._initial_theta(obj, rng)
    grad = np.empty_like(theta)
    Y = _one_hot(y, K)
    for rec in est.history_[1:]:
        order = rng.permutation(len(y))
        data_loss = hits = pen = 0.0
        for start in range(0, len(y), 40):
            idx = order[start : start + 40]
            S = obj.scores_t(theta, X[idx]).T.copy()
            data_loss += LOSSES["cross_entropy"].loss(S, Y[idx]).sum()
            hits += np.sum(S.argmax(axis=1) == y[idx])
            pen += idx.size * float(theta[: obj.n_weights] @ theta[: obj.n_weights])
            obj.forward_backward(theta, grad, X[idx], y[idx])
            theta -= 0.05 * grad
        assert rec["data_loss"] == pytest.approx(data_loss / len(y), rel=1e-12)
        assert rec["train_accuracy"] == hits / len(y)
        assert rec["objective"] == pytest.approx((data_loss + 0.005 * pen) / len(y), rel=1e-12)


def test_history_must_be_exact_or_running(data):
    X, y = data
    with pytest.raises(ValueError, match=r"history must be 'exact'.*or 'running'"):
        LinearSoftmaxClassifier(history="fast").fit(X, y)
    assert LinearSoftmaxClassifier().get_params()["history"] == "exact"
    assert MLPSoftmaxClassifier().get_params()["history"] == "exact"


def test_iris_running_accuracy_tracks_the_exact_one():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(solver="adam", learning_rate=0.05, batch_size=16, max_epochs=30, random_state=0)
    exact = LinearSoftmaxClassifier(**kw).fit(X, y)
    running = LinearSoftmaxClassifier(history="running", **kw).fit(X, y)
    assert running.history_[-1]["train_accuracy"] == pytest.approx(
        exact.history_[-1]["train_accuracy"], abs=0.05
    )


def test_the_run_parameters_say_which_history_was_recorded():
    """CLI/experiment: ``history`` reaches the estimator and the logged run parameters
    (``_params`` is what the tracking code logs as MLflow params; the CLI end-to-end
    test checks that logging on a real store)."""
    from lossesbox.datasets import load_dataset
    from lossesbox.experiment import TrainConfig, _params, build_pipeline

    config = TrainConfig(dataset="iris", solver="adam", history="running")
    with pytest.raises(ValueError, match="history must be one of exact, running"):
        config.replace(history="sometimes").validate()
    assert build_pipeline(config)[-1].history == "running"
    assert _params(config, load_dataset("iris"), 100, 50)["history"] == "running"
    assert _params(config.replace(history="exact"), load_dataset("iris"), 1, 1)["history"] == (
        "exact"
    )
    # full-batch runs record exact values whatever was asked, and say so
    iris = load_dataset("iris")
    for changes in ({"solver": "lbfgs"}, {"solver": "gd"}, {"batch_size": None}):
        full = config.replace(**changes)
        assert full.effective_history == "exact"
        assert _params(full, iris, 100, 50)["history"] == "exact"
