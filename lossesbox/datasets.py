"""The datasets API, kept at its historical import path: ``lossesbox.datasets``.

The code lives in the :mod:`lossesbox.data` package (built-in, generated, CSV files);
this module re-exports its public names, so ``from lossesbox.datasets import
load_dataset, Dataset, ...`` keeps working.
"""

from __future__ import annotations

from .data import (
    BUILTIN,
    DATASETS,
    GENERATED,
    MAX_BYTES,
    MAX_COLUMNS,
    Dataset,
    TablePlan,
    TargetChoice,
    dataset_options,
    describe_target,
    infer_target_column,
    load_csv,
    load_dataset,
    make_spiral,
    make_xor,
    read_csv_preview,
)

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
