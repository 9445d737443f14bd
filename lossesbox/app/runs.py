"""Run comparison for the Compare runs page: pure pandas on ``lossesbox.tracking`` frames.

Inputs are :func:`lossesbox.tracking.list_runs` (one row per run with ``params.<name>``,
``metrics.<key>`` and ``tags.<key>`` columns) and :func:`lossesbox.tracking.get_histories`
(long ``run_id, key, step, value``). No Streamlit, no MLflow here.

What MLflow's own UI does not give (and users keep asking for): the parameters that
differ between the selected runs, each metric's best value and its epoch next to the last
value, the values at a chosen epoch, and the spread over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SEED_PARAMS",
    "class_names_from_params",
    "differing_params",
    "group_by_all_but_seed",
    "higher_is_better",
    "histories_wide",
    "lambda_sweep_frame",
    "metric_summary",
    "model_text",
    "param",
    "parent_run_ids",
    "run_label",
    "runs_table",
    "weight_norm",
]

SEED_PARAMS = ("seed", "random_state")
"""Parameter names that only choose a random seed."""

# Parameters shown in the table, first matching name wins (the runner may log either).
_TABLE_PARAMS = {
    "dataset": ("dataset", "dataset_name", "data"),
    "loss": ("loss",),
    "lam": ("lam", "lambda"),
    "solver": ("solver",),
    "learning_rate": ("learning_rate", "lr"),
    "max_epochs": ("max_epochs", "epochs"),
    "seed": SEED_PARAMS,
}
_TABLE_METRICS = (
    "test_accuracy",
    "val_accuracy",
    "train_accuracy",
    "test_log_loss",
    "objective",
    "wrong_way_share",
)


def param(row: pd.Series | dict, *names: str, default=None):
    """The first of ``params.<name>`` present and not null in a run row."""
    for name in names:
        value = row.get(f"params.{name}")
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            return value
    return default


def model_text(row: pd.Series | dict) -> str:
    """``"linear"`` or ``"mlp 100x100 relu"`` from a run's ``model``/``hidden``/``activation``
    parameters (runs logged before the MLP existed are linear)."""
    model = str(param(row, "model", default="linear"))
    if model != "mlp":
        return model
    hidden = param(row, "hidden", default="?")
    activation = param(row, "activation", default="")
    return f"mlp {hidden} {activation}".strip()


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def run_label(row: pd.Series | dict) -> str:
    """Short readable name: ``[model ·] loss · dataset · λ=… · solver · seed … · MM-DD
    HH:MM:SS · <run id prefix>`` (the model only for an MLP; the start time, UTC, tells
    repeated runs of one setting apart)."""
    model = model_text(row)
    parts = [
        *([model] if model != "linear" else []),
        str(param(row, *_TABLE_PARAMS["loss"], default="?")),
        str(param(row, *_TABLE_PARAMS["dataset"], default=row.get("experiment") or "?")),
    ]
    lam = param(row, *_TABLE_PARAMS["lam"])
    if lam is not None:
        parts.append(f"λ={_number(lam):g}")
    solver = param(row, "solver")
    if solver is not None:
        parts.append(str(solver))
    seed = param(row, *SEED_PARAMS)
    if seed is not None:
        parts.append(f"seed {seed}")
    started = _start_text(row.get("start_time"))
    if started:
        parts.append(started)  # runs with the same settings differ by when they ran
    run_id = str(row.get("run_id") or row.name or "")
    parts.append(run_id[:8])
    return " · ".join(parts)


def _start_text(value: Any) -> str:
    """``MM-DD HH:MM:SS`` (UTC) of a run's start time (a timestamp or epoch ms), or ''."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    try:
        stamp = pd.Timestamp(value, unit="ms") if isinstance(value, int | float) else None
        stamp = stamp if stamp is not None else pd.Timestamp(value)
    except (TypeError, ValueError):
        return ""
    if pd.isna(stamp):
        return ""
    return stamp.strftime("%m-%d %H:%M:%S")


def weight_norm(row: pd.Series | dict) -> float:
    r""":math:`\|W\|_F` of a run: the ``weight_norm`` metric if logged, else recovered from
    the final penalty :math:`\frac\lambda2\|W\|_F^2` as :math:`\sqrt{2\,\mathrm{penalty}/\lambda}`
    (NaN when λ = 0 and no ``weight_norm`` metric exists)."""
    direct = _number(row.get("metrics.weight_norm"))
    if math.isfinite(direct):
        return direct
    lam = _number(param(row, *_TABLE_PARAMS["lam"]))
    penalty = _number(row.get("metrics.penalty"))
    if math.isfinite(lam) and lam > 0 and math.isfinite(penalty) and penalty >= 0:
        return math.sqrt(2.0 * penalty / lam)
    return float("nan")


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs as a readable table, one row per run, indexed by ``run_id``.

    Columns: ``run, experiment, status, start_time`` (naive UTC) + the common parameters (``dataset,
    model, loss, lam, solver, learning_rate, max_epochs, seed``, numbers parsed; ``model`` is
    :func:`model_text`) + the final
    metrics present + ``weight_norm`` + ``stop_reason``.
    """
    if runs is None or len(runs) == 0:
        return pd.DataFrame(columns=["run", "experiment", "status"])
    out = pd.DataFrame(index=pd.Index(runs["run_id"], name="run_id"))
    out["run"] = [run_label(row) for _, row in runs.iterrows()]
    out["experiment"] = runs["experiment"].to_numpy()
    out["status"] = runs["status"].to_numpy()
    # naive UTC: Arrow (Streamlit's tables) warns on pandas' tz-aware columns
    out["start_time"] = pd.to_datetime(runs["start_time"], utc=True).dt.tz_localize(None).to_numpy()
    for col, names in _TABLE_PARAMS.items():
        values = [param(row, *names) for _, row in runs.iterrows()]
        if col == "dataset":
            values = [
                v if v is not None else e for v, e in zip(values, runs["experiment"], strict=True)
            ]
        if col in ("lam", "learning_rate", "max_epochs", "seed"):
            values = [_number(v) for v in values]
        out[col] = values
        if col == "dataset":
            out["model"] = [model_text(row) for _, row in runs.iterrows()]
    for metric in _TABLE_METRICS:
        key = f"metrics.{metric}"
        if key in runs.columns:
            out[metric] = pd.to_numeric(runs[key], errors="coerce").to_numpy()
    out["weight_norm"] = [weight_norm(row) for _, row in runs.iterrows()]
    reason = "tags.stop_reason"
    out["stop_reason"] = runs[reason].to_numpy() if reason in runs.columns else None
    return out


def differing_params(
    runs: pd.DataFrame, run_ids: Sequence[str] | None = None, *, all_params: bool = False
) -> pd.DataFrame:
    """Parameters of the selected runs, one column per run (labelled by :func:`run_label`).

    Only the parameters whose values differ between the runs (a parameter missing from
    some runs counts as differing), unless ``all_params``.
    """
    sel = runs if run_ids is None else runs.set_index("run_id").loc[list(run_ids)].reset_index()
    cols = sorted(c for c in sel.columns if c.startswith("params."))
    table = pd.DataFrame(
        {run_label(row): [row.get(c) for c in cols] for _, row in sel.iterrows()},
        index=pd.Index([c[len("params.") :] for c in cols], name="parameter"),
    )
    table = table.astype(object).where(table.notna(), None)
    if all_params or table.shape[1] < 2:
        return table
    keep = [i for i, values in table.iterrows() if len({repr(v) for v in values}) > 1]
    return table.loc[keep]


def higher_is_better(metric: str) -> bool:
    """Accuracies are maximized; losses, objectives, norms and wrong-way shares minimized."""
    return "accuracy" in metric


def histories_wide(histories: pd.DataFrame) -> pd.DataFrame:
    """Long ``run_id, key, step, value`` → one row per (run, epoch): ``run_id, epoch, <key>…``."""
    if histories is None or len(histories) == 0:
        return pd.DataFrame(columns=["run_id", "epoch"])
    wide = histories.pivot_table(
        index=["run_id", "step"], columns="key", values="value", aggfunc="last", sort=False
    )
    wide = wide.reset_index().rename(columns={"step": "epoch"})
    wide.columns.name = None
    return wide


def metric_summary(
    histories: pd.DataFrame,
    metrics: Iterable[str],
    *,
    epoch: int | None = None,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Per selected run and metric: last value and epoch, best value and its epoch, and
    (with ``epoch``) the value at that epoch (the last one logged at or before it).

    ``histories`` is long (``run_id, key, step, value``). "Best" is the max for accuracies
    and the min otherwise (:func:`higher_is_better`); non-finite values are ignored.
    """
    rows = []
    for (run_id, key), grp in histories[histories["key"].isin(list(metrics))].groupby(
        ["run_id", "key"], sort=False
    ):
        grp = grp.sort_values("step")
        values = grp["value"].to_numpy(dtype=float)
        steps = grp["step"].to_numpy()
        finite = np.isfinite(values)
        row = {
            "run": (labels or {}).get(run_id, run_id),
            "metric": key,
            "last": values[-1] if len(values) else np.nan,
            "last epoch": int(steps[-1]) if len(steps) else None,
        }
        if finite.any():
            fv, fs = values[finite], steps[finite]
            i = int(np.argmax(fv) if higher_is_better(key) else np.argmin(fv))
            row["best"] = fv[i]
            row["best epoch"] = int(fs[i])
        else:
            row["best"], row["best epoch"] = np.nan, None
        if epoch is not None:
            before = steps <= epoch
            row[f"at epoch {epoch}"] = values[before][-1] if before.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def group_by_all_but_seed(runs: pd.DataFrame, run_ids: Sequence[str] | None = None) -> pd.Series:
    """A group label per run: runs share a label when all their parameters except the
    seed (:data:`SEED_PARAMS`) are equal. The label lists the differing parameters."""
    sel = runs if run_ids is None else runs.set_index("run_id").loc[list(run_ids)].reset_index()
    cols = sorted(
        c for c in sel.columns if c.startswith("params.") and c[len("params.") :] not in SEED_PARAMS
    )
    keys = [tuple(str(row.get(c)) for c in cols) for _, row in sel.iterrows()]
    varying = [i for i, c in enumerate(cols) if len({k[i] for k in keys}) > 1]
    labels = []
    for key in keys:
        if varying:
            labels.append(", ".join(f"{cols[i][len('params.') :]}={key[i]}" for i in varying))
        else:
            labels.append("same parameters")
    return pd.Series(labels, index=pd.Index(sel["run_id"], name="run_id"), name="group")


def lambda_sweep_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run for the λ-sweep view: ``run_id, loss, dataset, lam`` and the final
    metrics (``val_accuracy``, ``test_accuracy``, ``train_accuracy``) plus ``weight_norm``."""
    table = runs_table(runs)
    cols = [
        c
        for c in (
            "loss",
            "dataset",
            "lam",
            "val_accuracy",
            "test_accuracy",
            "train_accuracy",
            "test_log_loss",
            "weight_norm",
        )
        if c in table.columns
    ]
    return table[cols].reset_index()


def parent_run_ids(runs: pd.DataFrame) -> set[str]:
    """Runs that other runs name as their parent (sweep and study parents)."""
    if "parent_run_id" not in runs.columns:
        return set()
    return {str(p) for p in runs["parent_run_id"].dropna() if p}


def class_names_from_params(row: pd.Series | dict) -> list[str] | None:
    """Class names from the ``class_counts`` parameter (``"name:count,name:count"``), or
    None when it is missing or unparsable."""
    text = param(row, "class_counts")
    if not text:
        return None
    names = []
    for item in str(text).split(","):
        name, sep, count = item.rpartition(":")
        if not sep or not count.strip().isdigit():
            return None
        names.append(name)
    return names or None
