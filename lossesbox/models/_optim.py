r"""First-order update rules on a flat parameter vector, updated in place.

Each rule sees the parameters ``theta`` and a gradient estimate ``grad`` (same shape
and dtype, usually a view of preallocated buffers) and moves ``theta`` in place with
no per-step allocation beyond small temporaries of the parameter size (``K·(D+1)``,
negligible beside the ``N·D`` data).

- :class:`GradientDescent`: :math:`\theta \leftarrow \theta - \eta g` (gd and sgd).
- :class:`HeavyBall`: classic momentum (Polyak 1964),
  :math:`v \leftarrow \beta v + g,\ \theta \leftarrow \theta - \eta v`, :math:`\beta = 0.9`.
- :class:`Adam`: Kingma & Ba (2015), bias-corrected,
  :math:`m \leftarrow \beta_1 m + (1-\beta_1) g,\ v \leftarrow \beta_2 v + (1-\beta_2) g^2,\
  \theta \leftarrow \theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon)` with
  :math:`\hat m = m / (1-\beta_1^t)`, :math:`\hat v = v / (1-\beta_2^t)`,
  :math:`\beta_1 = 0.9,\ \beta_2 = 0.999,\ \epsilon = 10^{-8}`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Adam", "GradientDescent", "HeavyBall", "make_rule"]


class GradientDescent:
    """Plain (stochastic) gradient descent: ``theta -= lr * grad``."""

    def __init__(self, theta: np.ndarray, learning_rate: float):
        self.lr = learning_rate
        self._tmp = np.empty_like(theta)

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        np.multiply(grad, self.lr, out=self._tmp)
        theta -= self._tmp


class HeavyBall:
    """Classic (heavy-ball) momentum: ``v = beta * v + grad``; ``theta -= lr * v``."""

    def __init__(self, theta: np.ndarray, learning_rate: float, beta: float = 0.9):
        self.lr = learning_rate
        self.beta = beta
        self.velocity = np.zeros_like(theta)
        self._tmp = np.empty_like(theta)

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        v = self.velocity
        v *= self.beta
        v += grad
        np.multiply(v, self.lr, out=self._tmp)
        theta -= self._tmp


class Adam:
    """Adam with bias correction (Kingma & Ba 2015, Algorithm 1)."""

    def __init__(
        self,
        theta: np.ndarray,
        learning_rate: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ):
        self.lr = learning_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.t = 0
        self.m = np.zeros_like(theta)
        self.v = np.zeros_like(theta)
        self._tmp = np.empty_like(theta)

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        self.t += 1
        b1, b2, tmp = self.beta1, self.beta2, self._tmp
        self.m *= b1
        np.multiply(grad, 1.0 - b1, out=tmp)
        self.m += tmp
        self.v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        self.v += tmp
        # theta -= lr_t * m / (sqrt(v) + eps_t): the bias corrections folded into the
        # step size and epsilon, algebraically identical to m_hat / (sqrt(v_hat) + eps).
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        np.sqrt(self.v, out=tmp)
        tmp += self.eps * math.sqrt(c2)
        np.divide(self.m, tmp, out=tmp)
        tmp *= self.lr * math.sqrt(c2) / c1
        theta -= tmp


def make_rule(solver: str, theta: np.ndarray, learning_rate: float):
    """The update rule of ``solver`` (``gd``, ``sgd``, ``momentum`` or ``adam``)."""
    if solver in ("gd", "sgd"):
        return GradientDescent(theta, learning_rate)
    if solver == "momentum":
        return HeavyBall(theta, learning_rate)
    if solver == "adam":
        return Adam(theta, learning_rate)
    raise ValueError(f"no first-order update rule for solver {solver!r}")
