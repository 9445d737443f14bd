"""Altair charts of a loss study: pure functions of the study's tables (no Streamlit).

The tables are those of :mod:`lossesbox.study` (also the CSV files of a study report):

- ``summary`` (``results.csv``): one row per dataset × λ × loss with ``<metric>_mean`` and
  ``<metric>_std`` columns, the reference row having ``loss == "sklearn_logreg"``;
- ``curves``: mean over repeats per dataset × λ × loss × epoch (see
  :func:`lossesbox.study.epoch_curves`);
- ``per_class_summary``: mean share per dataset × λ × loss × stage × class.

Charts embed their data inline with non-finite numbers as null, so they serialize to
valid JSON for a self-contained HTML report. Fixed widths: they are used both in the
report (no container to fill) and in the dashboard.
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from .config import REFERENCE

__all__ = [
    "STAGE_TITLES",
    "curves_chart",
    "mean_std_chart",
    "per_class_heatmap",
    "stage_chart",
]

STAGE_TITLES = {
    "init_zeros": "at init (zeros)",
    "init_normal": "at init (normal)",
    "final": "at the end",
}
_REF_COLOR = "#6a1b9a"
_LOSS_COLOR = "#1565c0"


def _clean(value):
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _data(frame: pd.DataFrame) -> alt.InlineData:
    records = [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]
    return alt.InlineData(values=records)


def _panel(frame: pd.DataFrame) -> pd.Series:
    """Facet label: the dataset, with the set-up and λ when the study has several."""
    label = frame["dataset"].astype(str)
    if "setup" in frame.columns and frame["setup"].nunique() > 1:
        label = label + ", " + frame["setup"].astype(str)
    if frame["lam"].nunique() > 1:
        label = label + " (λ=" + frame["lam"].map("{:g}".format) + ")"
    return label


def _loss_order(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["loss"]))


def _panel_order(frame: pd.DataFrame) -> list[str]:
    """Panels in the order the study lists them (not alphabetical)."""
    return list(dict.fromkeys(_panel(frame)))


def mean_std_chart(
    summary: pd.DataFrame,
    metric: str = "test_accuracy",
    *,
    title: str | None = None,
    width: int = 220,
) -> alt.FacetChart:
    """Mean ± std over repeats of ``metric`` per loss (points with error bars), one panel
    per dataset with its own x scale; the scikit-learn reference row in purple."""
    mean, std = f"{metric}_mean", f"{metric}_std"
    if mean not in summary.columns:
        raise ValueError(f"summary has no column {mean!r}")
    data = summary[[c for c in ("dataset", "setup", "lam", "loss", mean) if c in summary]].copy()
    data["std"] = summary[std].fillna(0.0) if std in summary.columns else 0.0
    data = data.rename(columns={mean: "mean"})
    data = data[np.isfinite(data["mean"].to_numpy(dtype=float))]
    data["lo"] = data["mean"] - data["std"]
    data["hi"] = data["mean"] + data["std"]
    data["panel"] = _panel(data)
    data["kind"] = np.where(data["loss"] == REFERENCE, "reference", "loss")
    order = _loss_order(summary)
    color = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=["loss", "reference"], range=[_LOSS_COLOR, _REF_COLOR]),
        legend=None,
    )
    y = alt.Y("loss:N", sort=order, title=None)
    x_title = metric.replace("_", " ")
    rule = (
        alt.Chart()
        .mark_rule()
        .encode(x=alt.X("lo:Q", title=x_title, scale=alt.Scale(zero=False)), x2="hi:Q", y=y)
    )
    point = (
        alt.Chart()
        .mark_point(filled=True, size=60)
        .encode(
            x="mean:Q",
            y=y,
            color=color,
            tooltip=[
                "panel:N",
                "loss:N",
                alt.Tooltip("mean:Q", format=".4f"),
                alt.Tooltip("std:Q", format=".4f"),
            ],
        )
    )
    return (
        alt.layer(rule, point, data=_data(data))
        .properties(width=width, height=max(120, 20 * len(order)))
        .facet(facet=alt.Facet("panel:N", title=None, sort=_panel_order(data)), columns=4)
        .resolve_scale(x="independent")
        .properties(title=title or f"{x_title}: mean ± std over repeats")
    )


def curves_chart(
    curves: pd.DataFrame,
    metric: str = "wrong_way_share",
    *,
    title: str | None = None,
    width: int = 260,
    height: int = 200,
) -> alt.FacetChart:
    """``metric`` (mean over repeats) against epoch, one line per loss, one panel per
    dataset. ``curves`` is :func:`lossesbox.study.epoch_curves` output."""
    if metric not in curves.columns:
        raise ValueError(f"curves has no column {metric!r}")
    keep = ("dataset", "setup", "lam", "loss", "epoch", metric)
    data = curves[[c for c in keep if c in curves]].copy()
    data = data[np.isfinite(data[metric].to_numpy(dtype=float))]
    data["panel"] = _panel(data)
    share = metric.endswith("share") or metric.endswith("accuracy")
    y_scale = alt.Scale(domain=[0, 1]) if share else alt.Scale(zero=False)
    line = (
        alt.Chart(_data(data))
        .mark_line()
        .encode(
            x=alt.X("epoch:Q", title="epoch"),
            y=alt.Y(f"{metric}:Q", title=metric.replace("_", " "), scale=y_scale),
            color=alt.Color("loss:N", sort=_loss_order(curves), title="loss"),
            tooltip=["panel:N", "loss:N", "epoch:Q", alt.Tooltip(f"{metric}:Q", format=".3f")],
        )
        .properties(width=width, height=height)
    )
    return (
        line.facet(facet=alt.Facet("panel:N", title=None, sort=_panel_order(data)), columns=2)
        .resolve_scale(x="independent")
        .properties(title=title or f"{metric.replace('_', ' ')} per epoch (mean over repeats)")
    )


def stage_chart(
    summary: pd.DataFrame,
    *,
    title: str | None = None,
    width: int = 260,
) -> alt.FacetChart:
    """Wrong-way share of wrong-class gradients at init (zeros, normal) and at the end,
    grouped bars per loss, one panel per dataset."""
    rows = []
    for _, r in summary.iterrows():
        for stage, label in STAGE_TITLES.items():
            value = r.get(f"wrong_way_{stage}_mean", np.nan)
            rows.append(
                {
                    "dataset": r["dataset"],
                    "setup": r.get("setup", ""),
                    "lam": r["lam"],
                    "loss": r["loss"],
                    "stage": label,
                    "share": float(value) if value is not None else np.nan,
                }
            )
    data = pd.DataFrame(rows)
    data["panel"] = _panel(data)
    order = _loss_order(summary)
    y = alt.Y("loss:N", sort=order, title=None)
    y_offset = alt.YOffset("stage:N", sort=list(STAGE_TITLES.values()))
    data["label"] = data["share"].map(lambda v: "n/a" if not np.isfinite(v) else f"{v:.2f}")
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            y=y,
            yOffset=y_offset,
            x=alt.X("share:Q", title="share pushed the wrong way", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("stage:N", sort=list(STAGE_TITLES.values()), title=None),
            tooltip=["panel:N", "loss:N", "stage:N", alt.Tooltip("share:Q", format=".4f")],
        )
    )
    text = (
        alt.Chart()
        .mark_text(align="left", dx=3, fontSize=8)
        .encode(y=y, yOffset=y_offset, x=alt.X("share:Q"), text="label:N")
    )
    return (
        alt.layer(bars, text, data=_data(data.fillna({"share": 0.0})))
        .properties(width=width, height=max(150, 36 * len(order)))
        .facet(facet=alt.Facet("panel:N", title=None, sort=_panel_order(data)), columns=4)
        .properties(title=title or "Wrong-class gradients pushing the score up (wrong way)")
    )


def per_class_heatmap(
    per_class_summary: pd.DataFrame,
    stage: str = "final",
    *,
    title: str | None = None,
) -> alt.FacetChart:
    """Loss × class heatmap of the wrong-way share (mean over repeats) at ``stage``, one
    panel per dataset, with the value written in each cell."""
    if stage not in STAGE_TITLES:
        raise ValueError(f"stage must be one of {', '.join(STAGE_TITLES)}; got {stage!r}")
    data = per_class_summary[per_class_summary["stage"] == stage].copy()
    if data.empty:
        raise ValueError(f"no per-class rows for stage {stage!r}")
    data["panel"] = _panel(data)
    data["label"] = data["wrong_way_share"].map(lambda v: "" if not np.isfinite(v) else f"{v:.2f}")
    order = _loss_order(data)
    x = alt.X("class:N", sort=alt.EncodingSortField("class_index"), title="class")
    white_to_red = alt.Scale(domain=[0, 1], range=["#ffffff", "#b71c1c"], interpolate="rgb")
    y = alt.Y("loss:N", sort=order, title=None)
    rect = (
        alt.Chart()
        .mark_rect(stroke="#dddddd", strokeWidth=0.5)
        .encode(
            x=x,
            y=y,
            color=alt.Color("wrong_way_share:Q", scale=white_to_red, title="share"),
            tooltip=[
                "panel:N",
                "loss:N",
                "class:N",
                alt.Tooltip("wrong_way_share:Q", format=".4f"),
            ],
        )
    )
    text = (
        alt.Chart()
        .mark_text(fontSize=9)
        .encode(
            x=x,
            y=y,
            text="label:N",
            color=alt.condition(
                alt.datum.wrong_way_share > 0.6, alt.value("white"), alt.value("black")
            ),
        )
    )
    return (
        alt.layer(rect, text, data=_data(data))
        .properties(height=max(120, 20 * len(order)), width=alt.Step(34))
        .facet(facet=alt.Facet("panel:N", title=None, sort=_panel_order(data)), columns=4)
        .resolve_scale(x="independent")
        .properties(
            title=title
            or f"Per class: wrong-class gradients pushed the wrong way, {STAGE_TITLES[stage]}"
        )
    )
