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


class _Rule:
    """A step is :meth:`advance` (the step counter) then :meth:`update` of every entry;
    the update is elementwise, so it may run as contiguous parts on several threads."""

    def step(self, theta: np.ndarray, grad: np.ndarray) -> None:
        self.advance()
        self.update(theta, grad, 0, theta.shape[0])

    def advance(self) -> None:
        """Count the step (before the updates of its parts)."""

    def update(self, theta: np.ndarray, grad: np.ndarray, lo: int, hi: int) -> None:
        raise NotImplementedError


class GradientDescent(_Rule):
    """Plain (stochastic) gradient descent: ``theta -= lr * grad``."""

    def __init__(self, theta: np.ndarray, learning_rate: float):
        self.lr = learning_rate
        self._tmp = np.empty_like(theta)

    def update(self, theta, grad, lo, hi) -> None:
        tmp = self._tmp[lo:hi]
        np.multiply(grad[lo:hi], self.lr, out=tmp)
        theta[lo:hi] -= tmp


class HeavyBall(_Rule):
    """Classic (heavy-ball) momentum: ``v = beta * v + grad``; ``theta -= lr * v``."""

    def __init__(self, theta: np.ndarray, learning_rate: float, beta: float = 0.9):
        self.lr = learning_rate
        self.beta = beta
        self.velocity = np.zeros_like(theta)
        self._tmp = np.empty_like(theta)

    def update(self, theta, grad, lo, hi) -> None:
        v, tmp = self.velocity[lo:hi], self._tmp[lo:hi]
        v *= self.beta
        v += grad[lo:hi]
        np.multiply(v, self.lr, out=tmp)
        theta[lo:hi] -= tmp


class Adam(_Rule):
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

    def advance(self) -> None:
        self.t += 1

    def update(self, theta, grad, lo, hi) -> None:
        b1, b2, tmp = self.beta1, self.beta2, self._tmp[lo:hi]
        m, v, grad = self.m[lo:hi], self.v[lo:hi], grad[lo:hi]
        m *= b1
        np.multiply(grad, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        # theta -= lr_t * m / (sqrt(v) + eps_t): the bias corrections folded into the
        # step size and epsilon, algebraically identical to m_hat / (sqrt(v_hat) + eps).
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        np.sqrt(v, out=tmp)
        tmp += self.eps * math.sqrt(c2)
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr * math.sqrt(c2) / c1
        theta[lo:hi] -= tmp


def make_rule(solver: str, theta: np.ndarray, learning_rate: float):
    """The update rule of ``solver`` (``gd``, ``sgd``, ``momentum`` or ``adam``)."""
    if solver in ("gd", "sgd"):
        return GradientDescent(theta, learning_rate)
    if solver == "momentum":
        return HeavyBall(theta, learning_rate)
    if solver == "adam":
        return Adam(theta, learning_rate)
    raise ValueError(f"no first-order update rule for solver {solver!r}")
