"""Smoke test of the MLP benchmark case (never a timed assertion: it keeps bench/ working)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from bench.run import main


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_quick_mlp_case_times_both_sides(tmp_path):
    out = tmp_path / "latest.json"
    argv = ["--quick", "--cases", "mlp", "--dtypes", "float32", "--out", str(out), "-q"]
    assert main(argv) == 0
    case = json.loads(out.read_text())["cases"]["mlp"]
    assert case["status"] == "ok"
    assert [(r["hidden"], r["history"]) for r in case["rows"]] == [
        ("100x100", "exact"),
        ("100x100", "running"),
        ("256", "exact"),
    ]
    for r in case["rows"]:
        assert r["ours_s"]["median"] > 0 and r["torch_s"]["median"] > 0
        assert r["ratio"]["median"] > 0
