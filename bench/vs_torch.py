"""Case ``torch``: time per epoch against the same model in PyTorch (CPU).

The reference is the plainest idiomatic PyTorch for the same problem: parameters
``W (K, D)`` and ``b (K,)`` from zeros, scores ``S = X Wᵀ + b``, the same per-sample loss
(written with ``torch.nn.functional``), objective ``mean L + (λ/2)||W||²`` (the penalty in
the loss, so autograd adds λW and the bias is not penalized), and the same optimizer:
full-batch gradient descent (``torch.optim.SGD``, no momentum) or Adam
(``torch.optim.Adam``, β = (0.9, 0.999), ε = 1e-8, as ours) over shuffled mini-batches
(``randperm`` + indexing, as ours gathers rows). Same dtype, and
``torch.set_num_threads`` = numpy's BLAS threads (threadpoolctl).

Both are run for a few epochs in the same round; the epoch time is the median over the
epochs after the first. For full-batch gd both start from zeros with the same step, so
their objectives after the epochs must agree (checked and reported: ``objective_rel_diff``)
— the reference really solves the same problem.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import (
    Context,
    EpochClock,
    SkipCase,
    epochs_for,
    fit_ours,
    fmt,
    fmt_stats,
    load_problem,
    markdown_table,
    paired_ratio,
    summarize,
)

LEARNING_RATE = {"gd": 0.01, "adam": 0.001}
# torch + our per-epoch evaluation: measured for these (the evaluation's cost hardly
# depends on the loss), to keep the full run within the machine's quiet spells
EVAL_LOSSES = ("cross_entropy", "mse")


def torch_loss(name: str):
    """The per-sample-mean loss ``f(S, y, Y) -> scalar`` in torch, matching lossesbox's."""
    import torch
    import torch.nn.functional as F

    def mse(S, y, Y):
        return F.mse_loss(S, Y)  # mean over N·K = (1/N) Σ (1/K)||y − s||²

    def softmax_mse(S, y, Y):
        return F.mse_loss(torch.softmax(S, dim=1), Y)

    def exp_mse(S, y, Y):
        return F.mse_loss(torch.exp(S), Y)

    def cross_entropy(S, y, Y):
        return F.cross_entropy(S, y)

    def hinge(S, y, Y):
        # torch divides Σ_{j≠y} max(0, 1 − s_y + s_j) by K
        return F.multi_margin_loss(S, y, margin=1.0) * S.shape[1]

    def label_smoothing(S, y, Y):
        return F.cross_entropy(S, y, label_smoothing=0.1)

    def focal(S, y, Y):
        logp = F.log_softmax(S, dim=1).gather(1, y[:, None])[:, 0]
        return -(((1 - logp.exp()) ** 2) * logp).mean()

    def squentropy(S, y, Y):
        K = S.shape[1]
        return F.cross_entropy(S, y) + ((S * S) * (1 - Y)).sum(dim=1).mean() / (K - 1)

    table = {
        "cross_entropy": cross_entropy,
        "mse": mse,
        "softmax_mse": softmax_mse,
        "exp_mse": exp_mse,
        "hinge": hinge,
        "label_smoothing": label_smoothing,
        "focal": focal,
        "squentropy": squentropy,
    }
    if name not in table:
        raise KeyError(f"no torch reference for loss {name!r}")
    return table[name]


def torch_fit(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    loss: str,
    solver: str,
    epochs: int,
    lam: float,
    lr: float,
    batch_size: int | None,
    seed: int = 0,
    evaluate: bool = False,
) -> tuple[list[float], float]:
    """Train the torch reference; returns (per-epoch seconds, final objective).

    ``evaluate``: after each mini-batch epoch also compute what our history records — the
    full-batch objective, its gradient (for ``grad_norm``) and the training accuracy —
    so the two do the same work per epoch.
    """
    import torch

    f = torch_loss(loss)
    torch.manual_seed(seed)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y)
    Yt = torch.nn.functional.one_hot(yt, n_classes).to(Xt.dtype)
    n, d = X.shape
    W = torch.zeros((n_classes, d), dtype=Xt.dtype, requires_grad=True)
    b = torch.zeros((n_classes,), dtype=Xt.dtype, requires_grad=True)
    if solver == "gd":
        opt = torch.optim.SGD([W, b], lr=lr)
    else:
        opt = torch.optim.Adam([W, b], lr=lr, betas=(0.9, 0.999), eps=1e-8)

    def step(Xb, yb, Yb):
        opt.zero_grad(set_to_none=False)
        S = torch.addmm(b, Xb, W.t())
        J = f(S, yb, Yb) + 0.5 * lam * (W * W).sum()
        J.backward()
        opt.step()

    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        if solver == "gd":
            step(Xt, yt, Yt)
        else:
            perm = torch.randperm(n)
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                step(Xt[idx], yt[idx], Yt[idx])
            if evaluate:
                opt.zero_grad(set_to_none=False)
                S = torch.addmm(b, Xt, W.t())
                J = f(S, yt, Yt) + 0.5 * lam * (W * W).sum()
                J.backward()
                with torch.no_grad():
                    float(J)
                    float(torch.sqrt((W.grad * W.grad).sum() + (b.grad * b.grad).sum()))
                    float((S.argmax(dim=1) == yt).double().mean())
        times.append(time.perf_counter() - t0)
    with torch.no_grad():
        S = torch.addmm(b, Xt, W.t())
        J = float(f(S, yt, Yt) + 0.5 * lam * (W * W).sum())
    return times, J


def run(ctx: Context) -> dict:
    try:
        import torch
    except ImportError as exc:
        raise SkipCase(
            f"torch is not installed ({exc}); pip install -r requirements-bench.txt"
        ) from exc
    threads_before = torch.get_num_threads()
    torch.set_num_threads(ctx.threads)
    try:
        rows = _run(ctx)
    finally:
        torch.set_num_threads(threads_before)
    targets = targets_for(rows)
    return {
        "rows": rows,
        "torch_threads": ctx.threads,
        "targets": targets,
        "markdown": markdown(rows, ctx.threads),
    }


def targets_for(rows: list[dict]) -> list[dict]:
    """Target rows of the torch case: full-batch gd judged on the large shapes, the
    mini-batch targets on every shape measured (issue 15: "every bench shape and dtype")."""
    large = [r for r in rows if not r["shape"].startswith("digits")] or rows
    targets = []
    # full batch: both do one evaluation per epoch (the step's own), the same work
    gd = [r for r in large if r["solver"] == "gd"]
    # mini-batch: ours also evaluates the full training set after every epoch (the
    # history: objective, grad_norm, accuracy, sign shares); judged against torch doing
    # that evaluation too where it was measured, and against plain torch otherwise
    mb = [r for r in rows if r["solver"] != "gd"]
    for label, group, key, scale in (
        ("full-batch gd epoch ≤ PyTorch gd epoch", gd, "ratio", False),
        (
            'mini-batch epoch, history="exact" (a full pass per epoch) ≤ PyTorch epoch + '
            "the same evaluation",
            mb,
            "ratio_eval",
            False,
        ),
        (
            'mini-batch epoch, history="running" ≤ plain PyTorch epoch (no evaluation)',
            mb,
            "ratio_running",
            False,
        ),
        (
            'mini-batch epoch, history="exact" ÷ plain PyTorch epoch (for scale)',
            mb,
            "ratio",
            True,
        ),
    ):
        judged = [r for r in group if r.get(key)]
        if not judged:
            continue
        worst = max(judged, key=lambda r: r[key]["median"])
        slower = sorted(
            f"{r['shape'].split()[0]} {r['loss']} {r['solver']} {r['dtype']} "
            f"{fmt(r[key]['median'])}×"
            for r in judged
            if r[key]["median"] > 1
        )
        targets.append(
            {
                "target": f"{label} (same model, optimizer, batch, threads)",
                "value": f"worst {fmt(worst[key]['median'])}× torch "
                f"({worst['shape']} {worst['loss']} {worst['solver']} {worst['dtype']})",
                "ok": None if scale else not slower,
                "detail": ("slower: " + "; ".join(slower))
                if slower
                else f"all {len(judged)} cases",
            }
        )
    return targets


def _run(ctx: Context) -> list[dict]:
    rows = []
    solvers = [("gd", None), ("adam", 256)]
    for shape in ctx.shapes:
        prob = load_problem(shape, ctx.quick)
        for dtype in ctx.dtypes:
            X = prob.as_dtype(dtype)
            for loss in ctx.loss_names(shape):
                for solver, batch in solvers:
                    lr = LEARNING_RATE[solver]
                    ep = epochs_for(shape, solver, ctx.quick, quick_epochs=5)
                    ours, ref, ref_eval, j_ours, j_ref = [], [], [], None, None
                    ours_run: list[float] = []
                    for r in range(ctx.repeats):
                        clock = EpochClock()
                        est = fit_ours(
                            X,
                            prob.y,
                            clock,
                            loss=loss,
                            lam=ctx.lam,
                            solver=solver,
                            batch_size=batch,
                            learning_rate=lr,
                            max_epochs=ep,
                            tol=0.0,
                            dtype=dtype,
                            random_state=r,
                        )
                        e = clock.epoch_seconds()
                        ours.append(float(np.median(e)) if e else float("nan"))
                        if batch is not None:  # the same fit with history="running"
                            clock_run = EpochClock()
                            fit_ours(
                                X,
                                prob.y,
                                clock_run,
                                loss=loss,
                                lam=ctx.lam,
                                solver=solver,
                                batch_size=batch,
                                learning_rate=lr,
                                max_epochs=ep,
                                tol=0.0,
                                dtype=dtype,
                                random_state=r,
                                history="running",
                            )
                            e = clock_run.epoch_seconds()
                            ours_run.append(float(np.median(e)) if e else float("nan"))
                        times, j_ref = torch_fit(
                            X, prob.y, prob.n_classes, loss, solver, ep, ctx.lam, lr, batch, r
                        )
                        ref.append(float(np.median(times[1:] or times)))
                        if batch is not None and loss in EVAL_LOSSES:
                            times_e, _ = torch_fit(
                                X,
                                prob.y,
                                prob.n_classes,
                                loss,
                                solver,
                                ep,
                                ctx.lam,
                                lr,
                                batch,
                                r,
                                evaluate=True,
                            )
                            ref_eval.append(float(np.median(times_e[1:] or times_e)))
                        j_ours = clock.objectives[-1] if clock.objectives else float("nan")
                        if getattr(est, "n_iter_", ep) != ep:
                            j_ours = float("nan")  # stopped early: not comparable
                    rows.append(
                        {
                            "shape": prob.label,
                            "dtype": dtype,
                            "loss": loss,
                            "solver": solver if batch is None else f"{solver} b={batch}",
                            "epochs": ep,
                            "ours_s": summarize(ours),
                            "torch_s": summarize(ref),
                            "ratio": paired_ratio(ours, ref),
                            "torch_eval_s": summarize(ref_eval),
                            "ratio_eval": paired_ratio(ours, ref_eval) if ref_eval else None,
                            "ours_running_s": summarize(ours_run) if ours_run else None,
                            "ratio_running": paired_ratio(ours_run, ref) if ours_run else None,
                            "objective": {"ours": j_ours, "torch": j_ref},
                            "objective_rel_diff": abs(j_ours - j_ref) / abs(j_ref)
                            if j_ref
                            else float("nan"),
                        }
                    )
            ctx.log(f"  torch {prob.label} {dtype} done")
    return rows


def markdown(rows: list[dict], threads: int) -> str:
    body = [
        [
            r["shape"],
            r["dtype"],
            r["loss"],
            r["solver"],
            fmt_stats(r["ours_s"], 1e3),
            fmt_stats(r["torch_s"], 1e3),
            fmt_stats(r["ratio"]),
            fmt_stats(r["ratio_eval"]) if r.get("ratio_eval") else "=",
            fmt_stats(r["ours_running_s"], 1e3) if r.get("ours_running_s") else "=",
            fmt_stats(r["ratio_running"]) if r.get("ratio_running") else "=",
            fmt(r["objective_rel_diff"], 2),
        ]
        for r in rows
    ]
    return (
        f"Per-epoch ms, median [min–max], both with {threads} thread(s); ratio = ours ÷ torch"
        " (paired per round; < 1 is faster). Last column: |J_ours − J_torch| / J after the"
        " same epochs (gd from zeros: should be ~1e-7 in float32, ~1e-15 in float64;"
        " Adam's shuffles differ, so only close). Ours records a full-batch objective,"
        " gradient norm and accuracy after every epoch (the history); plain torch does not,"
        " so *ratio vs torch+eval* compares with torch doing that same evaluation (for gd"
        " the step's own evaluation serves both: same column). *ours running*: the same"
        ' fit with history="running" (the record accumulated from the mini-batches, no'
        " extra pass), against plain torch.\n\n"
        + markdown_table(
            [
                "shape",
                "dtype",
                "loss",
                "optimizer",
                "ours ms",
                "torch ms",
                "ratio",
                "ratio vs torch+eval",
                "ours running ms",
                "running ÷ torch",
                "ΔJ rel",
            ],
            body,
        )
    )
