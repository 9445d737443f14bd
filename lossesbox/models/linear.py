r"""The regularized linear softmax classifier, trained with any registered loss.

Model and objective
-------------------
Scores are linear in the features, one row of weights per class, for every K
(including K = 2, where scikit-learn would keep a single row)::

    S = X @ W.T + b          X (N, D),  W (K, D),  b (K,),  S (N, K)

and the trainer minimizes the **mean** loss plus an L2 penalty on ``W`` (the bias is
not penalized):

.. math:: J(W, b) = \frac1N \sum_{i=1}^N L(s_i, y_i) + \frac{\lambda}{2}\lVert W\rVert_F^2

With ``G = ∂L_i/∂s_i`` stacked into an ``(N, K)`` matrix (what every
:class:`~lossesbox.losses.Loss` returns), the chain rule gives

.. math:: \nabla_W J = \frac1N G^\top X + \lambda W, \qquad \nabla_b J = \frac1N G^\top \mathbf 1 .

A full-batch evaluation of ``(J, ∇J)`` is therefore two matrix products (``X @ W.T`` and
``G.T @ X``) plus ``O(N K)`` work for the loss; that is all an epoch of ``gd`` costs, and
the same pass provides the epoch's statistics (objective, accuracy, gradient signs).

The seed writes the *summed* objective :math:`\sum_i L_i + \frac{\lambda'}{2}\lVert W\rVert^2`;
it is the same problem with :math:`\lambda' = N\lambda`.

Equivalences (standardized features, tight tolerances; checked in the tests)
- ``cross_entropy``, K ≥ 3: the optimum is scikit-learn's
  ``LogisticRegression(C=1/(λN))`` (intercepts up to a common constant).
- ``cross_entropy``, K = 2: ``LogisticRegression(C=2/(λN))`` with
  ``coef_ = W[1] - W[0]`` and ``intercept_ = b[1] - b[0]``.
- ``mse``: ridge regression on one-hot targets, ``Ridge(alpha=λ·N·K/2)``.

The training loop (solvers, mini-batches, history, stopping, divergence) is shared with
the other models and lives in :mod:`lossesbox.models._training`; this module holds only
what is specific to the linear model: its parameter layout and forward/backward pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ..losses import Loss
from ._pass import loss_pass, true_index
from ._training import Objective, SoftmaxClassifierBase, _numpy_blas

__all__ = ["LinearSoftmaxClassifier"]


class _LinearObjective(Objective):
    """``J`` and ``∇J`` of the linear model on fixed data, with reused buffers.

    Parameters live in one flat vector ``theta`` of length ``K·D + K``: ``W`` (row-major)
    then ``b``. The gradient is written into a flat vector of the same layout, so the
    update rules, L-BFGS and the norms all work on plain vectors.

    Scores are kept **transposed**, ``S.T = W @ X.T`` of shape ``(K, N)``, and the losses
    see the ``(N, K)`` view ``S.T.T`` (Fortran-ordered). Their row-wise work (max,
    log-sum-exp, the per-sample dot products) then runs along long contiguous class
    rows instead of rows of K numbers: about 10x faster for the softmax losses at K = 10,
    which is what keeps an epoch close to the cost of its two matrix products. The
    returned ``G`` is then Fortran-ordered too, so ``G.T @ X`` is a plain product.
    """

    def __init__(self, X, codes, n_classes, loss: Loss, lam, fit_intercept, dtype):
        super().__init__(X, codes, n_classes, loss, lam, fit_intercept, dtype)
        self.n_weights = self.K * self.D
        self.size = self.n_weights + self.K
        self.macs = self.D * self.K
        self._St: dict[int, np.ndarray] = {}  # score buffers (K, n) by number of rows n
        self._S_rows: dict[int, np.ndarray] = {}  # float32: the same as (n, K)
        self._St_scores: dict[int, np.ndarray] = {}  # the same for scores_t
        self._block = None  # buffers of the blocked pass (see _blocked_pass)
        self._block_rows = block_rows(self.D, self.K, np.dtype(dtype).itemsize)
        # blocks pay where the products are memory-bound and OpenBLAS's small-output
        # kernel applies (few classes). At K = 50 (20000×2000×50) they measured 1.07-1.10x
        # the two whole products in float64, and 0.93-1.15x in float32 depending on the
        # loss and the run: not used there
        self._blocks_pay = score_rows(self.K, self._block_rows) < self._block_rows
        self._t_blocks: dict[int, np.ndarray] = {}  # true indices of each block of self.X

    def shard(self, X, codes) -> _LinearObjective:
        return _LinearObjective(
            X, codes, self.K, self.loss, self.lam, self.fit_intercept, self.dtype
        )

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Views ``(W (K, D), b (K,))`` of a flat parameter vector."""
        return theta[: self.n_weights].reshape(self.K, self.D), theta[self.n_weights :]

    def _scores_into(self, theta, X, buffers) -> np.ndarray:
        n = X.shape[0]
        St = buffers.get(n)
        if St is None:
            St = buffers[n] = np.empty((self.K, n), dtype=self.dtype)
        W, b = self.split(theta)
        np.matmul(W, X.T, out=St)
        if self.fit_intercept:
            St += b[:, None]
        return St

    def scores_t(self, theta, X) -> np.ndarray:
        """``S.T = W @ X.T + b`` (K, n)."""
        return self._scores_into(theta, X, self._St_scores)

    def forward_backward(self, theta, grad, X, codes, stats=None):
        """Scores, loss and ``G``; then ``∇_W J = G.T @ X / n + λW``, ``∇_b J = G.sum(0) / n``.

        On one BLAS thread (``self.blocked``, set by ``fit``: every row shard, or a fit
        on one thread) a large pass goes block by block (:meth:`_blocked_pass`) where
        that pays. Otherwise two BLAS calls on all rows at once: with OpenBLAS's own
        threads, splitting X into row blocks measured no faster on this 2-core machine
        when idle and up to 3x slower when its cores are shared, because every BLAS call
        then waits for both threads. Between them, the per-sample work (bias, loss,
        ``G`` written over the scores, statistics) runs block by block in cache
        (:meth:`_loss_pass`), so ``G.T @ X`` reads ``G.T`` from the scores' buffer.
        """
        W, b = self.split(theta)
        n = X.shape[0]
        if self.blocked and self._blocks_pay and n >= 2 * self._block_rows:
            return self._blocked_pass(W, b, grad, X, codes, stats)
        St = self._St.get(n)
        if St is None:
            St = self._St[n] = np.empty((self.K, n), dtype=self.dtype)
        bias = b if self.fit_intercept else None
        if self.dtype == np.float32:
            # OpenBLAS's sgemm writes (n, K) = X @ W.T 1.2-1.9x faster here than (K, n) =
            # W @ X.T (dgemm: the other way round); the blocks are transposed in cache
            rows = self._S_rows.get(n)
            if rows is None:
                rows = self._S_rows[n] = np.empty((n, self.K), dtype=self.dtype)
            np.matmul(X, W.T, out=rows)
            total = self._loss_pass(St, codes, stats, bias, rows)
        else:
            np.matmul(W, X.T, out=St)
            total = self._loss_pass(St, codes, stats, bias)
        dW, db = self.split(grad)
        np.matmul(St, X, out=dW)
        self._finish(W, dW, db, self._col_sum, n)
        return total

    def _finish(self, W, dW, db, col_sum, n: int) -> None:
        """From ``dW = Gᵀ X`` and ``col_sum = Σ_i G_i`` to the mean gradient:
        ``∇_W J = dW / n + λW``, ``∇_b J = col_sum / n`` (0 without an intercept)."""
        dW *= 1.0 / n
        if self.lam:
            dW += self.lam * W
        if self.fit_intercept:
            np.multiply(col_sum, 1.0 / n, out=db, casting="same_kind")
        else:
            db[:] = 0

    def _blocked_pass(self, W, b, grad, X, codes, stats) -> float:
        """:meth:`forward_backward` on many rows, :func:`block_rows` at a time.

        Per block of rows ``X_B``: its scores ``S_B = X_B Wᵀ`` (one batched product of
        :func:`score_rows`-row pieces), the loss pass on them (``G_B.T`` written into
        the block's score buffer), then ``∇_W += G_Bᵀ X_B`` while ``X_B`` is still in
        cache. X is then read from memory once per pass, not twice, the scores never
        leave the cache, and each block costs a few dozen numpy calls, few enough that
        two shards on two threads rarely wait for each other's GIL.
        """
        K, D, n = self.K, self.D, X.shape[0]
        B = self._block_rows
        C = score_rows(K, B)
        if self._block is None:
            self._block = (
                np.empty(K * B, dtype=self.dtype),  # the block's scores (K, m), then G.T
                np.empty((B, K), dtype=self.dtype),  # the block's scores as (m, K)
                np.empty((K, D), dtype=self.dtype),  # the block's G_Bᵀ X_B
                np.empty(K, dtype=np.float64),  # Σ of G over all blocks, per class
            )
        buf, rows, part, col = self._block
        dW, db = self.split(grad)
        dW[:] = 0
        col[:] = 0
        bias = b if self.fit_intercept else None
        full = codes is self.codes
        total = 0.0
        for a in range(0, n, B):
            e = min(a + B, n)
            m = e - a
            block_scores(X[a:e], W, rows[:m], C)
            cb = codes[a:e]
            if full:
                t = self._t_blocks.get(a)
                if t is None:
                    t = self._t_blocks[a] = true_index(cb, m)
            else:
                t = true_index(cb, m)
            Sb = buf[: K * m].reshape(K, m)
            total += loss_pass(self.loss, Sb, cb, t, self._col_sum, stats, bias, rows[:m])
            col += self._col_sum
            np.matmul(Sb, X[a:e], out=part)
            dW += part
        self._finish(W, dW, db, col, n)
        return total


def block_scores(X_block: np.ndarray, W: np.ndarray, out: np.ndarray, C: int) -> None:
    """``out = X_block Wᵀ`` (m, K) as :func:`score_rows`-row pieces of ``C`` rows: one
    batched call for the whole pieces (numpy loops over them without the GIL), one for
    the rest."""
    m, D = X_block.shape
    pieces, rest = divmod(m, C)
    if pieces:
        whole = pieces * C
        np.matmul(
            X_block[:whole].reshape(pieces, C, D), W.T, out=out[:whole].reshape(pieces, C, -1)
        )
    if rest:
        np.matmul(X_block[m - rest :], W.T, out=out[m - rest :])


@functools.cache
def block_rows(D: int, K: int, itemsize: int) -> int:
    """Rows per block of :meth:`_LinearObjective._blocked_pass`.

    Enough rows that a block's work (``4·D·K`` flops per row) is about ``BLOCK_FLOPS``,
    well above the ≈40 µs of Python and numpy calls each block costs, and few enough
    that the block of X stays in cache (≤ ``BLOCK_BYTES``) between its two products; at
    least 256; a multiple of :func:`score_rows`.
    """
    by_work = int(BLOCK_FLOPS // (4 * D * K))
    by_cache = BLOCK_BYTES // (D * itemsize)
    rows = max(256, min(by_work, by_cache))
    C = score_rows(K, rows)
    return max(C, rows // C * C)


BLOCK_FLOPS = 4e7
BLOCK_BYTES = 4 << 20


@functools.cache
def score_rows(K: int, block: int) -> int:
    """Rows per score product ``W X_cᵀ`` inside a block.

    OpenBLAS (numpy's BLAS) has a faster kernel for small outputs: on this machine
    ``W X_cᵀ`` runs at 85–100 GFLOP/s on one core (float32, K = 10, D = 100–784) while its
    ``(K, rows)`` output has fewer than ≈1250 entries, and at 25–28 GFLOP/s above. So with
    OpenBLAS and K ≤ 18 the block's scores are computed ``⌊1200 / K⌋`` rows at a time
    (≥ 64); otherwise in one product per block. Depends on the shapes only, never on
    timing, so a fit's numbers do not change from run to run.
    """
    small = 1200 // K
    if small >= 64 and _blas_is_openblas():
        return min(small, block)
    return block


def _blas_is_openblas() -> bool:
    return any(lib.get("internal_api") == "openblas" for lib in _numpy_blas())


class LinearSoftmaxClassifier(SoftmaxClassifierBase):
    r"""Linear softmax classifier trained on any registered loss.

    Minimizes :math:`J(W, b) = \frac1N\sum_i L(s_i, y_i) + \frac{\lambda}{2}\lVert W\rVert_F^2`
    with :math:`s_i = W x_i + b` (see the module docstring for the gradient and the
    equivalences with scikit-learn). ``coef_`` has shape ``(K, D)`` and ``intercept_``
    ``(K,)`` for every K, **including K = 2** (scikit-learn keeps ``(1, D)`` there);
    ``decision_function`` still follows scikit-learn and returns ``s₁ − s₀`` for K = 2.

    Parameters
    ----------
    loss : str or Loss, default="cross_entropy"
        A name in :data:`lossesbox.LOSSES` or a :class:`~lossesbox.losses.Loss` instance.
    lam : float, default=1e-3
        λ ≥ 0 in J (mean convention: the summed objective's λ is ``N * lam``).
    solver : {"gd", "momentum", "sgd", "adam", "lbfgs"}, default="lbfgs"
        ``gd``: one full-batch step per epoch. ``momentum``: full-batch heavy ball,
        ``v ← 0.9 v + ∇J``, ``θ ← θ − η v``. ``sgd`` / ``adam``: one shuffled pass of
        mini-batches per epoch (Adam: β₁ = 0.9, β₂ = 0.999, ε = 1e-8, bias-corrected).
        ``lbfgs``: ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` on the flat
        ``(W, b)`` vector in float64; one iteration = one epoch.
    learning_rate : float, default=0.1
        Step size η > 0 of gd, momentum, sgd and adam (Adam usually wants ~0.01).
        Ignored by lbfgs.
    max_epochs : int, default=200
        Maximum number of update epochs (lbfgs: ``maxiter``).
    batch_size : int or None, default=256
        Mini-batch size of sgd and adam; ``None`` (or a size ≥ N) means full batch.
        Ignored by the other solvers.
    tol : float, default=1e-6
        gd/momentum/sgd/adam stop with status ``"converged"`` once the relative change
        ``|J_{t-1} − J_t| / max(|J_{t-1}|, tiny)`` stays ≤ ``tol`` for 3 consecutive
        epochs. lbfgs passes ``ftol=tol`` (the same relative-decrease test, made by
        scipy per iteration) and ``gtol=tol`` (largest gradient component) to scipy.
        ``tol=0`` disables the test.
    init : {"zeros", "normal"}, default="zeros"
        Initial weights: all zero, or i.i.d. N(0, 0.01²) drawn from ``random_state``.
        The bias always starts at 0.
    fit_intercept : bool, default=True
        Learn the (unpenalized) bias ``b``; if False, ``b = 0``.
    validation_fraction : float, default=0.0
        Share of the training data held out (stratified, drawn from ``random_state``)
        to report ``val_accuracy`` and ``val_loss`` (mean data loss, no penalty) each
        epoch. 0 disables it (the keys are then NaN). Training uses the rest.
    dtype : {"float64", "float32"}, default="float64"
        Compute dtype. X is cast once if needed; the whole loop runs in this dtype
        (lbfgs hands scipy float64 copies of the parameters and gradient).
    random_state : int, RandomState or None, default=None
        Seeds the validation split, the ``normal`` init and sgd/adam shuffling, drawn
        in that order from one generator.
    callback : callable or None, default=None
        ``callback(record)`` after every epoch, epoch 0 included, with a fresh dict
        (one ``history_`` record). Returning ``False`` stops training
        (``status_ = "stopped"``).
    history : {"exact", "running"}, default="exact"
        How sgd/adam fill ``history_`` after each epoch. ``"exact"``: one extra pass over
        the whole training set at the epoch's final parameters (the cost of a full-batch
        epoch's two matrix products). ``"running"``: no extra pass; the record
        accumulates what the epoch's mini-batches computed anyway, each batch at the
        parameters *before* its own step: ``data_loss`` and ``objective`` are the mean
        batch values (the penalty at each batch's weights, weighted by batch size),
        ``train_accuracy`` and the sign shares are counted batch by batch, ``grad_norm``
        is the norm of the epoch's mean mini-batch gradient ``(1/N) Σ_B |B| ∇J_B`` (not
        the full-batch gradient at the end), ``weight_norm`` the root of the batches' mean
        ``‖w_B‖²``. These lag the exact values by up to one epoch (early batches saw older
        parameters) and carry mini-batch noise. Epoch 0 is always exact; ``tol`` compares
        consecutive running objectives; divergence is the first batch whose loss is not
        finite, and the parameters from the start of that epoch are kept. Validation
        metrics stay exact. Full-batch solvers (gd, momentum, ``batch_size=None``) and
        lbfgs evaluate exactly in every case: their one pass per epoch is that evaluation.

    Attributes
    ----------
    coef_ : ndarray (K, D)
    intercept_ : ndarray (K,)
    classes_ : ndarray (K,)
    n_features_in_ : int
    history_ : list of dict
        One record per epoch: epoch 0 holds the initial parameters (before any update,
        so the gradient signs at initialization are visible), epoch t the parameters
        after t update epochs. Keys: :func:`history_keys` (``epoch, objective,
        data_loss, penalty, train_accuracy, val_accuracy, val_loss, grad_norm, weight_norm,
        seconds, wrong_way_share, true_wrong_way_share, wrong_zero_share, true_zero_share`` and
        per class c ``wrong_way_share.class_<c>``, ``wrong_zero_share.class_<c>``,
        ``true_wrong_way_share.class_<c>``). Everything is measured on the full training
        set at that epoch's parameters: ``grad_norm`` is ``‖(∇_W J, ∇_b J)‖_F``,
        ``weight_norm`` is ``‖W‖_F`` (the intercept is not penalized, not counted), the sign
        shares come from :func:`lossesbox.diagnostics.sign_shares` of ``G``.
        ``seconds`` is the wall time since ``fit`` started, not counting time spent
        inside ``callback``.
    n_iter_ : int
        Number of update epochs run, ``len(history_) - 1`` (epoch 0 is not an update).
    status_ : {"converged", "max_epochs", "stopped", "diverged"}
    stop_reason_ : str
        One sentence saying why training stopped.

    Notes
    -----
    Divergence (a non-finite objective or gradient) never raises: training stops, the
    last finite parameters are kept, ``status_ = "diverged"`` and a ``RuntimeWarning``
    names the epoch and what to try. The non-finite epoch is not recorded.

    Threads: with numpy's BLAS on S ≥ 2 threads, large passes (the full training set,
    large mini-batches) run as S row shards side by side, one BLAS thread each, or one
    after another when that is faster (a timed choice that never changes the numbers;
    :mod:`lossesbox.models._shards`). ``threadpoolctl.threadpool_limits(1)`` around
    ``fit`` keeps a fit on one core. Results are reproducible for a given S and data
    shape; a different thread count may change the last bits.
    """

    def __init__(
        self,
        loss: str | Loss = "cross_entropy",
        lam: float = 1e-3,
        solver: str = "lbfgs",
        learning_rate: float = 0.1,
        max_epochs: int = 200,
        batch_size: int | None = 256,
        tol: float = 1e-6,
        init: str = "zeros",
        fit_intercept: bool = True,
        validation_fraction: float = 0.0,
        dtype: str = "float64",
        random_state=None,
        callback: Callable[[dict], bool | None] | None = None,
        history: str = "exact",
    ):
        self.loss = loss
        self.lam = lam
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.tol = tol
        self.init = init
        self.fit_intercept = fit_intercept
        self.validation_fraction = validation_fraction
        self.dtype = dtype
        self.random_state = random_state
        self.callback = callback
        self.history = history

    # ------------------------------------------------------------------ model hooks
    _INITS = ("zeros", "normal")

    def _objective(self, X, codes, n_classes, loss, dtype) -> _LinearObjective:
        return _LinearObjective(
            X, codes, n_classes, loss, float(self.lam), self.fit_intercept, dtype
        )

    def _initial_theta(self, obj: _LinearObjective, rng) -> np.ndarray:
        theta = np.zeros(obj.size, dtype=obj.dtype)
        if self.init == "normal":
            theta[: obj.n_weights] = rng.normal(0.0, 0.01, size=obj.n_weights)
        return theta

    def _set_fitted(self, obj: _LinearObjective, theta: np.ndarray) -> None:
        W, b = obj.split(theta)
        self.coef_ = W.copy()
        self.intercept_ = b.copy()

    def _fitted_theta(self, obj: _LinearObjective) -> np.ndarray:
        return np.concatenate([self.coef_.ravel(), self.intercept_])

    def _fitted_dtype(self) -> np.dtype:
        return self.coef_.dtype

    def scores(self, X) -> np.ndarray:
        """Class scores ``S = X @ coef_.T + intercept_``, shape ``(N, K)``."""
        X = self._check_X(X)
        return X @ self.coef_.T + self.intercept_
