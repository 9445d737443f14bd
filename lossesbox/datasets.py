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
"""

from __future__ import annotations

import csv
import io
import numbers
import os
import re
import stat
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BUILTIN",
    "DATASETS",
    "GENERATED",
    "MAX_BYTES",
    "MAX_COLUMNS",
    "Dataset",
    "dataset_options",
    "infer_target_column",
    "load_csv",
    "load_dataset",
    "make_spiral",
    "make_xor",
    "read_csv_preview",
]

#: Default size limit of a CSV file, in bytes.
MAX_BYTES = 50_000_000
#: Default limit on the number of CSV columns (target included).
MAX_COLUMNS = 10_000
#: Generated datasets: at most this many samples ...
MAX_GENERATED_SAMPLES = 1_000_000
#: ... and at most this many values (n_samples * n_features): 480 MB of float64, enough for
#: an MNIST-sized 70000 x 784 problem.
MAX_GENERATED_VALUES = 60_000_000


# --------------------------------------------------------------------------- Dataset


@dataclass(eq=False)
class Dataset:
    """A classification dataset: features ``X (N, D)``, integer labels ``y`` in ``0..K-1``.

    ``class_names[k]`` is the original label of code ``k``. ``options`` records the
    options that produced the data (defaults filled in; for a CSV the file's base name,
    never a full path), so a run can be reproduced.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    description: str = ""
    name: str = "dataset"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.ascontiguousarray(self.X, dtype=np.float64)
        y = np.asarray(self.y)
        if X.ndim != 2:
            raise ValueError(f"X must have shape (N, D); got shape {X.shape}")
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have shape (N,) = ({X.shape[0]},); got shape {y.shape}")
        if y.size and not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must hold integer class codes; got dtype {y.dtype}")
        y = y.astype(np.int64, copy=False)
        K = len(self.class_names)
        if y.size and (y.min() < 0 or y.max() >= K):
            raise ValueError(
                f"y must hold codes 0..{K - 1} (one per class name); "
                f"got values in [{y.min()}, {y.max()}]"
            )
        if len(self.feature_names) != X.shape[1]:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {X.shape[1]} feature columns"
            )
        self.X = X
        self.y = y
        self.feature_names = [str(f) for f in self.feature_names]
        self.class_names = [str(c) for c in self.class_names]
        if not self.description:
            self.description = _describe(self.name, self.y, self.X.shape[1], self.class_names)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self) -> dict[str, int]:
        """Number of samples per class, keyed by class name, in code order."""
        counts = np.bincount(self.y, minlength=self.n_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}

    def summary(self) -> dict[str, Any]:
        """``name, n_samples, n_features, n_classes, class_counts`` (for logging as params)."""
        return {
            "name": self.name,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "class_counts": self.class_counts(),
        }

    def split(
        self, test_size: float | int = 0.25, random_state: int | None = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Stratified train/test split: ``(X_train, X_test, y_train, y_test)``.

        Uses :func:`sklearn.model_selection.train_test_split` with ``stratify=y``, so
        each class keeps its share (up to rounding) in both parts. ``test_size`` is a
        fraction in (0, 1) or a number of samples; the test part needs at least one
        sample per class.
        """
        from sklearn.model_selection import train_test_split

        try:
            X_train, X_test, y_train, y_test = train_test_split(
                self.X, self.y, test_size=test_size, random_state=random_state, stratify=self.y
            )
        except ValueError as exc:
            raise ValueError(
                f"cannot split {self.name!r} ({self.n_samples} samples, {self.n_classes} "
                f"classes) with test_size={test_size!r}: {exc}"
            ) from exc
        return X_train, X_test, y_train, y_test


def _describe(name: str, y: np.ndarray, n_features: int, class_names: Sequence[str]) -> str:
    """One sentence: name, N, D, K and the class balance."""
    N, K = int(y.shape[0]), len(class_names)
    counts = np.bincount(y, minlength=K) if N else np.zeros(K, dtype=int)
    lo, hi = (int(counts.min()), int(counts.max())) if K else (0, 0)
    if K and hi - lo <= 1:
        per = f"{lo}" if lo == hi else f"{lo}-{hi}"
        balance = f"balanced, {per} per class"
    elif K and lo >= 0.9 * hi:
        balance = f"nearly balanced, {lo}-{hi} per class"
    else:
        shown = [
            f"{class_names[k]}: {counts[k]} ({100.0 * counts[k] / max(N, 1):.0f}%)"
            for k in range(min(K, 10))
        ]
        balance = ", ".join(shown)
        if K > 10:
            balance += f", ... {K - 10} more (smallest {lo}, largest {hi})"
    return f"{name}: {N} samples, {n_features} features, {K} classes (class balance: {balance})."


# --------------------------------------------------------------------------- option checks


def _check_int(
    dataset: str, option: str, value: Any, minimum: int, maximum: int | None = None
) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Integral)
        or (isinstance(value, numbers.Real) and float(value).is_integer())
    ):
        raise ValueError(f"{dataset}: {option} must be an integer; got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{dataset}: {option} must be {allowed}; got {value}")
    return value


def _check_float(
    dataset: str, option: str, value: Any, minimum: float, maximum: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{dataset}: {option} must be a number; got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{dataset}: {option} must be a finite number {allowed}; got {value}")
    return value


def _check_seed(dataset: str, value: Any) -> int | None:
    if value is None:
        return None
    return _check_int(dataset, "random_state", value, 0, 2**32 - 1)


def _check_size(dataset: str, n_samples: Any, n_classes: int, n_features: int = 2) -> int:
    """n_samples: at least 2 per class (so a stratified split works), bounded memory."""
    n = _check_int(dataset, "n_samples", n_samples, 2 * n_classes, MAX_GENERATED_SAMPLES)
    if n * n_features > MAX_GENERATED_VALUES:
        raise ValueError(
            f"{dataset}: n_samples * n_features = {n} * {n_features} = {n * n_features} "
            f"exceeds the limit of {MAX_GENERATED_VALUES:,} values; reduce either"
        )
    return n


# --------------------------------------------------------------------------- built in


def _load_builtin(name: str) -> Dataset:
    import sklearn.datasets as skd

    loaders = {
        "iris": skd.load_iris,
        "wine": skd.load_wine,
        "breast_cancer": skd.load_breast_cancer,
        "digits": skd.load_digits,
    }
    bunch = loaders[name]()
    return Dataset(
        X=bunch.data,
        y=bunch.target,
        feature_names=list(bunch.feature_names),
        class_names=[str(c) for c in bunch.target_names],
        name=name,
    )


# --------------------------------------------------------------------------- generated


def _finish(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    options: dict[str, Any],
    feature_names: Sequence[str] | None = None,
) -> Dataset:
    counts = np.bincount(y, minlength=len(class_names))
    if counts.min() < 2:
        raise ValueError(
            f"{name}: class {class_names[int(counts.argmin())]!r} got only "
            f"{int(counts.min())} sample(s); every class needs at least 2 for a stratified "
            "split: increase n_samples"
        )
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(X.shape[1])]
    return Dataset(
        X=X,
        y=y,
        feature_names=list(feature_names),
        class_names=list(class_names),
        name=name,
        options=dict(options),
    )


def _make_blobs(n_samples=300, n_features=2, n_classes=3, noise=1.0, random_state=0) -> Dataset:
    """Isotropic Gaussian blobs; ``noise`` = standard deviation of each blob.

    Centers are drawn uniformly in the box [-10, 10]^D (scikit-learn's ``make_blobs``).
    """
    name = "blobs"
    n_classes = _check_int(name, "n_classes", n_classes, 2, 100)
    n_features = _check_int(name, "n_features", n_features, 1, 1000)
    n_samples = _check_size(name, n_samples, n_classes, n_features)
    noise = _check_float(name, "noise", noise, 0.0)
    random_state = _check_seed(name, random_state)
    from sklearn.datasets import make_blobs

    X, y = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=n_classes,
        cluster_std=noise,
        random_state=random_state,
    )
    opts = dict(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        noise=noise,
        random_state=random_state,
    )
    return _finish(name, X, y, [f"blob_{k}" for k in range(n_classes)], opts)


def _make_moons(n_samples=300, noise=0.2, random_state=0) -> Dataset:
    """Two interleaving half circles of radius 1 (``make_moons``).

    ``noise`` = standard deviation of the Gaussian noise added to each coordinate.
    Class 0 ("upper") is the upper moon, class 1 ("lower") the lower one.
    """
    name = "moons"
    n_samples = _check_size(name, n_samples, 2)
    noise = _check_float(name, "noise", noise, 0.0)
    random_state = _check_seed(name, random_state)
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=random_state)
    opts = dict(n_samples=n_samples, noise=noise, random_state=random_state)
    return _finish(name, X, y, ["upper", "lower"], opts)


def _make_circles(n_samples=300, noise=0.1, factor=0.5, random_state=0) -> Dataset:
    """A circle of radius ``factor`` inside one of radius 1 (``make_circles``).

    ``noise`` = standard deviation of the Gaussian noise added to each coordinate.
    Class 0 is the outer circle, class 1 the inner one.
    """
    name = "circles"
    n_samples = _check_size(name, n_samples, 2)
    noise = _check_float(name, "noise", noise, 0.0)
    factor = _check_float(name, "factor", factor, 0.0, 1.0)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"{name}: factor must be strictly between 0 and 1; got {factor}")
    random_state = _check_seed(name, random_state)
    from sklearn.datasets import make_circles

    X, y = make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=random_state)
    opts = dict(n_samples=n_samples, noise=noise, factor=factor, random_state=random_state)
    return _finish(name, X, y, ["outer", "inner"], opts)


def make_spiral(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.05,
    turns: float = 1.0,
    random_state: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""K interleaved spiral arms in 2-D; returns ``(X (n_samples, 2), y (n_samples,))``.

    Arm k holds ``n_samples // K`` points (the first ``n_samples % K`` arms one more),
    evenly spaced in t ∈ [0, 1]:

    .. math:: r = 0.1 + 0.9\,t,\quad \theta = 2\pi k / K + 2\pi\,\mathrm{turns}\cdot t,
              \quad x = (r\cos\theta,\ r\sin\theta) + \varepsilon,\quad
              \varepsilon \sim \mathcal N(0, \mathrm{noise}^2 I)

    so the arms are rotated copies of one another, wind ``turns`` times from radius 0.1
    to 1, and sit ``0.9 / (K * turns)`` apart along a ray. Rows are shuffled.
    """
    rng = np.random.default_rng(random_state)
    base, extra = divmod(n_samples, n_classes)
    counts = [base + (1 if k < extra else 0) for k in range(n_classes)]
    t = np.concatenate([np.linspace(0.0, 1.0, c) for c in counts])
    y = np.repeat(np.arange(n_classes), counts)
    r = 0.1 + 0.9 * t
    theta = 2.0 * np.pi * y / n_classes + 2.0 * np.pi * turns * t
    X = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def _make_spiral(n_samples=300, n_classes=3, noise=0.05, turns=1.0, random_state=0) -> Dataset:
    name = "spiral"
    n_classes = _check_int(name, "n_classes", n_classes, 2, 50)
    n_samples = _check_size(name, n_samples, n_classes)
    noise = _check_float(name, "noise", noise, 0.0)
    turns = _check_float(name, "turns", turns, 0.0, 20.0)
    if turns == 0.0:
        raise ValueError(f"{name}: turns must be > 0; got {turns}")
    random_state = _check_seed(name, random_state)
    X, y = make_spiral(n_samples, n_classes, noise, turns, random_state)
    opts = dict(
        n_samples=n_samples,
        n_classes=n_classes,
        noise=noise,
        turns=turns,
        random_state=random_state,
    )
    return _finish(name, X, y, [f"arm_{k}" for k in range(n_classes)], opts)


def make_xor(
    n_samples: int = 300, noise: float = 0.05, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    r"""2-D XOR: points uniform in the four quadrants of [-1, 1]², labelled by sign.

    ``y = 1`` when :math:`x_0 x_1 > 0` (same signs), ``y = 0`` otherwise; the quadrants
    get ``n_samples // 4`` points each (the remainder spread so the classes differ by at
    most one). Gaussian noise with standard deviation ``noise`` is added to every
    coordinate *after* labelling, so points near the axes can cross over. Rows are
    shuffled.
    """
    rng = np.random.default_rng(random_state)
    base, extra = divmod(n_samples, 4)
    # quadrant order alternates the classes so the remainder keeps them balanced
    signs = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], dtype=float)
    counts = [base + (1 if q < extra else 0) for q in range(4)]
    quadrant = np.repeat(np.arange(4), counts)
    X = rng.uniform(0.0, 1.0, size=(n_samples, 2)) * signs[quadrant]
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X += noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def _make_xor(n_samples=300, noise=0.05, random_state=0) -> Dataset:
    name = "xor"
    n_samples = _check_size(name, n_samples, 2)
    noise = _check_float(name, "noise", noise, 0.0)
    random_state = _check_seed(name, random_state)
    X, y = make_xor(n_samples, noise, random_state)
    opts = dict(n_samples=n_samples, noise=noise, random_state=random_state)
    return _finish(name, X, y, ["opposite signs", "same signs"], opts)


def _make_classification(
    n_samples=500, n_features=10, n_informative=5, n_classes=3, noise=0.01, random_state=0
) -> Dataset:
    """``make_classification`` with one Gaussian cluster per class.

    ``n_informative`` features carry the signal, the other ``n_features - n_informative``
    are pure noise (no redundant or repeated features); ``noise`` is the fraction of
    labels replaced by random ones (``flip_y``), in [0, 1].
    """
    name = "classification"
    n_features = _check_int(name, "n_features", n_features, 1, 1000)
    n_informative = _check_int(name, "n_informative", n_informative, 1, n_features)
    n_classes = _check_int(name, "n_classes", n_classes, 2, 100)
    if n_classes > 2**n_informative:
        raise ValueError(
            f"{name}: n_classes={n_classes} needs n_informative >= "
            f"{int(np.ceil(np.log2(n_classes)))} (at most 2**n_informative classes fit "
            f"on the corners of the informative hypercube); got n_informative={n_informative}"
        )
    n_samples = _check_size(name, n_samples, n_classes, n_features)
    noise = _check_float(name, "noise", noise, 0.0, 1.0)
    random_state = _check_seed(name, random_state)
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_repeated=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        flip_y=noise,
        random_state=random_state,
    )
    opts = dict(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_classes=n_classes,
        noise=noise,
        random_state=random_state,
    )
    return _finish(name, X, y, [f"class_{k}" for k in range(n_classes)], opts)


# --------------------------------------------------------------------------- registry


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
}

#: Named datasets (no file needed) -> one-line description. ``"csv"`` is loadable too.
DATASETS: dict[str, str] = {name: spec.description for name, spec in _SPECS.items()}
#: scikit-learn's bundled datasets (no options).
BUILTIN: frozenset[str] = frozenset({"iris", "wine", "breast_cancer", "digits"})
#: Generated datasets (accept n_samples, noise, random_state, ...).
GENERATED: frozenset[str] = frozenset(_SPECS) - BUILTIN

_CSV_DEFAULTS: dict[str, Any] = dict(
    path=None, target=None, delimiter=None, drop=(), max_bytes=MAX_BYTES, max_columns=MAX_COLUMNS
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
    ``max_bytes``, ``max_columns``.
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


# --------------------------------------------------------------------------- CSV: bytes

# Magic numbers of files people upload by mistake.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one: export the sheet as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls): export the sheet as CSV"),
    (b"\x1f\x8b", "a gzip-compressed file: decompress it first"),
    (b"BZh", "a bzip2-compressed file: decompress it first"),
    (b"\xfd7zXZ", "an xz-compressed file: decompress it first"),
    (b"PAR1", "a Parquet file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\xff\xfe", "UTF-16 text: re-save it as UTF-8 ('CSV UTF-8' in Excel)"),
    (b"\xfe\xff", "UTF-16 text: re-save it as UTF-8 ('CSV UTF-8' in Excel)"),
    (b"\x80\x02", "a Python pickle (never loaded)"),
    (b"\x80\x03", "a Python pickle (never loaded)"),
    (b"\x80\x04", "a Python pickle (never loaded)"),
    (b"\x80\x05", "a Python pickle (never loaded)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
)
# C0 control characters other than tab, newline, vertical tab, form feed, carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BOM = b"\xef\xbb\xbf"
_UNNAMED = "the file"  # label of a file-like object without a name


def _not_text(source: str, why: str) -> ValueError:
    return ValueError(f"{source} is not a UTF-8 text CSV: {why}")


def _check_limit(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"csv: {option} must be a positive integer; got {value!r}")
    return int(value)


def _read_at_most(buffer: Any, n: int) -> bytes | str:
    """Read until EOF or until ``n`` bytes/characters are in hand (whichever is first);
    ``read(k)`` may return fewer than k items before the end (pipes, sockets)."""
    chunks: list[Any] = []
    total = 0
    while total < n:
        chunk = buffer.read(n - total)
        if chunk is None:  # a non-blocking raw stream with nothing available yet
            raise ValueError("the file-like object returned no data (non-blocking stream?)")
        if not isinstance(chunk, (str, bytes, bytearray)):
            raise ValueError(f"read() returned {type(chunk).__name__}; expected bytes or str")
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if not chunks:
        return b""
    if isinstance(chunks[0], str):
        if not all(isinstance(c, str) for c in chunks):
            raise ValueError("read() mixed str and bytes")
        return "".join(chunks)
    if any(isinstance(c, str) for c in chunks):
        raise ValueError("read() mixed str and bytes")
    return b"".join(chunks)


def _read_source(path_or_buffer: Any, max_bytes: int) -> tuple[bytes, str, str]:
    """Read at most ``max_bytes`` of a path or file-like; return (utf-8 bytes, text, label).

    The size limit is checked before reading when the size is known (a regular file) and
    otherwise by reading at most ``max_bytes + 1`` bytes/characters, so an endless
    stream fails fast. A seekable file-like is put back where it was, so it can be read
    again (preview first, then load).
    """
    max_bytes = _check_limit("max_bytes", max_bytes)

    def too_large(label: str, size: int | None = None) -> ValueError:
        what = f"is {size:,} bytes, larger" if size is not None else "is larger"
        return ValueError(
            f"{label} {what} than the size limit of {max_bytes:,} bytes (max_bytes); "
            "use a smaller sample of the data or raise max_bytes"
        )

    if isinstance(path_or_buffer, (bytes, bytearray, memoryview)):
        raise ValueError(
            "path must be a file path or a file-like object; wrap raw CSV bytes in io.BytesIO(data)"
        )
    if isinstance(path_or_buffer, (str, os.PathLike)):
        raw_path = os.fspath(path_or_buffer)
        if isinstance(raw_path, bytes):
            raw_path = os.fsdecode(raw_path)
        if not raw_path.strip():
            raise ValueError("path is empty; give the path of a CSV file")
        p = Path(raw_path)
        label = p.name or raw_path
        try:
            st = p.stat()
        except FileNotFoundError:
            raise ValueError(f"CSV file not found: {raw_path}") from None
        except OSError as exc:
            raise ValueError(f"cannot read CSV file {raw_path}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            raise ValueError(f"{raw_path} is a directory, not a CSV file")
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{raw_path} is not a regular file (a pipe or device?)")
        if st.st_size > max_bytes:
            raise too_large(label, st.st_size)
        try:
            with open(p, "rb") as fh:
                data: bytes | str = fh.read(max_bytes + 1)
        except OSError as exc:
            raise ValueError(f"cannot read CSV file {raw_path}: {exc.strerror or exc}") from None
    elif hasattr(path_or_buffer, "read"):
        label = os.path.basename(str(getattr(path_or_buffer, "name", "") or "")) or _UNNAMED
        pos = None
        try:
            if path_or_buffer.seekable():
                pos = path_or_buffer.tell()
        except (AttributeError, OSError, ValueError):
            pos = None
        try:
            data = _read_at_most(path_or_buffer, max_bytes + 1)
        except UnicodeDecodeError as exc:  # a text-mode file opened with the wrong encoding
            raise _not_text(label, f"cannot be decoded ({exc.reason})") from None
        except OSError as exc:
            raise ValueError(f"cannot read {label}: {exc}") from None
        finally:
            if pos is not None:
                try:
                    path_or_buffer.seek(pos)
                except (OSError, ValueError):
                    pass
    else:
        raise ValueError(
            "path must be a file path (str or pathlib.Path) or a file-like object with "
            f"read(); got {type(path_or_buffer).__name__}"
        )

    if isinstance(data, str):
        if len(data) > max_bytes:
            raise too_large(label)
        if data.startswith("\ufeff"):
            data = data[1:]
        if "\x00" in data:
            raise _not_text(label, "it contains NUL characters (a binary file?)")
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise _not_text(label, "it contains unpaired surrogate characters") from None
        if len(raw) > max_bytes:  # multi-byte characters
            raise too_large(label)
        text = data
    else:
        raw = bytes(data)
        if len(raw) > max_bytes:
            raise too_large(label)
        for magic, kind in _SIGNATURES:
            if raw.startswith(magic):
                raise _not_text(label, f"it looks like {kind}")
        if b"\x00" in raw:
            raise _not_text(label, "it contains NUL bytes (a binary file?)")
        if raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start]
            raise _not_text(
                label,
                f"invalid byte 0x{bad:02x} at offset {exc.start}; re-save it with UTF-8 "
                "encoding (e.g. 'CSV UTF-8' in Excel)",
            ) from None
    m = _CONTROL.search(text)
    if m:
        raise _not_text(
            label,
            f"it contains the control character U+{ord(m.group()):04X} at offset "
            f"{m.start()} (a binary file?)",
        )
    return raw, text, label


# --------------------------------------------------------------------------- CSV: parsing

_DELIMITERS = (",", ";", "\t")
_SNIFF_LINES = 20
_SNIFF_CHARS = 4_000_000


def _sniff_delimiter(text: str) -> str:
    """Pick comma, semicolon or tab: the one the header uses that every sniffed line
    repeats as often (then the most frequent in the header); comma if none appears."""
    head = text[:_SNIFF_CHARS]
    parts = head.split("\n", _SNIFF_LINES)
    lines = parts[:_SNIFF_LINES]
    if len(text) > len(head) and len(parts) <= _SNIFF_LINES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut off
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return ","
    header, rest = lines[0], lines[1:]
    best, best_key = ",", (False, 0)
    for d in _DELIMITERS:
        h = header.count(d)
        if h == 0:
            continue
        key = (all(ln.count(d) == h for ln in rest), h)
        if key > best_key:
            best, best_key = d, key
    return best


def _iter_lines(text: str) -> Iterator[str]:
    """Lines of ``text`` without copying it (csv.reader pulls only what it needs)."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _read_header(text: str, sep: str, label: str) -> list[str]:
    try:
        for row in csv.reader(_iter_lines(text), delimiter=sep):
            if row and any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    except csv.Error as exc:
        raise ValueError(f"{label}: the header line cannot be parsed as CSV: {exc}") from None
    raise ValueError(f"{label} is empty: it has no header line")


def _head(items: Sequence[Any], n: int = 5) -> str:
    shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in items[:n])
    return shown + (f" (and {len(items) - n} more)" if len(items) > n else "")


# pandas' default missing-value markers (the ``na_values`` list in the read_csv docs).
# They apply to feature columns; in the target only an empty cell is missing, so a
# class called "None", "NA" or "null" keeps its name (see _target_values).
_NA_MARKERS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip


def _parse_frame(
    path_or_buffer: Any,
    *,
    delimiter: str | None,
    max_bytes: int,
    max_columns: int,
    nrows: int | None = None,
    text_column: str | None = None,
    infer_text_column: bool = False,
) -> tuple[pd.DataFrame, str, str]:
    """Read, check and parse a CSV into a DataFrame; return (frame, delimiter, label).

    Cells equal to one of pandas' missing-value markers are NaN, except in
    ``text_column`` (the target; :func:`infer_target_column` of the header if
    ``infer_text_column``), where only empty cells are."""
    import pandas as pd

    max_columns = _check_limit("max_columns", max_columns)
    raw, text, label = _read_source(path_or_buffer, max_bytes)
    if not text.strip():
        raise ValueError(
            f"{label} is empty; a CSV needs a header line with the column names and at "
            "least 2 data rows"
        )
    if delimiter is None:
        sep = _sniff_delimiter(text)
    elif isinstance(delimiter, str) and len(delimiter) == 1 and delimiter not in '\r\n"':
        sep = delimiter
    else:
        raise ValueError(
            f"csv: delimiter must be one character such as ',' ';' or '\\t'; got {delimiter!r}"
        )
    names = _read_header(text, sep, label)
    if len(names) > max_columns:
        raise ValueError(
            f"{label} has {len(names):,} columns, more than the limit of {max_columns:,} "
            "(max_columns); select fewer columns or raise max_columns"
        )
    empty = [i + 1 for i, n in enumerate(names) if not n]
    if empty:
        raise ValueError(
            f"{label}: column(s) {_head(empty)} have an empty header name; name every "
            "column (an unnamed first column is often a saved row index: drop it, or "
            "save with index=False)"
        )
    dupes = [n for n, c in Counter(names).items() if c > 1]
    if dupes:
        raise ValueError(
            f"{label} has duplicated column names: {_head(dupes)}; every column needs a unique name"
        )
    del text
    if infer_text_column:
        text_column = infer_target_column(names)
    na_values = {c: ([""] if c == text_column else list(_NA_MARKERS)) for c in names}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.BytesIO(raw),
                sep=sep,
                header=0,
                index_col=False,
                nrows=nrows,
                encoding="utf-8",
                engine="c",
                skipinitialspace=True,
                low_memory=False,
                keep_default_na=False,
                na_values=na_values,
            )
    except pd.errors.ParserWarning:
        raise ValueError(
            f"{label}: a data row has more fields than the header ({len(names)} columns, "
            f"delimiter {sep!r}); check the delimiter and quoting"
        ) from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{label} is empty: it has no header line") from None
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        msg = " ".join(str(exc).split())
        raise ValueError(
            f"{label} cannot be parsed as CSV (delimiter {sep!r}): {msg}; check the "
            "delimiter and quoting"
        ) from None
    if df.shape[1] == len(names):
        df.columns = names
    return df, sep, label


def infer_target_column(df: pd.DataFrame | Sequence[str]) -> str:
    """The column to predict by default: one named ``target``, ``label``, ``labels`` or
    ``class`` (case-insensitive, in that order) if there is one, else the last column."""
    columns = [str(c) for c in (df.columns if hasattr(df, "columns") else df)]
    if not columns:
        raise ValueError("no columns to choose a target from")
    lowered = {c.strip().lower(): c for c in reversed(columns)}
    for candidate in ("target", "label", "labels", "class"):
        if candidate in lowered:
            return lowered[candidate]
    return columns[-1]


def read_csv_preview(
    path_or_buffer: Any,
    n: int = 5,
    *,
    delimiter: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_columns: int = MAX_COLUMNS,
) -> pd.DataFrame:
    """The first ``n`` data rows of a CSV, after the same file checks as :func:`load_csv`
    (size, UTF-8 text, column limit, header names); for a UI preview before the user
    picks the target. Values are not checked. A seekable buffer is rewound."""
    n = _check_limit("n", n)
    df, _, _ = _parse_frame(
        path_or_buffer,
        delimiter=delimiter,
        max_bytes=max_bytes,
        max_columns=max_columns,
        nrows=n,
        infer_text_column=True,
    )
    return df


def _rows(mask: np.ndarray) -> str:
    """Describe the (1-based) data rows where mask is True."""
    idx = np.flatnonzero(mask) + 1
    return f"data row{'s' if idx.size > 1 else ''} {_head(idx.tolist())}"


def _label_str(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return format(float(value), "g")
    return str(value)


def _is_numeric(dtype: Any) -> bool:
    import pandas as pd

    return (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) and not (
        pd.api.types.is_complex_dtype(dtype)
    )


def _to_numeric_feature(col: pd.Series, sep: str) -> pd.Series | None:
    """A non-numeric column as float64 numbers, or None if some value is not a number."""
    import pandas as pd

    if sep == ";":  # decimal commas: "1,5" means 1.5 in semicolon-separated files
        as_str = col.astype("string").str.strip().str.replace(",", ".", regex=False)
        converted = pd.to_numeric(as_str, errors="coerce")
        if (converted.notna() == col.notna()).all():
            return converted.astype(np.float64)
    return None


def _target_values(t: pd.Series) -> pd.Series:
    """The target column with its missing cells as NaN.

    It was read with only empty cells missing. Markers such as ``NA`` or ``None`` are
    class names in a column of words, but mean "missing" in an otherwise numeric
    column (``0, 1, NA``), which then becomes numeric again."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t):
        return t
    text = t.astype("string").str.strip()
    marker = text.isin(_NA_MARKERS[1:]).fillna(False).to_numpy(dtype=bool)
    if not marker.any():
        return t
    rest = t[~marker & t.notna().to_numpy()]
    numbers = pd.to_numeric(rest, errors="coerce")
    if len(rest) and numbers.notna().all():
        return pd.to_numeric(t.where(~marker), errors="coerce")
    return t


def load_csv(
    path: Any,
    target: str | None = None,
    *,
    delimiter: str | None = None,
    drop: Sequence[str] = (),
    max_bytes: int = MAX_BYTES,
    max_columns: int = MAX_COLUMNS,
) -> Dataset:
    """Load a classification dataset from a CSV file (path or file-like, bytes or text).

    A valid CSV is UTF-8 text of at most ``max_bytes`` bytes (default 50 MB) with a
    header line of unique, non-empty column names (at most ``max_columns``, default
    10,000), separated by commas, semicolons or tabs (sniffed unless ``delimiter`` is
    given), then at least two data rows. One column is the ``target`` (default:
    :func:`infer_target_column`); its values, strings or numbers, are the class labels:
    at least 2 classes, each with at least 2 rows, none missing. ``class_names`` are the
    labels sorted (numerically for a numeric column), ``y`` their codes. Every other
    column not in ``drop`` is a feature and must be numeric (booleans count as 0/1; in a
    semicolon file, decimal commas like ``1,5`` are accepted), with no missing or
    infinite values. Anything else raises a ``ValueError`` that names the problem.
    """
    if isinstance(drop, str):
        drop = [drop]
    drop = [str(d).strip() for d in drop]
    df, sep, label = _parse_frame(
        path,
        delimiter=delimiter,
        max_bytes=max_bytes,
        max_columns=max_columns,
        text_column=None if target is None else str(target).strip(),
        infer_text_column=target is None,
    )
    columns = [str(c) for c in df.columns]
    if len(df) == 0:
        raise ValueError(
            f"{label} has a header but no data rows; add at least 2 rows (2 per class)"
        )
    target = infer_target_column(columns) if target is None else str(target).strip()
    if target not in columns:
        raise ValueError(
            f"target column {target!r} not found in {label}; available columns: "
            f"{_head(columns, 20)}"
        )
    unknown_drop = [d for d in drop if d not in columns]
    if unknown_drop:
        raise ValueError(
            f"drop: column(s) {_head(unknown_drop)} not found in {label}; available "
            f"columns: {_head(columns, 20)}"
        )
    if target in drop:
        raise ValueError(f"drop: the target column {target!r} cannot be dropped")
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise ValueError(
            f"{label} has no feature columns besides the target {target!r}; a dataset "
            "needs at least one numeric feature column"
        )
    if len(df) < 2:
        raise ValueError(f"{label} has only 1 data row; a dataset needs at least 2 rows per class")

    # ---- target -> codes
    t = _target_values(df[target])
    missing = t.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"target column {target!r} has {int(missing.sum())} missing value(s) "
            f"({_rows(missing)}); drop those rows or fill in their labels"
        )
    import pandas as pd

    numeric_target = pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)
    values = t.to_numpy() if numeric_target else t.astype(str).str.strip().to_numpy()
    uniques, y = np.unique(values, return_inverse=True)
    class_names = [_label_str(u) for u in uniques]
    if len(set(class_names)) != len(class_names):  # e.g. two floats printing the same
        class_names = [repr(u) for u in uniques.tolist()]
    if len(uniques) < 2:
        raise ValueError(
            f"target column {target!r} has only one class ({class_names[0]!r}); a "
            "classifier needs at least 2 classes"
        )
    counts = np.bincount(y, minlength=len(uniques))
    rare = [class_names[k] for k in np.flatnonzero(counts < 2)]
    if rare:
        hint = ""
        if (
            numeric_target
            and pd.api.types.is_float_dtype(t)
            and not np.all(np.mod(values.astype(float), 1.0) == 0.0)
        ):
            hint = " The target looks continuous (non-integer numbers): pick a column of labels."
        elif len(uniques) > len(values) / 2:
            hint = f" {len(uniques)} classes in {len(values)} rows: is {target!r} an ID column?"
        raise ValueError(
            f"target column {target!r}: {len(rare)} class(es) have only 1 row "
            f"({_head(rare)}); every class needs at least 2 rows for a stratified "
            f"train/test split.{hint}"
        )

    # ---- features -> float64
    # numeric columns (the common case) are converted in one go, by dtype
    frame = df[features]
    converted: dict[str, pd.Series] = {}
    bad: list[str] = []
    for c, dtype in zip(features, frame.dtypes, strict=True):
        if _is_numeric(dtype):
            continue
        col = _to_numeric_feature(frame[c], sep)
        if col is None:
            coerced = pd.to_numeric(frame[c], errors="coerce")
            offending = (coerced.isna() & frame[c].notna()).to_numpy()
            i = int(np.flatnonzero(offending)[0]) if offending.any() else 0
            bad.append(f"{c!r} (e.g. {str(frame[c].iloc[i])!r} in data row {i + 1})")
        else:
            converted[c] = col
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValueError(
            f"{len(bad)} non-numeric feature column(s) in {label}: {shown}; features must "
            "be numbers: drop these columns (drop=[...]) or encode them as numbers "
            "(e.g. one-hot) first"
        )
    if converted:
        frame = frame.assign(**converted)
    X = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
    finite = np.isfinite(X)
    if not finite.all():
        per_col = (~finite).sum(axis=0)
        cols = [
            f"{features[j]!r} ({int(per_col[j])} row{'s' if per_col[j] > 1 else ''})"
            for j in np.flatnonzero(per_col)
        ]
        shown = ", ".join(cols[:5]) + (f" and {len(cols) - 5} more" if len(cols) > 5 else "")
        bad_rows = ~finite.all(axis=1)
        raise ValueError(
            f"missing or infinite values (NaN/inf) in feature column(s) {shown}: "
            f"{int(bad_rows.sum())} of {len(df)} rows affected ({_rows(bad_rows)}); "
            "drop those rows or impute the values first"
        )
    name = f"csv:{label}" if label != _UNNAMED else "csv"
    options = {"file": label, "target": target, "delimiter": sep, "drop": list(drop)}
    ds = Dataset(
        X=X,
        y=y.astype(np.int64),
        feature_names=features,
        class_names=class_names,
        name=name,
        options=options,
    )
    ds.description = _describe(f"{name} (target {target!r})", ds.y, ds.n_features, class_names)
    return ds
