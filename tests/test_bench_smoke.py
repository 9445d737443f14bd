"""Smoke test of the benchmark harness (``python -m bench --quick``) on tiny shapes.

Benchmarks are never timed assertions: this only keeps ``bench/`` from rotting and checks
that its references really solve the same problem as the trainer (the objectives agree),
and that the memory probe measures a known allocation correctly.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from bench.run import main

HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_quick_run_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "latest.json"
    code = main(
        [
            "--quick", "--cases", "roofline,sklearn,torch,memory", "--shapes", "digits",
            "--losses", "cross_entropy,mse", "--dtypes", "float64", "--out", str(out), "-q",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "### roofline" in printed and "### Targets" in printed
    data = json.loads(out.read_text())
    cases = data["cases"]
    assert data["meta"]["quick"] is True and data["meta"]["threads"] == 1

    roof = cases["roofline"]
    assert roof["status"] == "ok"
    assert {(r["loss"], r["solver"]) for r in roof["rows"]} == {
        (loss, s) for loss in ("cross_entropy", "mse") for s in ("gd", "sgd b=256", "sgd b=1024")
    }
    for r in roof["rows"]:
        assert r["epoch_s"]["median"] > 0 and r["ratio"]["median"] > 0
        assert r["n_iter"] == [6]  # tol=0 runs exactly max_epochs
    assert roof["gemm"][0]["gflops"] > 0.1

    # scikit-learn: both reach the same optimum; the scipy hook records sklearn's own J
    sk = cases["sklearn"]
    assert sk["status"] == "ok"
    for r in sk["rows"]:
        f = r["final_objective"]
        assert abs(f["ours"] - f["sklearn"]) <= 1e-6 * f["sklearn"], r["comparison"]
        assert r["ours_s"]["median"] > 0 and r["ref_s"]["median"] > 0
    logreg = next(r for r in sk["rows"] if "LogisticRegression" in r["comparison"])
    assert logreg["sklearn_trace_matches_objective"] < 1e-10

    # PyTorch reference: full-batch gd from zeros reaches the same objective as ours
    if HAS_TORCH:
        assert cases["torch"]["status"] == "ok"
        gd = [r for r in cases["torch"]["rows"] if r["solver"] == "gd"]
        assert len(gd) == 2
        for r in gd:
            assert r["objective_rel_diff"] < 1e-10, r["loss"]
    else:
        assert cases["torch"]["status"] == "skipped"

    # memory: float32 training adds about one float32 copy of X (0.5 x the float64 X)
    mem = {r["config"]: r for r in cases["memory"]["rows"]}
    assert cases["memory"]["status"] == "ok"
    assert 0.3 < mem["gd float32"]["ratio"]["median"] < 1.5
    assert mem["gd float64"]["ratio"]["median"] < mem["gd float32"]["ratio"]["median"]


PROBE = """
import sys
import numpy as np
from bench import memory
if not memory._reset_high_water_mark():
    sys.exit(3)
before = memory._status_kb("VmRSS")
a = np.ones(40 * 2**20 // 8)  # 40 MiB, touched, then freed
del a
print(memory._status_kb("VmHWM") - before)
"""


def test_high_water_mark_sees_a_known_allocation():
    """In a fresh process, as the bench measures a fit (in this one, threads left by
    earlier tests allocate too and moved the peak past the bound when run last)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, timeout=120
    )
    if done.returncode == 3:
        pytest.skip("no /proc/self/clear_refs here")
    assert done.returncode == 0, done.stderr
    assert 38 * 1024 < int(done.stdout) < 48 * 1024


def test_unknown_case_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--cases", "roofline,nope"])
    assert exc.value.code == 2
    assert "nope" in capsys.readouterr().err


def test_shards_off_and_background_load_are_recorded_and_cleaned_up(tmp_path, monkeypatch):
    """``--shards off`` restores single BLAS calls; ``--background-load`` spins processes
    for the run only (none is left behind)."""
    import subprocess

    from lossesbox.models import _training

    started = []
    real_popen = subprocess.Popen

    def spy(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", spy)
    monkeypatch.setattr(_training, "_SHARDING", True)
    out = tmp_path / "latest.json"
    code = main(
        [
            "--quick", "--cases", "narrow", "--losses", "cross_entropy", "--dtypes", "float64",
            "--shards", "off", "--background-load", "2", "--out", str(out), "-q",
        ]
    )  # fmt: skip
    assert code == 0
    meta = json.loads(out.read_text())["meta"]
    assert meta["shards"] == "off" and meta["background_load"] == 2
    assert _training._SHARDING is False
    spinners = [p for p in started if "while True" in " ".join(map(str, p.args))]
    assert len(spinners) == 2
    assert all(p.poll() is not None for p in spinners)  # killed and reaped


def test_ratio_target_names_the_worst_row_and_those_over_the_limit():
    from bench.common import ratio_target
    from bench.run import _met

    rows = [{"loss": "a", "r": {"median": 1.05}}, {"loss": "b", "r": {"median": 1.2}}]
    over = ratio_target("t", rows, "r", 1.1)
    assert (over["value"], over["ok"], over["detail"]) == ("worst 1.2× (b)", False, "over: b")
    assert ratio_target("t", rows, "r", 1.3)["ok"] is True
    scale = ratio_target("t", rows, "r", None)
    assert scale["ok"] is None and [_met(v) for v in (True, False, None)] == ["yes", "**no**", "—"]
