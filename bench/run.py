"""Command line of the benchmark suite: ``python -m bench [--quick] [--cases ...]``.

Runs the selected cases one after the other, writes everything to a JSON file
(default ``bench/results/latest.json``, git-ignored) and prints the Markdown tables,
ending with a summary of the issue's targets. A case that cannot run (a missing module,
no browser) is reported as skipped with the reason, and the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import math
import subprocess
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Context,
    SkipCase,
    blas_threads,
    load_average,
    machine_info,
    markdown_table,
)

CASES = {
    "roofline": "bench.roofline",
    "narrow": "bench.narrow",
    "sklearn": "bench.vs_sklearn",
    "torch": "bench.vs_torch",
    "mlp": "bench.vs_torch_mlp",
    "tracking": "bench.tracking_overhead",
    "startup": "bench.startup",
    "dashboard": "bench.dashboard_ui",
    "memory": "bench.memory",
}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="lossesbox benchmarks: side-by-side, repeated, reported as ratios.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny shapes, 1 repeat, no browser: a smoke run in seconds",
    )
    p.add_argument(
        "--cases", default=",".join(CASES), help=f"comma list from {','.join(CASES)} (default: all)"
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="rounds per measurement (default 3, --quick 1)"
    )
    p.add_argument(
        "--shapes",
        default="digits,mnist,wide",
        help="problems for roofline/torch: digits,mnist,wide",
    )
    p.add_argument("--losses", default=None, help="comma list of loss names (default: all)")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument(
        "--roofline-solvers",
        default=None,
        help="roofline case: comma list from gd,sgd256,sgd1024 (default: all three)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS and torch to N threads (default: numpy's setting)",
    )
    p.add_argument(
        "--max-load",
        type=float,
        default=None,
        help="before each case wait (up to --max-wait) until the 1-minute load "
        "average is below this (the machine is shared)",
    )
    p.add_argument(
        "--max-wait",
        type=float,
        default=900.0,
        help="longest wait for --max-load, in seconds (then go on anyway)",
    )
    p.add_argument(
        "--small-products",
        choices=("one-thread", "all-threads"),
        default="one-thread",
        help="BLAS threads for lossesbox's small matrix products that are not sharded "
        "(mini-batches below 2^21 multiply-adds, or every pass with --shards off): the "
        "trainer's rule (one thread below 2^25 multiply-adds, the default) or all threads "
        "(the rule off), to measure both sides of it",
    )
    p.add_argument(
        "--shards",
        choices=("on", "off"),
        default="on",
        help="row shards on threads for lossesbox's large passes (the default, see "
        "lossesbox/models/_shards.py) or off (one BLAS call per product, as before), to "
        "measure both sides",
    )
    p.add_argument(
        "--background-load",
        type=int,
        default=0,
        metavar="N",
        help="run N busy processes (each spinning one core) for the whole run: a shared "
        "machine made on purpose, to measure the loaded side of the thread choices",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output path")
    p.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if not cases:
        p.error("--cases is empty")
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    args.cases = cases
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.quick and args.threads is None:
        # a smoke run: one BLAS thread keeps tiny shapes fast even on a busy machine
        # (OpenBLAS's threads spin badly when the cores are oversubscribed)
        args.threads = 1
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "lossesbox"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def wait_for_quiet(max_load: float, ctx: Context, limit_s: float = 900.0) -> None:
    """Sleep until the 1-minute load average is below ``max_load`` (at most ``limit_s``)."""
    t0 = time.monotonic()
    while (load := load_average()) and load[0] >= max_load:
        if time.monotonic() - t0 > limit_s:
            ctx.log(f"[bench] load still {load}: going on anyway")
            return
        ctx.log(f"[bench] waiting for load < {max_load} (now {load})")
        time.sleep(15)


def _json_default(o):
    if isinstance(o, set):
        return sorted(o)
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _clean(o):
    """NaN/inf -> None so the JSON file is strict JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean(v) for v in o]
    return o


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.small_products == "all-threads":
        from lossesbox.models import _training

        _training._THREADED_MACS = 0  # every product on all of numpy's BLAS threads
    if args.shards == "off":
        from lossesbox.models import _training

        _training._SHARDING = False
    limiter = None
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=args.threads, user_api="blas")
    ctx = Context(
        quick=args.quick,
        repeats=args.repeats,
        shapes=[s.strip() for s in args.shapes.split(",") if s.strip()],
        losses=[s.strip() for s in args.losses.split(",")] if args.losses else None,
        dtypes=[s.strip() for s in args.dtypes.split(",") if s.strip()],
        threads=blas_threads(),
        verbose=not args.quiet,
        roofline_solvers=[s.strip() for s in args.roofline_solvers.split(",")]
        if args.roofline_solvers
        else None,
    )
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    meta = {
        "command": command.strip(),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "git": git_commit(),
        "machine": machine_info(),
        "threads": ctx.threads,
        "load_start": load_average(),
        "quick": ctx.quick,
        "repeats": ctx.repeats,
        "small_products": args.small_products,
        "shards": args.shards,
        "background_load": args.background_load,
    }
    results: dict[str, dict] = {}
    with background_load(args.background_load):
        report = _run_cases(args, ctx, meta, results)
    if limiter is not None:
        limiter.restore_original_limits()
    print(report)
    ctx.log(f"[bench] wrote {args.out}")
    errors = [n for n, r in results.items() if r["status"] == "error"]
    return 1 if errors else 0


_SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def background_load(n: int):
    """``n`` processes that each keep one core busy while the block runs (then killed)."""
    procs = [
        subprocess.Popen([sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL)
        for _ in range(max(0, n))
    ]
    try:
        if procs:
            time.sleep(1.0)  # let them start spinning
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=10)


def _run_cases(args, ctx, meta: dict, results: dict[str, dict]) -> str:
    report = ""
    for name in args.cases:
        if args.max_load is not None:
            wait_for_quiet(args.max_load, ctx, args.max_wait)
        ctx.log(f"[bench] {name} (load {load_average()})")
        t0 = time.perf_counter()
        load0 = load_average()
        try:
            mod = importlib.import_module(CASES[name])
            res = mod.run(ctx)
            res["status"] = "ok"
        except SkipCase as exc:
            res = {"status": "skipped", "reason": str(exc)}
        except ImportError as exc:
            res = {"status": "skipped", "reason": f"import failed: {exc}"}
        except Exception as exc:  # a broken case must not hide the others' results
            res = {
                "status": "error",
                "reason": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
        res["seconds"] = time.perf_counter() - t0
        res["load"] = {"start": load0, "end": load_average()}
        results[name] = res
        if res["status"] != "ok":
            ctx.log(f"[bench] {name}: {res['status']}: {res['reason']}")
        ctx.log(f"[bench] {name} took {res['seconds']:.0f} s")
        meta["load_end"] = load_average()
        meta["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        report = write(args, meta, results)  # after every case: a long run keeps what it has
    return report


def write(args: argparse.Namespace, meta: dict, results: dict[str, dict]) -> str:
    """Write the JSON (and the Markdown if asked); return the Markdown report."""
    report = render(meta, results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(_clean({"meta": meta, "cases": results}), fh, indent=1, default=_json_default)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(report)
    return report


def _met(ok: bool | None) -> str:
    """The Targets table's "met" cell: yes, **no**, or — for a figure given for scale."""
    return "—" if ok is None else ("yes" if ok else "**no**")


def render(meta: dict, results: dict[str, dict]) -> str:
    """The whole Markdown report: header, one section per case, then the targets."""
    m = meta["machine"]
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} threads)"
        for b in m.get("blas", [])
    )
    lines = [
        "## lossesbox benchmarks",
        "",
        f"`{meta['command']}` — {meta['started']}, git {meta['git']}",
        "",
        f"{m['cpu']}, {m['cpu_count']} cores, {blas}; Python {m['python']}, "
        f"numpy {m['numpy']}, scipy {m['scipy']}, scikit-learn {m['sklearn']}, "
        f"torch {m.get('torch')}. Load average (1/5/15 min) at start {meta['load_start']}, "
        f"at end {meta['load_end']}. Small (mini-batch) products: "
        f"{meta.get('small_products', 'one-thread')}; row shards: "
        f"{meta.get('shards', 'off')}; background load: "
        f"{meta.get('background_load', 0)} busy process(es).",
        "",
    ]
    targets = []
    for name, res in results.items():
        lines.append(f"### {name}")
        lines.append("")
        if res["status"] != "ok":
            lines.append(f"*{res['status']}*: {res['reason']}")
        else:
            lines.append(res.get("markdown", ""))
            targets.extend(res.get("targets", []))
        lines.append("")
    if targets:
        lines.append("### Targets")
        lines.append("")
        if meta.get("quick"):
            lines.append("*Quick run: tiny shapes and one thread; the targets apply to full runs.*")
            lines.append("")
        lines.append(
            markdown_table(
                ["target", "measured", "met", "detail"],
                [[t["target"], t["value"], _met(t["ok"]), t.get("detail", "")] for t in targets],
            )
        )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
