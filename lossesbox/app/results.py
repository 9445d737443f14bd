"""What the Train page shows after a run: test-set confusion matrix, 2-D decision regions,
and a plain-language account of how the run ended. Pure (no Streamlit).

Works on an ``ExperimentResult`` of :func:`lossesbox.experiment.run_experiment`; the test
split is recomputed exactly as the runner made it (``dataset.split(test_size, seed)``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["confusion", "decision_grid", "ending_message", "has_regions", "test_split"]


def test_split(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, X_test, y_train, y_test)`` of the run, as ``run_experiment`` split it."""
    cfg = result.config
    return result.dataset.split(test_size=cfg.test_size, random_state=cfg.seed)


def confusion(result: Any) -> np.ndarray:
    """Test-set confusion matrix ``C[true, predicted]`` (K × K counts)."""
    _, X_test, _, y_test = test_split(result)
    k = result.dataset.n_classes
    pred = np.asarray(result.pipeline.predict(X_test), dtype=np.int64)
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (np.asarray(y_test, dtype=np.int64), pred), 1)
    return m


def has_regions(dataset: Any) -> bool:
    """Whether :func:`decision_grid` can draw the data: exactly 2 numeric inputs (a user
    table: 2 numeric columns, nothing one-hot encoded)."""
    if dataset.n_features != 2:
        return False
    plan = getattr(dataset, "plan", None)
    return plan is None or (not plan.categorical and len(plan.numeric) == 2)


def decision_grid(
    result: Any, n: int = 60, margin: float = 0.1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predicted class over an ``n × n`` grid spanning a 2-feature dataset, and its points.

    Returns ``(grid, points)`` for :func:`lossesbox.charts.decision_regions_chart`: the grid
    has cell centres ``x, y``, edges ``x0, x1, y0, y1`` and ``predicted`` (class name);
    points have ``x, y, label`` and ``split`` (train/test). ``margin`` pads the data's range
    by that fraction on each side. Raises ``ValueError`` unless the data has 2 features.
    """
    ds = result.dataset
    if not has_regions(ds):
        raise ValueError(
            f"decision regions need 2 numeric features; this dataset has {ds.n_features}"
        )
    X_train, X_test, y_train, y_test = test_split(result)
    columns = None
    if getattr(ds, "frame", None) is not None:  # a user table: the pipeline takes named columns
        columns = list(ds.frame.columns)
        X_train, X_test = (np.asarray(X, dtype=np.float64) for X in (X_train, X_test))
    lo, hi = ds.X.min(axis=0), ds.X.max(axis=0)
    pad = (hi - lo) * margin + 1e-9
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
    gx, gy = np.meshgrid(xs, ys)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    if columns is not None:
        cells = pd.DataFrame(cells, columns=columns)
    pred = np.asarray(result.pipeline.predict(cells))
    names = np.asarray(ds.class_names, dtype=object)
    hx, hy = (xs[1] - xs[0]) / 2, (ys[1] - ys[0]) / 2
    grid = pd.DataFrame(
        {
            "x": gx.ravel(),
            "y": gy.ravel(),
            "x0": gx.ravel() - hx,
            "x1": gx.ravel() + hx,
            "y0": gy.ravel() - hy,
            "y1": gy.ravel() + hy,
            "predicted": names[pred.astype(np.int64)],
        }
    )
    points = pd.concat(
        [
            pd.DataFrame({"x": X[:, 0], "y": X[:, 1], "label": names[y], "split": split})
            for X, y, split in ((X_train, y_train, "train"), (X_test, y_test, "test"))
        ],
        ignore_index=True,
    )
    return grid, points


def _reason_body(reason: str) -> str:
    """The estimator's stop reason without the part the dashboard already says
    ("Converged at epoch 87: ", "L-BFGS-B stopped after 24 iterations: ", "Diverged: ")."""
    reason = re.sub(r"^(Converged at epoch \d+|Diverged): ", "", reason or "")
    return re.sub(r"^L-BFGS-B stopped after \d+ iterations: ", "L-BFGS-B: ", reason)


def ending_message(result: Any) -> tuple[str, str]:
    """``(level, text)`` describing how the run ended; level is ``error``, ``info`` or
    ``success``. Each fact is said once, in the dashboard's words (learning rate, λ), not
    the estimator's parameter names. Divergence names the epoch and suggests a smaller
    learning rate (a tenth of the current one) or a larger λ."""
    cfg = result.config
    epochs = int(result.history["epoch"].iloc[-1]) if len(result.history) else 0
    logged = result.run_id is not None
    if result.status == "diverged":
        reason = _reason_body(result.stop_reason)
        if cfg.solver == "lbfgs" or epochs == 0:
            # before any step, or L-BFGS-B's line search: the estimator's advice is specific
            return (
                "error",
                f"**Training diverged**: {reason}"
                + (" The run is logged as FAILED." if logged else ""),
            )
        what = "gradient" if reason.startswith("the gradient") else "objective"
        lr = cfg.learning_rate
        extra = (
            " (`exp_mse` overflows once a score passes ≈354: e^{2s} exceeds the float range.)"
            if cfg.loss == "exp_mse"
            else ""
        )
        return (
            "error",
            f"**Training diverged** at epoch {epochs + 1}: the {what} became non-finite "
            f"(inf or NaN). The parameters after epoch {epochs} are kept"
            + (" and the run is logged as FAILED" if logged else "")
            + f". Try a smaller learning rate (now {lr:g}; try {lr / 10:g}) or a larger λ "
            f"(now {cfg.lam:g}).{extra}",
        )
    if result.status == "stopped":
        return (
            "info",
            f"Stopped by you after epoch {epochs}"
            + ("; the run was logged as FINISHED with `stop_reason=user`." if logged else "."),
        )
    if result.status == "max_epochs":
        return (
            "info",
            f"Reached the epoch budget ({epochs} epochs) before the objective settled; "
            "more epochs (or a larger learning rate) may still improve it.",
        )
    return ("success", f"**Converged** after {epochs} epochs — {_reason_body(result.stop_reason)}")
