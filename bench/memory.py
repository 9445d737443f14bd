"""Case ``memory``: peak RSS *increase* during ``fit`` on the 70000×784 set, ÷ size of X.

Each measurement runs in a fresh child process (``python -m bench.memory child ...``)
so nothing else in the benchmark run inflates the peak:

1. the child loads X (float64, C-contiguous, as the user passes it) and y from ``.npy``
   files written by the parent (``np.load`` reads straight into the array: no extra
   copy), imports the trainer and runs a tiny warm-up ``fit`` (so import-time and
   first-call allocations are not counted), then ``gc.collect()``;
2. baseline = current RSS; the kernel's high-water mark is reset right before ``fit``
   (``echo 5 > /proc/self/clear_refs``, Linux ≥ 4.0) and read after it (``VmHWM`` in
   ``/proc/self/status``): the exact peak during ``fit``, short spikes included;
3. increase = peak − baseline. A thread sampling RSS every millisecond (psutil) is a
   cross-check and the fallback where the reset is not available. (``ru_maxrss`` is no
   use here: Linux carries it over ``fork``/``exec`` from the parent, which holds the
   benchmark's data.)

Target: ≤ 1× the size of X for full-batch ``fit`` (at most one copy, e.g. float32).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.common import Context, fmt, fmt_stats, load_problem, markdown_table, summarize

ROOT = Path(__file__).resolve().parent.parent

CONFIGS: list[tuple[str, dict]] = [
    ("gd float64", {"solver": "gd", "batch_size": None, "dtype": "float64"}),
    ("gd float32", {"solver": "gd", "batch_size": None, "dtype": "float32"}),
    ("lbfgs float64", {"solver": "lbfgs", "dtype": "float64"}),
    ("sgd b=256 float64", {"solver": "sgd", "batch_size": 256, "dtype": "float64"}),
    ("adam b=256 float64", {"solver": "adam", "batch_size": 256, "dtype": "float64"}),
]
FULL_BATCH = {"gd float64", "gd float32", "lbfgs float64"}


def _status_kb(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (0 if unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_high_water_mark() -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return _status_kb("VmHWM") > 0


def child(x_path: str, y_path: str, params_json: str) -> dict:
    """Runs in the child process: measure one ``fit`` and return the numbers."""
    import gc
    import threading
    import time
    import warnings

    import psutil

    from lossesbox.estimator import LinearSoftmaxClassifier

    X = np.load(x_path)
    y = np.load(y_path)
    params = json.loads(params_json)
    warnings.simplefilter("ignore")
    small = np.concatenate([np.flatnonzero(y == c)[:20] for c in np.unique(y)])
    LinearSoftmaxClassifier(**{**params, "max_epochs": 2}).fit(X[small], y[small])
    gc.collect()
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    hwm_reset = _reset_high_water_mark()
    peak = [rss0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.001)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    est = LinearSoftmaxClassifier(**params).fit(X, y)
    seconds = time.perf_counter() - t0
    stop.set()
    th.join()
    hwm = _status_kb("VmHWM") * 1024
    increase = (hwm if hwm_reset else peak[0]) - rss0
    return {
        "x_bytes": int(X.nbytes),
        "rss_before": int(rss0),
        "sampled_peak": int(peak[0]),
        "high_water_mark": int(hwm),
        "method": "VmHWM after clear_refs" if hwm_reset else "sampled every 1 ms",
        "increase": int(increase),
        "fit_seconds": seconds,
        "n_iter": int(est.n_iter_),
        "status": str(est.status_),
    }


def measure(x_path: Path, y_path: Path, params: dict) -> dict:
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.memory",
            "child",
            str(x_path),
            str(y_path),
            json.dumps(params),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if p.returncode != 0:
        raise RuntimeError(f"memory child failed ({p.returncode}): {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(ctx: Context) -> dict:
    prob = load_problem("mnist", ctx.quick)
    epochs = 3
    rows = []
    with tempfile.TemporaryDirectory(prefix="lossesbox-bench-mem-") as tmp:
        x_path, y_path = Path(tmp) / "X.npy", Path(tmp) / "y.npy"
        np.save(x_path, np.ascontiguousarray(prob.X, dtype=np.float64))
        np.save(y_path, prob.y)
        configs = CONFIGS[:2] if ctx.quick else CONFIGS
        per: dict[str, list[dict]] = {label: [] for label, _ in configs}
        for _ in range(ctx.repeats):
            for label, params in configs:
                full = {
                    "loss": "cross_entropy",
                    "max_epochs": epochs,
                    "tol": 0.0,
                    "learning_rate": 0.01,
                    "random_state": 0,
                    **params,
                }
                per[label].append(measure(x_path, y_path, full))
            ctx.log(f"  memory round done ({prob.label})")
    for label, _ in configs:
        ms = per[label]
        xb = ms[0]["x_bytes"]
        rows.append(
            {
                "config": label,
                "shape": prob.label,
                "x_mb": xb / 2**20,
                "increase_mb": summarize([m["increase"] / 2**20 for m in ms]),
                "ratio": summarize([m["increase"] / xb for m in ms]),
                "fit_seconds": summarize([m["fit_seconds"] for m in ms]),
                "raw": ms,
            }
        )
    worst = max((r for r in rows if r["config"] in FULL_BATCH), key=lambda r: r["ratio"]["max"])
    over = [r["config"] for r in rows if r["config"] in FULL_BATCH and r["ratio"]["max"] > 1.0]
    targets = [
        {
            "target": f"peak RSS increase in full-batch fit ≤ 1× X ({prob.label}, float64 X)",
            "value": f"worst {fmt(worst['ratio']['max'])}× X ({worst['config']})",
            "ok": not over,
            "detail": ("over: " + ", ".join(over)) if over else "gd/lbfgs, float64 and float32",
        }
    ]
    return {"rows": rows, "epochs": epochs, "targets": targets, "markdown": markdown(rows, epochs)}


def markdown(rows: list[dict], epochs: int) -> str:
    body = [
        [
            r["shape"],
            r["config"],
            fmt(r["x_mb"]),
            fmt_stats(r["increase_mb"]),
            fmt_stats(r["ratio"]),
        ]
        for r in rows
    ]
    return (
        f"Peak RSS increase during `fit` (cross_entropy, {epochs} epochs, X passed as float64),"
        " fresh process each; median [min–max].\n\n"
        + markdown_table(["data", "solver / dtype", "X MB", "increase MB", "÷ size of X"], body)
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child":
        print(json.dumps(child(*sys.argv[2:5])))
    else:
        raise SystemExit("usage: python -m bench.memory child X.npy y.npy PARAMS_JSON")
