r"""A reproducible loss study: every dataset × λ × loss, repeated over seeded splits.

The question (seed ``nn-loss-exploration.md``): ``mse`` on raw scores can push a
wrong-class score *up* (its gradient :math:`-\tfrac{2}{K}(0 - s_j) = \tfrac{2}{K} s_j` is
negative whenever :math:`s_j < 0`); the proposed ``exp_mse``,
:math:`\tfrac{1}{K}\lVert y - e^{s}\rVert^2`, has wrong-class gradient
:math:`\tfrac{2}{K} e^{2 s_j} > 0`, so it never does. Does that matter for what the model
learns? :func:`run_study` measures, for each cell (dataset, λ, loss) and each repeat r
(seed ``seed + r``: stratified split, trainer and init all use it):

- test accuracy and log-loss of ``predict_proba`` (mean ± std over repeats), with
  scikit-learn's ``LogisticRegression`` at the equivalent ``C`` as the reference row
  (``C = 1/(λ N)`` for K ≥ 3 and ``C = 2/(λ N)`` for K = 2, N = training samples; the
  same solver budget, ``max_iter = max_epochs``, ``tol``);
- the share of wrong-class score gradients pushing the wrong way
  (:func:`lossesbox.diagnostics.gradient_signs` on the training data): at initialization
  with ``init="zeros"`` (all scores equal, so ``mse``'s wrong-class gradients are exactly
  zero) and ``init="normal"`` (N(0, 0.01²) weights), per epoch, and at the end, overall and
  per class;
- epochs and seconds until the training accuracy first reaches 95% of its final value;
- failures (divergence, overflow, an exception) counted in ``n_failed``, never dropped.

Every training run is an MLflow run nested under one study run (experiment
``study-<timestamp>`` unless named); the report folder (Markdown + HTML with the charts
embedded + CSV tables) is written to ``out`` and logged as the study run's artifact
``report/``.

Aggregation: means and sample standard deviations (``ddof=1``; NaN for one repeat) are
taken over every repeat with a finite value, *including* failed ones (a diverged run keeps
its last finite parameters and is evaluated with them, which is what a user of that
budget gets); ``n_failed`` says how many there were.

This module imports only the standard library at import time (the CLI builds its parser
from :func:`add_parser` quickly); numpy, pandas, scikit-learn, joblib and the tracking
module load when a study runs.
"""

# ruff: noqa: F401  (re-exports: the public names stay importable from lossesbox.study)
from __future__ import annotations

from .aggregate import StudyResult, aggregate, aggregate_per_class, epoch_curves
from .cli import add_arguments, add_parser, config_from_args, run
from .config import (
    DEFAULT_DATASETS,
    FAILED_STATUSES,
    HISTORY_COLUMNS,
    METRICS,
    REFERENCE,
    REPORT_FILES,
    SOLVERS,
    STAGES,
    TARGET_FRACTION,
    TIMING_COLUMNS,
    StudyConfig,
)
from .report import (
    CHART_TITLES,
    headline_table,
    list_studies,
    load_report,
    load_study,
    stop_notes,
    write_report,
)
from .run import _init_record, epochs_to_fraction, run_study

__all__ = [
    "DEFAULT_DATASETS",
    "REFERENCE",
    "StudyConfig",
    "StudyResult",
    "add_arguments",
    "add_parser",
    "aggregate",
    "aggregate_per_class",
    "epoch_curves",
    "epochs_to_fraction",
    "headline_table",
    "list_studies",
    "load_report",
    "load_study",
    "run",
    "run_study",
    "stop_notes",
    "write_report",
]
