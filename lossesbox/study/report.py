"""The study report: tables, charts, Markdown/HTML/CSV files, and loading studies back."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


from .aggregate import StudyResult, _group_keys, _with_setup
from .config import FAILED_STATUSES, REFERENCE, REPORT_FILES, StudyConfig

# ------------------------------------------------------------------------ the report


def _fmt(mean: float, std: float, digits: int = 3) -> str:
    if mean is None or not math.isfinite(mean):
        return "–"
    if std is None or not math.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _fmt1(v: float, digits: int = 3) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The report's main table, formatted as strings (mean ± std)."""
    import pandas as pd

    several = summary["lam"].nunique() > 1 if not summary.empty else False
    setups = "setup" in summary.columns and summary["setup"].nunique() > 1
    rows = []
    for _, r in summary.iterrows():
        row = {"dataset": r["dataset"]}
        if setups:
            row["set-up"] = r["setup"]
        if several:
            row["λ"] = f"{r['lam']:g}"
        row.update(
            {
                "loss": r["loss"],
                "test accuracy": _fmt(r["test_accuracy_mean"], r["test_accuracy_std"]),
                "test log-loss": _fmt(r["test_log_loss_mean"], r["test_log_loss_std"]),
                "Δ accuracy vs reference": _fmt(
                    r.get("test_accuracy_vs_reference_mean", math.nan),
                    r.get("test_accuracy_vs_reference_std", math.nan),
                ),
                "wrong-way, init zeros": _init_zeros_cell(r),
                "wrong-way, init normal": _fmt1(r["wrong_way_init_normal_mean"]),
                "wrong-way, max in training": _fmt1(r["wrong_way_max_mean"]),
                "wrong-way, end": _fmt(r["wrong_way_final_mean"], r["wrong_way_final_std"]),
                "epochs": _fmt1(r["epochs_mean"], 0),
                "epochs to 95%": _fmt1(r["epochs_to_95_mean"], 1),
                "seconds to 95%": _fmt1(r["seconds_to_95_mean"], 3),
                "failed": f"{int(r['n_failed'])}/{int(r['n_runs'])}",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _init_zeros_cell(r) -> str:
    """The init-zeros share, saying so when every wrong-class gradient was exactly 0."""
    text = _fmt1(r["wrong_way_init_zeros_mean"])
    zero = r.get("wrong_zero_init_zeros_mean", math.nan)
    if zero is not None and math.isfinite(zero) and zero == 1.0:
        return f"{text} (all exactly 0)"
    return text


def _per_class_tables(per_class_summary: pd.DataFrame, stage: str) -> dict[str, pd.DataFrame]:
    """Per panel (dataset, λ): a loss × class table of the mean wrong-way share."""
    out = {}
    data = per_class_summary[per_class_summary["stage"] == stage]
    several = data["lam"].nunique() > 1 if not data.empty else False
    setups = "setup" in data.columns and data["setup"].nunique() > 1
    keys = ["dataset", "setup", "lam"] if "setup" in data.columns else ["dataset", "lam"]
    for values, part in data.groupby(keys, sort=False):
        dataset, lam = values[0], values[-1]
        title = f"{dataset}" + (f", {values[1]}" if setups else "")
        title += f" (λ={lam:g})" if several else ""
        table = part.pivot_table(
            index="loss", columns="class_index", values="wrong_way_share", sort=False
        )
        names = dict(zip(part["class_index"], part["class"], strict=False))
        table.columns = [str(names[c]) for c in table.columns]
        table = table.map(lambda v: _fmt1(v, 2))
        out[title] = table.reset_index()
    return out


def _markdown_table(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def stop_notes(runs: pd.DataFrame, config: StudyConfig | None = None) -> list[str]:
    """One line per cell whose runs failed, hit the iteration cap (unless ``tol == 0``
    made a fixed number of epochs the plan), stopped on a failed line search, or use a
    non-differentiable loss."""
    from ..losses import LOSSES

    fixed_epochs = config is not None and config.tol == 0
    notes = []
    runs = _with_setup(runs)
    for (dataset, setup, lam, loss), group in runs.groupby(_group_keys(), sort=False):
        reasons = group["stop_reason"].fillna("").astype(str)
        failed = group["status"].isin(FAILED_STATUSES)
        line_search = reasons.str.contains("ABNORMAL|LINE SEARCH|line search", case=False)
        capped = group["status"] == "max_epochs"
        bits = []
        if failed.any():
            first = reasons[failed].iloc[0].rstrip(".")
            bits.append(f"{int(failed.sum())} of {len(group)} failed (first: {first})")
        if line_search.any():
            bits.append(f"{int(line_search.sum())} stopped on a failed L-BFGS line search")
        if capped.any() and not fixed_epochs and loss != REFERENCE:
            bits.append(f"{int(capped.sum())} of {len(group)} reached the iteration cap")
        if loss in LOSSES and not LOSSES[loss].smooth:
            bits.append(
                f"{loss} is not differentiable: a solver's stopping test does not certify "
                "an optimum"
            )
        if bits:
            where = f"{dataset}, {setup}" if runs["setup"].nunique() > 1 else dataset
            notes.append(f"- {where}, λ={lam:g}, {loss}: " + "; ".join(bits) + ".")
    return notes


def _charts(result: StudyResult) -> dict[str, Any]:
    from . import charts as sc

    charts: dict[str, Any] = {}
    summary = result.summary
    if summary.empty:
        return charts
    charts["test_accuracy"] = sc.mean_std_chart(summary, "test_accuracy")
    charts["test_log_loss"] = sc.mean_std_chart(summary, "test_log_loss")
    charts["wrong_way_stages"] = sc.stage_chart(summary[summary["loss"] != REFERENCE])
    if not result.history.empty:
        charts["wrong_way_curves"] = sc.curves_chart(result.curves, "wrong_way_share")
        charts["train_accuracy_curves"] = sc.curves_chart(result.curves, "train_accuracy")
        curves = result.curves
        if "val_accuracy" in curves.columns and curves["val_accuracy"].notna().any():
            charts["val_accuracy_curves"] = sc.curves_chart(curves, "val_accuracy")
    pcs = result.per_class_summary
    if not pcs.empty and (pcs["stage"] == "final").any():
        charts["per_class_final"] = sc.per_class_heatmap(pcs, "final")
    if not pcs.empty and (pcs["stage"] == "init_normal").any():
        charts["per_class_init_normal"] = sc.per_class_heatmap(pcs, "init_normal")
    charts["epochs_to_95"] = sc.mean_std_chart(
        summary[summary["loss"] != REFERENCE], "epochs_to_95"
    )
    return charts


CHART_TITLES = {
    "test_accuracy": "Test accuracy",
    "test_log_loss": "Test log-loss of predict_proba",
    "wrong_way_stages": "Wrong-way share at initialization and at the end",
    "wrong_way_curves": "Wrong-way share per epoch",
    "train_accuracy_curves": "Training accuracy per epoch",
    "val_accuracy_curves": "Held-out (validation) accuracy per epoch",
    "per_class_final": "Per class, at the end",
    "per_class_init_normal": "Per class, at a normal initialization",
    "epochs_to_95": "Epochs to 95% of the final training accuracy",
}


def _vl_convert():
    try:
        import vl_convert

        return vl_convert
    except ImportError:
        return None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "scikit-learn", "pandas", "mlflow", "altair"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    from .. import __version__

    out["lossesbox"] = __version__
    return out


def _markdown(result: StudyResult, chart_files: dict[str, str]) -> str:
    cfg = result.config
    lines = [
        f"# Loss study {result.name}",
        "",
        f"Command: `{cfg.command()}`",
        "",
        f"Started {result.started}, took {result.seconds:.1f} s. "
        + (
            f"MLflow experiment `{result.experiment}`, study run `{result.run_id}`."
            if result.run_id
            else "Not tracked in MLflow."
        ),
        "",
        "## Set-up",
        "",
        f"- Datasets: {', '.join(cfg.datasets)}; λ = {', '.join(f'{v:g}' for v in cfg.lams)} "
        "(objective (1/N) Σ L + (λ/2)‖W‖², bias not penalized).",
        f"- {cfg.repeats} repeats, seeds {cfg.seed}…{cfg.seed + cfg.repeats - 1}: stratified "
        f"{1 - cfg.test_size:.0%}/{cfg.test_size:.0%} train/test split, "
        + (
            "standardized features (scaler fitted on the training part)"
            if cfg.standardize
            else "raw features"
        )
        + ".",
        f"- Every loss has the same budget: set-ups {', '.join(f'`{k}`' for k in cfg.setups())}"
        f" (model, solver, learning rate), at most {cfg.max_epochs} epochs (lbfgs: "
        f"iterations), tol {cfg.tol:g}, init `{cfg.init}`"
        + (" (normal for linear, glorot for mlp)" if cfg.init == "random" else "")
        + (
            f", batch size {cfg.batch_size}, history `{cfg.history}`"
            + (
                " (from each epoch's mini-batches: lags the exact curves by up to one epoch)"
                if cfg.history == "running"
                else ""
            )
            if {"sgd", "adam"} & set(cfg.solvers)
            else ""
        )
        + (
            f"; {cfg.validation_fraction:.0%} of each training split held out for the "
            "per-epoch `val_accuracy` curves"
            if cfg.validation_fraction
            else ""
        )
        + ".",
        f"- Reference row `{REFERENCE}`: scikit-learn `LogisticRegression` (lbfgs) with "
        "C = 1/(λN) (K ≥ 3) or 2/(λN) (K = 2), N = training samples, on the same splits."
        + (
            ""
            if cfg.solver == "lbfgs"
            else " It is solved to scikit-learn's own tolerance, not with the budget above."
        )
        if cfg.reference
        else "- No reference row.",
        "- Wrong-way share: among wrong-class score gradients ∂L/∂s_j (y_j = 0) on the "
        "training data, the share < 0, i.e. gradient descent pushes that score *up*. "
        "'init zeros' / 'init normal' are at the initial parameters (W = 0, or "
        "W ~ N(0, 0.01²)), 'max in training' the largest over epochs ≥ 1, 'end' at the "
        "final parameters.",
        "- 'Δ accuracy vs reference': test accuracy minus the reference's on the same split, "
        "mean ± std over repeats (a paired difference: split-to-split noise cancels).",
        "- Means ± sample std over repeats; failed runs (diverged or error) are included "
        "with the parameters they ended with, and counted in 'failed'.",
        "",
        "## Results",
        "",
        _markdown_table(headline_table(result.summary)),
        "",
    ]
    notes = stop_notes(result.runs, result.config)
    if notes:
        lines += ["### How the runs stopped", "", *notes, ""]
    lines += ["## Per class: wrong-way share at the end (mean over repeats)", ""]
    for title, table in _per_class_tables(result.per_class_summary, "final").items():
        lines += [f"### {title}", "", _markdown_table(table), ""]
    if chart_files:
        lines += ["## Charts", ""]
        for key, path in chart_files.items():
            lines += [f"![{CHART_TITLES.get(key, key)}]({path})", ""]
    lines += [
        "## Files",
        "",
        "- `results.csv`: the table above, unformatted (one row per dataset × λ × loss).",
        "- `runs.csv`: one row per training run (repeat), with status, stop reason and run id.",
        "- `per_class.csv`: per-class wrong-way shares per run and stage.",
        "- `history.csv`: per-epoch records of every run.",
        "- `study.json`: the configuration, command and package versions.",
        "",
    ]
    return "\n".join(lines)


_HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
code { background: #f3f3f3; padding: 1px 4px; }
.chart { margin: 1em 0 2em; }
"""


def _html(result: StudyResult, charts: dict[str, Any], markdown_intro: str) -> str:
    """One HTML page: the tables, and the charts as Vega-Lite specs rendered by a Vega
    bundle embedded in the page (no network needed) when ``vl-convert-python`` is
    installed, else loaded from a CDN."""
    import html

    vlc = _vl_convert()
    if vlc is not None:
        from altair.utils._importers import vl_version_for_vl_convert

        head_js = "<script>\n" + vlc.javascript_bundle(vl_version=vl_version_for_vl_convert())
        head_js = head_js.replace("</script", "<\\/script") + "\n</script>"
        offline = True
    else:
        head_js = (
            '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script>'
            '<script src="https://cdn.jsdelivr.net/npm/vega-lite@6"></script>'
            '<script src="https://cdn.jsdelivr.net/npm/vega-embed@7"></script>'
        )
        offline = False
    cfg = result.config
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>Loss study {html.escape(result.name)}</title>",
        f"<style>{_HTML_STYLE}</style>",
        head_js,
        "</head><body>",
        f"<h1>Loss study {html.escape(result.name)}</h1>",
        f"<p>Command: <code>{html.escape(cfg.command())}</code></p>",
        f"<p>{html.escape(markdown_intro)}</p>",
    ]
    if not offline:
        parts.append(
            "<p><em>The charts load their JavaScript from a CDN; install vl-convert-python "
            "for a report that works offline.</em></p>"
        )
    parts += ["<h2>Results</h2>", headline_table(result.summary).to_html(index=False)]
    notes = stop_notes(result.runs, result.config)
    if notes:
        parts += ["<h3>How the runs stopped</h3><ul>"]
        parts += [f"<li>{html.escape(n[2:])}</li>" for n in notes]
        parts += ["</ul>"]
    parts.append("<h2>Per class: wrong-way share at the end (mean over repeats)</h2>")
    for title, table in _per_class_tables(result.per_class_summary, "final").items():
        parts += [f"<h3>{html.escape(title)}</h3>", table.to_html(index=False)]
    parts.append("<h2>Charts</h2>")
    for i, (key, chart) in enumerate(charts.items()):
        spec = json.dumps(chart.to_dict()).replace("</", "<\\/")
        parts += [
            f"<h3>{html.escape(CHART_TITLES.get(key, key))}</h3>",
            f'<div class="chart" id="chart{i}"></div>',
            f"<script>vegaEmbed('#chart{i}', {spec}, {{actions: false}})"
            ".catch(console.error);</script>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result: StudyResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write the report folder; returns ``{part: path}`` (see :data:`REPORT_FILES`).

    Markdown and the CSV tables always; HTML with the charts embedded; SVG charts in
    ``charts/`` (linked from the Markdown) when ``vl-convert-python`` is installed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {k: out / v for k, v in REPORT_FILES.items()}
    result.summary.to_csv(files["summary"], index=False)
    result.runs.to_csv(files["runs"], index=False)
    result.per_class.to_csv(files["per_class"], index=False)
    result.history.to_csv(files["history"], index=False)
    meta = {
        "name": result.name,
        "command": result.config.command(),
        "config": result.config.to_dict(),
        "experiment": result.experiment,
        "run_id": result.run_id,
        "started": result.started,
        "seconds": result.seconds,
        "versions": _versions(),
        "host": platform.node(),
        "argv": sys.argv,
    }
    files["meta"].write_text(json.dumps(meta, indent=2, default=str))

    charts = _charts(result)
    chart_files: dict[str, str] = {}
    vlc = _vl_convert()
    if vlc is not None and charts:
        (out / "charts").mkdir(exist_ok=True)
        for key, chart in charts.items():
            path = out / "charts" / f"{key}.svg"
            chart.save(str(path))
            chart_files[key] = f"charts/{key}.svg"
            files[f"chart_{key}"] = path
    files["markdown"].write_text(_markdown(result, chart_files))
    intro = f"Started {result.started}, {result.seconds:.1f} s; " + (
        f"MLflow experiment {result.experiment}, study run {result.run_id}."
        if result.run_id
        else "not tracked."
    )
    files["html"].write_text(_html(result, charts, intro))
    return files


def load_report(directory: str | os.PathLike) -> StudyResult:
    """Read a report folder written by :func:`write_report` back into a
    :class:`StudyResult`."""
    import pandas as pd

    d = Path(directory)
    meta = json.loads((d / REPORT_FILES["meta"]).read_text())
    config = StudyConfig.from_dict(meta["config"])

    def read(part: str) -> pd.DataFrame:
        path = d / REPORT_FILES[part]
        try:
            return pd.read_csv(path)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()

    return StudyResult(
        config=config,
        summary=read("summary"),
        runs=read("runs"),
        per_class=read("per_class"),
        history=read("history"),
        name=meta.get("name", ""),
        experiment=meta.get("experiment"),
        run_id=meta.get("run_id"),
        out_dir=d,
        started=meta.get("started", ""),
        seconds=float(meta.get("seconds", math.nan)),
        files={k: d / v for k, v in REPORT_FILES.items() if (d / v).exists()},
    )


def list_studies(tracking_uri: str | None = None) -> pd.DataFrame:
    """Study runs in the MLflow store, newest first (``lossesbox.tracking.list_runs``
    columns); empty when there are none."""
    from .. import tracking as _tracking

    runs = _tracking.list_runs(tracking_uri=tracking_uri)
    if runs.empty or "tags.lossesbox.kind" not in runs.columns:
        return runs.iloc[0:0]
    return runs[runs["tags.lossesbox.kind"] == "study"].reset_index(drop=True)


def load_study(run_id: str, *, tracking_uri: str | None = None) -> StudyResult:
    """Read the report that study run ``run_id`` logged as its ``report/`` artifact,
    downloaded from the run's artifact store (local folder, tracking server or object
    store) into a new temporary folder."""
    import tempfile

    from .. import tracking as _tracking

    studies = list_studies(tracking_uri)
    if studies.empty or not (studies["run_id"] == run_id).any():
        raise ValueError(f"no study run {run_id!r} in the MLflow store")
    target = Path(tempfile.mkdtemp(prefix="lossesbox-study-"))
    try:
        folder = _tracking.download_artifacts(
            run_id, "report", str(target), tracking_uri=tracking_uri
        )
    except ValueError:
        raise ValueError(f"study run {run_id} has no report artifact") from None
    if not (Path(folder) / REPORT_FILES["meta"]).exists():
        raise ValueError(
            f"study run {run_id} has no report artifact ({REPORT_FILES['meta']} missing)"
        )
    return load_report(folder)
