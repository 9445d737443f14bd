"""Case ``startup``: how long until the user sees something.

- ``python -m lossesbox --help``: wall time of the whole process (interpreter start,
  imports, argparse), against ``python -c pass`` for scale. Target < 1 s.
- Dashboard: headless Chromium (Playwright, ``/usr/bin/chromium``) is launched first
  (not timed). The clock starts when we spawn ``streamlit run dashboard.py --server.headless
  true --server.address 127.0.0.1 --server.port <free port>``; we poll
  ``/_stcore/health`` every 20 ms, open the page as soon as the server answers, and stop
  the clock when the home page's title (its ``h1``) is visible. Target < 3 s. Also
  reported: server ready, and a reload in the same browser (warm: the script re-runs in
  a warm server). Each round uses a fresh server process. The dashboard points at a
  temporary MLflow store (never ./mlruns).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.common import Context, SkipCase, fmt, fmt_stats, markdown_table, summarize

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_cli(repeats: int) -> dict:
    """Wall times of ``python -m lossesbox --help`` and of ``python -c pass``."""

    def one(args: list[str]) -> tuple[float, int, str]:
        t0 = time.perf_counter()
        p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
        return time.perf_counter() - t0, p.returncode, p.stderr[-500:]

    one([sys.executable, "-m", "lossesbox", "--help"])  # warm the OS file cache
    helps, bases, codes, err = [], [], set(), ""
    for _ in range(max(5, repeats)):
        t, rc, e = one([sys.executable, "-m", "lossesbox", "--help"])
        helps.append(t)
        codes.add(rc)
        err = err or (e if rc else "")
        bases.append(one([sys.executable, "-c", "pass"])[0])
    return {
        "help_s": summarize(helps),
        "python_s": summarize(bases),
        "returncodes": sorted(codes),
        "stderr": err,
    }


def _wait_health(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> float:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=0.5) as r:
                if r.status == 200:
                    return time.perf_counter()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.02)
    raise TimeoutError(f"streamlit did not answer on port {port} within {timeout:.0f} s")


def _streamlit_cmd(port: int, script: str = "dashboard.py") -> list[str]:
    exe = shutil.which("streamlit")
    head = [exe] if exe else [sys.executable, "-m", "streamlit"]
    return [
        *head,
        "run",
        script,
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]


BASELINE_SCRIPT = 'import streamlit as st\n\nst.title("hello")\n'


def time_dashboard(repeats: int) -> dict:
    """Time the dashboard and, for scale, a one-line Streamlit app, alternating per round."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise SkipCase(f"playwright not installed ({exc})") from exc
    if not os.path.exists(CHROMIUM):
        raise SkipCase(f"{CHROMIUM} not found (apt-get install -y chromium)")
    if not (ROOT / "dashboard.py").exists():
        raise SkipCase("dashboard.py not found")
    apps = {"dashboard": (ROOT, "dashboard.py"), "hello": (None, "hello.py")}
    res = {a: {"ready": [], "first": [], "warm": [], "titles": set()} for a in apps}
    with tempfile.TemporaryDirectory(prefix="lossesbox-bench-ui-") as tmp, sync_playwright() as pw:
        hello_dir = Path(tmp) / "hello"
        hello_dir.mkdir()
        (hello_dir / "hello.py").write_text(BASELINE_SCRIPT)
        apps["hello"] = (hello_dir, "hello.py")
        env = dict(os.environ)
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        env["LOSSESBOX_ARTIFACT_ROOT"] = tmp
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for r in range(repeats):
                order = list(apps) if r % 2 == 0 else list(reversed(apps))
                for app in order:
                    cwd, script = apps[app]
                    _time_app(browser, cwd, script, env, Path(tmp), res[app])
        finally:
            browser.close()
    out = {
        "server_ready_s": summarize(res["dashboard"]["ready"]),
        "title_visible_s": summarize(res["dashboard"]["first"]),
        "reload_title_s": summarize(res["dashboard"]["warm"]),
        "titles": sorted(res["dashboard"]["titles"]),
        "hello": {
            "server_ready_s": summarize(res["hello"]["ready"]),
            "title_visible_s": summarize(res["hello"]["first"]),
            "reload_title_s": summarize(res["hello"]["warm"]),
        },
    }
    return out


def _time_app(browser, cwd: Path, script: str, env: dict, tmp: Path, acc: dict) -> None:
    """Spawn ``streamlit run script``; record server-ready, first title, reload title."""
    port = free_port()
    page = browser.new_page()
    log = open(tmp / f"streamlit-{port}.log", "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        _streamlit_cmd(port, script), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        t_ready = _wait_health(port, proc)
        page.goto(f"http://127.0.0.1:{port}/", wait_until="commit", timeout=60_000)
        h1 = page.wait_for_selector("h1", state="visible", timeout=60_000)
        t_title = time.perf_counter()
        acc["titles"].add(h1.inner_text().strip())
        t1 = time.perf_counter()
        page.reload(wait_until="commit")
        page.wait_for_selector("h1", state="visible", timeout=60_000)
        acc["warm"].append(time.perf_counter() - t1)
        acc["ready"].append(t_ready - t0)
        acc["first"].append(t_title - t0)
    finally:
        page.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def run(ctx: Context) -> dict:
    out: dict = {"cli": time_cli(ctx.repeats)}
    if ctx.quick:
        out["dashboard"] = {"skipped": "--quick: no browser"}
    else:
        try:
            out["dashboard"] = time_dashboard(ctx.repeats)
        except SkipCase as exc:
            out["dashboard"] = {"skipped": str(exc)}
    cli = out["cli"]
    targets = [
        {
            "target": "python -m lossesbox --help < 1 s",
            "value": f"{fmt(cli['help_s']['median'])} s",
            "ok": bool(cli["help_s"]["median"] < 1.0 and cli["returncodes"] == [0]),
            "detail": f"python -c pass: {fmt(cli['python_s']['median'])} s; exit codes "
            f"{cli['returncodes']}",
        }
    ]
    dash = out["dashboard"]
    if "title_visible_s" in dash:
        targets.append(
            {
                "target": "dashboard title rendered < 3 s after `streamlit run`",
                "value": f"{fmt(dash['title_visible_s']['median'])} s",
                "ok": bool(dash["title_visible_s"]["median"] < 3.0),
                "detail": f"server ready {fmt(dash['server_ready_s']['median'])} s; "
                f"reload {fmt(dash['reload_title_s']['median'])} s; a one-line app "
                f"{fmt(dash['hello']['title_visible_s']['median'])} s",
            }
        )
    out["targets"] = targets
    out["markdown"] = markdown(out)
    return out


def markdown(out: dict) -> str:
    cli, dash = out["cli"], out["dashboard"]
    rows = [
        ["`python -m lossesbox --help`", fmt_stats(cli["help_s"])],
        ["`python -c pass` (interpreter alone)", fmt_stats(cli["python_s"])],
    ]
    if "title_visible_s" in dash:
        rows += [
            [
                "`streamlit run dashboard.py` → /_stcore/health answers",
                fmt_stats(dash["server_ready_s"]),
            ],
            [
                "`streamlit run dashboard.py` → title (h1) visible",
                fmt_stats(dash["title_visible_s"]),
            ],
            ["reload in the same browser → title visible", fmt_stats(dash["reload_title_s"])],
            [
                "for scale: one-line app (`st.title`) → health answers",
                fmt_stats(dash["hello"]["server_ready_s"]),
            ],
            [
                "for scale: one-line app → title visible",
                fmt_stats(dash["hello"]["title_visible_s"]),
            ],
        ]
    else:
        rows.append(["dashboard", f"skipped: {dash.get('skipped')}"])
    return "Wall time in seconds, median [min–max].\n\n" + markdown_table(["what", "s"], rows)
