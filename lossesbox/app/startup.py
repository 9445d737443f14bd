"""Everything the dashboard imports, imported once, in one thread. Pure (no Streamlit).

Why: importing a package in two threads at the same time can hand one of them a
half-initialized module (Python's per-module import locks break a cycle such as
``sklearn.base`` ↔ ``sklearn.utils`` by returning the partial module:
"cannot import name 'clone' from partially initialized module 'sklearn.base'"). The
dashboard used to warm scikit-learn and MLflow up in a background thread while the page
imported them too. Now nothing imports in the background: :func:`import_all` runs in the
page's own script thread, through ``st.cache_resource`` (one computation per server; a
second session waits for it), before a page imports anything heavy; afterwards the
training worker thread and the pages find every module already in ``sys.modules``.
"""

from __future__ import annotations

import importlib
import logging
import time

__all__ = ["MODULES", "import_all"]

log = logging.getLogger("lossesbox.dashboard")

MODULES = (
    "scipy.special",
    "scipy.optimize",
    "pandas",
    "altair",
    "sklearn.base",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.compose",
    "sklearn.impute",
    "sklearn.metrics",
    "sklearn.model_selection",
    "lossesbox.losses",
    "lossesbox.estimator",
    "lossesbox.datasets",
    "lossesbox.diagnostics",
    "lossesbox.landscape",
    "lossesbox.experiment",
    "lossesbox.charts",
    "lossesbox.study",
    "lossesbox.study_charts",
    "lossesbox.tracking",
    "lossesbox.app.live",
    "lossesbox.app.pair",
    "lossesbox.app.results",
    "lossesbox.app.runs",
    "lossesbox.app.theory",
)
"""Imported by :func:`import_all`, in this order (a module that is gone is skipped)."""


def import_all(tracking_uri: str | None = None) -> dict[str, float]:
    """Import :data:`MODULES`, start vl-convert (the run's SVG charts), then MLflow,
    skops and the store (``tracking.warm_up``), and save a tiny model once (MLflow's
    first model save is slow).

    Runs in the calling thread and returns the seconds each step took. A failing step is
    logged and skipped: it only costs the time it would have saved (the page that needs
    the module reports the error where it is used).
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            log.debug("preload: %s not importable", name, exc_info=True)
    seconds["imports"] = time.perf_counter() - start
    start = time.perf_counter()
    try:  # vl-convert's engine starts on its first chart (≈1.5 s): the run's SVG charts
        import altair as alt
        import pandas as pd

        from ..charts import to_svg

        to_svg(alt.Chart(pd.DataFrame({"x": [0.0]})).mark_point().encode(x="x:Q"))
    except Exception:
        log.debug("preload: vl-convert warm-up failed", exc_info=True)
    seconds["vl-convert"] = time.perf_counter() - start
    start = time.perf_counter()
    try:
        from .. import tracking

        tracking.warm_up(tracking_uri)
    except Exception:  # an unreachable store is reported by the page that reads it
        log.debug("preload: tracking warm-up failed", exc_info=True)
    seconds["mlflow"] = time.perf_counter() - start
    start = time.perf_counter()
    try:
        _save_a_tiny_model()
    except Exception:
        log.debug("preload: model save warm-up failed", exc_info=True)
    seconds["model save"] = time.perf_counter() - start
    return seconds


def _save_a_tiny_model() -> None:
    """Fit a 2-epoch model on 30 iris rows and save it as an MLflow model in a temporary
    folder (deleted): MLflow's first save maps every installed package to its modules
    (seconds), skops checks its types; a run's ``log_model`` then finds that done."""
    import tempfile
    from pathlib import Path

    from ..datasets import load_dataset
    from ..experiment import TrainConfig, build_pipeline
    from ..tracking._model import save_model_dir

    data = load_dataset("iris")
    X, y = data.X[::5], data.y[::5]
    pipeline = build_pipeline(TrainConfig(max_epochs=2, solver="gd")).fit(X, y)
    with tempfile.TemporaryDirectory(prefix="lossesbox-preload-") as tmp:
        save_model_dir(pipeline, X[:2], Path(tmp) / "model")
