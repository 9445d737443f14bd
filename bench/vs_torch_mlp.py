"""Case ``mlp``: epoch time of :class:`~lossesbox.MLPSoftmaxClassifier` against the same
MLP in PyTorch (CPU).

Problems (issue #12):

- ``mnist1d``: MNIST-1D as the paper trains it, 4000×40 (the first 4000 samples of the
  ``mnist1d`` package's ``make_dataset``), hidden ``(100, 100)``, ReLU, Adam, batch 100;
- ``mnist``: the 70000×784×10 ``make_classification`` problem of the other cases, hidden
  ``(256,)``, ReLU, Adam, batch 256.

Both problems run by default; ``--shapes mnist1d`` (or ``mnist1d,mnist``) selects.
Both sides do the same thing each epoch: one shuffled pass of mini-batches (``randperm``
+ row gather) with Adam (β = (0.9, 0.999), ε = 1e-8) on
``mean cross-entropy + (λ/2) Σ_l ‖W_l‖²`` (biases not penalized), then the same full
training-set evaluation our ``history_`` records — forward and backward on all rows
(objective, gradient norm) and the accuracy. Same architecture, dtype and threads
(``torch.set_num_threads`` = numpy's BLAS threads). The reported epoch time is the median
over the epochs after the first; the ratio is ours ÷ torch, paired per round.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from bench.common import (
    Context,
    EpochClock,
    SkipCase,
    fmt,
    fmt_stats,
    markdown_table,
    paired_ratio,
    summarize,
)

PROBLEMS = {
    # name: (hidden, batch size, epochs, quick epochs)
    "mnist1d": ((100, 100), 100, 8, 3),
    "mnist": ((256,), 256, 3, 2),
}
LEARNING_RATE = 1e-3


def _problem(name: str, quick: bool) -> tuple[str, np.ndarray, np.ndarray]:
    if name == "mnist1d":
        from lossesbox.datasets import load_dataset

        d = load_dataset("mnist1d", n_samples=1000 if quick else 5000)
        n = 1000 if quick else 4000
        X, y = d.X[:n], d.y[:n]
        return f"MNIST-1D {n}×40", np.ascontiguousarray(X), np.asarray(y, dtype=np.int64)
    from bench.common import load_problem

    prob = load_problem("mnist", quick)
    n, d = prob.X.shape
    return f"mnist {n}×{d}", prob.X, prob.y


def torch_fit(X, y, hidden, batch, epochs, lam, seed=0, evaluate=True) -> list[float]:
    """The plainest idiomatic torch MLP doing what our fit does; per-epoch seconds.
    ``evaluate=False``: plain torch, no per-epoch full evaluation."""
    import torch

    torch.manual_seed(seed)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    sizes = [X.shape[1], *hidden, int(y.max()) + 1]
    layers: list = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b, dtype=Xt.dtype), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8)
    F = torch.nn.functional

    def objective(Xb, yb):
        S = net(Xb)
        return S, F.cross_entropy(S, yb) + 0.5 * lam * sum((W * W).sum() for W in weights)

    n = X.shape[0]
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            opt.zero_grad(set_to_none=False)
            _, J = objective(Xt[idx], yt[idx])
            J.backward()
            opt.step()
        if not evaluate:
            times.append(time.perf_counter() - t0)
            continue
        opt.zero_grad(set_to_none=False)  # the per-epoch evaluation our history makes
        S, J = objective(Xt, yt)
        J.backward()
        with torch.no_grad():
            float(J)
            float(torch.sqrt(sum((p.grad * p.grad).sum() for p in net.parameters())))
            float((S.argmax(dim=1) == yt).double().mean())
        times.append(time.perf_counter() - t0)
    return times


def ours_fit(X, y, hidden, batch, epochs, lam, dtype, seed=0, history="exact") -> list[float]:
    import warnings

    from lossesbox import MLPSoftmaxClassifier

    clock = EpochClock()
    est = MLPSoftmaxClassifier(
        hidden_layer_sizes=hidden,
        solver="adam",
        learning_rate=LEARNING_RATE,
        lam=lam,
        batch_size=batch,
        max_epochs=epochs,
        tol=0.0,
        dtype=dtype,
        random_state=seed,
        callback=clock,
        history=history,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clock.start()
        est.fit(X, y)
    return clock.epoch_seconds()


def run(ctx: Context) -> dict:
    try:
        import torch
    except ImportError as exc:
        raise SkipCase(
            f"torch is not installed ({exc}); pip install -r requirements-bench.txt"
        ) from exc
    threads_before = torch.get_num_threads()
    torch.set_num_threads(ctx.threads)
    rows = []
    try:
        # both problems by default; --shapes mnist1d (optionally ,mnist) picks among them
        names = [p for p in PROBLEMS if p in ctx.shapes] if "mnist1d" in ctx.shapes else PROBLEMS
        for name in names:
            hidden, batch, epochs, quick_epochs = PROBLEMS[name]
            label, X64, y = _problem(name, ctx.quick)
            ep = quick_epochs if ctx.quick else epochs
            # exact history vs torch doing the same evaluation; on the small problem also
            # history="running" (no extra pass) vs plain torch (no evaluation)
            variants = [("exact", True)] + ([("running", False)] if name == "mnist1d" else [])
            for dtype in ctx.dtypes:
                X = np.ascontiguousarray(X64, dtype=dtype)
                for history, evaluate in variants:
                    ours, ref = [], []
                    for r in range(ctx.repeats):
                        e = ours_fit(X, y, hidden, batch, ep, ctx.lam, dtype, r, history)
                        ours.append(float(np.median(e)))
                        t = torch_fit(X, y, hidden, batch, ep, ctx.lam, r, evaluate)
                        ref.append(float(np.median(t[1:] or t)))
                    rows.append(
                        {
                            "problem": label,
                            "hidden": "x".join(map(str, hidden)),
                            "batch": batch,
                            "dtype": dtype,
                            "history": history,
                            "torch": "same evaluation" if evaluate else "plain",
                            "epochs": ep,
                            "ours_s": summarize(ours),
                            "torch_s": summarize(ref),
                            "ratio": paired_ratio(ours, ref),
                        }
                    )
                ctx.log(f"  mlp {label} {dtype} done")
    finally:
        torch.set_num_threads(threads_before)
    slower = [r for r in rows if r["ratio"]["median"] > 1]
    worst = max(rows, key=lambda r: r["ratio"]["median"])
    targets = [
        {
            "target": "MLP epoch (Adam) ≤ PyTorch epoch doing the same per-epoch work",
            "value": f"worst {fmt(worst['ratio']['median'])}× torch ({worst['problem']} "
            f"{worst['dtype']})",
            "ok": not slower,
            "detail": "slower: "
            + "; ".join(f"{r['problem']} {r['dtype']} {r['history']}" for r in slower)
            if slower
            else f"all {len(rows)} cases",
        }
    ]
    return {
        "rows": rows,
        "torch_threads": ctx.threads,
        "targets": targets,
        "markdown": markdown(rows, ctx.threads),
    }


def markdown(rows: list[dict], threads: int) -> str:
    body = [
        [
            r["problem"],
            r["hidden"],
            r["batch"],
            r["dtype"],
            r["history"],
            r["torch"],
            fmt_stats(r["ours_s"], 1e3),
            fmt_stats(r["torch_s"], 1e3),
            fmt_stats(r["ratio"]),
        ]
        for r in rows
    ]
    return (
        f"MLP, Adam, ReLU, cross-entropy + (λ/2)Σ‖W‖²; per-epoch ms, median [min–max], both"
        f" with {threads} thread(s); ratio = ours ÷ torch (paired per round; < 1 is faster)."
        " *exact* history = a full training-set evaluation after each epoch, timed against"
        " torch doing the same; *running* = statistics accumulated from the mini-batches (no"
        " extra pass), timed against plain torch.\n\n"
        + markdown_table(
            [
                "problem",
                "hidden",
                "batch",
                "dtype",
                "our history",
                "torch",
                "ours ms",
                "torch ms",
                "ratio",
            ],
            body,
        )
    )
