"""Case ``sklearn``: our lbfgs against scikit-learn on the same standardized data.

- ``cross_entropy`` + ``lbfgs`` against ``LogisticRegression(C=1/(λN), solver="lbfgs")``:
  both minimize exactly J(W, b) = mean CE + (λ/2)||W||² (scikit-learn ≥ 1.2 scales its
  loss by 1/N and its penalty by 1/(C·N) = λ, so its L-BFGS-B sees the same function).
- ``mse`` + ``lbfgs`` against ``Ridge(alpha=λ·N·K/2)`` on one-hot targets (a direct
  solve; the same optimum, since N·K·J = ||Y − S||² + (λNK/2)||W||²).

*Time to the same objective*: J* is the lowest objective either side reaches with tight
tolerances (round 1 runs both to convergence, ``tol=1e-10``, at most 1000 iterations);
the target is J*·(1 + 1e-6). We stamp every iteration — ours through the trainer's
``callback``, scikit-learn's by wrapping ``scipy.optimize.minimize`` for the duration of
its ``fit`` to pass a recording ``callback`` — and report the wall time from the ``fit``
call to the first iterate at or below the target (later rounds stop there). Every
objective is re-scored by one formula (:func:`bench.common.objective`). We also report
both at their default settings (scikit-learn: ``tol=1e-4, max_iter=100``; ours:
``tol=1e-6, max_epochs=200``): wall time and gap to J*.
"""

from __future__ import annotations

import contextlib
import time
import warnings

import numpy as np

from bench.common import (
    Context,
    EpochClock,
    fit_ours,
    fmt,
    fmt_stats,
    load_problem,
    markdown_table,
    objective,
    paired_ratio,
    summarize,
)

REL = 1e-6
TIGHT = 1e-10
MAX_ITER = 1000


@contextlib.contextmanager
def scipy_trace(stop_below: float | None = None):
    """Record ``(perf_counter, fun)`` at each iteration of ``scipy.optimize.minimize``.

    Patches ``scipy.optimize.minimize`` (which scikit-learn calls as
    ``optimize.minimize``) inside the ``with`` block only. ``stop_below``: raise
    ``StopIteration`` in the callback once ``fun`` is at or below it (scipy ends the run).
    """
    import scipy.optimize as so

    original = so.minimize
    trace: list[tuple[float, float]] = []

    def minimize(*args, callback=None, **kwargs):
        inner = callback

        def record(intermediate_result):
            trace.append((time.perf_counter(), float(intermediate_result.fun)))
            if inner is not None:
                inner(intermediate_result)
            if stop_below is not None and intermediate_result.fun <= stop_below:
                raise StopIteration

        return original(*args, callback=record, **kwargs)

    so.minimize = minimize
    try:
        yield trace
    finally:
        so.minimize = original


def time_to(trace: list[tuple[float, float]], t0: float, target: float) -> tuple[float, int]:
    """(seconds from t0, iterations) to the first traced objective ≤ target; nan if never."""
    for i, (t, f) in enumerate(trace, start=1):
        if f <= target:
            return t - t0, i
    return float("nan"), -1


def fit_logreg(X, y, lam: float, tol: float, max_iter: int, stop_below: float | None = None):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0 / (lam * X.shape[0]), tol=tol, max_iter=max_iter)
    with warnings.catch_warnings(), scipy_trace(stop_below) as trace:
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t0
    return clf, trace, t0, seconds


def _ours(prob, loss, lam, tol, max_epochs, stop_below=None):
    clock = EpochClock(stop_below=stop_below)
    est = fit_ours(
        prob.X,
        prob.y,
        clock,
        loss=loss,
        lam=lam,
        solver="lbfgs",
        tol=tol,
        max_epochs=max_epochs,
        dtype="float64",
        random_state=0,
    )
    seconds = clock.times[-1] - clock.t0 if clock.times else float("nan")
    return est, clock, seconds


def _logreg_case(ctx: Context, prob) -> dict:
    X, y, lam = prob.X, prob.y, ctx.lam
    Y = prob.onehot()
    J = {"ours": [], "sk": []}
    t_ours, t_sk, it_ours, it_sk = [], [], [], []
    d_ours, d_sk, gap_ours, gap_sk = [], [], [], []
    target = None
    for r in range(ctx.repeats):
        stop = target  # round 1 runs to convergence to find J*
        est, clock, _ = _ours(prob, "cross_entropy", lam, TIGHT, MAX_ITER, stop)
        clf, trace, t0, _ = fit_logreg(X, y, lam, TIGHT, MAX_ITER, stop)
        if target is None:
            J["ours"].append(objective(est.coef_, est.intercept_, X, Y, "cross_entropy", lam))
            J["sk"].append(objective(clf.coef_, clf.intercept_, X, Y, "cross_entropy", lam))
            j_star = min(J["ours"][0], J["sk"][0])
            target = j_star * (1 + REL)
            sk_fun_gap = abs(trace[-1][1] - J["sk"][0]) / J["sk"][0] if trace else float("nan")
        s, i = (
            clock.time_to(target),
            next((k for k, j in enumerate(clock.objectives) if j <= target), -1),
        )
        t_ours.append(s)
        it_ours.append(i)
        s, i = time_to(trace, t0, target)
        t_sk.append(s)
        it_sk.append(i)
        # default settings of both
        est_d, clock_d, _ = _ours(prob, "cross_entropy", lam, 1e-6, 200)
        clf_d, _, _, sec_sk = fit_logreg(X, y, lam, 1e-4, 100)
        d_ours.append(clock_d.times[-1] - clock_d.t0)
        d_sk.append(sec_sk)
        gap_ours.append(
            objective(est_d.coef_, est_d.intercept_, X, Y, "cross_entropy", lam) / j_star - 1
        )
        j_sk = objective(clf_d.coef_, clf_d.intercept_, X, Y, "cross_entropy", lam)
        gap_sk.append(j_sk / j_star - 1)
        ctx.log(f"  sklearn {prob.label} logreg: round {r + 1}/{ctx.repeats} done")
    return {
        "shape": prob.label,
        "comparison": "cross_entropy lbfgs vs LogisticRegression(lbfgs)",
        "j_star": j_star,
        "final_objective": {"ours": J["ours"][0], "sklearn": J["sk"][0]},
        "sklearn_trace_matches_objective": sk_fun_gap,
        "ours_s": summarize(t_ours),
        "ref_s": summarize(t_sk),
        "ratio": paired_ratio(t_ours, t_sk),
        "iterations": {"ours": it_ours, "sklearn": it_sk},
        "default_ours_s": summarize(d_ours),
        "default_ref_s": summarize(d_sk),
        "default_gap": {"ours": summarize(gap_ours), "sklearn": summarize(gap_sk)},
    }


def _ridge_case(ctx: Context, prob) -> dict:
    from sklearn.linear_model import Ridge

    X, lam = prob.X, ctx.lam
    Y = prob.onehot()
    n, k = Y.shape
    t_ours, t_ref, it_ours, d_ours, gap_ours = [], [], [], [], []
    target = None
    for r in range(ctx.repeats):
        t0 = time.perf_counter()
        ridge = Ridge(alpha=lam * n * k / 2).fit(X, Y)
        t_ref.append(time.perf_counter() - t0)
        if target is None:
            j_ridge = objective(ridge.coef_, ridge.intercept_, X, Y, "mse", lam)
            est, clock, _ = _ours(prob, "mse", lam, TIGHT, MAX_ITER, None)
            j_ours = objective(est.coef_, est.intercept_, X, Y, "mse", lam)
            j_star = min(j_ridge, j_ours)
            target = j_star * (1 + REL)
        else:
            est, clock, _ = _ours(prob, "mse", lam, TIGHT, MAX_ITER, target)
        t_ours.append(clock.time_to(target))
        it_ours.append(next((i for i, j in enumerate(clock.objectives) if j <= target), -1))
        est_d, clock_d, _ = _ours(prob, "mse", lam, 1e-6, 200)
        d_ours.append(clock_d.times[-1] - clock_d.t0)
        gap_ours.append(objective(est_d.coef_, est_d.intercept_, X, Y, "mse", lam) / j_star - 1)
        ctx.log(f"  sklearn {prob.label} ridge: round {r + 1}/{ctx.repeats} done")
    return {
        "shape": prob.label,
        "comparison": "mse lbfgs vs Ridge(alpha=λNK/2)",
        "j_star": j_star,
        "final_objective": {"ours": j_ours, "sklearn": j_ridge},
        "ours_s": summarize(t_ours),
        "ref_s": summarize(t_ref),
        "ratio": paired_ratio(t_ours, t_ref),
        "iterations": {"ours": it_ours, "sklearn": None},
        "default_ours_s": summarize(d_ours),
        "default_ref_s": summarize(t_ref),
        "default_gap": {"ours": summarize(gap_ours), "sklearn": summarize([j_ridge / j_star - 1])},
    }


def run(ctx: Context) -> dict:
    shapes = [s for s in ctx.shapes if s != "wide"] or ["digits"]
    rows = []
    for shape in shapes:
        prob = load_problem(shape, ctx.quick)
        rows.append(_logreg_case(ctx, prob))
        rows.append(_ridge_case(ctx, prob))
    targets = [
        {
            "target": f"lbfgs time to sklearn's optimum ≤ sklearn lbfgs, {r['shape']}",
            "value": f"{fmt(r['ratio']['median'])}× sklearn",
            "ok": bool(r["ratio"]["median"] <= 1.0),
            "detail": f"{fmt(r['ours_s']['median'])} s vs {fmt(r['ref_s']['median'])} s",
        }
        for r in rows
        if "LogisticRegression" in r["comparison"]
    ]
    return {"rows": rows, "targets": targets, "markdown": markdown(rows)}


def markdown(rows: list[dict]) -> str:
    body = []
    for r in rows:
        it = r["iterations"]
        its = f"{_med(it['ours'])} / {_med(it['sklearn']) if it['sklearn'] else 'direct'}"
        body.append(
            [
                r["shape"],
                r["comparison"],
                f"{r['j_star']:.8g}",
                fmt_stats(r["ours_s"]),
                fmt_stats(r["ref_s"]),
                fmt_stats(r["ratio"]),
                its,
                f"{fmt_stats(r['default_ours_s'])} / {fmt_stats(r['default_ref_s'])}",
                f"{fmt(r['default_gap']['ours']['median'])} / "
                f"{fmt(r['default_gap']['sklearn']['median'])}",
            ]
        )
    return (
        "Wall time (s) to reach J*·(1+1e-6), J* = best objective of both; "
        "median [min–max]; ratio = ours ÷ scikit-learn, paired per round.\n\n"
        + markdown_table(
            [
                "shape",
                "comparison",
                "J*",
                "ours s",
                "sklearn s",
                "ratio",
                "iterations ours / sklearn",
                "default settings s (ours / sklearn)",
                "default J/J*−1 (ours / sklearn)",
            ],
            body,
        )
    )


def _med(values) -> str:
    v = [x for x in values if x is not None and x >= 0]
    return str(int(np.median(v))) if v else "–"
