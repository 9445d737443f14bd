"""Generated problems: blobs, moons, circles, spiral, xor, classification, mnist1d.

Each ``_make_<name>`` checks its options, draws the data and returns a :class:`Dataset`;
:func:`make_spiral` and :func:`make_xor` are the public array generators. The option
checks (``_check_int``, ``_check_float``, ...) are shared with other loaders.
"""

from __future__ import annotations

import functools
import numbers
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dataset import Dataset

__all__ = ["MAX_GENERATED_SAMPLES", "MAX_GENERATED_VALUES", "make_spiral", "make_xor"]

#: Generated datasets: at most this many samples ...
MAX_GENERATED_SAMPLES = 1_000_000
#: ... and at most this many values (n_samples * n_features): 480 MB of float64, enough for
#: an MNIST-sized 70000 x 784 problem.
MAX_GENERATED_VALUES = 60_000_000


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


# --------------------------------------------------------------------------- MNIST-1D

_GLOBAL_RNG_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _mnist1d_arrays(n_samples: int, noise: float, seed: int | None):
    """``make_dataset`` of the ``mnist1d`` package, with numpy's and Python's global
    generators saved and restored around it (it reseeds both)."""
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = n_samples
    args.corr_noise_scale *= noise
    args.iid_noise_scale *= noise
    args.seed = seed
    args.train_split = 1.0  # all samples in 'x'; Dataset.split makes the test set
    with _GLOBAL_RNG_LOCK:
        np_state = np.random.get_state()  # noqa: NPY002 (the global state make_dataset reseeds)
        py_state = random.getstate()
        try:
            data = make_dataset(args)
        finally:
            np.random.set_state(np_state)  # noqa: NPY002
            random.setstate(py_state)
    X = np.ascontiguousarray(data["x"], dtype=np.float64)
    y = np.asarray(data["y"], dtype=np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _make_mnist1d(n_samples=5000, noise=1.0, random_state=42) -> Dataset:
    """MNIST-1D (Greydanus & Kobak, ICML 2024): 10 digit templates as 40-point 1-D signals.

    Generated procedurally by the ``mnist1d`` package's own ``make_dataset`` (padding,
    shear, translation, correlated and i.i.d. noise, then down-sampling to 40 points),
    never its download path. ``n_samples`` is rounded down to a multiple of 10 (an equal
    number per digit); the paper uses 5000 (4000 train, 1000 test). ``noise`` multiplies
    both of the paper's noise scales (correlated 0.25, i.i.d. 0.02): 1.0 is the paper's
    dataset, 0 removes the noise (the shifts and shears remain). ``random_state`` is the
    package's seed (42 in the paper). ``make_dataset`` reseeds numpy's and Python's global
    generators: their states are saved and restored around the call.
    """
    name = "mnist1d"
    n_samples = _check_size(name, n_samples, 10, 40) // 10 * 10
    noise = _check_float(name, "noise", noise, 0.0, 100.0)
    random_state = _check_seed(name, random_state)
    X, y = _mnist1d_arrays(n_samples, noise, random_state)
    opts = dict(n_samples=n_samples, noise=noise, random_state=random_state)
    return _finish(
        name, X.copy(), y.copy(), [str(d) for d in range(10)], opts, [f"t{j}" for j in range(40)]
    )
