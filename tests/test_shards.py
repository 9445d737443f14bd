"""Row shards (lossesbox.models._shards): the same numbers as one pass, whichever way
they run, and a chooser that picks the faster way."""

from __future__ import annotations

import numpy as np
import pytest

from lossesbox import LinearSoftmaxClassifier, MLPSoftmaxClassifier
from lossesbox.losses import get_loss
from lossesbox.models import _training
from lossesbox.models._pass import PassStats
from lossesbox.models._shards import MIN_SHARD_MACS, Chooser, Shards
from lossesbox.models.linear import _LinearObjective
from lossesbox.models.mlp import _MLPObjective


def _problem(n=3000, d=300, k=10, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d))
    y = rng.integers(0, k, n)
    X = centers[y] + 2.0 * rng.standard_normal((n, d))
    return X, y


def _with_threads(monkeypatch, n):
    monkeypatch.setattr(_training, "_blas_thread_count", lambda: n)


def _force(shards: Shards, threads: bool):
    for chooser in (shards.full_chooser, shards.batch_chooser):
        chooser.pick = lambda: threads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["cross_entropy", "exp_mse", "hinge"])
@pytest.mark.parametrize("S", [2, 3])
def test_threads_and_serial_give_bitwise_the_same_pass(dtype, loss, S):
    X, y = _problem(n=3001)  # uneven shards
    X = X.astype(dtype)
    obj = _LinearObjective(X, y, 10, get_loss(loss), 1e-2, True, dtype)
    rng = np.random.default_rng(1)
    theta = (0.05 * rng.standard_normal(obj.size)).astype(dtype)
    out = {}
    with Shards(obj.shard, X, y, S, obj.macs) as shards:
        for threads in (True, False):
            _force(shards, threads)
            grad = np.empty_like(theta)
            stats = PassStats(10)
            total = shards.full(theta, grad, stats)
            bgrad = np.empty_like(theta)
            bstats = PassStats(10)
            rows = np.random.default_rng(9).permutation(3001)[:701]  # a shuffled batch
            btotal = shards.batch_rows(theta, bgrad, rows, bstats)
            out[threads] = (total, grad, stats, btotal, bgrad, bstats)
    a, b = out[True], out[False]
    assert a[0] == b[0] and a[3] == b[3]
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[4], b[4])
    for sa, sb in ((a[2], b[2]), (a[5], b[5])):
        assert sa.hits == sb.hits and sa.n == sb.n
        assert np.array_equal(sa.neg, sb.neg) and np.array_equal(sa.true_neg, sb.true_neg)
        assert np.array_equal(sa.col_sum, sb.col_sum)


def _evaluate_both_ways(obj, X, y, theta, rows=None):
    """The full pass unsharded and as two shards (and, with ``rows``, the sharded
    mini-batch pass over those rows): ``ref, ref_grad, ev, grad, (total, bgrad)``."""
    ref_grad = np.empty_like(theta)
    ref = obj.evaluate(theta, ref_grad)
    batch = None
    with Shards(obj.shard, X, y, 2, obj.macs) as shards:
        obj.shards = shards
        grad = np.empty_like(theta)
        ev = obj.evaluate(theta, grad)
        if rows is not None:
            bgrad = np.empty_like(theta)
            batch = (shards.batch_rows(theta, bgrad, rows, None), bgrad)
        obj.shards = None
    return ref, ref_grad, ev, grad, batch


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "exp_mse"])
def test_sharded_pass_equals_the_single_pass(loss):
    """Loss, gradient and every count of the history against one unsharded pass."""
    X, y = _problem(n=2999)
    obj = _LinearObjective(X, y, 10, get_loss(loss), 1e-2, True, np.float64)
    rng = np.random.default_rng(2)
    theta = 0.05 * rng.standard_normal(obj.size)
    ref, ref_grad, ev, grad, _ = _evaluate_both_ways(obj, X, y, theta)
    np.testing.assert_allclose(ev.objective, ref.objective, rtol=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-11, atol=1e-15)
    assert ev.stats.hits == ref.stats.hits
    for name in ("neg", "zero", "true_neg", "true_zero", "n_true"):
        assert np.array_equal(getattr(ev.stats, name), getattr(ref.stats, name)), name
    # the mean gradient of the sign summary is G's column mean (computed independently)
    St = obj.scores_t(theta, X)
    G = get_loss(loss).gradient(St.T.copy(), np.eye(10)[y])
    np.testing.assert_allclose(ev.stats.signs().mean_gradient, G.mean(axis=0), atol=1e-14)
    np.testing.assert_allclose(ref.stats.signs().mean_gradient, G.mean(axis=0), atol=1e-14)


def test_mlp_sharded_pass_equals_the_single_pass():
    X, y = _problem(n=1501, d=120)
    obj = _MLPObjective(X, y, 10, get_loss("cross_entropy"), 1e-3, True, np.float64, (64,), "tanh")
    rng = np.random.default_rng(3)
    theta = 0.1 * rng.standard_normal(obj.size)
    rows = np.random.default_rng(8).permutation(1501)[:900]
    ref, ref_grad, ev, grad, (total, bgrad) = _evaluate_both_ways(obj, X, y, theta, rows)
    np.testing.assert_allclose(ev.objective, ref.objective, rtol=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-14)
    ref_b = np.empty_like(theta)
    ref_total = obj.forward_backward(theta, ref_b, X[rows], y[rows])
    np.testing.assert_allclose(total, ref_total, rtol=1e-13)
    np.testing.assert_allclose(bgrad, ref_b, rtol=1e-10, atol=1e-14)


def _fit(est, X, y):
    return est.fit(X, y)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 240 rows, so the shards of these small problems go block by block."""
    from lossesbox.models import linear

    monkeypatch.setattr(linear, "BLOCK_BYTES", 64 << 10)
    linear.block_rows.cache_clear()
    yield
    linear.block_rows.cache_clear()


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "gd", "learning_rate": 0.05, "max_epochs": 8},
        {"solver": "adam", "learning_rate": 0.01, "batch_size": 1024, "max_epochs": 3},
        {
            "solver": "adam",
            "learning_rate": 0.01,
            "batch_size": 1024,
            "max_epochs": 3,
            "history": "running",
        },
        {"solver": "lbfgs", "max_epochs": 10},
    ],
)
def test_sharded_fit_matches_the_unsharded_fit_and_repeats_bitwise(
    monkeypatch, small_blocks, params
):
    from lossesbox.models.linear import block_rows

    X, y = _problem()
    assert 1500 >= 2 * block_rows(300, 10, 8)  # each shard's full pass goes by blocks
    assert 1024 * 300 * 10 >= 2 * MIN_SHARD_MACS  # the mini-batches are sharded too
    assert X.shape[0] * X.shape[1] * 10 >= 2 * MIN_SHARD_MACS  # the fit is sharded
    seen = []
    real = _training.Shards

    def spy(*args, **kwargs):
        seen.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(_training, "Shards", spy)
    _with_threads(monkeypatch, 1)
    one = _fit(LinearSoftmaxClassifier(random_state=0, tol=0, **params), X, y)
    assert seen == []
    _with_threads(monkeypatch, 2)
    two = _fit(LinearSoftmaxClassifier(random_state=0, tol=0, **params), X, y)
    again = _fit(LinearSoftmaxClassifier(random_state=0, tol=0, **params), X, y)
    assert seen == [2, 2]
    # the same optimization up to rounding...
    np.testing.assert_allclose(two.coef_, one.coef_, rtol=1e-7, atol=1e-10)
    h1, h2 = (np.array([r["objective"] for r in e.history_]) for e in (one, two))
    np.testing.assert_allclose(h2, h1, rtol=1e-9)
    assert [r["train_accuracy"] for r in one.history_] == [
        r["train_accuracy"] for r in two.history_
    ]
    # ...and bitwise the same from one sharded fit to the next, whatever the chooser picked
    assert np.array_equal(two.coef_, again.coef_)
    assert np.array_equal(two.intercept_, again.intercept_)


def test_sharded_mlp_fit_matches(monkeypatch):
    X, y = _problem(n=2000, d=200)
    kw = dict(hidden_layer_sizes=(32,), solver="adam", batch_size=1024, max_epochs=3)
    _with_threads(monkeypatch, 1)
    one = MLPSoftmaxClassifier(random_state=0, tol=0, **kw).fit(X, y)
    _with_threads(monkeypatch, 2)
    two = MLPSoftmaxClassifier(random_state=0, tol=0, **kw).fit(X, y)
    for a, b in zip(one.coefs_, two.coefs_, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-10)


def test_divergence_in_a_shard_stops_the_fit_as_before(monkeypatch):
    X, y = _problem()
    X = X * 50.0
    kw = dict(loss="exp_mse", solver="gd", learning_rate=10.0, max_epochs=30, tol=0)
    _with_threads(monkeypatch, 1)
    with pytest.warns(RuntimeWarning, match="Diverged"):
        one = LinearSoftmaxClassifier(**kw).fit(X, y)
    _with_threads(monkeypatch, 2)
    with pytest.warns(RuntimeWarning, match="Diverged"):
        two = LinearSoftmaxClassifier(**kw).fit(X, y)
    assert one.status_ == two.status_ == "diverged"
    assert one.n_iter_ == two.n_iter_
    assert np.isfinite(two.coef_).all()


def test_small_problems_are_not_sharded(monkeypatch):
    """Below S · MIN_SHARD_MACS multiply-adds a pass is one BLAS call, as before."""
    _with_threads(monkeypatch, 2)
    made = []
    monkeypatch.setattr(_training, "Shards", lambda *a, **k: made.append(a))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 20))
    y = rng.integers(0, 3, 500)
    LinearSoftmaxClassifier(solver="gd", max_epochs=2).fit(X, y)
    assert made == []


def test_the_pool_is_closed_after_fit(monkeypatch):
    X, y = _problem(n=2000)
    _with_threads(monkeypatch, 2)
    pools = []
    real = _training.Shards

    def spy(*args, **kwargs):
        s = real(*args, **kwargs)
        pools.append(s.pool)
        return s

    monkeypatch.setattr(_training, "Shards", spy)
    est = LinearSoftmaxClassifier(solver="gd", max_epochs=2).fit(X, y)
    assert len(pools) == 1 and pools[0]._shutdown
    assert est.status_ == "max_epochs"


# ----------------------------------------------------------------------- the chooser


def _drive(chooser: Chooser, cost, calls):
    picks = []
    for i in range(calls):
        way = chooser.pick()
        picks.append(way)
        chooser.tell(way, cost(way, i))
    return picks


def test_chooser_alternates_then_keeps_the_faster_way():
    c = Chooser(warm=2, min_period=8, max_period=64)
    picks = _drive(c, lambda way, i: 1.0 if way else 2.0, 5)
    assert picks == [True, False, True, False, True]
    assert c.current is True
    c2 = Chooser(warm=2, min_period=8, max_period=64)
    _drive(c2, lambda way, i: 3.0 if way else 2.0, 5)
    assert c2.current is False


def test_chooser_probes_less_often_while_its_choice_holds():
    c = Chooser(warm=2, min_period=4, max_period=16)
    picks = _drive(c, lambda way, i: 1.0 if way else 2.0, 200)
    after = picks[5:]
    probes = [i for i, way in enumerate(after) if not way]
    gaps = np.diff(probes)
    # first probe after min_period calls; then every 8, then 16 (+ the probe itself)
    assert probes[0] == 4 and gaps[0] == 9
    assert set(gaps[1:]) == {17}  # capped at max_period
    assert c.current is True


def test_chooser_follows_a_change_of_load():
    """The threads win at first; then (another process took a core) serial wins."""
    c = Chooser(warm=2, min_period=4, max_period=16)

    def cost(way, i):
        if i < 50:
            return 1.0 if way else 2.0
        return 3.0 if way else 2.0

    picks = _drive(c, cost, 120)
    assert picks[5:50].count(True) >= 40
    assert c.current is False
    assert picks[-10:].count(False) >= 9


# ----------------------------------------------------------------- the blocked pass


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "exp_mse", "hinge"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_blocked_pass_equals_the_whole_products(dtype, loss, fit_intercept):
    """Block by block (scores in small pieces, ∇W summed over blocks) = two whole products."""
    from lossesbox.models.linear import block_rows, score_rows

    B = block_rows(70, 10, np.dtype(dtype).itemsize)
    n = 2 * B + 123  # two whole blocks and a ragged last one
    X, y = _problem(n=n, d=70)
    X = X.astype(dtype)
    obj = _LinearObjective(X, y, 10, get_loss(loss), 1e-2, fit_intercept, dtype)
    assert obj._blocks_pay and score_rows(10, B) < B and B % score_rows(10, B) == 0
    rng = np.random.default_rng(4)
    theta = (0.05 * rng.standard_normal(obj.size)).astype(dtype)
    ref_grad = np.empty_like(theta)
    ref = obj.evaluate(theta, ref_grad)
    obj.blocked = True
    grad = np.empty_like(theta)
    ev = obj.evaluate(theta, grad)
    bgrad = np.empty_like(theta)
    part = slice(5, n - 7)  # rows other than self.X: true indices computed per block
    btotal = obj.forward_backward(theta, bgrad, X[part], y[part])
    obj.blocked = False
    ref_b = np.empty_like(theta)
    ref_btotal = obj.forward_backward(theta, ref_b, X[part], y[part])
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(ev.objective, ref.objective, rtol=rtol)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol * 10, atol=rtol * 1e-2)
    np.testing.assert_allclose(btotal, ref_btotal, rtol=rtol)
    np.testing.assert_allclose(bgrad, ref_b, rtol=rtol * 10, atol=rtol * 1e-2)
    assert ev.stats.n == ref.stats.n == n
    if dtype == np.float64:  # float32 scores may differ in the last bit: ties, signs
        assert ev.stats.hits == ref.stats.hits
        assert np.array_equal(ev.stats.neg, ref.stats.neg)


def test_block_sizes_follow_the_shape():
    from lossesbox.models.linear import block_rows, score_rows

    for D, K, item in [(100, 10, 4), (784, 10, 8), (2000, 50, 4), (5, 3, 8)]:
        B = block_rows(D, K, item)
        C = score_rows(K, B)
        assert B >= 256 and B % C == 0
        assert C * K <= 1200 or C == B
    assert score_rows(50, 256) == 256  # no small-output pieces for many classes


@pytest.mark.parametrize("solver", ["sgd", "momentum", "adam"])
def test_a_step_in_parts_on_threads_is_the_same_step(solver):
    """The optimizer step split over the threads (large parameter vectors) = one step."""
    from lossesbox.models._optim import make_rule
    from lossesbox.models._shards import MIN_STEP_BYTES

    rng = np.random.default_rng(5)
    size = 2 * MIN_STEP_BYTES // 8 + 13
    theta0 = rng.standard_normal(size)
    X, y = _problem(n=600, d=50)
    obj = _LinearObjective(X, y, 10, get_loss("mse"), 0.0, True, np.float64)
    one, two = theta0.copy(), theta0.copy()
    rule_one, rule_two = make_rule(solver, one, 0.01), make_rule(solver, two, 0.01)
    with Shards(obj.shard, X, y, 2, obj.macs) as shards:
        shards.batch_chooser.current = True
        for _ in range(3):
            grad = rng.standard_normal(size)
            rule_one.step(one, grad)
            shards.step(rule_two, two, grad)
    assert np.array_equal(one, two)
    assert not np.array_equal(one, theta0)


def test_chooser_keeps_the_threads_unless_serial_is_clearly_faster():
    """One timing of each way decides early, so a near tie (noise) keeps the threads."""
    from lossesbox.models._shards import MARGIN

    c = Chooser(warm=1, min_period=4, max_period=16)
    picks = _drive(c, lambda way, i: 1.0 if way else 0.95, 40)
    assert c.current is True and picks[3:].count(True) >= 30
    c = Chooser(warm=1, min_period=4, max_period=16)
    _drive(c, lambda way, i: 1.0 if way else MARGIN * 0.9, 3)
    assert c.current is False
