"""End to end in a real browser: `streamlit run dashboard.py`, Debian chromium via Playwright.

Starts the server on 127.0.0.1 and a free port (MLflow pointed at the test's temporary
store by conftest), opens the Train page, clicks Train, waits for the live curves and the
run id, takes a screenshot into the test's temp dir, and stops the server. A second test
clicks Stop during a long run and checks the run is still logged. Skipped when
/usr/bin/chromium is missing (.ci/run installs it).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian chromium at {CHROMIUM}"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A dashboard server on 127.0.0.1:<free port> with its own temporary MLflow store,
    shared by this module's tests (MLflow's first import and store creation cost seconds);
    yields ``(base URL, tracking URI)``, then stops the server."""
    tmp_path = tmp_path_factory.mktemp("browser")
    store = tmp_path / "mlruns"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "LOSSESBOX_ARTIFACT_ROOT": str(store),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    port = _free_port()
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                raise RuntimeError(
                    "streamlit did not start:\n" + (tmp_path / "streamlit.log").read_text()
                )
            time.sleep(0.2)
        yield base, uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


# Chromium's crash reporter and profile go to $HOME/.config unless told otherwise: keep
# everything the browser writes inside the test's temp dir, and keep it off the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def _runs(uri: str):
    from lossesbox.tracking import list_runs

    return list_runs(tracking_uri=uri)


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label``.

    A rerun still in flight (e.g. the page's first run on a loaded machine) can redraw the
    box and close its list under the click: wait for the script to finish first, and open
    the list again (three tries at most) if the option does not show."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _settle(page, 120)
    box = page.get_by_role("combobox", name=label, exact=True)
    for attempt in range(3):
        box.click()
        box.fill(option)
        choice = page.get_by_role("option", name=option, exact=True)
        try:
            choice.click(timeout=15_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            _settle(page, 120)


def _enter(page, label: str, value: str) -> None:
    """Type ``value`` into the number input labelled ``label`` and commit it with Enter.

    A rerun in flight can redraw the box and drop what was typed: wait for the script to
    finish before and after, and type again (three tries at most) until the box holds it."""
    from playwright.sync_api import expect

    box = page.get_by_label(label, exact=True)
    for attempt in range(3):
        _settle(page, 120)
        box.fill(value)
        box.press("Enter")
        _settle(page, 120)
        if box.input_value() == value or attempt == 2:
            break
    expect(box).to_have_value(value)


def _slide_to(page, label: str, value: str) -> None:
    """Move the select slider labelled ``label`` to the option shown as ``value`` with the
    keyboard (Home, then one step right at a time), as a person can."""
    from playwright.sync_api import expect

    _settle(page, 120)
    thumb = page.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
    thumb.focus()
    thumb.press("Home")
    for _ in range(40):
        if thumb.get_attribute("aria-valuetext") == value:
            break
        thumb.press("ArrowRight")
    expect(thumb).to_have_attribute("aria-valuetext", value)
    _settle(page, 120)


def test_train_in_the_browser_shows_curves_and_run_id(server, page, tmp_path):
    base, uri = server
    page.goto(base, wait_until="domcontentloaded")
    page.get_by_role("heading", name="lossesbox").wait_for(timeout=60_000)
    page.goto(f"{base}/Train", wait_until="domcontentloaded")
    train = page.get_by_role("button", name="Train", exact=True)
    train.wait_for(timeout=60_000)
    page.get_by_text("150 samples × 4 features").wait_for(timeout=60_000)
    train.click()
    logged = page.get_by_text(re.compile(r"Logged as run [0-9a-f]{32}"))
    logged.wait_for(timeout=240_000)
    run_id = re.search(r"[0-9a-f]{32}", logged.inner_text()).group(0)
    # the loss and accuracy curves and the confusion matrix are drawn
    page.locator(".vega-embed").nth(2).wait_for(timeout=60_000)
    assert page.locator(".vega-embed").count() >= 3
    page.get_by_test_id("stMetric").first.wait_for(timeout=60_000)
    metrics = page.get_by_test_id("stMetric").all_inner_texts()
    assert any(m.startswith("Test accuracy") for m in metrics), metrics
    assert page.get_by_text("Traceback").count() == 0
    shot = tmp_path / "train.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    run = _runs(uri).set_index("run_id").loc[run_id]
    assert run["status"] == "FINISHED"
    assert run["params.loss"] == "cross_entropy"


def test_stop_in_the_browser_ends_the_run_and_logs_it(server, page, tmp_path):
    base, uri = server
    page.goto(f"{base}/Train", wait_until="domcontentloaded")
    page.get_by_text("150 samples × 4 features").wait_for(timeout=60_000)
    _choose(page, "Dataset", "digits")
    page.get_by_text("1797 samples × 64 features").wait_for(timeout=60_000)
    _choose(page, "Solver", "gd")
    # a slow rate: 20000 full epochs (≈ 10 s here), never converged before Stop is clicked
    _slide_to(page, "Learning rate", "0.0001")
    _enter(page, "Epochs (lbfgs: iterations)", "20000")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"Epoch \d+/20000")).wait_for(timeout=120_000)
    page.wait_for_timeout(1500)  # a few live redraws
    # (the app header has its own "Stop" button while a script runs; ours is a widget)
    page.get_by_test_id("stBaseButton-secondary").filter(has_text="Stop").click()
    page.get_by_text("Stopped by you").wait_for(timeout=120_000)
    page.screenshot(path=str(tmp_path / "stopped.png"), full_page=True)
    assert page.get_by_text("Traceback").count() == 0
    runs = _runs(uri)
    run = runs[runs["params.dataset"] == "digits"].iloc[0]
    assert run["status"] == "FINISHED"
    assert run["tags.stop_reason"] == "user"
    assert int(run["params.max_epochs"]) == 20000
    assert run["metrics.n_iter"] < 20000


def test_mini_batch_history_control_in_the_browser(server, page, shots):
    """The "Mini-batch history" radio is greyed out for lbfgs and usable for adam, its help
    says what running means; choosing running and training logs history=running."""
    from playwright.sync_api import expect

    base, uri = server
    page.goto(f"{base}/Train", wait_until="domcontentloaded")
    page.get_by_text("150 samples × 4 features").wait_for(timeout=60_000)
    group = page.get_by_role("radiogroup", name="Mini-batch history")
    running = group.get_by_role("radio", name="running")
    expect(group.get_by_role("radio", name="exact")).to_be_checked()
    expect(running).to_be_disabled()  # lbfgs
    _choose(page, "Solver", "adam")
    expect(running).to_be_enabled(timeout=30_000)
    group.get_by_text("running", exact=True).click()
    expect(running).to_be_checked()
    _enter(page, "Epochs (lbfgs: iterations)", "5")
    help_icon = page.get_by_role("button", name="Help for Mini-batch history")
    help_icon.scroll_into_view_if_needed()
    help_icon.hover()
    tooltip = page.get_by_test_id("stTooltipContent")
    expect(tooltip).to_contain_text("no extra full pass per epoch", timeout=10_000)
    expect(tooltip).to_contain_text("lags the exact values by up to one epoch")
    page.screenshot(path=str(shots / "01c_train_history_control.png"))  # the sidebar's view
    page.mouse.move(700, 500)
    page.get_by_role("button", name="Train", exact=True).click()
    logged = page.get_by_text(re.compile(r"Logged as run [0-9a-f]{32}"))
    logged.wait_for(timeout=240_000)
    run_id = re.search(r"[0-9a-f]{32}", logged.inner_text()).group(0)
    _look(page, shots, "01d_train_history_running")
    run = _runs(uri).set_index("run_id").loc[run_id]
    assert run["status"] == "FINISHED"
    assert run["params.solver"] == "adam" and run["params.history"] == "running"


# --------------------------------------------------------------------- every page, looked at
# What a person checks on every page, measured in the browser: no error box, no formula
# wider than its box, every visible chart at least MIN_CHART_PX tall, the gradient-sign
# heatmaps at least ROW_PX per class row. Hidden tabs measure 0×0 and are skipped. A formula
# may overhang its box by KaTeX's 2 px of glyph overhang; more is clipping.
MIN_CHART_PX = 150
ROW_PX = 12
INSPECT = """() => {
  const out = {errors: [], wide: [], charts: []};
  for (const e of document.querySelectorAll(
      '[data-testid="stException"], [data-testid="stAlertContentError"]'))
    out.errors.push(e.textContent.slice(0, 300));
  for (const e of document.querySelectorAll(
      '.katex-display, [data-testid="stMarkdownContainer"], [data-testid="stMetricValue"]'))
    if (e.offsetParent !== null && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 2)
      out.wide.push(e.textContent.slice(0, 80));
  for (const c of document.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    const g = c.querySelector('canvas, svg.marks');
    if (!g) continue;
    const r = g.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const keyed = c.closest('[class*="st-key-"]');
    const key = keyed ? [...keyed.classList].find(k => k.startsWith('st-key-')) : '';
    out.charts.push({width: r.width, height: r.height, key: key});
  }
  return out;
}"""


def _settle(page, timeout_s: float = 180) -> None:
    """Wait until the script stops running (the header's status widget goes away) and the
    charts have had a moment to draw."""
    page.wait_for_timeout(400)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=timeout_s * 1000,
    )
    page.wait_for_timeout(1200)


def _screenshot(page, path: Path) -> None:
    """A full-page PNG: Streamlit scrolls inside its main container, so the window is
    made as tall as the content for the shot (the width stays 1400 px), then restored."""
    size = page.viewport_size
    tall = page.evaluate(
        "() => Math.max(document.body.scrollHeight, ...[...document.querySelectorAll("
        '\'[data-testid="stMain"], [data-testid="stAppViewContainer"]\')]'
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(tall, size["height"]), 9000)})
    page.wait_for_timeout(700)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    page.wait_for_timeout(300)
    print(path)


def _look(page, folder: Path, name: str) -> dict:
    """Screenshot the page into ``folder`` and return what :data:`INSPECT` measured,
    after asserting what holds on every page."""
    _settle(page)
    _screenshot(page, folder / f"{name}.png")
    seen = page.evaluate(INSPECT)
    assert seen["errors"] == [], (name, seen["errors"])
    assert seen["wide"] == [], (name, "wider than its box", seen["wide"])
    short = [c for c in seen["charts"] if c["height"] < MIN_CHART_PX]
    assert short == [], (name, "charts under 150 px", short)
    assert page.get_by_text("Traceback").count() == 0, name
    return seen


def _open(page, title: str) -> None:
    """Go to a page through the sidebar, as a person does (``page.goto`` would start a new
    session, losing the trained model)."""
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)


def _heatmaps(seen: dict, prefix: str = "st-key-signs_heatmap") -> list[dict]:
    return [c for c in seen["charts"] if c["key"].startswith(prefix)]


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("LOSSESBOX_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of every page: {folder}")
    return folder


def test_every_page_as_a_person_sees_it(server, page, shots):
    """Home, Train (iris trained through the UI), Gradient signs (three views), Compare
    runs, Theory and Study: screenshots in ``shots`` and the checks of :func:`_look`."""
    base, _ = server
    page.goto(base, wait_until="domcontentloaded")
    page.get_by_role("heading", name="lossesbox").wait_for(timeout=60_000)
    home = _look(page, shots, "00_home")
    assert home["charts"] == []
    # the sidebar names the entry page Home and Home links to every page
    links = page.get_by_test_id("stSidebarNavLink").all_inner_texts()
    assert links[0].split()[-1] == "Home", links

    _open(page, "Train")
    page.get_by_text("150 samples × 4 features").wait_for(timeout=120_000)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"Logged as run [0-9a-f]{32}")).wait_for(timeout=120_000)
    train = _look(page, shots, "01_train_iris")
    assert len(train["charts"]) >= 3  # loss, accuracy, confusion matrix

    # 2-D data: live decision regions while training, then the epoch replay
    _choose(page, "Dataset", "moons (generated)")
    page.get_by_text("2 features").first.wait_for(timeout=60_000)
    _choose(page, "Solver", "gd")
    # at rate 0.1 gd meets tol on moons after ≈ 470 epochs, under a second: the run could
    # end before the first live redraw (1 s). At 0.001 it takes ≈ 18000 epochs (seconds).
    _slide_to(page, "Learning rate", "0.001")
    _enter(page, "Epochs (lbfgs: iterations)", "20000")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text(re.compile(r"Epoch \d+/20000")).wait_for(timeout=120_000)
    # while it trains: loss, accuracy and the decision regions (a canvas: counted, then seen)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= 3",
        timeout=60_000,
    )
    _screenshot(page, shots / "01a_train_moons_live.png")
    page.get_by_text(re.compile(r"Logged as run [0-9a-f]{32}")).wait_for(timeout=240_000)
    slider = page.get_by_test_id("stSlider").filter(has_text="Replay the run").get_by_role("slider")
    slider.focus()
    for _ in range(8):
        slider.press("PageDown")  # back in time
    moons = _look(page, shots, "01b_train_moons_replay")
    assert len(moons["charts"]) >= 5  # curves ×2, heatmap, confusion matrix, regions
    assert _heatmaps(moons)[0]["height"] >= ROW_PX * 2 + 60

    _choose(page, "Dataset", "iris")  # the side-by-side tab below starts from iris again
    _open(page, "Gradient signs")
    signs = _look(page, shots, "02_gradient_signs_last_model")
    (heat,) = _heatmaps(signs)
    assert heat["height"] >= ROW_PX * 3 + 60, heat  # 3 iris rows, title and axis

    page.get_by_role("tab", name="Two losses side by side").click()
    _choose(page, "Dataset", "digits")
    page.get_by_role("button", name="Train both").click()
    page.get_by_text("wrong way (last epoch)").first.wait_for(timeout=120_000)
    pair = _look(page, shots, "03_gradient_signs_two_losses")
    both = _heatmaps(pair)
    assert len(both) == 2, pair["charts"]
    for h in both:
        assert h["height"] >= ROW_PX * 10 + 60, h  # 10 digit rows

    # the same two losses on an MLP (hidden layer of 100): signs at its output scores.
    # Adam at 0.001: gd makes exp_mse overflow at its first step on this MLP (scores of
    # 10 give gradients near e^20), even at 0.001, and the page says so in an error box
    _settle(page, 120)
    page.get_by_role("radiogroup", name="Model").get_by_text("MLP (hidden layers)").click()
    page.get_by_label("Hidden layer sizes", exact=True).wait_for(timeout=60_000)
    _choose(page, "Solver", "adam")
    _slide_to(page, "Learning rate", "0.001")
    page.get_by_role("button", name="Train both").click()
    page.get_by_text(re.compile(r"MLP 100 relu · 100 epochs")).first.wait_for(timeout=120_000)
    mlp_pair = _look(page, shots, "03b_gradient_signs_two_losses_mlp")
    both = _heatmaps(mlp_pair)
    assert len(both) == 2, mlp_pair["charts"]
    for h in both:
        assert h["height"] >= ROW_PX * 10 + 60, h

    page.get_by_role("tab", name="One sample and the loss landscape").click()
    sample = _look(page, shots, "04_gradient_signs_one_sample")
    (grid,) = _heatmaps(sample, "st-key-signs_sample")
    assert grid["height"] >= ROW_PX * 8 + 40, grid  # 8 losses

    # Compare runs: tick two rows of the table (the grid's row-marker column), see curves
    _open(page, "Compare runs")
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for(timeout=60_000)
    _settle(page)
    box = grid.bounding_box()
    for row in (0, 1):  # header 35 px, then 35 px rows; the marker column is at the left
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 * row + 17)
        _settle(page)
    page.get_by_text("In the MLflow UI:").wait_for(timeout=60_000)
    compare = _look(page, shots, "05_compare_runs")
    assert len(compare["charts"]) >= 1, compare  # the overlay of the two ticked runs
    for name, title in (
        ("06_theory", "Theory"),
        ("07_study", "Study"),
    ):
        _open(page, title)
        _look(page, shots, name)
