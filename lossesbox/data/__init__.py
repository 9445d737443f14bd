r"""Datasets: scikit-learn's bundled sets, generated toy problems, and user CSV files.

Every loader returns a :class:`Dataset`:

- ``X``: float64 array ``(N, D)``, C-contiguous;
- ``y``: int64 codes ``0..K-1``; ``y == k`` means class ``class_names[k]``;
- ``feature_names`` (D strings), ``class_names`` (K strings: the original labels);
- ``description``: one sentence with the name, N, D, K and the class balance;
- ``name``: ``"iris"``, ``"moons"``, ..., or ``"csv:<file name>"``.

:func:`load_dataset` is the single entry point, ``load_dataset(name, **options)``.
:data:`DATASETS` maps each named dataset to a one-line description, :data:`GENERATED`
holds the generated ones, and :func:`dataset_options` gives the options a dataset accepts
with their defaults (a UI builds its widgets from it). Unknown names or options raise a
``ValueError`` that lists the valid ones.

Generated datasets all accept ``n_samples``, ``noise`` and ``random_state`` (an ``int``
makes them reproducible, ``None`` draws fresh data; default 0). What ``noise`` means:

=================  =======  ==============================================================
name               default  noise is ...
=================  =======  ==============================================================
``blobs``          1.0      the standard deviation of each Gaussian blob (centres in
                            [-10, 10]^D); also ``n_features=2``, ``n_classes=3``
``moons``          0.2      the std of Gaussian jitter added to each coordinate (radius 1)
``circles``        0.1      the same; inner radius ``factor=0.5``, outer radius 1
``spiral``         0.05     the same; ``n_classes=3`` arms, ``turns=1.0``, radius 0.1 to 1
``xor``            0.05     the same, added after labelling (points uniform in [-1, 1]²)
``classification`` 0.01     the fraction of labels replaced at random (``flip_y``);
                            ``n_features=10``, ``n_informative=5``, ``n_classes=3``
=================  =======  ==============================================================

``n_samples`` defaults to 300 (500 for ``classification``) and must give every class at
least two samples, so that a stratified :meth:`Dataset.split` is possible.

CSV files (``load_dataset("csv", path=..., target=...)`` or :func:`load_csv`) are read as
*data only*: the bytes are checked (size limit, UTF-8 text, no binary content), the header
is checked (column count limit, no empty or duplicated names), then pandas' C parser reads
the values; nothing is evaluated or unpickled, compressed files are not decompressed and
URLs are not fetched. Every problem raises a ``ValueError`` naming it and saying what to
change. See :func:`load_csv` for the rules.

``import lossesbox.datasets`` needs only numpy; pandas and scikit-learn load on first use.

Layout: :mod:`.dataset` (the container), :mod:`.builtin`, :mod:`.generated`,
:mod:`.csvfile` (user tables) and :mod:`.registry` (names, options, :func:`load_dataset`).
``lossesbox.datasets`` re-exports the same public names.
"""

from __future__ import annotations

from .csvfile import (
    MAX_BYTES,
    MAX_COLUMNS,
    TargetChoice,
    describe_target,
    infer_target_column,
    load_csv,
    read_csv_preview,
)
from .dataset import Dataset
from .generated import make_spiral, make_xor
from .preprocessing import TablePlan
from .registry import BUILTIN, DATASETS, GENERATED, dataset_options, load_dataset

__all__ = [
    "BUILTIN",
    "DATASETS",
    "GENERATED",
    "MAX_BYTES",
    "MAX_COLUMNS",
    "Dataset",
    "TablePlan",
    "TargetChoice",
    "dataset_options",
    "describe_target",
    "infer_target_column",
    "load_csv",
    "load_dataset",
    "make_spiral",
    "make_xor",
    "read_csv_preview",
]
