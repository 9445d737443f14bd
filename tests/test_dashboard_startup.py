"""First visits in fresh processes: no import race, every heavy import in one thread.

A fresh server used to fail its first Train visit with "cannot import name 'clone' from
partially initialized module 'sklearn.base'": a warm-up thread imported scikit-learn while
the page imported it too. Tests that run after scikit-learn is imported never see that, so
these run each visit sequence in a new interpreter, and record which thread imports every
heavy package (scikit-learn, scipy, MLflow, skops, altair): it must be a single one.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

VISIT = """
import importlib.abc, json, sys, threading
HEAVY = ("sklearn", "scipy", "mlflow", "skops", "altair")
threads = {}
class Record(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY and name not in sys.modules:
            threads.setdefault(threading.current_thread().name, set()).add(name.split(".")[0])
        return None
sys.meta_path.insert(0, Record())
from streamlit.testing.v1 import AppTest
shown = []
for page in sys.argv[1:]:
    at = AppTest.from_file(page, default_timeout=120).run()
    problems = [str(e.value)[:300] for e in at.exception] + [e.value[:300] for e in at.error]
    shown.append({"page": page, "problems": problems, "markdown": [m.value for m in at.markdown]})
print(json.dumps({"visits": shown, "threads": {k: sorted(v) for k, v in threads.items()}}))
"""


def visit(*pages: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", VISIT, *(str(ROOT / p) for p in pages)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize(
    "pages",
    [
        ("dashboard.py", "pages/1_Train.py"),
        ("pages/2_Gradient_signs.py", "pages/1_Train.py"),
    ],
    ids=["home-then-train", "signs-then-train"],
)
def test_first_visits_in_a_fresh_process_show_no_error_and_import_in_one_thread(pages):
    result = visit(*pages)
    for shown in result["visits"]:
        assert shown["problems"] == [], shown
    train = result["visits"][-1]
    assert any("150 samples × 4 features" in m for m in train["markdown"]), train["markdown"]
    # every heavy package was imported by one thread (the script's), none in the background
    threads = result["threads"]
    assert len(threads) == 1, threads
    assert {"sklearn", "mlflow", "skops"} <= set(next(iter(threads.values())))


def test_home_draws_its_content_before_the_heavy_imports():
    """Home imports only numpy and lossesbox.losses before drawing; ``preload()`` (which
    imports scikit-learn and MLflow) is the last statement of its ``home()``."""
    tree = ast.parse((ROOT / "dashboard.py").read_text())
    (home,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "home"]
    assert ast.unparse(home.body[-1]) == "preload()"
    code = (
        "import sys\n"
        "import lossesbox, lossesbox.app.widgets\n"
        "print(','.join(m for m in ('mlflow','sklearn','scipy','altair') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""


def test_every_page_preloads_before_its_other_imports():
    """Each page calls ``page_setup`` and ``preload()`` before importing anything but
    Streamlit and the widgets module."""
    for page in sorted((ROOT / "pages").glob("*.py")):
        tree = ast.parse(page.read_text())
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and n is tree.body[0])]
        calls = [i for i, n in enumerate(body) if ast.unparse(n) == "preload()"]
        assert calls, f"{page.name} does not call preload()"
        before = body[: calls[0]]
        imported = [ast.unparse(n) for n in before if isinstance(n, ast.Import | ast.ImportFrom)]
        assert imported == [
            "import streamlit as st",
            "from lossesbox.app.widgets import page_setup, preload",
        ], (page.name, imported)
