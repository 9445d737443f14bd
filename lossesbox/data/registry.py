"""The named datasets: descriptions, default options, and :func:`load_dataset`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .builtin import _load_builtin
from .csvfile import MAX_BYTES, MAX_COLUMNS, load_csv
from .dataset import Dataset
from .generated import (
    _make_blobs,
    _make_circles,
    _make_classification,
    _make_mnist1d,
    _make_moons,
    _make_spiral,
    _make_xor,
)
from .preprocessing import DEFAULT_MAX_CATEGORIES

__all__ = ["BUILTIN", "DATASETS", "GENERATED", "dataset_options", "load_dataset"]


@dataclass(frozen=True)
class _Spec:
    description: str
    defaults: dict[str, Any]
    loader: Callable[..., Dataset]


def _builtin(name: str) -> Callable[..., Dataset]:
    return lambda: _load_builtin(name)


_SPECS: dict[str, _Spec] = {
    "iris": _Spec(
        "Fisher's iris flowers: 150 samples, 4 measurements, 3 species (scikit-learn).",
        {},
        _builtin("iris"),
    ),
    "wine": _Spec(
        "Wine from three cultivars: 178 samples, 13 chemical measurements (scikit-learn).",
        {},
        _builtin("wine"),
    ),
    "breast_cancer": _Spec(
        "Wisconsin breast cancer diagnosis: 569 samples, 30 features, 2 classes (scikit-learn).",
        {},
        _builtin("breast_cancer"),
    ),
    "digits": _Spec(
        "Handwritten digits 0-9 as 8x8 images: 1797 samples, 64 pixel features (scikit-learn).",
        {},
        _builtin("digits"),
    ),
    "blobs": _Spec(
        "Gaussian blobs, one per class, in n_features dimensions; noise = blob standard deviation.",
        dict(n_samples=300, n_features=2, n_classes=3, noise=1.0, random_state=0),
        _make_blobs,
    ),
    "moons": _Spec(
        "Two interleaving half circles in 2-D; noise = std of Gaussian jitter per coordinate.",
        dict(n_samples=300, noise=0.2, random_state=0),
        _make_moons,
    ),
    "circles": _Spec(
        "A circle of radius factor inside one of radius 1 (2-D); noise = std of Gaussian jitter.",
        dict(n_samples=300, noise=0.1, factor=0.5, random_state=0),
        _make_circles,
    ),
    "spiral": _Spec(
        "n_classes interleaved spiral arms in 2-D, not linearly separable; noise = std of "
        "Gaussian jitter.",
        dict(n_samples=300, n_classes=3, noise=0.05, turns=1.0, random_state=0),
        _make_spiral,
    ),
    "xor": _Spec(
        "2-D XOR: four quadrants labelled by the sign of x0*x1, 2 classes, not linearly "
        "separable; noise = std of Gaussian jitter.",
        dict(n_samples=300, noise=0.05, random_state=0),
        _make_xor,
    ),
    "classification": _Spec(
        "Random problem (make_classification): n_informative useful features, the rest "
        "noise; noise = fraction of flipped labels.",
        dict(
            n_samples=500,
            n_features=10,
            n_informative=5,
            n_classes=3,
            noise=0.01,
            random_state=0,
        ),
        _make_classification,
    ),
    "mnist1d": _Spec(
        "MNIST-1D (Greydanus & Kobak 2024): 10 digits as 40-point 1-D signals, shifted, "
        "sheared and noisy; linear models reach ~32 %, small MLPs ~68 %. noise scales "
        "the paper's noise (1 = the paper's dataset).",
        dict(n_samples=5000, noise=1.0, random_state=42),
        _make_mnist1d,
    ),
}

#: Named datasets (no file needed) -> one-line description. ``"csv"`` is loadable too.
DATASETS: dict[str, str] = {name: spec.description for name, spec in _SPECS.items()}
#: scikit-learn's bundled datasets (no options).
BUILTIN: frozenset[str] = frozenset({"iris", "wine", "breast_cancer", "digits"})
#: Generated datasets (accept n_samples, noise, random_state, ...).
GENERATED: frozenset[str] = frozenset(_SPECS) - BUILTIN

_CSV_DEFAULTS: dict[str, Any] = dict(
    path=None,
    target=None,
    delimiter=None,
    drop=(),
    impute="median",
    categorical="onehot",
    max_categories=DEFAULT_MAX_CATEGORIES,
    max_bytes=MAX_BYTES,
    max_columns=MAX_COLUMNS,
)


def _normalize_name(name: Any) -> str:
    if not isinstance(name, str):
        raise ValueError(f"dataset name must be a string; got {name!r}")
    key = name.strip().lower().replace("-", "_")
    if key in _SPECS or key == "csv":
        return key
    valid = ", ".join([*_SPECS, "csv"])
    raise ValueError(f"unknown dataset {name!r}; valid names: {valid}")


def dataset_options(name: str) -> dict[str, Any]:
    """The options ``load_dataset(name, ...)`` accepts, with their defaults (a fresh dict).

    Built-in scikit-learn datasets take none (``{}``). For ``"csv"``: ``path`` (a file
    path or a file-like object), ``target`` (``None`` = :func:`infer_target_column`),
    ``delimiter`` (``None`` = sniff comma/semicolon/tab), ``drop`` (columns to ignore),
    ``impute``, ``categorical``, ``max_categories`` (see
    :mod:`lossesbox.data.preprocessing`), ``max_bytes``, ``max_columns``.
    """
    key = _normalize_name(name)
    defaults = _CSV_DEFAULTS if key == "csv" else _SPECS[key].defaults
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in defaults.items()}


def load_dataset(name: str, **options: Any) -> Dataset:
    """Load a dataset by name; ``options`` override :func:`dataset_options` ``(name)``.

    >>> load_dataset("iris").X.shape
    (150, 4)
    >>> load_dataset("spiral", n_classes=4, n_samples=200).class_names
    ['arm_0', 'arm_1', 'arm_2', 'arm_3']
    """
    key = _normalize_name(name)
    valid = _CSV_DEFAULTS if key == "csv" else _SPECS[key].defaults
    unknown = sorted(set(options) - set(valid))
    if unknown:
        if not valid:
            raise ValueError(f"dataset {key!r} takes no options; got {', '.join(unknown)}")
        raise ValueError(
            f"unknown option(s) for dataset {key!r}: {', '.join(unknown)}; "
            f"valid options: {', '.join(valid)}"
        )
    if key == "csv":
        if options.get("path") is None:
            raise ValueError(
                "load_dataset('csv', ...) needs path=<CSV file path or file-like object>"
            )
        return load_csv(**options)
    return _SPECS[key].loader(**options)
