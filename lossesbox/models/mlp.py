r"""A multi-layer perceptron with a softmax-style output, trained on any registered loss.

Model and objective
-------------------
With hidden sizes ``h_1, …, h_{L-1}`` and activation ``φ`` (ReLU or tanh), layer ``l``
has weights ``W_l`` of shape ``(n_in, n_out)`` and biases ``b_l`` of shape ``(n_out,)``
(scikit-learn's ``coefs_`` / ``intercepts_``)::

    A_0 = X,   A_l = φ(A_{l-1} W_l + b_l)  (l < L),   S = A_{L-1} W_L + b_L   (N, K)

The output layer has K units for every K (K = 2 included), and the scores ``S`` go into
the loss exactly as the linear model's do, so ``G = ∂L_i/∂s_i``, the gradient signs and
every history key mean the same thing. The objective penalizes the weights, not the
biases:

.. math:: J = \frac1N \sum_{i=1}^N L(s_i, y_i) + \frac{\lambda}{2}\sum_l \lVert W_l\rVert_F^2

Backpropagation, with ``Δ_L = G / N`` and ``Z_l = A_{l-1} W_l + b_l``:

.. math:: \nabla_{W_l} J = A_{l-1}^\top Δ_l + \lambda W_l,\quad
   \nabla_{b_l} J = Δ_l^\top \mathbf 1,\quad
   Δ_{l-1} = (Δ_l W_l^\top) \odot φ'(Z_{l-1})

with ``φ'(z) = 1[z > 0]`` (ReLU; 0 at z = 0) or ``1 − tanh²(z)``.

For full-batch solvers and K ≥ 3 this is scikit-learn's ``MLPClassifier`` objective with
``alpha = λ·N`` (scikit-learn divides its penalty by the batch size, and uses a single
logistic unit when K = 2).

Only the forward/backward pass and the initialization live here; the solvers,
mini-batches, history, callbacks, statuses and divergence handling are the shared loop
of :mod:`lossesbox.models._training`.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from ..losses import Loss
from ._training import Objective, SoftmaxClassifierBase, _is_int

__all__ = ["ACTIVATIONS", "MLPSoftmaxClassifier"]

ACTIVATIONS = ("relu", "tanh")
"""Valid values of ``activation``."""


class _Buffers:
    """Activations and backward scratch for one number of rows ``n``, allocated once."""

    def __init__(self, hidden: Sequence[int], K: int, n: int, dtype):
        self.A = [np.empty((h, n), dtype=dtype) for h in hidden]  # φ(Z_l).T
        self.dA = [np.empty((h, n), dtype=dtype) for h in hidden]  # Δ_l.T
        self.tmp = [np.empty((h, n), dtype=dtype) for h in hidden]  # φ'(Z_l).T
        self.St = np.empty((K, n), dtype=dtype)
        self.dS = np.empty((K, n), dtype=dtype)


class _MLPObjective(Objective):
    """``J`` and ``∇J`` of the MLP on fixed data, with reused buffers.

    Layout of the flat vector ``theta``: every ``W_l`` (row-major, shape ``(n_in, n_out)``)
    in layer order, then every ``b_l``; the penalized weights are ``theta[:n_weights]``.

    Activations are kept **transposed** (``(h_l, n)``), as the linear model keeps its
    scores: the output layer then writes ``S.T`` (K, n) directly, the losses see the
    Fortran-ordered ``(n, K)`` view and run along contiguous class rows, and every
    product is one BLAS call on the whole batch.
    """

    def __init__(
        self,
        X,
        codes,
        n_classes,
        loss: Loss,
        lam,
        fit_intercept,
        dtype,
        hidden: Sequence[int],
        activation: str,
    ):
        super().__init__(X, codes, n_classes, loss, lam, fit_intercept, dtype)
        self.hidden = tuple(int(h) for h in hidden)
        self.activation = activation
        sizes = (self.D, *self.hidden, self.K)
        self.shapes = list(itertools.pairwise(sizes))
        self._w_off = np.cumsum([0] + [a * b for a, b in self.shapes]).tolist()
        self.n_weights = self._w_off[-1]
        self._b_off = (self.n_weights + np.cumsum([0, *sizes[1:]])).tolist()
        self.size = self._b_off[-1]
        self.macs = max(a * b for a, b in self.shapes)  # the largest product per row
        self._train_buffers: dict[int, _Buffers] = {}
        self._score_buffers: dict[int, _Buffers] = {}
        self._penalty_grad = np.empty(self.n_weights, dtype=dtype)

    def shard(self, X, codes) -> _MLPObjective:
        return _MLPObjective(
            X,
            codes,
            self.K,
            self.loss,
            self.lam,
            self.fit_intercept,
            self.dtype,
            self.hidden,
            self.activation,
        )

    def layers(self, theta: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views ``[(W_l (n_in, n_out), b_l (n_out,)), …]`` of a flat parameter vector."""
        return [
            (
                theta[self._w_off[i] : self._w_off[i + 1]].reshape(shape),
                theta[self._b_off[i] : self._b_off[i + 1]],
            )
            for i, shape in enumerate(self.shapes)
        ]

    def _buffers(self, cache: dict[int, _Buffers], n: int) -> _Buffers:
        buf = cache.get(n)
        if buf is None:  # at most three sizes: N, the batch and the last remainder
            buf = cache[n] = _Buffers(self.hidden, self.K, n, self.dtype)
        return buf

    def _forward(self, layers, X, buf: _Buffers) -> np.ndarray:
        """Fill ``buf.A`` with the hidden activations and return ``S.T`` (K, n)."""
        prev = X.T
        relu = self.activation == "relu"
        for (W, b), A in zip(layers[:-1], buf.A, strict=True):
            np.matmul(W.T, prev, out=A)
            if self.fit_intercept:
                A += b[:, None]
            if relu:
                np.maximum(A, 0, out=A)
            else:
                np.tanh(A, out=A)
            prev = A
        W, b = layers[-1]
        St = np.matmul(W.T, prev, out=buf.St)
        if self.fit_intercept:
            St += b[:, None]
        return St

    def scores_t(self, theta, X) -> np.ndarray:
        """``S.T`` (K, n) of the rows ``X``."""
        buf = self._buffers(self._score_buffers, X.shape[0])
        return self._forward(self.layers(theta), X, buf)

    def forward_backward(self, theta, grad, X, codes, stats=None):
        """Forward, loss and ``G``, then backpropagation into ``grad`` (see the module)."""
        n = X.shape[0]
        buf = self._buffers(self._train_buffers, n)
        layers = self.layers(theta)
        St = self._forward(layers, X, buf)
        total = self._loss_pass(St, codes, stats)  # St now holds G.T
        delta = np.multiply(St, 1.0 / n, out=buf.dS)  # Δ_L.T (K, n)
        grads = self.layers(grad)
        relu = self.activation == "relu"
        for k in range(len(layers) - 1, -1, -1):  # layer k, from the output down
            W, _ = layers[k]
            dW, db = grads[k]
            prev = buf.A[k - 1] if k > 0 else X.T
            np.matmul(prev, delta.T, out=dW)
            if self.fit_intercept:
                np.sum(delta, axis=1, out=db)
            else:
                db[:] = 0
            if k == 0:
                break
            d_prev = np.matmul(W, delta, out=buf.dA[k - 1])  # (Δ_k W_kᵀ).T
            A, tmp = buf.A[k - 1], buf.tmp[k - 1]
            if relu:
                np.greater(A, 0, out=tmp)  # φ'(Z) from A = max(Z, 0): Z > 0 ⇔ A > 0
            else:
                np.multiply(A, A, out=tmp)
                np.subtract(1, tmp, out=tmp)
            d_prev *= tmp
            delta = d_prev
        if self.lam:
            np.multiply(theta[: self.n_weights], self.lam, out=self._penalty_grad)
            grad[: self.n_weights] += self._penalty_grad
        return total


def _check_hidden(hidden) -> tuple[int, ...]:
    if _is_int(hidden):
        hidden = (hidden,)
    elif isinstance(hidden, str) or not isinstance(hidden, Sequence | np.ndarray):
        raise ValueError(
            "hidden_layer_sizes must be a sequence of positive integers such as (100,) or "
            f"(100, 100); got {hidden!r}"
        )
    sizes = tuple(hidden)
    if not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) for h in sizes) or any(
        h < 1 for h in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be a sequence of positive integers such as (100,) or "
            f"(100, 100); got {hidden!r}"
        )
    return tuple(int(h) for h in sizes)


class MLPSoftmaxClassifier(SoftmaxClassifierBase):
    r"""Multi-layer perceptron trained on any registered loss, with K output scores.

    Minimizes :math:`J = \frac1N\sum_i L(s_i, y_i) + \frac{\lambda}{2}\sum_l\lVert W_l\rVert_F^2`
    where ``s_i`` are the outputs of the last (linear) layer; see the module docstring
    for the forward and backward pass. Same parameters, ``history_`` keys, statuses,
    callback and divergence rules as :class:`~lossesbox.LinearSoftmaxClassifier`.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Units of each hidden layer, as scikit-learn's ``MLPClassifier``. ``()`` is allowed
        (no hidden layer: the linear model with glorot initialization).
    activation : {"relu", "tanh"}, default="relu"
        Hidden-layer activation; the output layer is linear (the loss sees raw scores).
    loss, lam, solver, max_epochs, batch_size, tol, fit_intercept, validation_fraction,
    dtype, random_state, callback, history
        As in :class:`~lossesbox.LinearSoftmaxClassifier` (``lam`` penalizes every
        ``coefs_[l]``, never the biases; ``solver="lbfgs"`` works too).
    solver : default="adam"
        The MLP defaults to Adam, as scikit-learn's ``MLPClassifier``.
    learning_rate : float, default=0.001
        Adam's step size, as scikit-learn's ``learning_rate_init``; sgd usually wants
        about 0.01–0.1.
    init : {"glorot", "normal"}, default="glorot"
        ``glorot``: weights **and** biases drawn U(±√(6/(fan_in + fan_out))) per layer,
        as scikit-learn's MLP initializes them. ``normal``: weights N(0, 0.01²), biases 0.
        ``"zeros"`` raises a ``ValueError``: all hidden units of a layer would compute
        the same function and receive the same gradient, so they would stay identical.
        Drawn from ``random_state`` after the validation split.
    warm_start : bool, default=False
        If True and the model is fitted, ``fit`` starts from the current ``coefs_`` and
        ``intercepts_`` (same features, classes and architecture required). It starts a
        new ``history_`` whose epoch 0 is those parameters; ``n_iter_`` counts this fit
        only; the optimizer state (momentum, Adam moments) starts fresh.

    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[l]`` of shape ``(n_in, n_out)``, the last one ``(h_last, K)``.
    intercepts_ : list of ndarray
        ``intercepts_[l]`` of shape ``(n_out,)``, the last one ``(K,)``.
    classes_, n_features_in_, history_, n_iter_, status_, stop_reason_
        As in :class:`~lossesbox.LinearSoftmaxClassifier`; ``weight_norm`` in the history
        is ``√(Σ_l ‖W_l‖²)`` and ``grad_norm`` the norm of the whole gradient.
    n_layers_ : int
        Number of layers counting the input, as scikit-learn (``len(hidden) + 2``).
    n_outputs_ : int
        K.
    out_activation_ : str
        ``"softmax"`` for the probabilities of ``predict_proba`` (scores are raw).
    """

    _INITS = ("glorot", "normal")

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (100,),
        activation: str = "relu",
        loss: str | Loss = "cross_entropy",
        lam: float = 1e-3,
        solver: str = "adam",
        learning_rate: float = 0.001,
        max_epochs: int = 200,
        batch_size: int | None = 256,
        tol: float = 1e-6,
        init: str = "glorot",
        fit_intercept: bool = True,
        validation_fraction: float = 0.0,
        dtype: str = "float64",
        random_state=None,
        callback: Callable[[dict], bool | None] | None = None,
        warm_start: bool = False,
        history: str = "exact",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
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
        self.warm_start = warm_start
        self.history = history

    # ------------------------------------------------------------------ validation
    def _check_init(self) -> None:
        if self.init == "zeros":
            raise ValueError(
                "init='zeros' cannot train an MLP: every hidden unit of a layer would "
                "compute the same function and receive the same gradient, so they would "
                "stay identical forever; use init='glorot' (default) or 'normal'"
            )
        super()._check_init()

    def _check_model_params(self) -> None:
        _check_hidden(self.hidden_layer_sizes)
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}"
            )
        if not isinstance(self.warm_start, bool | np.bool_):
            raise ValueError(f"warm_start must be True or False; got {self.warm_start!r}")

    def _warm(self) -> bool:
        return bool(self.warm_start) and hasattr(self, "coefs_")

    def _reset_on_fit(self) -> bool:
        return not self._warm()

    def _check_classes(self, classes: np.ndarray) -> None:
        if self._warm() and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start needs the classes of the previous fit ({self.classes_.tolist()}); "
                f"y has {classes.tolist()}. Set warm_start=False to start afresh."
            )

    # ------------------------------------------------------------------ model hooks
    def _objective(self, X, codes, n_classes, loss, dtype) -> _MLPObjective:
        return _MLPObjective(
            X,
            codes,
            n_classes,
            loss,
            float(self.lam),
            self.fit_intercept,
            dtype,
            _check_hidden(self.hidden_layer_sizes),
            self.activation,
        )

    def _initial_theta(self, obj: _MLPObjective, rng) -> np.ndarray:
        if self._warm():
            shapes = [W.shape for W in self.coefs_]
            if shapes != obj.shapes:
                raise ValueError(
                    f"warm_start needs the architecture of the previous fit (layer shapes "
                    f"{shapes}); now {obj.shapes}. Set warm_start=False to start afresh."
                )
            theta = self._fitted_theta(obj).astype(obj.dtype)
            if not self.fit_intercept:
                theta[obj.n_weights :] = 0
            return theta
        theta = np.zeros(obj.size, dtype=obj.dtype)
        for W, b in obj.layers(theta):
            fan_in, fan_out = W.shape
            if self.init == "glorot":  # scikit-learn's _init_coef: coefs then intercepts
                bound = np.sqrt(6.0 / (fan_in + fan_out))
                W[:] = rng.uniform(-bound, bound, (fan_in, fan_out))
                b_init = rng.uniform(-bound, bound, fan_out)
                if self.fit_intercept:
                    b[:] = b_init
            else:
                W[:] = rng.normal(0.0, 0.01, size=(fan_in, fan_out))
        return theta

    def _set_fitted(self, obj: _MLPObjective, theta: np.ndarray) -> None:
        layers = obj.layers(theta)
        self.coefs_ = [W.copy() for W, _ in layers]
        self.intercepts_ = [b.copy() for _, b in layers]
        self.n_layers_ = len(layers) + 1
        self.n_outputs_ = obj.K
        self.out_activation_ = "softmax"

    def _fitted_theta(self, obj: _MLPObjective) -> np.ndarray:
        return np.concatenate([W.ravel() for W in self.coefs_] + list(self.intercepts_))

    def _fitted_dtype(self) -> np.dtype:
        return self.coefs_[0].dtype

    # ------------------------------------------------------------------ prediction
    def scores(self, X) -> np.ndarray:
        """Output-layer scores ``S`` (N, K) (the loss's input; no softmax applied)."""
        X = self._check_X(X)
        A = X.astype(self.coefs_[0].dtype, copy=False)
        for W, b in zip(self.coefs_[:-1], self.intercepts_[:-1], strict=True):
            A = A @ W
            A += b
            if self.activation == "relu":
                np.maximum(A, 0, out=A)
            else:
                np.tanh(A, out=A)
        S = A @ self.coefs_[-1]
        S += self.intercepts_[-1]
        return S
