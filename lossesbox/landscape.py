r"""One sample, every loss: values, gradients, sign labels and loss landscapes.

Pure numpy/pandas helpers behind the dashboard's single-sample explorer and its loss
landscape (no Streamlit here).

Conventions follow :mod:`lossesbox.losses`: ``scores`` is one score vector
:math:`s \in \mathbb{R}^K`, ``true_class`` a 0-based index, the target the one-hot
:math:`y = e_{true}`. Gradient descent moves a score by :math:`-\eta\,\partial L/\partial s`,
so for a wrong class j a gradient :math:`\partial L/\partial s_j < 0` pushes :math:`s_j`
**up** (the wrong way), :math:`> 0` pushes it down (the right way). For the true class
:math:`< 0` is the right way.

The seed's example: :math:`\hat y = (.1, .2, .1, .4, .2)`, true class index 3, scores
:math:`s = \log\hat y`; cross-entropy's gradient is :math:`\hat y - y = (.1, .2, .1, -.6, .2)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .losses import LOSSES, Loss, get_loss

__all__ = [
    "SEED_PROBABILITIES",
    "SEED_TRUE_CLASS",
    "Landscape",
    "arrow_frame",
    "landscape_frame",
    "loss_landscape",
    "one_hot",
    "sample_gradients",
    "sign_label",
]

SEED_PROBABILITIES = (0.1, 0.2, 0.1, 0.4, 0.2)
"""The seed ``ce-gradient-question.md``'s predicted distribution ŷ."""
SEED_TRUE_CLASS = 3
"""The seed's true class: the fourth entry, 0-based index 3."""

RIGHT, WRONG, ZERO = "right way", "wrong way", "zero"


def one_hot(true_class: int, k: int) -> np.ndarray:
    """The one-hot target :math:`e_{true}` of length ``k`` (ValueError when out of range)."""
    if not 0 <= int(true_class) < k:
        raise ValueError(f"true class must be in 0..{k - 1}, got {true_class}")
    y = np.zeros(k)
    y[int(true_class)] = 1.0
    return y


def sign_label(gradient: float, is_true: bool) -> str:
    """``"right way"``, ``"wrong way"`` or ``"zero"`` for one gradient entry.

    Wrong class: :math:`g > 0` right, :math:`g < 0` wrong. True class: the reverse.
    Exact signs, no threshold (NaN counts as zero: no direction).
    """
    if not gradient or np.isnan(gradient):
        return ZERO
    down = gradient > 0  # gradient descent pushes the score down
    return RIGHT if down != is_true else WRONG


def sample_gradients(
    scores, true_class: int, losses: list[str] | None = None, class_names=None
) -> pd.DataFrame:
    """Each loss's value and gradient at one sample, in long form.

    Returns one row per (loss, class) with columns ``loss, value, class_index, class,
    role ("true"/"wrong"), gradient, sign, step`` where ``step = -gradient`` is the
    direction gradient descent moves the score. ``losses`` defaults to every registered
    loss; ``value`` repeats the per-sample loss on each row of that loss.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size < 2:
        raise ValueError(f"need at least 2 scores (classes), got {s.size}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite numbers")
    y = one_hot(true_class, s.size)
    names = list(LOSSES) if losses is None else list(losses)
    labels = _class_labels(class_names, s.size)
    rows = []
    for name in names:
        loss = get_loss(name)
        with np.errstate(over="ignore", invalid="ignore"):
            value, grad = loss.loss_and_gradient(s[None, :], y[None, :])
        for c in range(s.size):
            g = float(grad[0, c])
            is_true = c == int(true_class)
            rows.append(
                {
                    "loss": loss.name,
                    "value": float(value[0]),
                    "class_index": c,
                    "class": labels[c],
                    "role": "true" if is_true else "wrong",
                    "gradient": g,
                    "step": -g,
                    "sign": sign_label(g, is_true),
                }
            )
    return pd.DataFrame(rows)


def _class_labels(class_names, k: int) -> list[str]:
    if class_names is None:
        return [f"class {c}" for c in range(k)]
    labels = [str(c) for c in class_names]
    if len(labels) != k:
        raise ValueError(f"{len(labels)} class names for {k} classes")
    return labels


@dataclass(frozen=True)
class Landscape:
    r"""A loss over a grid of two scores :math:`(s_i, s_j)`, the others fixed.

    ``loss``, ``grad_x`` (:math:`\partial L/\partial s_i`) and ``grad_y``
    (:math:`\partial L/\partial s_j`) have shape ``(len(ys), len(xs))``. ``up_x`` marks
    grid points where :math:`s_i` is a wrong class pushed **up** (:math:`\partial L/\partial
    s_i < 0`), ``up_y`` the same for :math:`s_j` (all False when that axis is the true
    class).
    """

    loss_name: str
    i: int
    j: int
    true_class: int
    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray
    grad_x: np.ndarray
    grad_y: np.ndarray
    up_x: np.ndarray
    up_y: np.ndarray

    @property
    def pushed_up(self) -> np.ndarray:
        """Where some wrong-class score on the two axes is pushed up."""
        return self.up_x | self.up_y


def loss_landscape(
    loss: str | Loss,
    scores,
    true_class: int,
    i: int,
    j: int,
    *,
    lo: float = -4.0,
    hi: float = 4.0,
    n: int = 41,
) -> Landscape:
    """Evaluate ``loss`` on an ``n × n`` grid of :math:`s_i, s_j \\in [lo, hi]`.

    The other scores stay at ``scores``; the target is one-hot at ``true_class``.
    Overflowing values (``exp_mse`` for large scores) come back as ``inf``.
    """
    loss = get_loss(loss)
    s = np.asarray(scores, dtype=np.float64).ravel()
    k = s.size
    y = one_hot(true_class, k)
    for name, idx in (("i", i), ("j", j)):
        if not 0 <= idx < k:
            raise ValueError(f"score index {name}={idx} out of range 0..{k - 1}")
    if i == j:
        raise ValueError("choose two different scores for the landscape axes")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got lo={lo}, hi={hi}")
    if not 2 <= n <= 201:
        raise ValueError(f"grid size n must be in 2..201, got {n}")
    xs = np.linspace(lo, hi, n)
    ys = np.linspace(lo, hi, n)
    gx, gy = np.meshgrid(xs, ys)  # (n, n): rows follow ys
    S = np.tile(s, (n * n, 1))
    S[:, i] = gx.ravel()
    S[:, j] = gy.ravel()
    Y = np.tile(y, (n * n, 1))
    with np.errstate(over="ignore", invalid="ignore"):
        values, G = loss.loss_and_gradient(S, Y)
    shape = (n, n)
    grad_x = G[:, i].reshape(shape)
    grad_y = G[:, j].reshape(shape)
    up_x = (grad_x < 0) if i != true_class else np.zeros(shape, dtype=bool)
    up_y = (grad_y < 0) if j != true_class else np.zeros(shape, dtype=bool)
    return Landscape(
        loss_name=loss.name,
        i=int(i),
        j=int(j),
        true_class=int(true_class),
        xs=xs,
        ys=ys,
        loss=values.reshape(shape),
        grad_x=grad_x,
        grad_y=grad_y,
        up_x=up_x,
        up_y=up_y,
    )


def landscape_frame(land: Landscape) -> pd.DataFrame:
    """Long form of a landscape: one row per grid point.

    Columns ``x, y, loss, grad_x, grad_y, up_x, up_y, pushed_up`` and the cell edges
    ``x0, x1, y0, y1`` (for drawing rectangles).
    """
    gx, gy = np.meshgrid(land.xs, land.ys)
    hx = (land.xs[1] - land.xs[0]) / 2
    hy = (land.ys[1] - land.ys[0]) / 2
    return pd.DataFrame(
        {
            "x": gx.ravel(),
            "y": gy.ravel(),
            "x0": gx.ravel() - hx,
            "x1": gx.ravel() + hx,
            "y0": gy.ravel() - hy,
            "y1": gy.ravel() + hy,
            "loss": land.loss.ravel(),
            "grad_x": land.grad_x.ravel(),
            "grad_y": land.grad_y.ravel(),
            "up_x": land.up_x.ravel(),
            "up_y": land.up_y.ravel(),
            "pushed_up": land.pushed_up.ravel(),
        }
    )


def arrow_frame(land: Landscape, every: int = 5, length: float = 0.8) -> pd.DataFrame:
    """Gradient-descent arrows on a coarse sub-grid of the landscape.

    The arrow at :math:`(s_i, s_j)` points along :math:`-(\\partial L/\\partial s_i,
    \\partial L/\\partial s_j)`, normalised to ``length`` × the coarse spacing (direction
    only; ``magnitude`` holds the gradient norm). ``angle`` is that direction in degrees
    clockwise from "up", as Vega-Lite's point ``angle`` expects. Points with a zero or
    non-finite gradient get no arrow.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    xs, ys = land.xs[::every], land.ys[::every]
    gx = land.grad_x[::every, ::every]
    gy = land.grad_y[::every, ::every]
    X, Y = np.meshgrid(xs, ys)
    dx, dy = -gx, -gy
    with np.errstate(over="ignore", invalid="ignore"):
        mag = np.hypot(dx, dy)
    keep = np.isfinite(mag) & (mag > 0)
    step = length * every * (land.xs[1] - land.xs[0])
    u = np.where(keep, dx / np.where(keep, mag, 1.0), 0.0)
    v = np.where(keep, dy / np.where(keep, mag, 1.0), 0.0)
    frame = pd.DataFrame(
        {
            "x": X.ravel(),
            "y": Y.ravel(),
            "x2": (X + step * u).ravel(),
            "y2": (Y + step * v).ravel(),
            "angle": np.degrees(np.arctan2(u, v)).ravel() % 360.0,
            "magnitude": mag.ravel(),
        }
    )
    return frame[keep.ravel()].reset_index(drop=True)
