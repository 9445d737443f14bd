r"""Classification losses on scores, with their gradients with respect to the scores.

Conventions
-----------
- ``S``: scores, shape ``(N, K)`` (N samples, K classes), any real values.
- ``Y``: targets, shape ``(N, K)``; each row a probability vector (one-hot for hard
  labels). Losses that only make sense for hard labels (``hinge``) check for one-hot rows.
- ``loss(S, Y)`` returns the per-sample values, shape ``(N,)``; a dataset loss is their
  **mean**, taken by the caller.
- ``gradient(S, Y)`` returns :math:`\partial L_i / \partial s_i` per sample, shape
  ``(N, K)``, **not** divided by N.
- ``p = softmax(s)`` row-wise. All softmax-based losses use the max-shifted
  ``logsumexp`` so they stay finite for any finite scores.
- Output dtype follows the inputs (``float32`` in, ``float32`` out).

Sign language (see :mod:`lossesbox.diagnostics`): gradient descent moves a score by
``-lr * dL/ds``. For a wrong class j (``y_j = 0``) a positive gradient pushes its score
down (the right way), a negative one pushes it up (the wrong way).

The registry :data:`LOSSES` maps each name to a ready :class:`Loss`; :func:`get_loss`
looks one up and names the valid choices when the name is unknown.

Note on the seed ``nn-loss-exploration.md``: its closing vector form of the softmax-MSE
gradient mixes the index j with the vector softmax(s). Written out correctly,
:math:`\nabla_s \ell = -\tfrac{2}{K}\, p \odot [(y - p) - ((y - p)\cdot p)\,\mathbf{1}]`,
which is what :class:`SoftmaxMSE` computes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LOSSES",
    "MSE",
    "CrossEntropy",
    "ExpMSE",
    "FocalLoss",
    "Hinge",
    "LabelSmoothingCrossEntropy",
    "Loss",
    "SoftmaxMSE",
    "Squentropy",
    "get_loss",
]


def _as_pair(S, Y) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes and return float arrays of a common floating dtype."""
    S = np.asarray(S)
    Y = np.asarray(Y)
    if S.ndim == 1:
        S = S[None, :]
    if Y.ndim == 1:
        Y = Y[None, :]
    if S.ndim != 2 or S.shape != Y.shape:
        raise ValueError(
            f"scores and targets must both have shape (N, K); got {S.shape} and {Y.shape}"
        )
    if S.shape[1] < 2:
        raise ValueError(f"need at least K=2 classes, got K={S.shape[1]}")
    dtype = np.result_type(S.dtype, Y.dtype, np.float32)
    if dtype not in (np.float32, np.float64):
        dtype = np.dtype(np.float64)
    return S.astype(dtype, copy=False), Y.astype(dtype, copy=False)


def _softmax_parts(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(P, lse)``: row-wise softmax and log-sum-exp, max-shifted for stability.

    Fused here (rather than calling ``scipy.special.softmax`` and ``logsumexp`` separately)
    because the trainer calls it every step: one exponential pass and one temporary.
    """
    m = S.max(axis=1, keepdims=True)
    P = np.subtract(S, m)
    np.exp(P, out=P)
    z = P.sum(axis=1, keepdims=True)
    P /= z
    lse = (m + np.log(z))[:, 0]
    return P, lse


def _softmax_t(S: np.ndarray, m: np.ndarray | None = None) -> np.ndarray:
    """Softmax of the columns of ``S`` (K, B) **in place**; returns ``log z`` (B,) with
    ``z = Σ_k exp(s_k − m)``, ``m`` the column maximum (computed unless given), so that
    ``logsumexp = m + log z``. Four passes over the block, no temporary of its size."""
    if m is None:
        m = S.max(axis=0)
    S -= m
    np.exp(S, out=S)
    z = S.sum(axis=0)
    log_z = np.log(z)
    np.reciprocal(z, out=z)
    S *= z
    return log_z


class Loss:
    """A per-sample classification loss on scores.

    Subclasses implement :meth:`loss_and_gradient`; :meth:`loss` and :meth:`gradient`
    are views on it (subclasses may override them with cheaper versions).

    Attributes
    ----------
    name : str
        Registry key.
    formula : str
        LaTeX of the per-sample loss (shown by the dashboard).
    gradient_formula : str
        LaTeX of the gradient with respect to the scores.
    smooth : bool
        Whether the loss is differentiable everywhere (hinge is not).
    reference : str
        Where the loss comes from.
    """

    name: str = ""
    formula: str = ""
    gradient_formula: str = ""
    smooth: bool = True
    hard_labels_only: bool = False
    reference: str = ""

    def loss(self, S, Y) -> np.ndarray:
        """Per-sample loss values, shape ``(N,)``."""
        return self.loss_and_gradient(S, Y)[0]

    def gradient(self, S, Y) -> np.ndarray:
        """Per-sample gradient with respect to the scores, shape ``(N, K)``."""
        return self.loss_and_gradient(S, Y)[1]

    def loss_and_gradient(self, S, Y) -> tuple[np.ndarray, np.ndarray]:
        """Both at once, sharing the work; ``((N,), (N, K))``."""
        raise NotImplementedError

    def _loss_grad_t(self, S: np.ndarray, codes: np.ndarray, flat: np.ndarray, t, m=None) -> float:
        """The trainer's fast path: hard labels, transposed scores, in place.

        ``S`` is a ``(K, B)`` block of transposed scores (a view of a C-contiguous
        buffer whose flat view is ``flat``), ``codes`` its labels (B,), and ``t`` the flat
        indices of its true-class entries, ``flat[t] = S[codes, arange(B)]``; ``m``, if
        given, the column maxima ``S.max(axis=0)`` (the caller may know them). Overwrites
        ``S`` with the transposed gradient ``G.T`` and returns ``Σ_i L_i`` over the block
        (a Python float). The same numbers as :meth:`loss_and_gradient` on one-hot
        targets; this default calls it. Subclasses override it with fused in-place work
        (no ``(B, K)`` temporaries beyond one, no one-hot targets), because the trainer
        runs it on every batch and on cache-sized blocks of every full pass.
        """
        Y = np.zeros(S.shape, dtype=S.dtype)
        Y[codes, np.arange(codes.shape[0])] = 1
        values, G = self.loss_and_gradient(S.T, Y.T)
        S[...] = G.T
        return float(values.sum())

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        args = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))


class CrossEntropy(Loss):
    r"""Softmax cross-entropy.

    .. math:: L(s, y) = -y\cdot s + (\textstyle\sum_j y_j)\,\log\sum_k e^{s_k}
              \qquad \nabla_s L = (\textstyle\sum_j y_j)\,p - y

    For a probability vector y (``sum(y) = 1``) this is :math:`H(y, p) = -\sum_j y_j \log p_j`,
    and for one-hot y it is :math:`-\log p_{true}` (seed ``cross-entropy-derivation.md``).
    Wrong-class gradients are :math:`p_j \ge 0`: CE never pushes a wrong score up.

    >>> import numpy as np
    >>> S = np.log([[0.1, 0.2, 0.1, 0.4, 0.2]])   # softmax(S) = (.1, .2, .1, .4, .2)
    >>> Y = np.array([[0, 0, 0, 1, 0]])
    >>> np.round(CrossEntropy().gradient(S, Y), 6).tolist()
    [[0.1, 0.2, 0.1, -0.6, 0.2]]
    """

    name = "cross_entropy"
    formula = r"L = -\mathbf{y}^\top\mathbf{s} + \log\sum_k e^{s_k}"
    gradient_formula = r"\nabla_{\mathbf{s}} L = \operatorname{softmax}(\mathbf{s}) - \mathbf{y}"
    reference = "Seeds: cross-entropy-derivation.md, nn-loss-exploration.md §1."

    def loss_and_gradient(self, S, Y):
        S, Y = _as_pair(S, Y)
        P, lse = _softmax_parts(S)
        ysum = Y.sum(axis=1)
        values = ysum * lse - np.einsum("ij,ij->i", Y, S)
        P *= ysum[:, None]
        P -= Y
        return values, P

    def loss(self, S, Y):
        S, Y = _as_pair(S, Y)
        _, lse = _softmax_parts(S)
        return Y.sum(axis=1) * lse - np.einsum("ij,ij->i", Y, S)

    def _loss_grad_t(self, S, codes, flat, t, m=None):
        # L_i = m_i + log z_i - s_true;  G = p - y
        if m is None:
            m = S.max(axis=0)
        s_true = np.take(flat, t)
        s_true -= m
        total = float(_softmax_t(S, m).sum()) - float(s_true.sum())
        flat[t] -= 1
        return total


class MSE(Loss):
    r"""Mean squared error on the raw scores (seed ``nn-loss-exploration.md`` §2).

    .. math:: L = \tfrac1K\|y - s\|^2 \qquad \nabla_s L = -\tfrac2K (y - s)

    For a wrong class the gradient is :math:`\tfrac2K s_j`: negative whenever
    :math:`s_j < 0`, so gradient descent pushes that wrong score *up* towards 0.
    """

    name = "mse"
    formula = r"L = \frac{1}{K}\lVert \mathbf{y} - \mathbf{s} \rVert_2^2"
    gradient_formula = r"\nabla_{\mathbf{s}} L = -\frac{2}{K}(\mathbf{y} - \mathbf{s})"
    reference = "Seed: nn-loss-exploration.md §2."

    def loss_and_gradient(self, S, Y):
        S, Y = _as_pair(S, Y)
        K = S.shape[1]
        R = np.subtract(S, Y)  # s - y
        values = np.einsum("ij,ij->i", R, R) / K
        R *= 2.0 / K
        return values, R

    def _loss_grad_t(self, S, codes, flat, t, m=None):
        K = S.shape[0]
        flat[t] -= 1  # S - Y
        total = float(np.einsum("ij,ij->j", S, S).sum()) / K
        S *= 2.0 / K
        return total


class SoftmaxMSE(Loss):
    r"""Squared error between the target and the softmax (seed §3, "MSE variant").

    .. math:: L = \tfrac1K\|y - p\|^2 \qquad
              \nabla_s L = -\tfrac2K\, p\odot\big[(y-p) - ((y-p)\cdot p)\,\mathbf 1\big]

    The wrong-class gradient :math:`\tfrac2K p_j (p_j + (y-p)\cdot p)` *can* be
    negative, e.g. ``p = (.007, .007, .978, .002, .007)`` with class 3 true.
    """

    name = "softmax_mse"
    formula = r"L = \frac{1}{K}\lVert \mathbf{y} - \operatorname{softmax}(\mathbf{s}) \rVert_2^2"
    gradient_formula = (
        r"\nabla_{\mathbf{s}} L = -\frac{2}{K}\,\mathbf{p}\odot\big[(\mathbf{y}-\mathbf{p})"
        r" - ((\mathbf{y}-\mathbf{p})^\top\mathbf{p})\,\mathbf{1}\big]"
    )
    reference = "Seed: nn-loss-exploration.md §3 (vector form corrected)."

    def loss_and_gradient(self, S, Y):
        S, Y = _as_pair(S, Y)
        K = S.shape[1]
        P, _ = _softmax_parts(S)
        R = np.subtract(Y, P)  # y - p
        values = np.einsum("ij,ij->i", R, R) / K
        c = np.einsum("ij,ij->i", R, P)  # (y - p) . p
        R -= c[:, None]
        R *= P
        R *= -2.0 / K
        return values, R

    def _loss_grad_t(self, S, codes, flat, t, m=None):
        # With D = P - Y: L_i = ‖D_i‖²/K, c_i = (y - p)·p = (1 - p_t) - ‖D_i‖²,
        # G = (2/K) P ⊙ (D + c); P and D differ only at the true entries.
        K = S.shape[0]
        _softmax_t(S, m)
        p_true = np.take(flat, t)
        flat[t] = p_true - 1  # S = D
        d2 = np.einsum("ij,ij->j", S, S)
        total = float(d2.sum()) / K
        c = 1.0 - p_true
        c -= d2
        T = S + c
        S *= T  # wrong entries: p (p + c); true entries fixed below
        flat[t] = p_true * (p_true - 1 + c)
        S *= 2.0 / K
        return total


class ExpMSE(Loss):
    r"""The seed's proposed variant ``MSEVar``: squared error against :math:`e^s`.

    .. math:: L = \tfrac1K\|y - e^{s}\|^2 \qquad \nabla_s L = -\tfrac2K (y - e^{s})\odot e^{s}

    For a wrong class the gradient is :math:`\tfrac2K e^{2 s_j} \ge 0` (strictly
    positive unless :math:`e^{2s_j}` underflows). The loss overflows by definition once
    a score exceeds about 354 (:math:`e^{2s}` > float64 max): it then returns ``inf``,
    never NaN.
    """

    name = "exp_mse"
    formula = r"L = \frac{1}{K}\lVert \mathbf{y} - e^{\mathbf{s}} \rVert_2^2"
    gradient_formula = (
        r"\nabla_{\mathbf{s}} L = -\frac{2}{K}(\mathbf{y} - e^{\mathbf{s}})\odot e^{\mathbf{s}}"
    )
    reference = "Seed: nn-loss-exploration.md §4 (MSEVar)."

    def loss_and_gradient(self, S, Y):
        S, Y = _as_pair(S, Y)
        K = S.shape[1]
        with np.errstate(over="ignore"):
            E = np.exp(S)
            R = np.subtract(E, Y)  # e^s - y
            values = np.einsum("ij,ij->i", R, R) / K
            R *= E
            R *= 2.0 / K
        return values, R

    def _loss_grad_t(self, S, codes, flat, t, m=None):
        # R = e^s - y; L_i = ‖R_i‖²/K; G = (2/K) R ⊙ e^s: (2/K) e^{2s} on wrong entries
        # (where R = e^s), (2/K)(e^{s_t} - 1) e^{s_t} on true ones. Overflow gives inf.
        K = S.shape[0]
        with np.errstate(over="ignore", invalid="ignore"):
            np.exp(S, out=S)
            e_true = np.take(flat, t)
            flat[t] -= 1  # S = R
            np.square(S, out=S)
            total = float(S.sum(axis=0).sum()) / K
            S *= 2.0 / K
            flat[t] = (2.0 / K) * (e_true - 1) * e_true
        return total


class Hinge(Loss):
    r"""Multiclass hinge loss (Weston & Watkins 1999; the CS231n "SVM" loss).

    .. math:: L = \sum_{j\ne y}\max(0,\ s_j - s_y + 1)

    Gradient: :math:`1[s_j - s_y + 1 > 0]` for each wrong class j, minus the number of
    such classes for the true class. At a kink (margin exactly 0) the right-hand
    derivative of the inactive side (0) is used. Hard (one-hot) labels only.
    """

    name = "hinge"
    formula = r"L = \sum_{j \neq y} \max(0,\ s_j - s_y + 1)"
    gradient_formula = (
        r"\frac{\partial L}{\partial s_j} = \mathbb{1}[s_j - s_y + 1 > 0]\ (j\neq y),\quad"
        r"\frac{\partial L}{\partial s_y} = -\sum_{j\neq y}\mathbb{1}[s_j - s_y + 1 > 0]"
    )
    smooth = False
    hard_labels_only = True
    reference = (
        "Weston & Watkins, Support vector machines for multi-class pattern recognition, 1999."
    )

    def loss_and_gradient(self, S, Y):
        S, Y = _as_pair(S, Y)
        _check_one_hot(Y, self.name)
        s_true = np.einsum("ij,ij->i", Y, S)
        M = S - s_true[:, None]
        M += 1.0
        M -= Y  # the true class's own margin (1) becomes 0: it never counts
        np.maximum(M, 0.0, out=M)
        values = M.sum(axis=1)
        G = (M > 0).astype(S.dtype)
        G -= Y * G.sum(axis=1, keepdims=True)
        return values, G

    def _loss_grad_t(self, S, codes, flat, t, m=None):
        s_true = np.take(flat, t)
        s_true -= 1
        S -= s_true  # margins s_j - s_y + 1
        flat[t] = 0  # the true class's own margin never counts
        np.maximum(S, 0, out=S)
        total = float(S.sum(axis=0).sum())
        np.greater(S, 0, out=S)
        flat[t] = -S.sum(axis=0)
        return total


class LabelSmoothingCrossEntropy(Loss):
    r"""Cross-entropy against label-smoothed targets (Szegedy et al. 2016, §7).

    .. math:: \tilde y = (1-\varepsilon)\,y + \varepsilon/K,\qquad
              L = -\tilde y\cdot\log p,\qquad \nabla_s L = p - \tilde y

    Unlike plain CE, a wrong class's gradient :math:`p_j - \varepsilon/K` turns negative
    once :math:`p_j < \varepsilon/K`: the loss pushes confident wrong scores back *up*.
    """

    name = "label_smoothing"
    formula = (
        r"L = -\tilde{\mathbf{y}}^\top \log\operatorname{softmax}(\mathbf{s}),\ "
        r"\tilde{\mathbf{y}} = (1-\varepsilon)\mathbf{y} + \varepsilon/K"
    )
    gradient_formula = (
        r"\nabla_{\mathbf{s}} L = \operatorname{softmax}(\mathbf{s})"
        r" - \tilde{\mathbf{y}}"
    )
    reference = "Szegedy et al., Rethinking the Inception Architecture, CVPR 2016, §7."

    def __init__(self, epsilon: float = 0.1):
        if not 0.0 <= epsilon < 1.0:
            raise ValueError(f"epsilon must be in [0, 1), got {epsilon}")
        self.epsilon = float(epsilon)

    def loss_and_gradient(self, S, Y):
        S, Y = _as_pair(S, Y)
        K = S.shape[1]
        Yt = Y * (1.0 - self.epsilon) + self.epsilon / K * Y.sum(axis=1, keepdims=True)
        return CrossEntropy().loss_and_gradient(S, Yt)

    def _loss_grad_t(self, S, codes, flat, t, m=None):
        # L_i = lse_i - (1 - ε) s_true - (ε/K) Σ_c s_c;  G = p - ε/K - (1 - ε) y
        K = S.shape[0]
        eps = self.epsilon
        if m is None:
            m = S.max(axis=0)
        s_sum = float(S.sum(axis=0).sum())
        s_true = float(np.take(flat, t).sum())
        total = float(_softmax_t(S, m).sum()) + float(m.sum())
        total -= (1.0 - eps) * s_true + eps / K * s_sum
        S -= eps / K
        flat[t] -= 1.0 - eps
        return total


class FocalLoss(Loss):
    r"""Focal loss (Lin et al. 2017), softmax form, focusing parameter :math:`\gamma`.

    .. math:: L = -\sum_c y_c (1-p_c)^\gamma \log p_c

    With :math:`a_c = \gamma (1-p_c)^{\gamma-1} p_c \log p_c - (1-p_c)^\gamma \le 0`,
    :math:`\partial L/\partial s_j = y_j a_j - p_j \sum_c y_c a_c`. For one-hot y the
    wrong-class gradient :math:`-p_j a_y \ge 0`. :math:`\gamma = 0` is cross-entropy.
    """

    name = "focal"
    formula = (
        r"L = -\sum_c y_c\,(1 - p_c)^{\gamma}\log p_c,\ \ "
        r"\mathbf{p}=\operatorname{softmax}(\mathbf{s}),\ \gamma=2"
    )
    gradient_formula = (
        r"\frac{\partial L}{\partial s_j} = y_j a_j - p_j\sum_c y_c a_c,\ "
        r"a_c = \gamma(1-p_c)^{\gamma-1}p_c\log p_c - (1-p_c)^\gamma"
    )
    reference = "Lin et al., Focal Loss for Dense Object Detection, ICCV 2017."

    def __init__(self, gamma: float = 2.0):
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)

    def loss_and_gradient(self, S, Y):
        S, Y = _as_pair(S, Y)
        P, lse = _softmax_parts(S)
        logP = S - lse[:, None]
        q = -np.expm1(logP)  # 1 - p, accurate when p -> 1
        np.maximum(q, 0.0, out=q)
        g = self.gamma
        with np.errstate(divide="ignore", invalid="ignore"):
            qg = q**g
            values = -np.einsum("ij,ij->i", Y, qg * logP)
            # gamma (1-p)^(gamma-1) p log p -> 0 as p -> 1 for every gamma > 0
            A = np.where(q > 0, g * q ** (g - 1.0) * P * logP, 0.0) - qg
        A *= Y
        G = A - P * A.sum(axis=1, keepdims=True)
        return values, G

    def _loss_grad_t(self, S, codes, flat, t, m=None):
        # one-hot y: L_i = -(1 - p_y)^γ log p_y and G = a_y (y - p) = -a_y (p - y), with
        # a_y = γ (1 - p_y)^(γ-1) p_y log p_y - (1 - p_y)^γ ≤ 0 (per sample, (B,) work)
        if m is None:
            m = S.max(axis=0)
        s_true = np.take(flat, t)
        s_true -= m
        log_p = s_true - _softmax_t(S, m)  # log p_y; S now holds p
        q = -np.expm1(log_p)  # 1 - p_y, accurate when p_y -> 1
        np.maximum(q, 0.0, out=q)
        g = self.gamma
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            qg = q**g
            total = -float(np.sum(qg * log_p, dtype=np.float64))
            a = np.where(q > 0, g * q ** (g - 1.0) * np.exp(log_p) * log_p, 0.0) - qg
        flat[t] -= 1  # p - y
        np.negative(a, out=a)
        S *= a.astype(S.dtype, copy=False)
        return total


class Squentropy(Loss):
    r"""Squentropy (Hui, Belkin & Wright 2023): cross-entropy plus the mean squared
    wrong-class score.

    .. math:: L = -\log p_y + \tfrac1{K-1}\sum_{j} (1-y_j)\, s_j^2,\qquad
              \nabla_s L = p - y + \tfrac2{K-1}(1-y)\odot s

    (For one-hot y the sum runs over the K-1 wrong classes, as in the paper.)
    """

    name = "squentropy"
    formula = r"L = -\log p_y + \frac{1}{K-1}\sum_{j\neq y} s_j^2"
    gradient_formula = (
        r"\nabla_{\mathbf{s}} L = \mathbf{p} - \mathbf{y}"
        r" + \frac{2}{K-1}(\mathbf{1}-\mathbf{y})\odot\mathbf{s}"
    )
    reference = "Hui, Belkin & Wright, Cut your Losses with Squentropy, ICML 2023."

    def loss_and_gradient(self, S, Y):
        S, Y = _as_pair(S, Y)
        K = S.shape[1]
        values, G = CrossEntropy().loss_and_gradient(S, Y)
        Wm = (1.0 - Y) * S  # (1 - y) * s
        values = values + np.einsum("ij,ij->i", Wm, S) / (K - 1)
        G += (2.0 / (K - 1)) * Wm
        return values, G

    def _loss_grad_t(self, S, codes, flat, t, m=None):
        # CE plus (1/(K-1)) Σ_{j≠y} s_j²; G = p - y + (2/(K-1)) (1 - y) s
        K = S.shape[0]
        Ws = S * (2.0 / (K - 1))
        Ws[codes, np.arange(codes.shape[0])] = 0  # (2/(K-1)) (1 - y) s
        sq_half = float(np.einsum("ij,ij->j", Ws, S).sum()) / 2  # Σ_{j≠y} s_j² / (K-1)
        total = CrossEntropy._loss_grad_t(self, S, codes, flat, t, m) + sq_half
        S += Ws
        return total


def _check_one_hot(Y: np.ndarray, name: str) -> None:
    if not (np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1)):
        raise ValueError(f"loss {name!r} needs hard (one-hot) labels; got soft or invalid rows")


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        CrossEntropy(),
        MSE(),
        SoftmaxMSE(),
        ExpMSE(),
        Hinge(),
        LabelSmoothingCrossEntropy(),
        FocalLoss(),
        Squentropy(),
    )
}
"""Every registered loss by name. Iterate over it in tests and UIs."""


def get_loss(name: str | Loss) -> Loss:
    """Return the registered loss ``name`` (a :class:`Loss` is passed through).

    Raises ``ValueError`` listing the valid names when ``name`` is unknown.
    """
    if isinstance(name, Loss):
        return name
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        valid = ", ".join(LOSSES)
        raise ValueError(f"unknown loss {name!r}; valid losses: {valid}") from None
