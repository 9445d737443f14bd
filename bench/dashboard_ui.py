"""Case ``dashboard``: the Train page as a person uses it, in headless Chromium.

- **First click** (target < 2 s on iris): a fresh ``streamlit run dashboard.py`` per round
  (temporary MLflow store). Two ways in: *Home first* — open Home, wait until its script
  is done (Home preloads scikit-learn, the charts and MLflow while it is read), click
  *Train* in the sidebar, click the Train button; *Train first* — open ``/Train``
  directly (the page preloads before drawing), then click. The clock runs from the click
  on Train to the run id ("Logged as run …") on screen: training, evaluation, logging
  the run and its model to MLflow, drawing the result. A second click on the same server
  is reported for scale.
- **Live view cost** (target ≤ 1.2×): moons (2-D, so the live view redraws the loss and
  accuracy curves *and* the decision regions every LIVE_EVERY = 1 s), sgd with batch 32 for 1500
  epochs (the noisy objective never triggers the tolerance stop), the page's default
  settings otherwise. The UI run's ``fit_seconds`` (the estimator's fit, read from the
  run in MLflow) against the same configuration trained by ``run_experiment`` in a plain
  process with no UI (warmed by a 5-epoch untracked fit first, as the server is by its
  preload), both tracked, rounds alternating.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Context, SkipCase, fmt, fmt_stats, markdown_table, summarize
from bench.startup import CHROMIUM, CHROMIUM_ARGS, ROOT, _streamlit_cmd, _wait_health, free_port

LIVE_EPOCHS = 1500
LIVE_CONFIG = dict(
    dataset="moons",
    solver="sgd",
    batch_size=32,
    max_epochs=LIVE_EPOCHS,
    init="zeros",
    validation_fraction=0.2,
    test_size=0.25,
    seed=0,
)
NO_UI = """
import json, sys
from lossesbox.datasets import load_dataset
from lossesbox.experiment import TrainConfig, run_experiment
config = TrainConfig(**json.loads(sys.argv[1]))
dataset = load_dataset(config.dataset)
# warm, as the dashboard's server is after its preload: one short untracked fit first
run_experiment(TrainConfig(**{**json.loads(sys.argv[1]), "max_epochs": 5}), dataset=dataset,
               track=False)
result = run_experiment(config, dataset=dataset)
print(json.dumps({"fit_seconds": result.metrics["fit_seconds"], "epochs": len(result.history)}))
"""


def _idle(page, timeout_s: float = 180) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')""",
        timeout=timeout_s * 1000,
    )


def _choose(page, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()


class _Server:
    def __init__(self, tmp: Path, env: dict):
        self.port = free_port()
        self.log = open(tmp / f"streamlit-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            _streamlit_cmd(self.port), cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        _wait_health(self.port, self.proc)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)
        self.log.close()


def _click_train(page) -> float:
    """Click Train; seconds until a new run id is on screen."""
    old = page.get_by_text(re.compile(r"Logged as run [0-9a-f]{32}")).all_inner_texts()
    t0 = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(
        """(old) => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
            .some(e => /Logged as run [0-9a-f]{32}/.test(e.textContent)
                       && !old.includes(e.textContent))""",
        arg=old,
        timeout=240_000,
        polling=20,
    )
    return time.perf_counter() - t0


def _first_click(browser, tmp: Path, env: dict, home_first: bool) -> dict:
    server = _Server(tmp, env)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        t0 = time.perf_counter()
        if home_first:
            page.goto(server.base, wait_until="domcontentloaded")
            page.get_by_role("heading", name="lossesbox").wait_for(timeout=120_000)
            _idle(page)
            home_ready = time.perf_counter() - t0
            page.get_by_test_id("stSidebarNavLink").filter(has_text="Train").click()
        else:
            home_ready = None
            page.goto(f"{server.base}/Train", wait_until="domcontentloaded")
        page.get_by_text("150 samples × 4 features").wait_for(timeout=180_000)
        _idle(page)
        page_ready = time.perf_counter() - t0
        first = _click_train(page)
        _idle(page)
        second = _click_train(page)
        return dict(home_ready=home_ready, page_ready=page_ready, first=first, second=second)
    finally:
        page.close()
        server.stop()


def _live_ui(browser, tmp: Path, env: dict, uri: str) -> float:
    from lossesbox.tracking import list_runs

    server = _Server(tmp, env)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server.base}/Train", wait_until="domcontentloaded")
        page.get_by_text("150 samples × 4 features").wait_for(timeout=180_000)
        _idle(page)
        _choose(page, "Dataset", "moons (generated)")
        page.get_by_text("2 features").first.wait_for(timeout=60_000)
        _choose(page, "Solver", "sgd")
        for label, value in (("Epochs (lbfgs: iterations)", LIVE_EPOCHS), ("Batch size", 32)):
            box = page.get_by_role("spinbutton", name=label)
            box.fill(str(value))
            box.press("Enter")
            _idle(page)
        _click_train(page)
        runs = list_runs(tracking_uri=uri)
        run = runs.sort_values("start_time").iloc[-1]
        assert run["params.dataset"] == "moons" and int(run["params.max_epochs"]) == LIVE_EPOCHS
        assert int(run["params.batch_size"]) == 32
        return float(run["metrics.fit_seconds"])
    finally:
        page.close()
        server.stop()


def _live_no_ui(env: dict) -> float:
    out = subprocess.run(
        [sys.executable, "-c", NO_UI, json.dumps(LIVE_CONFIG)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(json.loads(out.stdout.strip().splitlines()[-1])["fit_seconds"])


def _round(ctx: Context, browser, tmp: Path, r: int, acc: dict) -> None:
    store = tmp / f"round{r}"
    store.mkdir()
    uri = f"sqlite:///{store}/mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "LOSSESBOX_ARTIFACT_ROOT": str(store)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for home_first in (True, False):
        one = _first_click(browser, tmp, env, home_first)
        acc["home" if home_first else "direct"].append(one)
        ctx.log(f"[dashboard] first click ({'home' if home_first else 'direct'}): {one}")
    pair = [
        ("ui", lambda: _live_ui(browser, tmp, env, uri)),
        ("no_ui", lambda: _live_no_ui(env)),
    ]
    for name, fn in pair if r % 2 == 0 else reversed(pair):
        acc[name].append(fn())
    ctx.log(f"[dashboard] live fit: ui {acc['ui'][-1]:.2f} s, no UI {acc['no_ui'][-1]:.2f} s")


def _stats(rounds: list[dict]) -> dict:
    keys = [k for k in rounds[0] if rounds[0][k] is not None]
    return {k: summarize([x[k] for x in rounds]) for k in keys}


def run(ctx: Context) -> dict:
    if ctx.quick:
        raise SkipCase("--quick: no browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise SkipCase(f"playwright not installed ({exc})") from exc
    if not os.path.exists(CHROMIUM):
        raise SkipCase(f"{CHROMIUM} not found (apt-get install -y chromium)")
    acc: dict = {"home": [], "direct": [], "ui": [], "no_ui": []}
    prefix = "lossesbox-bench-click-"
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for r in range(ctx.repeats):
                _round(ctx, browser, Path(tmp), r, acc)
        finally:
            browser.close()
    first = {way: _stats(acc[way]) for way in ("home", "direct")}
    ratios = [u / n for u, n in zip(acc["ui"], acc["no_ui"], strict=True)]
    out = {
        "first_click": first,
        "live": {
            "ui_fit_s": summarize(acc["ui"]),
            "no_ui_fit_s": summarize(acc["no_ui"]),
            "ratio": summarize(ratios),
            "config": LIVE_CONFIG,
        },
    }
    home = first["home"]["first"]["median"]
    ratio = out["live"]["ratio"]["median"]
    out["targets"] = [
        {
            "target": "first Train click on a fresh server → result < 2 s (iris)",
            "value": f"{fmt(home)} s",
            "ok": bool(home < 2.0),
            "detail": "Home first; opening /Train directly: "
            f"{fmt(first['direct']['first']['median'])} s after the page took "
            f"{fmt(first['direct']['page_ready']['median'])} s to be ready",
        },
        {
            "target": "live view (curves + decision regions) ≤ 1.2× training without UI",
            "value": f"{fmt(ratio)}×",
            "ok": bool(ratio <= 1.2),
            "detail": f"fit {fmt(out['live']['ui_fit_s']['median'])} s in the UI vs "
            f"{fmt(out['live']['no_ui_fit_s']['median'])} s in a plain process",
        },
    ]
    out["markdown"] = markdown(out)
    return out


def markdown(out: dict) -> str:
    f, live = out["first_click"], out["live"]
    rows = [
        ["fresh server, Home → script done (preload)", fmt_stats(f["home"]["home_ready"])],
        ["… then Train page ready", fmt_stats(f["home"]["page_ready"])],
        ["**first click on Train → run id on screen (Home first)**", fmt_stats(f["home"]["first"])],
        ["second click, same server", fmt_stats(f["home"]["second"])],
        ["fresh server, /Train opened directly → page ready", fmt_stats(f["direct"]["page_ready"])],
        ["first click → run id (Train opened directly)", fmt_stats(f["direct"]["first"])],
        [f"moons sgd b=32 {LIVE_EPOCHS} epochs: fit in the UI", fmt_stats(live["ui_fit_s"])],
        ["same, `run_experiment` in a plain process", fmt_stats(live["no_ui_fit_s"])],
        ["**live view cost (ratio)**", fmt_stats(live["ratio"])],
    ]
    return markdown_table(["what", "seconds (median, min–max)"], rows)
