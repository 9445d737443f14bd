"""lossesbox benchmarks: ``python -m bench`` (see ``python -m bench --help``).

Every comparison is measured side by side in one run, on the same data, repeated, and
reported as median and spread plus paired ratios (this machine is shared and noisy).
Results go to ``bench/results/latest.json`` (git-ignored) and a Markdown table on stdout.

Cases (``--cases``): ``roofline`` (epoch time vs the GEMM roofline), ``narrow``
(the same on D = 100, K = 10 data over N = 1e4..1e6), ``sklearn`` (lbfgs
and Ridge time to the same objective), ``torch`` (PyTorch CPU per-epoch time),
``tracking`` (MLflow on vs off), ``startup`` (CLI ``--help`` and the dashboard's first
render in headless Chromium), ``memory`` (peak RSS increase during ``fit``).
"""
