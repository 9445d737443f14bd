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
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._optim import make_rule
from .diagnostics import sign_shares, sign_shares_from_labels
from .losses import LOSSES, Loss, _softmax_parts, get_loss

__all__ = ["HISTORY_KEYS", "SOLVERS", "LinearSoftmaxClassifier", "history_keys"]

SOLVERS = ("gd", "momentum", "sgd", "adam", "lbfgs")
"""Valid values of ``solver``."""

HISTORY_KEYS = (
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
)
"""Keys of every ``history_`` record that do not depend on the number of classes."""

_PER_CLASS_KEYS = ("wrong_way_share", "wrong_zero_share", "true_wrong_way_share")

_N_ITER_NO_CHANGE = 3
"""Consecutive epochs whose relative objective change must stay below ``tol``."""


def history_keys(n_classes: int) -> list[str]:
    """All keys of a ``history_`` record for ``n_classes`` classes, in record order."""
    keys = list(HISTORY_KEYS)
    for c in range(n_classes):
        keys.extend(f"{name}.class_{c}" for name in _PER_CLASS_KEYS)
    return keys


@dataclass
class _Evaluation:
    """Objective, gradient norm and the arrays behind the epoch statistics at one point."""

    objective: float
    data_loss: float
    penalty: float
    grad_norm: float
    weight_norm: float  # ‖W‖_F
    St: np.ndarray  # scores, transposed (K, N); a reused buffer, valid until the next pass
    G: np.ndarray  # dL_i/ds_i (N, K)

    @property
    def finite(self) -> bool:
        return math.isfinite(self.objective) and math.isfinite(self.grad_norm)


class _LinearObjective:
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
        self.X = X
        self.codes = codes
        self.N, self.D = X.shape
        self.K = n_classes
        self.loss = loss
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.dtype = dtype
        self.Yt = _one_hot_t(codes, n_classes, dtype)  # (K, N)
        self.n_weights = self.K * self.D
        self.size = self.n_weights + self.K
        self._St = np.empty((self.K, self.N), dtype=dtype)

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Views ``(W (K, D), b (K,))`` of a flat parameter vector."""
        return theta[: self.n_weights].reshape(self.K, self.D), theta[self.n_weights :]

    def _pass(self, theta, grad, X, Yt, St) -> tuple[float, np.ndarray]:
        """Forward and backward on the rows ``X``: returns (summed data loss, G).

        Fills ``St`` (K, n) with the scores and writes ``G.T @ X / n + λW`` and
        ``G.sum(0) / n`` into ``grad``. Two BLAS calls on all rows at once: splitting X
        into cache-sized row blocks (so it streams from memory once, not twice) measured
        no faster on this 2-core machine when idle and up to 3x slower when its cores
        are shared, because every BLAS call then waits for both threads.
        """
        W, b = self.split(theta)
        np.matmul(W, X.T, out=St)
        if self.fit_intercept:
            St += b[:, None]
        values, G = self.loss.loss_and_gradient(St.T, Yt.T)
        n = X.shape[0]
        dW, db = self.split(grad)
        np.matmul(G.T, X, out=dW)
        dW *= 1.0 / n
        if self.lam:
            dW += self.lam * W
        if self.fit_intercept:
            np.sum(G, axis=0, out=db)
            db *= 1.0 / n
        else:
            db[:] = 0
        return float(values.sum()), G

    def evaluate(self, theta: np.ndarray, grad: np.ndarray) -> _Evaluation:
        """Full-batch ``J`` at ``theta``; writes ``∇J`` into ``grad``."""
        total, G = self._pass(theta, grad, self.X, self.Yt, self._St)
        data_loss = total / self.N
        w = theta[: self.n_weights]
        w_sq = float(np.dot(w, w))
        penalty = 0.5 * self.lam * w_sq
        grad_norm = math.sqrt(float(np.dot(grad, grad)))
        return _Evaluation(
            data_loss + penalty, data_loss, penalty, grad_norm, math.sqrt(w_sq), self._St, G
        )


def _accuracy(St: np.ndarray, codes: np.ndarray) -> float:
    """Share of columns of ``St`` (K, N) whose first maximum is at ``codes``.

    The same answer as ``mean(St.argmax(axis=0) == codes)`` (ties go to the first class,
    as in ``predict``) without argmax's transposed copy: compare the true score with the
    column maximum, and settle only the tied columns with argmax.
    """
    n = St.shape[1]
    top = St.max(axis=0)
    hit = St.take(codes * n + np.arange(n)) == top
    tied = hit & (np.count_nonzero(St == top, axis=0) > 1)
    if tied.any():
        idx = np.flatnonzero(tied)
        hit[idx] = St[:, idx].argmax(axis=0) == codes[idx]
    return float(np.count_nonzero(hit)) / n


class _MiniBatches:
    """Shuffled mini-batch gradients ``∇J_B = G_B^T X_B / |B| + λW`` with reused buffers."""

    def __init__(self, objective: _LinearObjective, batch_size: int):
        self.obj = objective
        self.batch_size = min(batch_size, objective.N)
        self._buffers: dict[int, tuple[np.ndarray, ...]] = {}

    def _buffers_for(self, n: int):
        if n not in self._buffers:  # at most two sizes: the batch and the last remainder
            obj = self.obj
            self._buffers[n] = (
                np.empty((n, obj.D), dtype=obj.dtype),
                np.empty((obj.K, n), dtype=obj.dtype),
                np.empty((obj.K, n), dtype=obj.dtype),
            )
        return self._buffers[n]

    def epoch(self, theta, grad, rule, rng) -> None:
        """One shuffled pass over the training set, one update per mini-batch."""
        obj = self.obj
        order = rng.permutation(obj.N)
        for start in range(0, obj.N, self.batch_size):
            idx = order[start : start + self.batch_size]
            Xb, Yb, Sb = self._buffers_for(idx.shape[0])
            np.take(obj.X, idx, axis=0, out=Xb)
            np.take(obj.Yt, idx, axis=1, out=Yb)
            obj._pass(theta, grad, Xb, Yb, Sb)
            rule.step(theta, grad)


_THREADED_MACS = 1 << 25
"""Matrix products below this many multiply-adds (N·D·K) run on one BLAS thread."""


def _is_small(macs: int) -> bool:
    return macs < _THREADED_MACS


def _blas_threads(macs: int):
    """One BLAS thread for products of fewer than ``_THREADED_MACS`` multiply-adds.

    Measured on this 2-core machine: for mini-batch products (256×784 by 784×10) one
    thread is as fast as two when the machine is idle and 2–3x faster when its cores
    are shared, and for 256×2000×50 two busy-waiting threads were 25x slower. Large
    full-batch products keep all threads. The limit is process-wide while it lasts
    (``threadpoolctl``), entered once per fit or once per mini-batch epoch.
    """
    if not _is_small(macs):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _one_hot_t(codes: np.ndarray, n_classes: int, dtype) -> np.ndarray:
    """Transposed one-hot targets, shape ``(K, N)``."""
    Yt = np.zeros((n_classes, codes.shape[0]), dtype=dtype)
    Yt[codes, np.arange(codes.shape[0])] = 1
    return Yt


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class LinearSoftmaxClassifier(ClassifierMixin, BaseEstimator):
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

    # ------------------------------------------------------------------ validation
    def _validated_params(self) -> tuple[Loss, np.dtype]:
        if isinstance(self.loss, Loss):
            loss = self.loss
        elif isinstance(self.loss, str):
            loss = get_loss(self.loss)  # ValueError listing the valid names
        else:
            raise ValueError(
                f"loss must be a name in LOSSES ({', '.join(LOSSES)}) or a Loss instance; "
                f"got {self.loss!r}"
            )
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; valid solvers: {', '.join(SOLVERS)}")
        if not _is_real(self.lam) or not math.isfinite(self.lam) or self.lam < 0:
            raise ValueError(f"lam must be a finite number >= 0; got {self.lam!r}")
        lr = self.learning_rate
        if not _is_real(lr) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning_rate must be a finite number > 0; got {lr!r}")
        if not _is_int(self.max_epochs) or self.max_epochs < 1:
            raise ValueError(f"max_epochs must be an integer >= 1; got {self.max_epochs!r}")
        if self.batch_size is not None and (not _is_int(self.batch_size) or self.batch_size < 1):
            raise ValueError(
                f"batch_size must be an integer >= 1 or None (full batch); got {self.batch_size!r}"
            )
        if not _is_real(self.tol) or not self.tol >= 0:
            raise ValueError(f"tol must be a number >= 0; got {self.tol!r}")
        if self.init not in ("zeros", "normal"):
            raise ValueError(f"init must be 'zeros' or 'normal'; got {self.init!r}")
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise ValueError(f"fit_intercept must be True or False; got {self.fit_intercept!r}")
        vf = self.validation_fraction
        if not _is_real(vf) or not 0.0 <= vf < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1); got {vf!r}")
        try:
            dtype = np.dtype(self.dtype) if self.dtype is not None else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.type not in (np.float64, np.float32):
            raise ValueError(f"dtype must be 'float64' or 'float32'; got {self.dtype!r}")
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be callable or None; got {self.callback!r}")
        return loss, dtype

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y) -> LinearSoftmaxClassifier:
        """Minimize J on ``(X, y)``; returns ``self``. See the class docstring."""
        t_start = time.perf_counter()
        loss, dtype = self._validated_params()
        X, y = validate_data(self, X, y, dtype=dtype)
        try:
            check_classification_targets(y)
            classes, codes = np.unique(y, return_inverse=True)
        except TypeError as err:  # e.g. strings and numbers mixed in one object array
            raise ValueError(
                f"class labels in y cannot be ordered ({err}); use one label type, "
                "all strings or all numbers"
            ) from None
        if classes.shape[0] < 2:
            raise ValueError(
                f"y has only one class ({classes[0].item()!r}); "
                "a classifier needs at least 2 classes"
            )
        K = classes.shape[0]
        rng = check_random_state(self.random_state)

        X_val = codes_val = None
        if self.validation_fraction > 0:
            X, X_val, codes, codes_val = self._split(X, codes, rng)

        obj = _LinearObjective(X, codes, K, loss, float(self.lam), self.fit_intercept, dtype)
        theta = np.zeros(obj.size, dtype=dtype)
        if self.init == "normal":
            theta[: obj.n_weights] = rng.normal(0.0, 0.01, size=obj.n_weights)

        run = _Run(self, obj, X_val, codes_val, t_start)
        with (
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
            _blas_threads(obj.N * obj.D * obj.K),
        ):
            if self.solver == "lbfgs":
                theta = run.lbfgs(theta)
            else:
                theta = run.first_order(theta, rng)

        W, b = obj.split(theta)
        self.classes_ = classes
        self.coef_ = W.copy()
        self.intercept_ = b.copy()
        self.history_ = run.history
        self.n_iter_ = len(run.history) - 1
        self.status_ = run.status
        self.stop_reason_ = run.reason
        if run.status == "diverged":
            warnings.warn(run.reason, RuntimeWarning, stacklevel=2)
        return self

    def _split(self, X, codes, rng):
        try:
            return train_test_split(
                X,
                codes,
                test_size=self.validation_fraction,
                stratify=codes,
                random_state=rng.randint(np.iinfo(np.int32).max),
            )
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} cannot make a stratified "
                f"hold-out of {X.shape[0]} samples in {np.bincount(codes).size} classes "
                f"({exc}); use a larger fraction, more data, or validation_fraction=0"
            ) from None

    # ------------------------------------------------------------------ prediction
    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def scores(self, X) -> np.ndarray:
        """Class scores ``S = X @ coef_.T + intercept_``, shape ``(N, K)``."""
        X = self._check_X(X)
        return X @ self.coef_.T + self.intercept_

    def decision_function(self, X) -> np.ndarray:
        """``scores(X)`` for K ≥ 3; ``s₁ − s₀`` of shape ``(N,)`` for K = 2."""
        S = self.scores(X)
        if S.shape[1] == 2:
            return S[:, 1] - S[:, 0]
        return S

    def predict_proba(self, X) -> np.ndarray:
        """``softmax(scores(X))`` row-wise, shape ``(N, K)``."""
        P, _ = _softmax_parts(self.scores(X))
        return P

    def predict_log_proba(self, X) -> np.ndarray:
        """``log softmax(scores(X))``, computed stably."""
        S = self.scores(X)
        _, lse = _softmax_parts(S)
        return S - lse[:, None]

    def predict(self, X) -> np.ndarray:
        """The class with the largest score."""
        S = self.scores(X)
        return self.classes_[S.argmax(axis=1)]

    def objective(self, X, y) -> float:
        r"""``J(W, b) = (1/N) Σ L(s_i, y_i) + (λ/2)‖W‖²`` at the fitted parameters."""
        X = self._check_X(X)
        y = np.asarray(y)
        codes = np.searchsorted(self.classes_, y)
        codes = np.minimum(codes, self.classes_.shape[0] - 1)
        if y.ndim != 1 or y.shape[0] != X.shape[0] or np.any(self.classes_[codes] != y):
            raise ValueError(
                "y must be a 1-D array of length N with labels among classes_ "
                f"{self.classes_.tolist()}"
            )
        loss, _ = self._validated_params()
        dtype = self.coef_.dtype
        obj = _LinearObjective(
            X.astype(dtype, copy=False),
            codes,
            self.classes_.shape[0],
            loss,
            float(self.lam),
            self.fit_intercept,
            dtype,
        )
        theta = np.concatenate([self.coef_.ravel(), self.intercept_])
        with np.errstate(over="ignore", invalid="ignore"):
            return obj.evaluate(theta, np.empty_like(theta)).objective

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class _Run:
    """Book-keeping of one ``fit``: history records, callback, stopping rules."""

    def __init__(self, est: LinearSoftmaxClassifier, obj: _LinearObjective, X_val, codes_val, t0):
        self.est = est
        self.obj = obj
        self.t0 = t0
        self.callback_seconds = 0.0
        self.n_true = np.bincount(obj.codes, minlength=obj.K)  # samples per class
        self.history: list[dict] = []
        self.status = "max_epochs"
        self.reason = ""
        self.X_val = X_val
        if X_val is not None:
            self.Yt_val = _one_hot_t(codes_val, obj.K, obj.dtype)
            self.codes_val = codes_val
            self._St_val = np.empty((obj.K, X_val.shape[0]), dtype=obj.dtype)

    # -------------------------------------------------------------- records
    def _validation(self, theta) -> tuple[float, float]:
        if self.X_val is None:
            return math.nan, math.nan
        W, b = self.obj.split(theta)
        St = np.matmul(W, self.X_val.T, out=self._St_val)
        if self.obj.fit_intercept:
            St += b[:, None]
        values = self.obj.loss.loss(St.T, self.Yt_val.T)
        accuracy = _accuracy(St, self.codes_val)
        return accuracy, float(np.mean(values))

    def record(self, epoch: int, theta: np.ndarray, ev: _Evaluation) -> bool:
        """Append the record of ``epoch``; call the callback. False means stop."""
        if ev.finite:  # no NaN in G: counting by label is exact and 1.4-3x cheaper
            signs = sign_shares_from_labels(ev.G, self.obj.codes, n_true=self.n_true)
        else:
            signs = sign_shares(ev.G, self.obj.Yt.T)
        val_accuracy, val_loss = self._validation(theta)
        rec = {
            "epoch": epoch,
            "objective": ev.objective,
            "data_loss": ev.data_loss,
            "penalty": ev.penalty,
            "train_accuracy": _accuracy(ev.St, self.obj.codes),
            "val_accuracy": val_accuracy,
            "val_loss": val_loss,
            "grad_norm": ev.grad_norm,
            "weight_norm": ev.weight_norm,
            "seconds": time.perf_counter() - self.t0 - self.callback_seconds,
            "wrong_way_share": signs.wrong_way_share,
            "true_wrong_way_share": signs.true_wrong_way_share,
            "wrong_zero_share": signs.wrong_zero_share,
            "true_zero_share": _weighted_share(signs.true_zero, signs.n_true),
        }
        for c in range(self.obj.K):
            rec[f"wrong_way_share.class_{c}"] = float(signs.wrong_wrong[c])
            rec[f"wrong_zero_share.class_{c}"] = float(signs.wrong_zero[c])
            rec[f"true_wrong_way_share.class_{c}"] = float(signs.true_wrong[c])
        self.history.append(rec)
        callback = self.est.callback
        if callback is None:
            return True
        t = time.perf_counter()
        try:
            answer = callback(dict(rec))
        finally:
            self.callback_seconds += time.perf_counter() - t
        if answer is False:
            self.status = "stopped"
            self.reason = f"Stopped by the callback after epoch {epoch}."
            return False
        return True

    def _diverged(self, epoch: int, ev: _Evaluation) -> None:
        self.status = "diverged"
        what = "objective" if not math.isfinite(ev.objective) else "gradient"
        self.reason = (
            f"Diverged: the {what} became non-finite at epoch {epoch}; kept the parameters "
            f"of epoch {epoch - 1}. Try a smaller learning_rate (now {self.est.learning_rate}), "
            f"a larger lam (now {self.est.lam}), or another loss."
        )

    def _initial(self, theta, grad) -> _Evaluation | None:
        """Evaluate and record epoch 0; None when training must not start."""
        ev = self.obj.evaluate(theta, grad)
        if not ev.finite:
            self.record(0, theta, ev)  # recorded anyway: history_ is never empty
            self.status = "diverged"
            what = "objective" if not math.isfinite(ev.objective) else "gradient"
            tries = ["standardized features (e.g. StandardScaler)"]
            if self.est.init != "zeros":
                tries.insert(0, "init='zeros'")
            if what == "objective":
                tries.append("another loss")
            self.reason = (
                f"Diverged: the {what} is non-finite at the initial parameters (epoch 0), "
                f"before any step: it overflowed {self.obj.X.dtype} with these features "
                f"(largest |x| = {np.abs(self.obj.X).max():.3g}). Try {', '.join(tries[:-1])}"
                f"{' or ' if len(tries) > 1 else ''}{tries[-1]}."
            )
            return None
        if not self.record(0, theta, ev):
            return None
        return ev

    # -------------------------------------------------------------- first-order solvers
    def first_order(self, theta: np.ndarray, rng) -> np.ndarray:
        est, obj = self.est, self.obj
        grad = np.empty_like(theta)
        ev = self._initial(theta, grad)
        if ev is None:
            return theta
        rule = make_rule(est.solver, theta, float(est.learning_rate))
        full_batch = est.solver in ("gd", "momentum") or est.batch_size is None
        batches = None if full_batch else _MiniBatches(obj, est.batch_size)
        # the whole fit may already run on one BLAS thread (small problems); if not,
        # small mini-batch products still do (see _blas_threads)
        one_thread = batches is not None and _is_small(batches.batch_size * obj.D * obj.K)
        one_thread = one_thread and not _is_small(obj.N * obj.D * obj.K)
        previous = np.empty_like(theta)
        tol = float(est.tol)
        quiet = 0
        J_prev = ev.objective
        for epoch in range(1, est.max_epochs + 1):
            previous[:] = theta
            if batches is None:
                rule.step(theta, grad)  # grad = ∇J at theta, from the last evaluation
            elif one_thread:
                with _blas_threads(0):
                    batches.epoch(theta, grad, rule, rng)
            else:
                batches.epoch(theta, grad, rule, rng)
            ev = obj.evaluate(theta, grad)
            if not ev.finite:
                self._diverged(epoch, ev)
                return previous
            if not self.record(epoch, theta, ev):
                return theta
            change = abs(J_prev - ev.objective)
            quiet = quiet + 1 if tol > 0 and change <= tol * max(abs(J_prev), 1e-300) else 0
            J_prev = ev.objective
            if quiet >= _N_ITER_NO_CHANGE:
                self.status = "converged"
                self.reason = (
                    f"Converged at epoch {epoch}: the objective's relative change stayed "
                    f"below tol={est.tol:g} for {_N_ITER_NO_CHANGE} consecutive epochs."
                )
                return theta
        self.reason = (
            f"Reached max_epochs={est.max_epochs} before the objective's relative change "
            f"stayed below tol={est.tol:g}."
        )
        return theta

    # -------------------------------------------------------------- L-BFGS-B
    def lbfgs(self, theta: np.ndarray) -> np.ndarray:
        from scipy.optimize import minimize

        est, obj = self.est, self.obj
        grad = np.empty_like(theta)
        n_opt = obj.size if obj.fit_intercept else obj.n_weights
        cache: dict = {}

        def evaluate(x: np.ndarray) -> _Evaluation:
            if "x" in cache and np.array_equal(x, cache["x"]):
                return cache["ev"]
            theta[:n_opt] = x
            ev = obj.evaluate(theta, grad)
            cache.update(x=np.array(x, dtype=np.float64), ev=ev, g=grad[:n_opt].astype(np.float64))
            return ev

        def fun(x):
            ev = evaluate(x)
            if not ev.finite:  # a line-search trial overflowed: scipy backtracks
                state["nonfinite"] += 1
                return math.inf, np.zeros(n_opt)
            return ev.objective, cache["g"].copy()

        ev = self._initial(theta, grad)
        if ev is None:
            return theta
        x0 = theta[:n_opt].astype(np.float64)
        cache.update(x=x0.copy(), ev=ev, g=grad[:n_opt].astype(np.float64))
        best = {"x": x0.copy()}
        state = {"epoch": 0, "diverged": False, "nonfinite": 0}

        def on_iteration(intermediate_result):
            x = intermediate_result.x
            ev = evaluate(x)
            state["epoch"] += 1
            if not ev.finite:
                state["diverged"] = True
                raise StopIteration
            best["x"] = np.array(x, dtype=np.float64)
            if not self.record(state["epoch"], theta, ev):
                raise StopIteration

        tol = float(est.tol)
        result = minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            callback=on_iteration,
            options={
                "maxiter": est.max_epochs,
                "maxfun": max(15000, 50 * est.max_epochs),
                "ftol": tol,
                "gtol": tol,
                "maxls": 50,
            },
        )
        theta[:n_opt] = best["x"]  # the last recorded iterate (not a line-search trial)
        if self.status == "stopped":
            return theta
        if state["diverged"]:
            self._diverged(state["epoch"], cache["ev"])
            return theta
        message = str(result.message).removeprefix("CONVERGENCE: ").rstrip(".")
        if state["epoch"] >= est.max_epochs:
            self.status = "max_epochs"
            self.reason = (
                f"Reached max_epochs={est.max_epochs} L-BFGS-B iterations before scipy's "
                f"tolerances (ftol=gtol={est.tol:g}) were met."
            )
        elif not result.success and state["epoch"] == 0:
            # Not one iteration succeeded: the line search failed from the start (e.g.
            # features of scale 1e50). An ABNORMAL stop *after* progress is usually the
            # optimum reached to machine precision, and stays "converged" below.
            self.status = "diverged"
            self.reason = (
                f"L-BFGS-B could not take a single step ({message.lower()}): the objective "
                "is badly scaled; standardize the features, increase lam, or use "
                "solver='gd' with a small learning_rate."
            )
            warnings.warn(self.reason, RuntimeWarning, stacklevel=4)
            return theta
        else:
            self.status = "converged"
            self.reason = (
                f"L-BFGS-B stopped after {state['epoch']} iterations: {message.lower()} "
                f"(ftol=gtol={est.tol:g})."
            )
        if state["nonfinite"]:
            self.reason = self.reason[:-1] + (
                f"; {state['nonfinite']} line-search trial point(s) had a non-finite "
                "objective (scores overflowed), so scipy backtracked: standardize the "
                "features or increase lam if the result looks poor."
            )
        return theta


def _weighted_share(share: np.ndarray, n: np.ndarray) -> float:
    total = n.sum()
    if total == 0:
        return math.nan
    return float(np.nansum(share * n) / total)
