"""Several processes writing one sqlite store at once (and one reading it): every run and
every metric row is there afterwards, no "database is locked" reaches the caller, and no
writer marks a live sibling's run KILLED."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent(
    """
    import json, sys
    from lossesbox.tracking import TrackedRun

    worker, n_runs, n_steps, n_keys = map(int, sys.argv[1:5])
    out = []
    for r in range(n_runs):
        # Small batches sent often: as many competing sqlite transactions as possible.
        with TrackedRun("concurrent", run_name=f"w{worker}-r{r}", params={"worker": worker},
                        max_pending=40, flush_interval=0.01) as run:
            for step in range(n_steps):
                run.log_record({"epoch": step, **{f"k{k}": worker + r + step + k
                                                  for k in range(n_keys)}})
        out.append({"run_id": run.run_id, "error": run.error, "status": run.status})
    print(json.dumps(out))
    """
)

READER = textwrap.dedent(
    """
    import sys, time
    from lossesbox.tracking import get_histories, list_runs

    deadline = time.monotonic() + float(sys.argv[1])
    reads = 0
    while time.monotonic() < deadline:
        runs = list_runs("concurrent")
        if len(runs):
            get_histories(runs["run_id"].tolist()[:3], keys=["k0"])
        reads += 1
    print(reads)
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_concurrent_writers_lose_nothing():
    n_workers, n_runs, n_steps, n_keys = 4, 3, 100, 8
    # All writers start on a store that does not exist yet: creating it races as well.
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(w), str(n_runs), str(n_steps), str(n_keys)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for w in range(n_workers)
    ]
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    results = []
    for proc in writers:
        out, err = proc.communicate(timeout=540)
        assert proc.returncode == 0, err
        assert "locked" not in err
        results.extend(json.loads(out.strip().splitlines()[-1]))
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    assert int(out.strip()) >= 1

    assert len(results) == n_workers * n_runs
    assert all(r["error"] is None and r["status"] == "FINISHED" for r in results), results

    import mlflow

    client = mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("concurrent")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    assert {r.info.run_id for r in runs} == {r["run_id"] for r in results}
    assert all(r.info.status == "FINISHED" for r in runs)  # nobody was marked KILLED
    for run in runs:
        worker = int(run.data.params["worker"])
        r = int(run.info.run_name.split("-r")[1])
        for k in range(n_keys):
            history = client.get_metric_history(run.info.run_id, f"k{k}")
            assert sorted((m.step, m.value) for m in history) == [
                (s, float(worker + r + s + k)) for s in range(n_steps)
            ]
