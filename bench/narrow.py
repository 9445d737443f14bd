"""Case ``narrow``: full-batch epochs on narrow data, D = 100, K = 10, over N.

With few features the two GEMMs of an epoch (``S = X Wᵀ``, ``Gᵀ X``: 4·N·D·K flops)
shrink beside the per-epoch ``O(N·K)`` work every epoch also does — the loss and its
gradient (a softmax for most losses), the accuracy and the gradient-sign counts of the
history — so this sweep over N is where that work shows. The problem is
``make_classification(N, 100, n_informative=50, n_classes=10, random_state=0)``,
standardized; each configuration is timed as in the ``roofline`` case (``gd`` from zeros,
``tol=0``, median of the epochs after the first, the GEMM pair (the faster of numpy's
single calls and two row halves on two threads) re-measured right before each fit,
paired per-round ratio). Target: ≤ 1.3× the GEMM pair from N = 10⁵ up.
"""

from __future__ import annotations

import numpy as np

from bench.common import (
    Context,
    EpochClock,
    Problem,
    fit_ours,
    fmt,
    fmt_stats,
    markdown_table,
    paired_ratio,
    ratio_target,
    summarize,
)
from bench.roofline import roofline_seconds

TARGET = 1.3  # issue 15: gd epoch ≤ 1.3 × numpy's two GEMMs, N ≥ 1e5
SIZES_FULL = (10_000, 100_000, 1_000_000)
SIZES_QUICK = (2_000, 10_000)
D, K = 100, 10
DEFAULT_LOSSES = ("cross_entropy", "mse", "exp_mse", "hinge")


def load_narrow(n: int) -> Problem:
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=n,
        n_features=D,
        n_informative=50,
        n_redundant=0,
        n_classes=K,
        random_state=0,
    )
    X = np.ascontiguousarray(StandardScaler().fit_transform(X), dtype=np.float64)
    return Problem(name="narrow", X=X, y=np.asarray(y, dtype=np.int64), n_classes=K)


def epochs_for(n: int, quick: bool) -> int:
    if quick:
        return 6
    return {10_000: 40, 100_000: 12}.get(n, 6)


def run(ctx: Context) -> dict:
    rows: list[dict] = []
    losses = list(ctx.losses) if ctx.losses is not None else list(DEFAULT_LOSSES)
    for n in SIZES_QUICK if ctx.quick else SIZES_FULL:
        prob = load_narrow(n)
        for dtype in ctx.dtypes:
            X = prob.as_dtype(dtype)
            per = {loss: {"epoch": [], "roof": [], "plain": []} for loss in losses}
            for _ in range(ctx.repeats):
                for loss in losses:
                    plain, halves = roofline_seconds(X, K)
                    roof = min(plain, halves)
                    clock = EpochClock()
                    fit_ours(
                        X,
                        prob.y,
                        clock,
                        loss=loss,
                        lam=ctx.lam,
                        solver="gd",
                        batch_size=None,
                        learning_rate=0.01,
                        max_epochs=epochs_for(n, ctx.quick),
                        tol=0.0,
                        dtype=dtype,
                    )
                    ep = clock.epoch_seconds()
                    per[loss]["epoch"].append(float(np.median(ep)) if ep else float("nan"))
                    per[loss]["roof"].append(roof)
                    per[loss]["plain"].append(plain)
            for loss in losses:
                p = per[loss]
                epoch = summarize(p["epoch"])
                rows.append(
                    {
                        "n": n,
                        "shape": prob.label,
                        "dtype": dtype,
                        "loss": loss,
                        "epoch_s": epoch,
                        "roofline_s": summarize(p["roof"]),
                        "ratio": paired_ratio(p["epoch"], p["roof"]),
                        "ratio_numpy_pair": paired_ratio(p["epoch"], p["plain"]),
                        # time above the GEMM pair, per training row
                        "overhead_ns_per_row": (epoch["median"] - summarize(p["roof"])["median"])
                        / n
                        * 1e9,
                    }
                )
            ctx.log(f"  narrow {prob.label} {dtype} done")
    targets = []
    for dtype in ctx.dtypes:
        sel = [r for r in rows if r["dtype"] == dtype and r["n"] >= 100_000]
        if not sel:
            continue

        def name(r):
            return f"{r['loss']} N={r['n']:g}"

        where = f"N×100×10, N ≥ 1e5, {dtype}"
        label = f"gd epoch ≤ {TARGET}× numpy's GEMM pair, {where}"
        targets.append(ratio_target(label, sel, "ratio_numpy_pair", TARGET, name))
        label = f"gd epoch ÷ the fastest known GEMM pair, {where}"
        targets.append(ratio_target(label, sel, "ratio", None, name))
    return {"rows": rows, "targets": targets, "markdown": markdown(rows)}


def markdown(rows: list[dict]) -> str:
    body = [
        [
            r["shape"],
            r["dtype"],
            r["loss"],
            fmt_stats(r["roofline_s"], 1e3),
            fmt_stats(r["epoch_s"], 1e3),
            fmt_stats(r["ratio"]),
            fmt_stats(r["ratio_numpy_pair"]),
            fmt(r["overhead_ns_per_row"]),
        ]
        for r in rows
    ]
    return (
        f"Narrow data (D = {D}, K = {K}): full-batch gd epoch against the GEMM pair (the fastest"
        " of numpy's two products, two row halves and the trainer's blocks), median"
        " [min–max] over rounds; ratio = epoch ÷ GEMM pair (paired per round, for scale);"
        " ÷ numpy pair: the same against numpy's two products alone, the target's yardstick"
        f" (≤ {TARGET} from N = 1e5 up); ns/row = (epoch − GEMM pair) / N.\n\n"
        + markdown_table(
            [
                "shape",
                "dtype",
                "loss",
                "GEMM pair ms",
                "gd epoch ms",
                "ratio",
                "÷ numpy pair",
                "ns/row",
            ],
            body,
        )
    )
