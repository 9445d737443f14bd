"""Case ``tracking``: MLflow tracking overhead of ``run_experiment`` (tracked − untracked).

    python -m bench --cases tracking            # digits + the 70000×784 set
    python -m bench --cases tracking --quick    # digits only
    python -m bench.tracking_overhead [--big]   # standalone

Each repeat runs the same config untracked then tracked in one process, after one cold
tracked run (imports, store creation), into a sqlite store in a temp folder (the user's
``mlruns/`` is never touched). Budget (issue 4): ≤ 1 s warm on a 200-epoch digits run,
≤ 10 % on a 200-epoch run on the 70000×784×10 set (float32, full-batch gd).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time

from bench.common import Context, fmt, markdown_table, summarize

BIG_OPTIONS = {
    "n_samples": 70000,
    "n_features": 784,
    "n_informative": 100,
    "n_classes": 10,
    "random_state": 0,
}


@contextlib.contextmanager
def _temp_store():
    keys = ("MLFLOW_TRACKING_URI", "LOSSESBOX_ARTIFACT_ROOT")
    before = {k: os.environ.get(k) for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        os.environ["LOSSESBOX_ARTIFACT_ROOT"] = tmp
        try:
            yield tmp
        finally:
            for k, v in before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _pairs(config, dataset, repeats: int, log) -> dict:
    from lossesbox.experiment import run_experiment

    untracked, tracked, cpu_untracked, cpu_tracked = [], [], [], []
    for i in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        run_experiment(config, dataset=dataset, track=False)
        untracked.append(time.perf_counter() - t)
        cpu_untracked.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        result = run_experiment(config, dataset=dataset)
        tracked.append(time.perf_counter() - t)
        cpu_tracked.append(time.process_time() - c)
        if result.tracking_error:
            raise RuntimeError(f"tracking failed: {result.tracking_error}")
        log(f"[tracking] {i + 1}/{repeats}: {untracked[-1]:.3f} s untracked, {tracked[-1]:.3f} s")
    diff = [b - a for a, b in zip(untracked, tracked, strict=True)]
    rel = [d / a for d, a in zip(diff, untracked, strict=True)]
    cpu_diff = [b - a for a, b in zip(cpu_untracked, cpu_tracked, strict=True)]
    return {
        "cpu_overhead_s": summarize(cpu_diff),
        "cpu_overhead_rel": summarize(
            [d / a for d, a in zip(cpu_diff, cpu_untracked, strict=True)]
        ),
        "untracked_s": summarize(untracked),
        "tracked_s": summarize(tracked),
        "overhead_s": summarize(diff),
        "overhead_rel": summarize(rel),
        "epochs": config.max_epochs,
    }


def run(ctx: Context) -> dict:
    from lossesbox.datasets import load_dataset
    from lossesbox.experiment import TrainConfig, run_experiment

    repeats = max(ctx.repeats, 3)
    rows = []
    with _temp_store():
        digits = load_dataset("digits")
        config = TrainConfig(dataset="digits", solver="gd", tol=0.0, max_epochs=200)
        t = time.perf_counter()
        run_experiment(config, dataset=digits)
        cold = time.perf_counter() - t
        ctx.log(f"[tracking] cold tracked digits run {cold:.2f} s")
        row = _pairs(config, digits, repeats, ctx.log)
        rows.append({"problem": "digits 1347×64×10 float64, gd", "cold_s": cold, **row})
        if not ctx.quick:
            big = load_dataset("classification", **BIG_OPTIONS)
            config = TrainConfig(
                dataset="classification", solver="gd", tol=0.0, max_epochs=200, dtype="float32"
            )
            row = _pairs(config, big, max(2, ctx.repeats // 2), ctx.log)
            rows.append({"problem": "classification 52500×784×10 float32, gd", **row})
    targets = [
        {
            "target": "tracking overhead, 200-epoch digits run (warm)",
            "value": f"{fmt(rows[0]['overhead_s']['median'])} s",
            "ok": bool(rows[0]["overhead_s"]["median"] <= 1.0),
            "detail": "≤ 1 s",
        }
    ]
    if len(rows) > 1:
        targets.append(
            {
                "target": "tracking overhead, 200-epoch 70000×784 run",
                "value": f"{100 * rows[1]['overhead_rel']['median']:.1f} %",
                "ok": bool(rows[1]["overhead_rel"]["median"] <= 0.10),
                "detail": "≤ 10 %",
            }
        )
    return {"rows": rows, "targets": targets, "markdown": markdown(rows)}


def markdown(rows: list[dict]) -> str:
    body = [
        [
            r["problem"],
            r["epochs"],
            fmt(r["untracked_s"]["median"]),
            fmt(r["tracked_s"]["median"]),
            f"{fmt(r['overhead_s']['median'])} ({fmt(r['overhead_s']['min'])}…"
            f"{fmt(r['overhead_s']['max'])})",
            f"{100 * r['overhead_rel']['median']:.1f} %",
            f"{fmt(r['cpu_overhead_s']['median'])} s = "
            f"{100 * r['cpu_overhead_rel']['median']:.1f} %",
        ]
        for r in rows
    ]
    return (
        "Wall time of `run_experiment` (s, median of paired repeats; untracked then tracked "
        "in one warm process, sqlite store in a temp folder). The CPU-time column "
        "(`time.process_time`, every thread of the process) is less sensitive to other "
        "load on the machine.\n\n"
        + markdown_table(
            [
                "problem",
                "epochs",
                "untracked",
                "tracked",
                "overhead (min…max)",
                "relative",
                "CPU-time overhead (all threads)",
            ],
            body,
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--big", action="store_true", help="also the 70000×784 run")
    args = parser.parse_args(argv)
    ctx = Context(quick=not args.big, repeats=args.repeats)
    print(f"load average {os.getloadavg()}")
    res = run(ctx)
    print(res["markdown"])
    for t in res["targets"]:
        print(f"{t['target']}: {t['value']} ({t['detail']}) {'met' if t['ok'] else 'NOT met'}")
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
