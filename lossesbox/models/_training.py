r"""The training loop shared by every model: solvers, mini-batches, history, stopping.

A model is an *objective* (a subclass of :class:`Objective`) on fixed data plus an
estimator class (a subclass of :class:`SoftmaxClassifierBase`). The objective supplies
only what is specific to the model:

- its **parameter layout**: one flat vector ``theta``, every penalized weight first
  (``theta[:n_weights]``), then the biases (``theta[n_weights:size]``);
- its **forward/backward pass** on a batch of rows, :meth:`Objective.forward_backward`:
  the summed data loss and ``∇J`` written into a flat gradient of the same layout; the
  per-sample work on the scores (loss, ``G = ∂L_i/∂s_i``, and the statistics a history
  record needs) goes through :meth:`Objective._loss_pass` (:mod:`._pass`), shared;
- its **scores** for held-out rows (:meth:`Objective.scores_t`);
- ``macs``, the multiply-adds per row of its largest matrix product (for the BLAS
  thread rule, :func:`_blas_threads`).

The estimator supplies the initial parameters and turns ``theta`` into its fitted
attributes. Everything else lives here once:

.. math:: J(\theta) = \frac1N \sum_{i=1}^N L(s_i, y_i) + \frac{\lambda}{2}\lVert w\rVert^2,
   \qquad w = \theta_{[:n_{weights}]}

(the penalty, its gradient ``λw`` and the norms), the update rules (:mod:`._optim`),
shuffled mini-batches, L-BFGS-B, the per-epoch evaluation on the full training set
(:meth:`Objective.evaluate`, then :meth:`_Run.record`), the callback, the statuses
``converged / max_epochs / stopped / diverged``, and how the passes use the cores
(:func:`_passes`: row shards on threads, :mod:`._shards`, or the BLAS-thread limit).
"""

from __future__ import annotations

import contextlib
import functools
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

from ..losses import LOSSES, Loss, _softmax_parts, get_loss
from ._optim import make_rule
from ._pass import PassStats, loss_pass, true_index
from ._shards import MIN_SHARD_MACS, Shards, gather_rows

__all__ = [
    "HISTORY_KEYS",
    "SOLVERS",
    "Objective",
    "SoftmaxClassifierBase",
    "history_keys",
]

SOLVERS = ("gd", "momentum", "sgd", "adam", "lbfgs")
"""Valid values of ``solver``."""

HISTORIES = ("exact", "running")
"""Valid values of ``history``."""

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
    """Objective, gradient norm and the counts behind one history record."""

    objective: float
    data_loss: float
    penalty: float
    grad_norm: float
    weight_norm: float  # ‖w‖ over the penalized weights
    stats: PassStats  # accuracy hits and gradient-sign counts of the pass

    @property
    def finite(self) -> bool:
        return math.isfinite(self.objective) and math.isfinite(self.grad_norm)


class Objective:
    """``J`` and ``∇J`` of one model on fixed training data; subclasses add the model.

    Subclasses set ``n_weights``, ``size`` and ``macs`` in their ``__init__`` (after
    calling this one) and implement :meth:`forward_backward` and :meth:`scores_t`.
    Training labels are integer ``codes`` in ``[0, K)``; the losses see hard labels.
    """

    n_weights: int
    size: int
    macs: int

    def __init__(self, X, codes, n_classes, loss: Loss, lam, fit_intercept, dtype):
        self.X = X
        self.codes = codes
        self.N, self.D = X.shape
        self.K = n_classes
        self.loss = loss
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.dtype = dtype
        self._t_full = true_index(codes, self.N)  # flat true-class indices in (K, N)
        self._t_batch = np.empty(0, dtype=np.intp)
        self._col_sum = np.empty(n_classes, dtype=np.float64)
        self.shards: Shards | None = None  # set by ``fit`` when the passes are sharded
        # set by ``fit`` when this objective's passes run on one BLAS thread: large passes
        # may then go block by block (a model's choice, see the linear model)
        self.blocked = False

    def shard(self, X: np.ndarray, codes: np.ndarray) -> Objective:
        """An objective of the same model (same loss, λ, dtype, …) on the rows ``X``."""
        raise NotImplementedError

    @property
    def Yt(self) -> np.ndarray:
        """Transposed one-hot targets (K, N) (built on demand; the passes use ``codes``)."""
        return _one_hot_t(self.codes, self.K, self.dtype)

    def forward_backward(self, theta, grad, X, codes, stats: PassStats | None = None) -> float:
        """Forward and backward on the rows ``X`` (n, D) with labels ``codes`` (n,).

        Returns ``Σ_i L_i`` and writes ``(1/n) Σ_i ∂L_i/∂θ + λ·w`` into ``grad`` (zero
        for the biases when ``fit_intercept`` is False). With ``stats``, adds the pass's
        accuracy and gradient-sign counts to it (at the parameters ``theta``, before any
        step). The scores' per-sample work goes through :meth:`_loss_pass`.
        """
        raise NotImplementedError

    def _loss_pass(self, St, codes, stats=None, bias=None, rows=None) -> float:
        """:func:`._pass.loss_pass` on the scores ``St`` (K, n): ``St`` becomes ``G.T``,
        ``self._col_sum`` holds ``Σ_i G[i, :]``; ``bias`` (K,), if given, is added to the
        scores first, block by block (cheaper than a separate pass over ``St``); ``rows``
        (n, K), if given, holds the scores to transpose into ``St`` block by block."""
        n = St.shape[1]
        if codes is self.codes:
            t = self._t_full
        else:
            if self._t_batch.shape[0] < n:
                self._t_batch = np.empty(n, dtype=np.intp)
            t = true_index(codes, n, out=self._t_batch[:n])
        return loss_pass(self.loss, St, codes, t, self._col_sum, stats, bias, rows)

    def scores_t(self, theta, X) -> np.ndarray:
        """Transposed scores ``S.T`` (K, n) of the rows ``X``; may be a reused buffer."""
        raise NotImplementedError

    def evaluate(self, theta: np.ndarray, grad: np.ndarray) -> _Evaluation:
        """Full-batch ``J`` at ``theta``; writes ``∇J`` into ``grad``."""
        stats = PassStats(self.K)
        if self.shards is not None:
            total = self.shards.full(theta, grad, stats)
        else:
            total = self.forward_backward(theta, grad, self.X, self.codes, stats)
        data_loss = total / self.N
        w = theta[: self.n_weights]
        w_sq = float(np.dot(w, w))
        penalty = 0.5 * self.lam * w_sq
        grad_norm = math.sqrt(float(np.dot(grad, grad)))
        return _Evaluation(
            data_loss + penalty, data_loss, penalty, grad_norm, math.sqrt(w_sq), stats
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


class _RunningEpoch:
    r"""One epoch's statistics accumulated from its mini-batches (``history="running"``).

    Each batch ``B`` contributes what its own pass computed anyway, at the parameters
    :math:`\theta_B` it saw *before* its step: its summed loss, accuracy hits and
    gradient-sign counts (:class:`._pass.PassStats`), :math:`|B|\,\lVert w_B\rVert^2` and
    its gradient :math:`\nabla J_B`. The record is then

    - ``data_loss`` :math:`= \frac1N \sum_B \sum_{i\in B} L(s_i(\theta_B), y_i)`,
      ``penalty`` :math:`= \frac{\lambda}{2} \frac1N \sum_B |B|\,\lVert w_B\rVert^2`,
      ``objective`` their sum, ``weight_norm`` :math:`= (\frac1N\sum_B |B|\,\lVert
      w_B\rVert^2)^{1/2}`;
    - ``grad_norm`` :math:`= \lVert \frac1N \sum_B |B|\,\nabla J_B \rVert`, the norm of the
      epoch's mean mini-batch gradient;
    - accuracy and sign shares over all N samples, each counted in its batch.
    """

    def __init__(self, obj: Objective):
        self.obj = obj
        self.stats = PassStats(obj.K)
        self.w_sq = 0.0  # Σ_B |B| ‖w_B‖²
        self.grad_sum = np.zeros(obj.size, dtype=np.float64)  # Σ_B (|B| / batch) ∇J_B
        self.bad_batch: int | None = None  # index of the first non-finite batch

    def evaluation(self, batch_size: int) -> _Evaluation:
        obj, N = self.obj, self.obj.N
        data_loss = self.stats.loss_sum / N
        w_sq = self.w_sq / N
        penalty = 0.5 * obj.lam * w_sq
        mean_grad = self.grad_sum * (batch_size / N)
        grad_norm = math.sqrt(float(np.dot(mean_grad, mean_grad)))
        return _Evaluation(
            data_loss + penalty, data_loss, penalty, grad_norm, math.sqrt(w_sq), self.stats
        )


class _MiniBatches:
    """Shuffled mini-batch gradients ``∇J_B`` (mean over the batch ``B`` + λw), reused buffers."""

    def __init__(self, objective: Objective, batch_size: int):
        self.obj = objective
        self.batch_size = min(batch_size, objective.N)
        self._buffers: dict = {}  # gather_rows buffers by number of rows

    def epoch(self, theta, grad, rule, rng, running: _RunningEpoch | None = None) -> bool:
        """One shuffled pass over the training set, one update per mini-batch.

        With ``running``, also accumulate the epoch's statistics into it; a batch with a
        non-finite loss stops the epoch before its step (returns False, with
        ``running.bad_batch`` set).
        """
        obj = self.obj
        order = rng.permutation(obj.N)
        n_w = obj.n_weights
        for start in range(0, obj.N, self.batch_size):
            idx = order[start : start + self.batch_size]
            n = idx.shape[0]
            stats = None if running is None else running.stats
            if obj.shards is not None and obj.shards.wants(n):
                total = obj.shards.batch_rows(theta, grad, idx, stats)
            else:
                Xb, cb = gather_rows(obj.X, obj.codes, idx, self._buffers, n)
                total = obj.forward_backward(theta, grad, Xb, cb, stats)
            if running is not None:
                if not math.isfinite(total):
                    running.bad_batch = start // self.batch_size
                    return False
                w = theta[:n_w]
                running.w_sq += n * float(np.dot(w, w))
                if n == self.batch_size:
                    running.grad_sum += grad
                else:
                    running.grad_sum += grad * (n / self.batch_size)
            if obj.shards is not None:
                obj.shards.step(rule, theta, grad)
            else:
                rule.step(theta, grad)
        return True


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
    return _threadpool_controller().limit(limits=1, user_api="blas")


_SHARDING = True
"""Row shards for large passes (:func:`_passes`); the bench's ``--shards off`` clears it."""


@contextlib.contextmanager
def _passes(obj: Objective):
    """How the fit's passes use the cores: row shards on threads, or the BLAS rule.

    With ``S`` ≥ 2 BLAS threads (numpy's current setting, e.g. lowered by
    ``threadpoolctl.threadpool_limits``) and a training set worth it, every large pass
    runs as ``S`` row shards, each on one BLAS thread (:mod:`._shards`); otherwise the
    passes are single BLAS calls under :func:`_blas_threads`.
    """
    if not _SHARDING:
        with _blas_threads(obj.N * obj.macs):
            yield
        return
    S = _blas_thread_count()
    if S < 2 or obj.N < S or obj.N * obj.macs < S * MIN_SHARD_MACS:
        obj.blocked = S == 1 or _is_small(obj.N * obj.macs)  # one BLAS thread
        try:
            with _blas_threads(obj.N * obj.macs):
                yield
        finally:
            obj.blocked = False
        return
    with Shards(obj.shard, obj.X, obj.codes, S, obj.macs) as shards, _blas_threads(0):
        obj.shards = shards
        for part in shards.parts:
            part.blocked = True
        try:
            yield
        finally:
            obj.shards = None


def _numpy_blas() -> list[dict]:
    """``threadpoolctl`` info of numpy's own BLAS (all loaded BLAS if it cannot be told)."""
    libs = _threadpool_controller().select(user_api="blas").info()
    return [lib for lib in libs if "numpy" in lib.get("filepath", "")] or libs


def _blas_thread_count() -> int:
    """Threads numpy's BLAS would use now (1 if it cannot be told)."""
    return max((int(lib.get("num_threads") or 1) for lib in _numpy_blas()), default=1)


@functools.cache
def _threadpool_controller():
    """One ``ThreadpoolController`` per process: building it scans every loaded library
    (≈7 ms), while its ``limit`` costs microseconds, and mini-batch fits enter the limit
    once per epoch."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_hot_t(codes: np.ndarray, n_classes: int, dtype) -> np.ndarray:
    """Transposed one-hot targets, shape ``(K, N)``."""
    Yt = np.zeros((n_classes, codes.shape[0]), dtype=dtype)
    Yt[codes, np.arange(codes.shape[0])] = 1
    return Yt


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class SoftmaxClassifierBase(ClassifierMixin, BaseEstimator):
    """What every lossesbox classifier shares: validation, ``fit``, predictions.

    Subclasses define ``__init__`` (storing the common parameters below plus their own),
    ``_INITS`` (valid ``init`` values), ``_objective`` (the model's :class:`Objective`),
    ``_initial_theta``, ``_set_fitted`` / ``_fitted_theta`` (flat vector ↔ attributes)
    and ``scores``.
    """

    _INITS: tuple[str, ...] = ()

    loss: str | Loss
    lam: float
    solver: str
    learning_rate: float
    max_epochs: int
    batch_size: int | None
    tol: float
    init: str
    fit_intercept: bool
    validation_fraction: float
    dtype: str
    random_state: object
    callback: Callable[[dict], bool | None] | None
    history: str = "exact"

    # ------------------------------------------------------------------ model hooks
    def _objective(self, X, codes, n_classes, loss, dtype) -> Objective:
        raise NotImplementedError

    def _initial_theta(self, obj: Objective, rng) -> np.ndarray:
        raise NotImplementedError

    def _set_fitted(self, obj: Objective, theta: np.ndarray) -> None:
        raise NotImplementedError

    def _parameter_snapshot(self, obj: Objective, theta: np.ndarray) -> dict:
        """Copies of the fitted attributes ``theta`` stands for (``coef_``/``intercept_``
        or ``coefs_``/``intercepts_``), as ``_set_fitted`` would set them; the estimator
        itself is untouched. Passed to a callback with ``wants_parameters = True`` under
        the record's ``"parameters"`` key (the history itself never holds parameters)."""
        shadow = type(self).__new__(type(self))
        shadow._set_fitted(obj, theta)
        return dict(vars(shadow))

    def _fitted_theta(self, obj: Objective) -> np.ndarray:
        raise NotImplementedError

    def _check_init(self) -> None:
        if self.init not in self._INITS:
            valid = " or ".join(repr(i) for i in self._INITS)
            raise ValueError(f"init must be {valid}; got {self.init!r}")

    def _check_model_params(self) -> None:
        """Validate the parameters only this model has (none by default)."""

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
        self._check_init()
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
        if self.history not in HISTORIES:
            raise ValueError(
                f"history must be 'exact' (a full pass over the training set after every "
                f"epoch) or 'running' (statistics accumulated from the epoch's mini-batches); "
                f"got {self.history!r}"
            )
        self._check_model_params()
        return loss, dtype

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Minimize J on ``(X, y)``; returns ``self``. See the class docstring."""
        t_start = time.perf_counter()
        loss, dtype = self._validated_params()
        X, y = validate_data(self, X, y, dtype=dtype, reset=self._reset_on_fit())
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
        self._check_classes(classes)
        K = classes.shape[0]
        rng = check_random_state(self.random_state)

        X_val = codes_val = None
        if self.validation_fraction > 0:
            X, X_val, codes, codes_val = self._split(X, codes, rng)

        obj = self._objective(X, codes, K, loss, dtype)
        theta = self._initial_theta(obj, rng)

        run = _Run(self, obj, X_val, codes_val, t_start)
        with (
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
            _passes(obj),
        ):
            if self.solver == "lbfgs":
                theta = run.lbfgs(theta)
            else:
                theta = run.first_order(theta, rng)

        self.classes_ = classes
        self._set_fitted(obj, theta)
        self.history_ = run.history
        self.n_iter_ = len(run.history) - 1
        self.status_ = run.status
        self.stop_reason_ = run.reason
        if run.status == "diverged":
            warnings.warn(run.reason, RuntimeWarning, stacklevel=2)
        return self

    def _reset_on_fit(self) -> bool:
        """Whether ``fit`` forgets ``n_features_in_`` (False for a warm start)."""
        return True

    def _check_classes(self, classes: np.ndarray) -> None:
        """Hook for a warm start, which must see the classes of the first fit."""

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
        """Class scores, shape ``(N, K)``."""
        raise NotImplementedError

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
        r"""``J = (1/N) Σ L(s_i, y_i) + (λ/2)‖w‖²`` at the fitted parameters."""
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
        dtype = self._fitted_dtype()
        obj = self._objective(
            X.astype(dtype, copy=False), codes, self.classes_.shape[0], loss, dtype
        )
        theta = self._fitted_theta(obj)
        with np.errstate(over="ignore", invalid="ignore"):
            return obj.evaluate(theta, np.empty_like(theta)).objective

    def _fitted_dtype(self) -> np.dtype:
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class _Run:
    """Book-keeping of one ``fit``: history records, callback, stopping rules."""

    def __init__(self, est: SoftmaxClassifierBase, obj: Objective, X_val, codes_val, t0):
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

    # -------------------------------------------------------------- records
    def _validation(self, theta) -> tuple[float, float]:
        if self.X_val is None:
            return math.nan, math.nan
        St = self.obj.scores_t(theta, self.X_val)
        values = self.obj.loss.loss(St.T, self.Yt_val.T)
        accuracy = _accuracy(St, self.codes_val)
        return accuracy, float(np.mean(values))

    def record(self, epoch: int, theta: np.ndarray, ev: _Evaluation) -> bool:
        """Append the record of ``epoch``; call the callback. False means stop."""
        signs = ev.stats.signs()
        val_accuracy, val_loss = self._validation(theta)
        rec = {
            "epoch": epoch,
            "objective": ev.objective,
            "data_loss": ev.data_loss,
            "penalty": ev.penalty,
            "train_accuracy": ev.stats.accuracy,
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
        payload = dict(rec)
        if getattr(callback, "wants_parameters", False):
            # opt-in (the dashboard's replay): copies of this epoch's fitted attributes
            payload["parameters"] = self.est._parameter_snapshot(self.obj, theta)
        try:
            answer = callback(payload)
        finally:
            self.callback_seconds += time.perf_counter() - t
        if answer is False:
            self.status = "stopped"
            self.reason = f"Stopped by the callback after epoch {epoch}."
            return False
        return True

    def _diverged(self, epoch: int, ev: _Evaluation | None, batch: int | None = None) -> None:
        self.status = "diverged"
        if batch is not None:
            where = f"the loss of mini-batch {batch + 1} became non-finite in epoch {epoch}"
        else:
            what = "objective" if not math.isfinite(ev.objective) else "gradient"
            where = f"the {what} became non-finite at epoch {epoch}"
        self.reason = (
            f"Diverged: {where}; kept the parameters "
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
            if self.est.init != "zeros" and "zeros" in self.est._INITS:
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
        # full batch: the epoch's one pass is exact already, whatever ``history`` says
        running = batches is not None and est.history == "running"
        # the whole fit may already run on one BLAS thread (small problems); if not,
        # small mini-batch products still do (see _blas_threads)
        one_thread = batches is not None and _is_small(batches.batch_size * obj.macs)
        one_thread = one_thread and not _is_small(obj.N * obj.macs)
        previous = np.empty_like(theta)
        tol = float(est.tol)
        quiet = 0
        J_prev = ev.objective
        for epoch in range(1, est.max_epochs + 1):
            previous[:] = theta
            # 1. the epoch's updates (running history: its statistics, batch by batch)
            acc = _RunningEpoch(obj) if running else None
            if batches is None:
                rule.step(theta, grad)  # grad = ∇J at theta, from the last evaluation
            else:
                with _blas_threads(0) if one_thread else contextlib.nullcontext():
                    ok = batches.epoch(theta, grad, rule, rng, acc)
                if not ok:
                    self._diverged(epoch, None, acc.bad_batch)
                    return previous
            # 2. the epoch's record: a full pass over the training set (also ∇J for gd),
            # or the statistics its mini-batches accumulated
            ev = acc.evaluation(batches.batch_size) if acc else obj.evaluate(theta, grad)
            if not ev.finite:
                self._diverged(epoch, ev)
                return previous
            if not self.record(epoch, theta, ev):
                return theta
            # 3. stopping rule
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
                f"Diverged: L-BFGS-B could not take a single step from epoch 0 "
                f"({message.lower()}): the objective is badly scaled; standardize the "
                "features, increase lam, or use solver='gd' with a small learning_rate."
            )
            return theta  # fit warns once, as for every divergence
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
