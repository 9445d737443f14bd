"""Full-batch epoch ÷ GEMM pair in CPU time: ``OPENBLAS_NUM_THREADS=1 python bench/cpu_epoch.py
N D K DTYPE LOSSES [SOLVER [HISTORY]]``.

A load-tolerant complement of the ``roofline`` case for a busy machine: it times with
``time.process_time`` (the CPU this process used, not the wall time other processes
take), on one BLAS thread. Data: standard normal X (N, D), random labels in 0..K-1. The
roofline is the fastest of 5 pairs ``X @ W.T``, ``G.T @ X``; each loss is fitted with
``gd`` from zeros for 6 epochs and its epoch is the median of epochs 2-6.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np


def main(argv: list[str]) -> str:
    N, D, K = (int(float(a)) for a in argv[:3])
    dtype, losses = argv[3], argv[4].split(",")
    solver = argv[5] if len(argv) > 5 else "gd"
    history = {"history": argv[6]} if len(argv) > 6 else {}
    from lossesbox.estimator import LinearSoftmaxClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)).astype(dtype)
    y = rng.integers(0, K, N)
    W = rng.standard_normal((K, D)).astype(dtype)
    G = rng.standard_normal((N, K)).astype(dtype)
    S, GW = np.empty((N, K), dtype), np.empty((K, D), dtype)

    def pair() -> None:
        np.matmul(X, W.T, out=S)
        np.matmul(G.T, X, out=GW)

    pair()
    times = []
    for _ in range(5):
        t0 = time.process_time()
        pair()
        times.append(time.process_time() - t0)
    roof = min(times)
    out = [f"{N}x{D}x{K} {dtype} {solver}: GEMM pair {roof * 1e3:.1f} ms"]
    for loss in losses:
        stamps: list[float] = []
        est = LinearSoftmaxClassifier(
            loss=loss,
            solver=solver,
            batch_size=None if solver == "gd" else 256,
            learning_rate=0.001 if solver == "adam" else 0.01,
            max_epochs=6,
            tol=0,
            dtype=dtype,
            callback=lambda r, s=stamps: s.append(time.process_time()),
            **history,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        epoch = float(np.median(np.diff(stamps)[1:]))
        out.append(f"{loss} {epoch * 1e3:.1f} ms = {epoch / roof:.2f}x")
    return "  ".join(out)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
