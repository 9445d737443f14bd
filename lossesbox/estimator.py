"""Compatibility re-exports: the models now live in :mod:`lossesbox.models`.

``from lossesbox.estimator import LinearSoftmaxClassifier`` (and the helpers tests and
benchmarks use) keeps working; new code imports from :mod:`lossesbox.models`.
"""

from .models._training import (  # noqa: F401
    _THREADED_MACS,
    HISTORY_KEYS,
    SOLVERS,
    _accuracy,
    _blas_threads,
    _Evaluation,
    _is_small,
    _MiniBatches,
    _one_hot_t,
    _Run,
    history_keys,
)
from .models.linear import LinearSoftmaxClassifier, _LinearObjective  # noqa: F401

__all__ = ["HISTORY_KEYS", "SOLVERS", "LinearSoftmaxClassifier", "history_keys"]
