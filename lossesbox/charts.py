"""Altair chart builders: pure functions of DataFrames and arrays (no Streamlit).

Used by the dashboard pages and reusable for HTML artifacts (``chart.save("x.html")``).
Every builder takes plain data and returns an ``alt.Chart`` (or layer/concat); NaN/inf
become nulls, and data over Altair's default 5,000 rows is embedded inline so it still
serializes.

History frames use DESIGN.md's keys: one row per epoch with ``epoch, objective,
data_loss, penalty, train_accuracy, val_accuracy, wrong_way_share, ...`` and per class c
``wrong_way_share.class_<c>`` (also ``wrong_zero_share.class_<c>``,
``true_wrong_way_share.class_<c>``).

Sign colours (the dashboard's sign language): right way green, wrong way red, zero grey.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

__all__ = [
    "SIGN_COLORS",
    "accuracy_curves",
    "confusion_matrix_chart",
    "curve_frame",
    "curve_spec",
    "decision_regions_chart",
    "distribution_bars",
    "heatmap_height",
    "lambda_sweep_chart",
    "landscape_chart",
    "runs_overlay_chart",
    "sample_gradient_chart",
    "sign_heatmap",
    "sign_lines",
    "spread_chart",
    "standalone",
    "to_svg",
    "training_curves",
    "with_rule",
]

SIGN_COLORS = {"right way": "#2e7d32", "wrong way": "#c62828", "zero": "#9e9e9e"}
_SIGN_SCALE = alt.Scale(domain=list(SIGN_COLORS), range=list(SIGN_COLORS.values()))

LOSS_METRICS = ("objective", "data_loss", "penalty")
ACCURACY_METRICS = ("train_accuracy", "val_accuracy")
SHARE_KINDS = {
    "wrong_way_share": "wrong-class gradients pushing the score up (wrong way)",
    "wrong_zero_share": "wrong-class gradients exactly zero",
    "true_wrong_way_share": "true-class gradients pushing the score down (wrong way)",
}
_CLASS_COLUMN = re.compile(r"^(?P<kind>[a-z_]+)\.class_(?P<c>\d+)$")


FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")
"""Charts fill the container's width; ``height`` is the plot's own height. (Streamlit's
default, ``fit``, squeezes title, axes and legend *into* ``height``: a 120 px heatmap with
a colour legend kept 2 px for its rows.)"""

CURVE_COLORS = ["#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]
"""Line colours in metric order (Tableau's blue, orange, red, green, …): never two blues."""

_CLASS_SCALE = alt.Scale(scheme="tableau10")
"""Classes in clearly different hues (Streamlit's default palette starts with two blues)."""

_MAX_FRAME_ROWS = 5000  # Altair's default max_rows for DataFrames


def standalone(chart: alt.TopLevelMixin, width: int = 640) -> alt.TopLevelMixin:
    """``chart`` at a fixed ``width`` with Vega-Lite's default sizing, for a file (and for
    ``&``/``|`` composition, which refuses a sub-chart's own ``autosize``)."""
    out = chart.copy(deep=False)
    out.autosize = alt.Undefined
    return out.properties(width=width)


def with_rule(
    chart: alt.Chart, epoch: float | None, *, offset: float = 0.0
) -> alt.Chart | alt.LayerChart:
    """``chart`` (x = ``epoch``) with a dashed vertical rule at ``epoch + offset`` (the
    replay's epoch; ``offset=0.5`` marks the middle of a heatmap column). ``None``: the
    chart unchanged."""
    if epoch is None:
        return chart
    base = chart.copy(deep=False)
    base.autosize = alt.Undefined  # a layer's parts may not size themselves
    title, base.title = base.title, alt.Undefined  # the layer carries the title
    rule = (
        alt.Chart(pd.DataFrame({"epoch": [float(epoch) + offset]}))
        .mark_rule(strokeDash=[5, 3], color="#212121", strokeWidth=1.5)
        .encode(x="epoch:Q")
    )
    return alt.layer(base, rule).properties(autosize=FIT_WIDTH, title=title)


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart rendered to SVG by vl-convert: a picture that needs no network (no Vega
    from a CDN) and that MLflow's artifact viewer shows as an image."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_dict())


def _clean(value):
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _data(frame: pd.DataFrame) -> pd.DataFrame | alt.InlineData:
    """Chart data with ±inf as missing.

    Up to 5,000 rows: the DataFrame itself (fast: Streamlit ships it as Arrow, Altair's
    ``to_dict`` turns NaN into null). Larger: inline records with nulls, which bypass
    Altair's default 5,000-row limit (slower to build: every record is validated).
    """
    frame = frame.reset_index(drop=True)
    numeric = frame.select_dtypes(include="number").columns
    if len(numeric):
        frame = frame.copy()
        frame[numeric] = frame[numeric].replace([np.inf, -np.inf], np.nan)
    if len(frame) <= _MAX_FRAME_ROWS:
        return frame
    records = [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]
    return alt.InlineData(values=records)


def curve_frame(history: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Long form ``epoch, metric, value`` of the ``metrics`` present in ``history``, with
    non-finite values (NaN validation keys without a split, inf) left out."""
    present = [m for m in metrics if m in history.columns]
    if "epoch" not in history.columns:
        raise ValueError("history needs an 'epoch' column")
    n = len(history)
    # numpy rather than DataFrame.melt: this runs on every live redraw
    values = np.concatenate(
        [pd.to_numeric(history[m], errors="coerce").to_numpy(dtype=float) for m in present]
        or [np.empty(0)]
    )
    epoch = np.tile(history["epoch"].to_numpy(), len(present))
    metric = np.repeat(np.array(present, dtype=object), n)
    keep = np.isfinite(values)
    return pd.DataFrame({"epoch": epoch[keep], "metric": metric[keep], "value": values[keep]})


def _curves(
    data,
    metrics: Sequence[str],
    *,
    title: str | None,
    log_y: bool,
    y_title: str,
    y_domain: tuple[float, float] | None,
    height: int,
    points: bool,
) -> alt.Chart:
    scale = (
        alt.Scale(type="log")
        if log_y
        else alt.Scale(domain=list(y_domain) if y_domain else alt.Undefined, zero=False)
    )
    chart = (
        alt.Chart(data)
        .mark_line(point=points)
        .encode(
            x=alt.X("epoch:Q", axis=_epoch_axis()),
            y=alt.Y("value:Q", title=y_title, scale=scale),
            # distinct hues, in the order given (objective blue, data_loss orange, …)
            color=alt.Color(
                "metric:N",
                sort=list(metrics),
                title=None,
                scale=alt.Scale(domain=list(metrics), range=CURVE_COLORS[: len(metrics)]),
            ),
            tooltip=["epoch:Q", "metric:N", alt.Tooltip("value:Q", format=".5g")],
        )
        .properties(height=height, width="container", autosize=FIT_WIDTH)
    )
    return chart.properties(title=title) if title else chart


def training_curves(
    history: pd.DataFrame,
    metrics: Sequence[str] = LOSS_METRICS,
    *,
    title: str | None = "Objective J = data loss + penalty",
    log_y: bool = False,
    y_title: str = "value",
    y_domain: tuple[float, float] | None = None,
    height: int = 240,
) -> alt.Chart:
    """Line chart of ``metrics`` against ``epoch``, one colour per metric.

    Missing metrics and non-finite values (NaN validation keys without a split) are left
    out. ``log_y`` uses a log scale (non-positive values are then dropped).
    """
    long = curve_frame(history, metrics)
    if log_y:
        long = long[long["value"] > 0]
    return _curves(
        _data(long),
        metrics,
        title=title,
        log_y=log_y,
        y_title=y_title,
        y_domain=y_domain,
        height=height,
        points=len(history) <= 30,
    )


def accuracy_curves(history: pd.DataFrame, *, height: int = 240) -> alt.Chart:
    """Train and validation accuracy per epoch (validation only where a split exists)."""
    return training_curves(
        history,
        ACCURACY_METRICS,
        title="Accuracy",
        y_title="accuracy",
        y_domain=(0.0, 1.0),
        height=height,
    )


CURVE_STYLES = {
    "loss": {"metrics": LOSS_METRICS, "title": "Objective J = data loss + penalty"},
    "accuracy": {
        "metrics": ACCURACY_METRICS,
        "title": "Accuracy",
        "y_title": "accuracy",
        "y_domain": (0.0, 1.0),
    },
}


@functools.lru_cache(maxsize=8)
def _curve_template(style: str, height: int) -> str:
    opts = dict(CURVE_STYLES[style])
    metrics = opts.pop("metrics")
    empty = pd.DataFrame({"epoch": pd.Series(dtype=int), "metric": [], "value": []})
    spec = _curves(
        empty,
        metrics,
        title=opts.get("title"),
        log_y=False,
        y_title=opts.get("y_title", "value"),
        y_domain=opts.get("y_domain"),
        height=height,
        points=False,
    ).to_dict()
    spec.pop("data", None)
    spec.pop("datasets", None)
    return json.dumps(spec)


def curve_spec(style: str = "loss", *, height: int = 240) -> dict:
    """The Vega-Lite spec (a fresh dict, **without data**) of :func:`training_curves`
    (``style="loss"``) or :func:`accuracy_curves` (``"accuracy"``), for
    ``st.vega_lite_chart(curve_frame(history, CURVE_STYLES[style]["metrics"]), spec)``.

    Built and validated by Altair once, then reused: a live view redrawing several times
    a second skips Altair's per-chart schema validation (tens of ms each, holding the GIL
    the training thread needs).
    """
    if style not in CURVE_STYLES:
        raise ValueError(f"style must be one of {', '.join(CURVE_STYLES)}; got {style!r}")
    return json.loads(_curve_template(style, height))


def class_columns(history: pd.DataFrame, kind: str = "wrong_way_share") -> list[int]:
    """Class indices c for which ``<kind>.class_<c>`` is a column, sorted."""
    out = []
    for col in history.columns:
        m = _CLASS_COLUMN.match(str(col))
        if m and m.group("kind") == kind:
            out.append(int(m.group("c")))
    return sorted(out)


def _class_long(history: pd.DataFrame, kind: str, class_names) -> pd.DataFrame:
    classes = class_columns(history, kind)
    if not classes:
        raise ValueError(f"history has no per-class '{kind}.class_<c>' columns")
    names = {c: (str(class_names[c]) if class_names is not None else str(c)) for c in classes}
    rows = []
    epochs = history["epoch"].to_numpy()
    for c in classes:
        values = pd.to_numeric(history[f"{kind}.class_{c}"], errors="coerce").to_numpy()
        for e, v in zip(epochs, values, strict=True):
            rows.append({"epoch": int(e), "class": names[c], "class_index": c, "share": v})
    return pd.DataFrame(rows)


HEATMAP_ROW_PX = 18
"""Height of one class row in the gradient-sign heatmaps (12 px beyond 20 classes)."""


def heatmap_height(n_rows: int) -> int:
    """Plot height (px) of a heatmap with ``n_rows`` class rows: 18 px a row up to 20
    rows, 12 px a row beyond, never under 160 px (a chart under 150 px is unreadable)."""
    per_row = HEATMAP_ROW_PX if n_rows <= 20 else 12
    return max(160, per_row * n_rows)


def _epoch_axis(title: str = "epoch") -> alt.Axis:
    """Whole-number epoch ticks (never 0.0, 1.0, …)."""
    return alt.Axis(title=title, format="d", tickMinStep=1, labelFlush=True)


def sign_heatmap(
    history: pd.DataFrame,
    kind: str = "wrong_way_share",
    class_names: Sequence[str] | None = None,
    *,
    title: str | None = None,
    height: int | None = None,
) -> alt.Chart:
    """Epoch × class heatmap of a per-class share (0 white … 1 dark), NaN cells blank.

    ``kind`` is ``wrong_way_share`` (wrong-class gradients pushing up),
    ``wrong_zero_share`` or ``true_wrong_way_share``. Every class has a labelled row of
    at least 12 px (:func:`heatmap_height`); the colour legend lies horizontally under
    the plot, so it never squeezes the rows, and spans the whole 0–1 range.
    """
    if kind not in SHARE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(SHARE_KINDS)}; got {kind!r}")
    long = _class_long(history, kind, class_names)
    long["epoch_end"] = long["epoch"] + 1
    order = list(dict.fromkeys(long.sort_values("class_index")["class"]))
    n_classes = len(order)
    chart = (
        alt.Chart(_data(long))
        .mark_rect()
        .encode(
            x=alt.X("epoch:Q", axis=_epoch_axis(), scale=alt.Scale(nice=False, zero=False)),
            x2="epoch_end:Q",
            y=alt.Y(
                "class:N",
                sort=order,
                title="class",
                axis=alt.Axis(labelOverlap=False, labelLimit=180),
            ),
            color=alt.Color(
                "share:Q",
                # near-white at 0 (nothing pushes the wrong way), dark at 1; interpolated
                # in Lab (Vega's default, HCL, turns white into salmon right at 0)
                scale=alt.Scale(
                    domain=[0, 1],
                    range=["#f5f5f5", "#b71c1c" if kind != "wrong_zero_share" else "#212121"],
                    interpolate="lab",
                ),
                title="share of gradients",
                legend=alt.Legend(
                    orient="bottom",
                    direction="horizontal",
                    gradientLength=240,
                    values=[0, 0.25, 0.5, 0.75, 1],
                    format=".2~f",
                    titleLimit=300,
                ),
            ),
            tooltip=["epoch:Q", "class:N", alt.Tooltip("share:Q", format=".3f")],
        )
        .properties(
            height=height or heatmap_height(n_classes),
            width="container",
            autosize=FIT_WIDTH,
            title=title or SHARE_KINDS[kind],
        )
    )
    return chart


def sign_lines(
    history: pd.DataFrame,
    class_names: Sequence[str] | None = None,
    *,
    kind: str | None = None,
    title: str | None = None,
    height: int = 220,
) -> alt.Chart:
    """Share lines per epoch.

    Without ``kind``: the overall shares (``wrong_way_share``, ``wrong_zero_share``,
    ``true_wrong_way_share``) as three lines. With ``kind``: one line per class.
    """
    if kind is None:
        chart = training_curves(
            history,
            tuple(SHARE_KINDS),
            title=title or "Overall gradient-sign shares",
            y_title="share",
            y_domain=(0.0, 1.0),
            height=height,
        )
        return chart
    long = _class_long(history, kind, class_names)
    long = long[np.isfinite(long["share"].to_numpy(dtype=float))]
    return (
        alt.Chart(_data(long))
        .mark_line()
        .encode(
            x=alt.X("epoch:Q", axis=_epoch_axis()),
            y=alt.Y("share:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "class:N",
                sort=list(dict.fromkeys(long.sort_values("class_index")["class"])),
                scale=alt.Scale(
                    scheme="tableau10" if long["class"].nunique() <= 10 else "category20"
                ),
                legend=alt.Legend(symbolLimit=0, labelLimit=200),
            ),
            tooltip=["epoch:Q", "class:N", alt.Tooltip("share:Q", format=".3f")],
        )
        .properties(
            height=height, width="container", autosize=FIT_WIDTH, title=title or SHARE_KINDS[kind]
        )
    )


def sample_gradient_chart(frame: pd.DataFrame, *, height: int | None = None) -> alt.Chart:
    """Loss × class grid of one sample's gradient entries, coloured by sign.

    ``frame`` is :func:`lossesbox.landscape.sample_gradients`' output. Cells show the
    gradient value; colour says which way gradient descent moves that score (green right
    way, red wrong way, grey zero); the true class is marked with a star in its label.
    """
    frame = frame.copy()
    frame["label"] = [f"{g:.3g}" for g in frame["gradient"]]
    frame["class_label"] = [
        f"{c} ★" if r == "true" else str(c)
        for c, r in zip(frame["class"], frame["role"], strict=True)
    ]
    classes = list(dict.fromkeys(frame.sort_values("class_index")["class_label"]))
    losses = list(dict.fromkeys(frame["loss"]))
    base = alt.Chart(_data(frame)).encode(
        x=alt.X(
            "class_label:N", sort=classes, title="class (★ = true)", axis=alt.Axis(labelAngle=0)
        ),
        y=alt.Y(
            "loss:N", sort=losses, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=200)
        ),
    )
    rect = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "sign:N",
            scale=_SIGN_SCALE,
            title="descent moves the score",
            legend=alt.Legend(orient="bottom", titleLimit=300),
        ),
        tooltip=[
            "loss:N",
            "class:N",
            "role:N",
            alt.Tooltip("gradient:Q", format=".6g"),
            alt.Tooltip("value:Q", format=".6g", title="loss value"),
            "sign:N",
        ],
    )
    text = base.mark_text(color="white", fontWeight="bold").encode(text="label:N")
    return (rect + text).properties(
        height=height or max(160, 30 * len(losses)), width="container", autosize=FIT_WIDTH
    )


def landscape_chart(
    grid: pd.DataFrame,
    arrows: pd.DataFrame | None = None,
    *,
    x_title: str = "s_i",
    y_title: str = "s_j",
    title: str | None = None,
    log_color: bool = False,
    marker: tuple[float, float] | None = None,
    height: int = 380,
) -> alt.LayerChart:
    """Loss heatmap over two scores, the wrong-way region hatched, descent arrows on top.

    ``grid`` is :func:`lossesbox.landscape.landscape_frame`' output and ``arrows``
    :func:`lossesbox.landscape.arrow_frame`'s. Cells where a wrong-class score on an axis
    is pushed up (``pushed_up``) get a red outline. ``log_color`` colours by
    :math:`\\log_{10}` of the loss. ``marker`` draws the current point.
    """
    grid = grid.copy()
    loss = grid["loss"].to_numpy(dtype=float)
    finite = np.isfinite(loss)
    if log_color:
        with np.errstate(divide="ignore"):
            grid["colour"] = np.where(
                finite & (loss > 0), np.log10(np.maximum(loss, 1e-300)), np.nan
            )
        colour_title = "log10 loss"
    else:
        grid["colour"] = np.where(finite, loss, np.nan)
        colour_title = "loss"
    cells = grid[np.isfinite(grid["colour"].to_numpy(dtype=float))]
    # clip extreme values so one overflowing corner does not wash out the picture
    hi = float(np.nanquantile(cells["colour"], 0.98)) if len(cells) else 1.0
    lo = float(np.nanmin(cells["colour"])) if len(cells) else 0.0
    x_scale = alt.Scale(domain=[float(grid["x0"].min()), float(grid["x1"].max())], nice=False)
    y_scale = alt.Scale(domain=[float(grid["y0"].min()), float(grid["y1"].max())], nice=False)
    heat = (
        alt.Chart(_data(cells))
        .mark_rect()
        .encode(
            x=alt.X("x0:Q", title=x_title, scale=x_scale),
            x2="x1:Q",
            y=alt.Y("y0:Q", title=y_title, scale=y_scale),
            y2="y1:Q",
            color=alt.Color(
                "colour:Q",
                title=colour_title,
                scale=alt.Scale(
                    scheme="viridis", domain=[lo, hi if hi > lo else lo + 1], clamp=True
                ),
            ),
            tooltip=[
                alt.Tooltip("x:Q", format=".3f", title=x_title),
                alt.Tooltip("y:Q", format=".3f", title=y_title),
                alt.Tooltip("loss:Q", format=".5g"),
                alt.Tooltip("grad_x:Q", format=".4g", title=f"dL/d{x_title}"),
                alt.Tooltip("grad_y:Q", format=".4g", title=f"dL/d{y_title}"),
                "pushed_up:N",
            ],
        )
    )
    layers = [heat]
    pushed = grid[grid["pushed_up"]]
    if len(pushed):
        layers.append(
            alt.Chart(_data(pushed[["x0", "x1", "y0", "y1"]]))
            .mark_rect(fill="#ff1744", fillOpacity=0.28, stroke=None)
            .encode(
                x=alt.X("x0:Q", scale=x_scale), x2="x1:Q", y=alt.Y("y0:Q", scale=y_scale), y2="y1:Q"
            )
        )
    if arrows is not None and len(arrows):
        shaft = (
            alt.Chart(_data(arrows))
            .mark_rule(color="white", strokeWidth=1.5)
            .encode(
                x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale), x2="x2:Q", y2="y2:Q"
            )
        )
        head = (
            alt.Chart(_data(arrows))
            .mark_point(shape="triangle", filled=True, color="white", size=40, opacity=1)
            .encode(
                x=alt.X("x2:Q", scale=x_scale),
                y=alt.Y("y2:Q", scale=y_scale),
                angle=alt.Angle("angle:Q", scale=None),
            )
        )
        layers += [shaft, head]
    if marker is not None:
        point = pd.DataFrame({"x": [marker[0]], "y": [marker[1]]})
        layers.append(
            alt.Chart(_data(point))
            .mark_point(shape="cross", size=160, color="black", filled=True)
            .encode(x=alt.X("x:Q", scale=x_scale), y=alt.Y("y:Q", scale=y_scale))
        )
    chart = alt.layer(*layers).properties(height=height, width="container", autosize=FIT_WIDTH)
    return chart.properties(title=title) if title else chart


def confusion_matrix_chart(
    matrix, class_names: Sequence[str] | None = None, *, title: str = "Confusion matrix (test set)"
) -> alt.LayerChart:
    """Heatmap of counts: rows true class, columns predicted class, counts written in."""
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"confusion matrix must be square, got shape {m.shape}")
    names = [str(c) for c in (class_names if class_names is not None else range(m.shape[0]))]
    rows = [
        {"true": names[i], "predicted": names[j], "count": int(m[i, j])}
        for i in range(m.shape[0])
        for j in range(m.shape[1])
    ]
    frame = pd.DataFrame(rows)
    threshold = float(m.max()) / 2 if m.size else 0.0
    base = alt.Chart(_data(frame)).encode(
        x=alt.X("predicted:N", sort=names, title="predicted", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("true:N", sort=names, title="true"),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues"), title="count"),
        tooltip=["true:N", "predicted:N", "count:Q"],
    )
    text = base.mark_text().encode(
        text="count:Q",
        color=alt.condition(alt.datum.count > threshold, alt.value("white"), alt.value("black")),
    )
    size = max(160, 32 * len(names))
    return (rect + text).properties(title=title, height=size, width=size)


def decision_regions_chart(
    grid: pd.DataFrame,
    points: pd.DataFrame,
    *,
    x: str = "x0",
    y: str = "x1",
    title: str = "Decision regions (test points outlined)",
    height: int = 380,
) -> alt.LayerChart:
    """Predicted class over a 2-D feature grid with the data points on top.

    ``grid`` has columns ``x, y, x0, x1, y0, y1`` (cell edges) and ``predicted``;
    ``points`` has ``x, y, label`` and optionally ``split`` ("train"/"test").
    """
    x_scale = alt.Scale(domain=[float(grid["x0"].min()), float(grid["x1"].max())], nice=False)
    y_scale = alt.Scale(domain=[float(grid["y0"].min()), float(grid["y1"].max())], nice=False)
    regions = (
        alt.Chart(_data(grid))
        .mark_rect(opacity=0.35)
        .encode(
            x=alt.X("x0:Q", title=x, scale=x_scale),
            x2="x1:Q",
            y=alt.Y("y0:Q", title=y, scale=y_scale),
            y2="y1:Q",
            color=alt.Color("predicted:N", title="class", scale=_CLASS_SCALE),
        )
    )
    encoding = {
        "x": alt.X("x:Q", scale=x_scale),
        "y": alt.Y("y:Q", scale=y_scale),
        "color": alt.Color("label:N", title="class", scale=_CLASS_SCALE),
        "tooltip": ["x:Q", "y:Q", "label:N"],
    }
    if "split" in points.columns:
        encoding["shape"] = alt.Shape("split:N", title="split")
        encoding["tooltip"] = [*encoding["tooltip"], "split:N"]
    dots = (
        alt.Chart(_data(points))
        .mark_point(filled=True, size=36, stroke="black", strokeWidth=0.5)
        .encode(**encoding)
    )
    return (regions + dots).properties(
        title=title, height=height, width="container", autosize=FIT_WIDTH
    )


def runs_overlay_chart(
    histories: pd.DataFrame,
    metric: str,
    *,
    run_column: str = "run",
    log_y: bool = False,
    epoch: int | None = None,
    x: str = "epoch",
    height: int = 320,
) -> alt.LayerChart | alt.Chart:
    """One line per run for ``metric`` (long frame with ``epoch``, ``run_column``, metric).

    ``x``: ``"epoch"``; ``"log"`` (a symmetric-log epoch axis: a 13-epoch run overlaid on
    a 200-epoch run is no longer squashed against the axis); ``"fraction"`` (each run's
    epoch divided by its own last epoch, 0…1). ``epoch`` draws a vertical rule there
    (not with ``"fraction"``). The legend lists every run under the plot.
    """
    if metric not in histories.columns:
        raise ValueError(f"no metric {metric!r} in the selected runs' histories")
    if x not in ("epoch", "log", "fraction"):
        raise ValueError(f"x must be 'epoch', 'log' or 'fraction'; got {x!r}")
    frame = histories[["epoch", run_column, metric]].copy()
    frame[metric] = pd.to_numeric(frame[metric], errors="coerce")
    frame = frame[np.isfinite(frame[metric].to_numpy(dtype=float))]
    if log_y:
        frame = frame[frame[metric] > 0]
    frame = frame.rename(columns={metric: "value", run_column: "run"})
    if x == "fraction":
        last = frame.groupby("run")["epoch"].transform("max").replace(0, 1)
        frame["x"] = frame["epoch"] / last
        x_enc = alt.X("x:Q", title="fraction of training (epoch / last epoch)")
    else:
        frame["x"] = frame["epoch"]
        x_enc = alt.X(
            "x:Q",
            title="epoch (symmetric log scale)" if x == "log" else "epoch",
            scale=alt.Scale(type="symlog") if x == "log" else alt.Undefined,
            axis=alt.Axis(format="d", tickMinStep=1),
        )
    n_runs = frame["run"].nunique()
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    lines = (
        alt.Chart(_data(frame))
        .mark_line(point=len(frame) <= 30 * max(n_runs, 1))
        .encode(
            x=x_enc,
            y=alt.Y("value:Q", title=metric, scale=scale),
            color=alt.Color(
                "run:N",
                title="run",
                scale=alt.Scale(scheme="tableau10" if n_runs <= 10 else "category20"),
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=500, symbolLimit=0),
            ),
            tooltip=[
                "run:N",
                "epoch:Q",
                alt.Tooltip("value:Q", format=".5g", title=metric),
            ],
        )
    )
    chart = lines
    if epoch is not None and x != "fraction":
        rule = (
            alt.Chart(_data(pd.DataFrame({"x": [epoch]})))
            .mark_rule(strokeDash=[4, 4], color="grey")
            .encode(x="x:Q")
        )
        chart = lines + rule
    return chart.properties(height=height, width="container", autosize=FIT_WIDTH)


def lambda_sweep_chart(
    frame: pd.DataFrame,
    y: str,
    *,
    lam: str = "lam",
    color: str = "loss",
    y_title: str | None = None,
    height: int = 260,
) -> alt.LayerChart:
    """``y`` against λ on a log axis, one line per ``color`` group (mean over repeats),
    every run as a point. Rows with λ ≤ 0 or a non-finite ``y`` are left out.
    """
    for col in (lam, y, color):
        if col not in frame.columns:
            raise ValueError(f"λ-sweep needs a {col!r} column")
    data = frame[[lam, y, color]].copy()
    data[lam] = pd.to_numeric(data[lam], errors="coerce")
    data[y] = pd.to_numeric(data[y], errors="coerce")
    ok = np.isfinite(data[lam].to_numpy(dtype=float)) & np.isfinite(data[y].to_numpy(dtype=float))
    data = data[ok & (data[lam] > 0)].rename(columns={lam: "lam", y: "y", color: "group"})
    mean = data.groupby(["group", "lam"], as_index=False)["y"].mean()
    x = alt.X("lam:Q", scale=alt.Scale(type="log"), title="λ (log scale)")
    lines = (
        alt.Chart(_data(mean))
        .mark_line()
        .encode(
            x=x,
            y=alt.Y("y:Q", title=y_title or y, scale=alt.Scale(zero=False)),
            color=alt.Color("group:N", title=color),
        )
    )
    dots = (
        alt.Chart(_data(data))
        .mark_point(filled=True, size=40)
        .encode(
            x=x,
            y="y:Q",
            color="group:N",
            tooltip=[
                alt.Tooltip("lam:Q", format=".3g", title="λ"),
                alt.Tooltip("y:Q", format=".4g", title=y),
                "group:N",
            ],
        )
    )
    return (lines + dots).properties(
        height=height, width="container", autosize=FIT_WIDTH, title=y_title or y
    )


def spread_chart(
    frame: pd.DataFrame, metric: str, *, group: str = "group", height: int = 260
) -> alt.LayerChart:
    """Spread of ``metric`` over repeats (seeds) per group: box plot plus the points."""
    data = frame[[group, metric]].copy()
    data[metric] = pd.to_numeric(data[metric], errors="coerce")
    data = data[np.isfinite(data[metric].to_numpy(dtype=float))].rename(
        columns={group: "group", metric: "value"}
    )
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False))
    box = (
        alt.Chart(_data(data))
        .mark_boxplot(extent="min-max", opacity=0.5)
        .encode(x=alt.X("group:N", title=None, axis=alt.Axis(labelAngle=-20, labelLimit=300)), y=y)
    )
    dots = (
        alt.Chart(_data(data))
        .mark_point(filled=True, color="black", size=30)
        .encode(x="group:N", y="value:Q", tooltip=["group:N", alt.Tooltip("value:Q", format=".4g")])
    )
    return (box + dots).properties(
        height=height, width="container", autosize=FIT_WIDTH, title=f"{metric}: spread over seeds"
    )


def distribution_bars(distributions: dict[str, Sequence[float]], *, height: int = 200) -> alt.Chart:
    """Grouped bars of a few discrete distributions over the same outcomes (e.g. P and Q)."""
    rows = [
        {"outcome": str(i), "distribution": name, "probability": float(v)}
        for name, values in distributions.items()
        for i, v in enumerate(values)
    ]
    return (
        alt.Chart(_data(pd.DataFrame(rows)))
        .mark_bar()
        .encode(
            x=alt.X("outcome:N", title="outcome", axis=alt.Axis(labelAngle=0)),
            xOffset="distribution:N",
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1])),
            color="distribution:N",
            tooltip=["distribution:N", "outcome:N", alt.Tooltip("probability:Q", format=".4f")],
        )
        .properties(height=height, width="container", autosize=FIT_WIDTH)
    )
