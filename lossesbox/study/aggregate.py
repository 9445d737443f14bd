"""Aggregation over repeats: summary, per-class table, per-epoch curves, the result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


from .config import FAILED_STATUSES, METRICS, REFERENCE, StudyConfig

# ------------------------------------------------------------------------ aggregation


def _group_keys() -> list[str]:
    return ["dataset", "setup", "lam", "loss"]


def _with_setup(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``setup`` column ("" for tables made before set-ups existed)."""
    if "setup" in frame.columns or frame.empty:
        return frame
    return frame.assign(setup="")


def _ordered(frame: pd.DataFrame, config: StudyConfig | None) -> pd.DataFrame:
    """Sort rows in the study's order: datasets, λ, losses as given, reference last."""
    if frame.empty:
        return frame
    datasets = list(config.datasets) if config else list(dict.fromkeys(frame["dataset"]))
    lams = list(config.lams) if config else list(dict.fromkeys(frame["lam"]))
    losses = (
        list(config.losses)
        if config
        else [x for x in dict.fromkeys(frame["loss"]) if x != REFERENCE]
    )
    losses = [*losses, REFERENCE]
    setups = (
        list(config.setups())
        if config
        else list(dict.fromkeys(frame["setup"] if "setup" in frame else []))
    )
    key = {
        "dataset": {v: i for i, v in enumerate(datasets)},
        "setup": {v: i for i, v in enumerate(setups)},
        "lam": {v: i for i, v in enumerate(lams)},
        "loss": {v: i for i, v in enumerate(losses)},
    }
    frame = frame.copy()
    sort_cols = []
    for col, mapping in key.items():
        if col not in frame.columns:
            continue
        frame[f"_{col}"] = frame[col].map(mapping).fillna(len(mapping))
        sort_cols.append(f"_{col}")
    extra = [c for c in ("repeat", "stage", "class_index", "epoch") if c in frame.columns]
    frame = frame.sort_values([*sort_cols, *extra], kind="stable")
    return frame.drop(columns=sort_cols).reset_index(drop=True)


def aggregate(runs: pd.DataFrame, config: StudyConfig | None = None) -> pd.DataFrame:
    """One row per dataset × λ × loss: ``n_runs``, ``n_failed`` (status diverged or
    error), ``statuses`` (e.g. ``"converged:4 max_epochs:1"``) and ``<metric>_mean`` /
    ``<metric>_std`` (sample std, ``ddof=1``) over the repeats with a finite value."""
    import numpy as np
    import pandas as pd

    rows = []
    runs = _with_setup(runs)
    for keys, group in runs.groupby(_group_keys(), sort=False):
        out = dict(zip(_group_keys(), keys, strict=True))
        status = group["status"].astype(str)
        out["n_runs"] = len(group)
        out["n_failed"] = int(status.isin(FAILED_STATUSES).sum())
        counts = status.value_counts()
        out["statuses"] = " ".join(f"{k}:{counts[k]}" for k in sorted(counts.index))
        for metric in METRICS:
            if metric not in group.columns:
                out[f"{metric}_mean"] = out[f"{metric}_std"] = np.nan
                continue
            v = pd.to_numeric(group[metric], errors="coerce").to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            out[f"{metric}_mean"] = float(v.mean()) if v.size else np.nan
            out[f"{metric}_std"] = float(v.std(ddof=1)) if v.size > 1 else np.nan
        rows.append(out)
    return _ordered(pd.DataFrame(rows), config)


def aggregate_per_class(per_class: pd.DataFrame, config: StudyConfig | None = None):
    """Mean and std over repeats of the per-class wrong-way share, per dataset × λ × loss ×
    stage × class."""
    import pandas as pd

    if per_class.empty:
        return pd.DataFrame(
            columns=[*_group_keys(), "stage", "class_index", "class", "wrong_way_share"]
        )
    keys = [*_group_keys(), "stage", "class_index", "class"]
    per_class = _with_setup(per_class)
    grouped = per_class.groupby(keys, sort=False)["wrong_way_share"]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    out = out.rename(
        columns={"mean": "wrong_way_share", "std": "wrong_way_share_std", "count": "n_runs"}
    )
    return _ordered(out, config)


def epoch_curves(history: pd.DataFrame) -> pd.DataFrame:
    """Mean over repeats per dataset × λ × loss × epoch.

    A repeat that stopped before the longest one in its cell is carried forward with its
    last record (its final parameters stay what they are), so each epoch's mean is over
    all repeats.
    """
    import pandas as pd

    if history.empty:
        return history.copy()
    history = _with_setup(history)
    value_cols = [c for c in history.columns if c not in (*_group_keys(), "repeat", "seed")]
    value_cols.remove("epoch")
    parts = []
    for keys, cell in history.groupby(_group_keys(), sort=False):
        last = int(cell["epoch"].max())
        epochs = pd.RangeIndex(0, last + 1, name="epoch")
        filled = [
            rep.set_index("epoch")[value_cols].reindex(epochs).ffill()
            for _, rep in cell.groupby("repeat", sort=False)
        ]
        mean = pd.concat(filled).groupby(level=0).mean().reset_index()
        for k, v in zip(_group_keys(), keys, strict=True):
            mean.insert(0, k, v)
        parts.append(mean)
    out = pd.concat(parts, ignore_index=True)
    return out[[*_group_keys(), "epoch", *value_cols]]


@dataclass
class StudyResult:
    """Tables and metadata of a finished study (also what :func:`load_report` returns)."""

    config: StudyConfig
    summary: pd.DataFrame
    runs: pd.DataFrame
    per_class: pd.DataFrame
    history: pd.DataFrame
    name: str = ""
    experiment: str | None = None
    run_id: str | None = None
    out_dir: Path | None = None
    started: str = ""
    seconds: float = math.nan
    tracking_error: str | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def per_class_summary(self) -> pd.DataFrame:
        return aggregate_per_class(self.per_class, self.config)

    @property
    def curves(self) -> pd.DataFrame:
        return epoch_curves(self.history)

    @property
    def n_failed(self) -> int:
        return int(self.summary["n_failed"].sum()) if not self.summary.empty else 0
