"""Decision regions from parameter snapshots: the live view and the epoch replay of 2-D data.

The Train page keeps a few snapshots of the fitted attributes while training
(:class:`~lossesbox.app.live.TrainingJob` with ``keep_parameters``): ``coef_`` (K × D) and
``intercept_`` for the linear model, ``coefs_``/``intercepts_`` for the MLP. A
:class:`RegionGrid` turns one snapshot into the predicted class over a grid of the two
raw features, exactly as the run's pipeline would: the same train/test split, the same
``StandardScaler`` fitted on the training part, then ``argmax`` of the scores. Pure (no
Streamlit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RegionGrid", "snapshot_at"]

_ACTIVATIONS = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh}


def snapshot_at(snapshots: dict[int, dict], epoch: int) -> tuple[int, dict] | None:
    """The snapshot of the latest kept epoch ≤ ``epoch`` (``None`` if there is none)."""
    kept = [e for e in snapshots if e <= epoch]
    if not kept:
        return None
    e = max(kept)
    return e, snapshots[e]


class RegionGrid:
    """An ``n × n`` grid over a 2-feature dataset and the scaler of the run's pipeline.

    ``frame(parameters)`` gives the grid with cell edges (``x0, x1, y0, y1``), centres
    (``x, y``) and the ``predicted`` class name; ``points`` the data with ``label`` and
    ``split`` (train/test) — the inputs of :func:`lossesbox.charts.decision_regions_chart`.
    Raises ``ValueError`` unless the dataset has 2 features.
    """

    def __init__(self, dataset: Any, config: Any, n: int = 50, margin: float = 0.1):
        if dataset.n_features != 2:
            raise ValueError(
                f"decision regions need 2 features; this dataset has {dataset.n_features}"
            )
        X = np.asarray(dataset.X, dtype=float)
        X_train, X_test, y_train, y_test = dataset.split(
            test_size=config.test_size, random_state=config.seed
        )
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = (hi - lo) * margin + 1e-9
        xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], n)
        ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], n)
        gx, gy = np.meshgrid(xs, ys)
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        if getattr(config, "standardize", True):
            mean = np.asarray(X_train, dtype=float).mean(axis=0)
            std = np.asarray(X_train, dtype=float).std(axis=0)
            std[std == 0] = 1.0  # as StandardScaler
            grid_scaled = (grid - mean) / std
        else:
            grid_scaled = grid
        self.model = getattr(config, "model", "linear")
        self.activation = getattr(config, "activation", "relu")
        self._X = grid_scaled
        self.names = np.asarray(dataset.class_names, dtype=object)
        hx, hy = (xs[1] - xs[0]) / 2, (ys[1] - ys[0]) / 2
        self._cells = pd.DataFrame(
            {
                "x": gx.ravel(),
                "y": gy.ravel(),
                "x0": gx.ravel() - hx,
                "x1": gx.ravel() + hx,
                "y0": gy.ravel() - hy,
                "y1": gy.ravel() + hy,
            }
        )
        self.points = pd.concat(
            [
                pd.DataFrame(
                    {"x": A[:, 0], "y": A[:, 1], "label": self.names[np.asarray(y)], "split": s}
                )
                for A, y, s in ((X_train, y_train, "train"), (X_test, y_test, "test"))
            ],
            ignore_index=True,
        )

    def scores(self, parameters: dict) -> np.ndarray:
        """Scores ``(n², K)`` of the grid under a snapshot of fitted attributes."""
        if "coef_" in parameters:
            W = np.asarray(parameters["coef_"], dtype=float)
            return self._X @ W.T + np.asarray(parameters["intercept_"], dtype=float)
        h = self._X
        act = _ACTIVATIONS[self.activation]
        layers = list(zip(parameters["coefs_"], parameters["intercepts_"], strict=True))
        for W, b in layers[:-1]:
            h = act(h @ W + b)
        W, b = layers[-1]
        return h @ W + b

    def frame(self, parameters: dict) -> pd.DataFrame:
        """The grid with the class each cell is predicted as (by name)."""
        predicted = np.argmax(self.scores(parameters), axis=1)
        return self._cells.assign(predicted=self.names[predicted])
