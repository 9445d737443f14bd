"""lossesbox: classification losses on a regularized linear softmax classifier.

Import cost is kept low: the trainer (scikit-learn) and tracking (MLflow) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .losses import LOSSES, Loss, get_loss

__version__ = "0.1.0"
__all__ = [
    "LOSSES",
    "LinearSoftmaxClassifier",
    "Loss",
    "MLPSoftmaxClassifier",
    "__version__",
    "get_loss",
]

if TYPE_CHECKING:
    from .models import LinearSoftmaxClassifier, MLPSoftmaxClassifier


def __getattr__(name: str):
    if name in ("LinearSoftmaxClassifier", "MLPSoftmaxClassifier"):
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module 'lossesbox' has no attribute {name!r}")
