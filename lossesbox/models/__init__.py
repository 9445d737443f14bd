"""The models: one shared training loop (:mod:`._training`) and one module per model.

- :mod:`.linear`: :class:`LinearSoftmaxClassifier`, ``S = X Wᵀ + b``.
- :mod:`.mlp`: :class:`MLPSoftmaxClassifier`, hidden ReLU/tanh layers, K output scores.
- :mod:`._training`: solvers, mini-batches, ``history_``, callbacks, statuses,
  divergence and BLAS-thread handling, written once for every model.
- :mod:`._optim`: the first-order update rules (gd/sgd, heavy-ball momentum, Adam).
"""

from ._training import HISTORY_KEYS, SOLVERS, history_keys
from .linear import LinearSoftmaxClassifier
from .mlp import ACTIVATIONS, MLPSoftmaxClassifier

__all__ = [
    "ACTIVATIONS",
    "HISTORY_KEYS",
    "SOLVERS",
    "LinearSoftmaxClassifier",
    "MLPSoftmaxClassifier",
    "history_keys",
]
