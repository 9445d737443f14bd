"""Shared pieces of the benchmark cases: data, statistics, timing, machine facts.

Statistics: every measurement is repeated; we report the median, the inter-quartile
range (q25..q75) and min/max. A comparison is a *paired* ratio: both sides are measured
in the same round, one right after the other, and the ratio is taken per round, so load
from other processes hits both sides alike. The reported ratio is the median of the
per-round ratios, with their min and max.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

SHAPES_FULL: dict[str, tuple[int, int, int]] = {
    "digits": (1797, 64, 10),
    "mnist": (70000, 784, 10),
    "wide": (20000, 2000, 50),
}
# --quick: same three kinds of problem, tiny (the smoke test runs these).
SHAPES_QUICK: dict[str, tuple[int, int, int]] = {
    "digits": (1797, 64, 10),
    "mnist": (3000, 100, 10),
    "wide": (1000, 200, 20),
}


class SkipCase(Exception):
    """Raised by a case that cannot run here (the message says why)."""


WIDE_DEFAULT_LOSSES = ("cross_entropy", "mse")


@dataclasses.dataclass
class Context:
    """Options shared by all cases (filled from the command line)."""

    quick: bool = False
    repeats: int = 3
    shapes: Sequence[str] = ("digits", "mnist", "wide")
    losses: Sequence[str] | None = None  # None: every registered loss
    dtypes: Sequence[str] = ("float32", "float64")
    threads: int | None = None  # BLAS (and torch) threads; None: numpy's current setting
    lam: float = 1e-3
    verbose: bool = True
    roofline_solvers: Sequence[str] | None = None  # None: gd, sgd b=256, sgd b=1024

    def shape(self, name: str) -> tuple[int, int, int]:
        return (SHAPES_QUICK if self.quick else SHAPES_FULL)[name]

    def loss_names(self, shape: str | None = None) -> list[str]:
        """``--losses``, else every registered loss — except on the costly ``wide`` shape,
        where the default is ``cross_entropy`` and ``mse``: with D = 2000 the per-loss work
        weighs 2.5× less beside the GEMMs than on ``mnist`` (D = 784), which already shows
        every loss (pass ``--losses`` to time them all there too)."""
        if self.losses is not None:
            return list(self.losses)
        if shape == "wide" and not self.quick:
            return list(WIDE_DEFAULT_LOSSES)
        from lossesbox.losses import LOSSES

        return list(LOSSES)

    def log(self, *parts: object) -> None:
        if self.verbose:
            print(*parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- data
@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A standardized classification problem: X (N, D) float64 C-contiguous, y in 0..K-1."""

    name: str
    X: np.ndarray
    y: np.ndarray
    n_classes: int

    @property
    def label(self) -> str:
        n, d = self.X.shape
        return f"{self.name} {n}×{d}×{self.n_classes}"

    def onehot(self, dtype: str = "float64") -> np.ndarray:
        Y = np.zeros((self.y.size, self.n_classes), dtype=dtype)
        Y[np.arange(self.y.size), self.y] = 1
        return Y

    @functools.cache  # noqa: B019 - a handful of problems, kept for the whole run
    def as_dtype(self, dtype: str) -> np.ndarray:
        return np.ascontiguousarray(self.X, dtype=dtype)


@functools.cache
def epochs_for(shape: str, solver: str, quick: bool, quick_epochs: int = 6) -> int:
    """Epochs per timed fit: enough for a stable median after the first; mini-batch
    epochs cost more, so they get fewer (``quick_epochs`` in a --quick smoke run)."""
    if quick:
        return quick_epochs
    if solver == "gd":
        return {"digits": 40, "mnist": 7, "wide": 5}.get(shape, 6)
    return {"digits": 10, "mnist": 4, "wide": 3}.get(shape, 4)


def load_problem(name: str, quick: bool = False) -> Problem:
    """The benchmark problems, standardized with scikit-learn's ``StandardScaler``.

    - ``digits``: scikit-learn's 8×8 digits, 1797×64, 10 classes.
    - ``mnist``: ``make_classification(70000, 784, n_informative=100, n_redundant=0,
      n_classes=10, random_state=0)``, MNIST-sized.
    - ``wide``: ``make_classification(20000, 2000, n_informative=100, n_redundant=0,
      n_classes=50, random_state=0)``.
    """
    from sklearn.datasets import load_digits, make_classification
    from sklearn.preprocessing import StandardScaler

    n, d, k = (SHAPES_QUICK if quick else SHAPES_FULL)[name]
    if name == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        X, y = make_classification(
            n_samples=n,
            n_features=d,
            n_informative=min(100, d // 2),
            n_redundant=0,
            n_classes=k,
            random_state=0,
        )
    X = np.ascontiguousarray(StandardScaler().fit_transform(X), dtype=np.float64)
    return Problem(name=name, X=X, y=np.asarray(y, dtype=np.int64), n_classes=k)


def objective(W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray, loss: str, lam: float):
    """J(W, b) = mean_i L(s_i, y_i) + (λ/2)·||W||², s = X Wᵀ + b, in float64.

    Computed here from the lead's tested loss functions, independently of the trainer,
    so a scikit-learn or PyTorch solution is scored by exactly the same formula.
    """
    from lossesbox.losses import get_loss

    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    S = np.asarray(X, dtype=np.float64) @ W.T + b
    data = float(np.mean(get_loss(loss).loss(S, np.asarray(Y, dtype=np.float64))))
    return data + 0.5 * lam * float(np.sum(W * W))


# ----------------------------------------------------------------------- statistics
def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, quartiles, min, max and count of a list of measurements (NaNs dropped)."""
    a = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if a.size == 0:
        nan = float("nan")
        return {"median": nan, "q25": nan, "q75": nan, "min": nan, "max": nan, "n": 0}
    q25, med, q75 = np.percentile(a, [25, 50, 75])
    return {
        "median": float(med),
        "q25": float(q25),
        "q75": float(q75),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": int(a.size),
    }


def paired_ratio(num: Sequence[float], den: Sequence[float]) -> dict[str, float]:
    """Summary of the per-round ratios num[r] / den[r]."""
    return summarize([a / b for a, b in zip(num, den, strict=True) if b and b > 0])


def timeit_min(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> list[float]:
    """Wall times (s) of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


class EpochClock:
    """A trainer callback that stamps ``time.perf_counter()`` at every history record.

    The time between consecutive records is the whole epoch as the user gets it: the
    update pass plus the history bookkeeping (objective, accuracy, gradient signs).
    ``stop_below``: return ``False`` (stop training) once the objective is at or below it.
    """

    def __init__(self, stop_below: float | None = None):
        self.times: list[float] = []
        self.objectives: list[float] = []
        self.stop_below = stop_below
        self.t0 = time.perf_counter()

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.times.clear()
        self.objectives.clear()

    def __call__(self, record: dict) -> bool | None:
        self.times.append(time.perf_counter())
        self.objectives.append(float(record.get("objective", float("nan"))))
        if self.stop_below is not None and self.objectives[-1] <= self.stop_below:
            return False
        return None

    def epoch_seconds(self, skip_first: bool = True) -> list[float]:
        """Durations of epochs 2..n (epoch 1 also pays one-off allocations) in seconds."""
        d = list(np.diff(self.times))
        return d[1:] if skip_first and len(d) > 1 else d

    def time_to(self, target: float) -> float:
        """Seconds from ``start()`` to the first record with objective ≤ target (nan: never)."""
        for t, j in zip(self.times, self.objectives, strict=True):
            if j <= target:
                return t - self.t0
        return float("nan")


# ------------------------------------------------------------------- machine facts
def blas_threads() -> int:
    """Threads numpy's BLAS uses now (threadpoolctl), or os.cpu_count() if unknown."""
    import numpy  # noqa: F401 - make sure its BLAS is loaded
    from threadpoolctl import threadpool_info

    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return int(info["num_threads"])
    return os.cpu_count() or 1


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info() -> dict[str, Any]:
    """Versions, CPU, BLAS and its threads: enough to compare two result files."""
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = [
        {k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "blas": blas,
    }
    try:  # the version without importing torch (slow, and it loads a BLAS of its own)
        from importlib.metadata import version

        info["torch"] = version("torch")
    except Exception:
        info["torch"] = None
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def ratio_target(
    label: str, rows: Sequence[dict], key: str, limit: float | None, name=None
) -> dict[str, Any]:
    """A row of the Targets table from ``rows``' median ratios ``row[key]``: the worst one,
    and which rows are over ``limit``. ``limit=None``: a figure for scale, no target
    (``ok`` is ``None``). ``name(row)`` names a row (default: its loss)."""
    name = name or (lambda r: r["loss"])
    worst = max(rows, key=lambda r: r[key]["median"])
    out = {"target": label, "value": f"worst {fmt(worst[key]['median'])}× ({name(worst)})"}
    if limit is None:
        out.update(ok=None, detail="for scale, no target")
        return out
    failing = [name(r) for r in rows if r[key]["median"] > limit]
    out.update(ok=not failing, detail=("over: " + ", ".join(failing)) if failing else "all")
    return out


def fmt(x: float | None, digits: int = 3) -> str:
    """Compact number for tables: 3 significant digits, '–' for missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1000 or ax < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_stats(s: dict[str, float], scale: float = 1.0, digits: int = 3) -> str:
    """'median [min–max]' of a summary, scaled (e.g. 1e3 for ms)."""
    if not s or s.get("n", 0) == 0:
        return "–"
    med = fmt(s["median"] * scale, digits)
    if s["n"] == 1:
        return med
    return f"{med} [{fmt(s['min'] * scale, 2)}–{fmt(s['max'] * scale, 2)}]"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "| " + " | ".join(columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def fit_ours(X: np.ndarray, y: np.ndarray, clock: EpochClock | None = None, **params: Any):
    """Fit ``LinearSoftmaxClassifier(**params)`` with ``clock`` as callback; returns it.

    Warnings (divergence, max_epochs) are silenced: the caller reads ``status_``.
    """
    import warnings

    from lossesbox.estimator import LinearSoftmaxClassifier

    est = LinearSoftmaxClassifier(callback=clock, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if clock is not None:
            clock.start()
        est.fit(X, y)
    return est
