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
    """Pick ``option`` in the Streamlit selectbox labelled ``label``."""
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()


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
    epochs = page.get_by_label("Epochs (lbfgs: iterations)")
    epochs.fill("20000")
    epochs.press("Enter")
    page.wait_for_timeout(500)
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
