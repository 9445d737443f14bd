"""Tests for lossesbox.datasets: named datasets, generators, splits and CSV loading."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sklearn.datasets as skd

from lossesbox.datasets import (
    BUILTIN,
    DATASETS,
    GENERATED,
    Dataset,
    dataset_options,
    load_dataset,
    make_spiral,
    make_xor,
)

# --------------------------------------------------------------------------- registry


def test_registry_names_and_partition():
    assert set(DATASETS) == {
        "iris",
        "wine",
        "breast_cancer",
        "digits",
        "blobs",
        "moons",
        "circles",
        "spiral",
        "xor",
        "classification",
    }
    assert BUILTIN == {"iris", "wine", "breast_cancer", "digits"}
    assert GENERATED == set(DATASETS) - BUILTIN
    assert all(isinstance(d, str) and d for d in DATASETS.values())


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_options_have_common_keys(name):
    opts = dataset_options(name)
    assert {"n_samples", "noise", "random_state"} <= set(opts)
    assert opts["random_state"] == 0
    opts["n_samples"] = -1  # a fresh dict each time: mutating it changes nothing
    assert dataset_options(name)["n_samples"] > 0


def test_dataset_options_builtin_and_csv():
    assert dataset_options("iris") == {}
    assert dataset_options("csv") == {
        "path": None,
        "target": None,
        "delimiter": None,
        "drop": [],
        "max_bytes": 50_000_000,
        "max_columns": 10_000,
    }
    assert dataset_options("spiral") == {
        "n_samples": 300,
        "n_classes": 3,
        "noise": 0.05,
        "turns": 1.0,
        "random_state": 0,
    }


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*iris.*xor.*csv"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="unknown dataset"):
        dataset_options("mnist")


def test_names_are_normalized():
    assert load_dataset(" Breast-Cancer ").name == "breast_cancer"


def test_unknown_option_names_valid_options():
    with pytest.raises(
        ValueError,
        match=r"unknown option\(s\) for dataset 'moons': factor; "
        r"valid options: n_samples, noise, random_state",
    ):
        load_dataset("moons", factor=0.3)
    with pytest.raises(ValueError, match="dataset 'iris' takes no options; got random_state"):
        load_dataset("iris", random_state=1)


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("moons", {"n_samples": 3}, r"n_samples must be between 4 and 1000000; got 3"),
        ("spiral", {"n_samples": 9, "n_classes": 5}, r"n_samples must be between 10 and"),
        ("moons", {"n_samples": 10.5}, r"n_samples must be an integer; got 10.5"),
        ("moons", {"n_samples": True}, r"n_samples must be an integer"),
        ("moons", {"n_samples": "100"}, r"n_samples must be an integer"),
        ("moons", {"noise": -0.1}, r"noise must be a finite number >= 0.0; got -0.1"),
        ("circles", {"noise": float("nan")}, r"noise must be a finite number"),
        ("circles", {"factor": 1.0}, r"factor must be strictly between 0 and 1"),
        ("spiral", {"n_classes": 1}, r"n_classes must be between 2 and 50; got 1"),
        ("spiral", {"turns": 0}, r"turns must be > 0"),
        ("xor", {"random_state": -1}, r"random_state must be between 0 and"),
        ("xor", {"random_state": 1.5}, r"random_state must be an integer"),
        ("classification", {"noise": 1.5}, r"noise must be a finite number between 0.0 and 1.0"),
        ("classification", {"n_informative": 11}, r"n_informative must be between 1 and 10"),
        (
            "classification",
            {"n_classes": 5, "n_informative": 2},
            r"n_classes=5 needs n_informative >= 3",
        ),
        ("blobs", {"n_samples": 1_000_000, "n_features": 100}, r"exceeds the limit"),
        ("blobs", {"n_samples": 2_000_000}, r"n_samples must be between 6 and 1000000"),
    ],
)
def test_bad_generator_options(name, options, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(name, **options)


def test_integral_float_options_are_accepted():
    # number widgets in a UI hand back floats
    ds = load_dataset("moons", n_samples=100.0, random_state=np.int64(3))
    assert ds.n_samples == 100
    assert ds.options["n_samples"] == 100 and isinstance(ds.options["n_samples"], int)
    assert ds.options["random_state"] == 3


# --------------------------------------------------------------------------- built in


@pytest.mark.parametrize(
    ("name", "loader", "shape", "class_names"),
    [
        ("iris", skd.load_iris, (150, 4), ["setosa", "versicolor", "virginica"]),
        ("wine", skd.load_wine, (178, 13), ["class_0", "class_1", "class_2"]),
        ("breast_cancer", skd.load_breast_cancer, (569, 30), ["malignant", "benign"]),
        ("digits", skd.load_digits, (1797, 64), [str(d) for d in range(10)]),
    ],
)
def test_builtin_matches_scikit_learn(name, loader, shape, class_names):
    ds = load_dataset(name)
    ref = loader()
    assert ds.name == name
    assert ds.X.shape == shape and ds.X.dtype == np.float64 and ds.X.flags.c_contiguous
    assert ds.y.dtype == np.int64
    np.testing.assert_array_equal(ds.X, ref.data)
    np.testing.assert_array_equal(ds.y, ref.target)
    assert ds.class_names == class_names
    assert ds.feature_names == list(ref.feature_names)
    assert ds.n_classes == len(class_names)
    assert f"{name}: {shape[0]} samples, {shape[1]} features, {len(class_names)} classes" in (
        ds.description
    )


def test_descriptions_state_class_balance():
    assert load_dataset("iris").description == (
        "iris: 150 samples, 4 features, 3 classes (class balance: balanced, 50 per class)."
    )
    assert load_dataset("wine").description == (
        "wine: 178 samples, 13 features, 3 classes (class balance: "
        "class_0: 59 (33%), class_1: 71 (40%), class_2: 48 (27%))."
    )
    assert "nearly balanced, 174-183 per class" in load_dataset("digits").description


def test_summary_values():
    assert load_dataset("breast_cancer").summary() == {
        "name": "breast_cancer",
        "n_samples": 569,
        "n_features": 30,
        "n_classes": 2,
        "class_counts": {"malignant": 212, "benign": 357},
    }


# --------------------------------------------------------------------------- generated


@pytest.mark.parametrize(
    ("name", "options", "shape", "class_names"),
    [
        ("blobs", {}, (300, 2), ["blob_0", "blob_1", "blob_2"]),
        ("blobs", {"n_classes": 4, "n_features": 5, "n_samples": 101}, (101, 5), None),
        ("moons", {}, (300, 2), ["upper", "lower"]),
        ("circles", {}, (300, 2), ["outer", "inner"]),
        ("spiral", {}, (300, 2), ["arm_0", "arm_1", "arm_2"]),
        ("spiral", {"n_classes": 5, "n_samples": 52}, (52, 2), [f"arm_{k}" for k in range(5)]),
        ("xor", {}, (300, 2), ["opposite signs", "same signs"]),
        ("xor", {"n_samples": 7}, (7, 2), ["opposite signs", "same signs"]),
        ("classification", {}, (500, 10), ["class_0", "class_1", "class_2"]),
        (
            "classification",
            {"n_features": 4, "n_informative": 3, "n_classes": 6, "n_samples": 120},
            (120, 4),
            [f"class_{k}" for k in range(6)],
        ),
    ],
)
def test_generated_shapes_and_classes(name, options, shape, class_names):
    ds = load_dataset(name, **options)
    K = len(class_names) if class_names else options["n_classes"]
    assert ds.X.shape == shape and ds.X.dtype == np.float64
    assert ds.y.shape == (shape[0],) and ds.y.dtype == np.int64
    assert sorted(np.unique(ds.y)) == list(range(K))
    if class_names:
        assert ds.class_names == class_names
    assert ds.feature_names == [f"x{j}" for j in range(shape[1])]
    assert np.isfinite(ds.X).all()
    assert ds.options == {**dataset_options(name), **options}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_determinism(name):
    a = load_dataset(name, random_state=7)
    b = load_dataset(name, random_state=7)
    c = load_dataset(name, random_state=8)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_moons_circles_classification_equal_scikit_learn():
    X, y = skd.make_moons(n_samples=200, noise=0.3, random_state=4)
    ds = load_dataset("moons", n_samples=200, noise=0.3, random_state=4)
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    X, y = skd.make_circles(n_samples=200, noise=0.05, factor=0.3, random_state=4)
    ds = load_dataset("circles", n_samples=200, noise=0.05, factor=0.3, random_state=4)
    np.testing.assert_array_equal(ds.X, X)
    # inner circle (class 1) has radius factor, outer radius 1 (noise is small)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    assert abs(r[ds.y == 1].mean() - 0.3) < 0.02 and abs(r[ds.y == 0].mean() - 1.0) < 0.02
    X, y = skd.make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_repeated=0,
        n_classes=4,
        n_clusters_per_class=1,
        flip_y=0.0,
        random_state=2,
    )
    ds = load_dataset(
        "classification",
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=4,
        noise=0.0,
        random_state=2,
    )
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)


def test_blobs_noise_is_cluster_std():
    tight = load_dataset("blobs", noise=0.0, random_state=1)
    for k in range(3):  # noise 0: every point of a class sits on its center
        pts = tight.X[tight.y == k]
        np.testing.assert_allclose(pts, np.broadcast_to(pts[0], pts.shape))
    wide = load_dataset("blobs", noise=2.0, n_samples=3000, random_state=1)
    centers = np.array([tight.X[tight.y == k][0] for k in range(3)])
    resid = wide.X - centers[wide.y]
    np.testing.assert_allclose(resid.std(axis=0), 2.0, rtol=0.05)


@pytest.mark.parametrize(("K", "turns"), [(2, 1.0), (3, 1.0), (5, 2.5)])
def test_spiral_geometry_without_noise(K, turns):
    X, y = make_spiral(n_samples=10 * K + 1, n_classes=K, noise=0.0, turns=turns, random_state=0)
    counts = np.bincount(y)
    assert counts.tolist() == [11] + [10] * (K - 1)  # remainder goes to the first arm
    r = np.hypot(X[:, 0], X[:, 1])
    t = (r - 0.1) / 0.9
    assert r.min() == pytest.approx(0.1) and r.max() == pytest.approx(1.0)
    # theta = 2*pi*k/K + 2*pi*turns*t, up to whole turns
    expected = 2 * np.pi * y / K + 2 * np.pi * turns * t
    delta = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - expected)))
    np.testing.assert_allclose(delta, 0.0, atol=1e-9)
    # every arm is the rotation of arm 0 by 2*pi*k/K (same radii)
    for k in range(1, K):
        np.testing.assert_allclose(np.sort(r[y == k]), np.sort(r[y == 1]), atol=1e-12)


def test_spiral_noise_is_coordinate_std():
    clean, y0 = make_spiral(n_samples=3000, noise=0.0, random_state=3)
    noisy, y1 = make_spiral(n_samples=3000, noise=0.2, random_state=3)
    np.testing.assert_array_equal(y0, y1)  # same shuffle for the same seed
    np.testing.assert_allclose((noisy - clean).std(axis=0), 0.2, rtol=0.06)


def test_spiral_rows_are_shuffled():
    _, y = make_spiral(n_samples=300, random_state=0)
    assert not np.array_equal(y, np.sort(y))


def test_xor_labels_are_sign_product():
    X, y = make_xor(n_samples=401, noise=0.0, random_state=5)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(int))
    assert np.abs(X).max() <= 1.0
    assert sorted(np.bincount(y).tolist()) == [200, 201]
    quadrants = np.bincount((X[:, 0] > 0) * 2 + (X[:, 1] > 0))
    assert quadrants.min() >= 100  # all four quadrants used, about evenly
    # with noise, labels keep the clean sign product: points near the axes cross over
    Xn, yn = make_xor(n_samples=2000, noise=0.2, random_state=5)
    flipped = np.mean(yn != (Xn[:, 0] * Xn[:, 1] > 0))
    assert 0.05 < flipped < 0.4


# --------------------------------------------------------------------------- split


@pytest.mark.parametrize("name", ["wine", "breast_cancer", "digits", "classification"])
def test_split_is_stratified(name):
    ds = load_dataset(name)
    X_tr, X_te, y_tr, y_te = ds.split(test_size=0.25, random_state=0)
    N = ds.n_samples
    assert len(y_te) == int(np.ceil(0.25 * N)) and len(y_tr) + len(y_te) == N
    assert X_tr.shape == (len(y_tr), ds.n_features) and X_te.shape == (len(y_te), ds.n_features)
    full = np.bincount(ds.y, minlength=ds.n_classes)
    test = np.bincount(y_te, minlength=ds.n_classes)
    # each class keeps its share of the test set up to rounding
    assert np.all(np.abs(test - full * len(y_te) / N) <= 1.0)
    np.testing.assert_array_equal(test + np.bincount(y_tr, minlength=ds.n_classes), full)
    # train and test rows partition X
    both = np.vstack([X_tr, X_te])
    np.testing.assert_array_equal(np.unique(both, axis=0), np.unique(ds.X, axis=0))


def test_split_determinism_and_int_test_size():
    ds = load_dataset("iris")
    a, b = ds.split(random_state=3), ds.split(random_state=3)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(ds.split(random_state=4)[3], a[3])
    _, X_te, _, y_te = ds.split(test_size=30)
    assert X_te.shape == (30, 4) and np.bincount(y_te).tolist() == [10, 10, 10]


def test_split_errors_are_explained():
    ds = Dataset(
        X=np.arange(10.0).reshape(5, 2),
        y=np.array([0, 0, 0, 0, 1]),
        feature_names=["a", "b"],
        class_names=["no", "yes"],
        name="tiny",
    )
    with pytest.raises(ValueError, match=r"cannot split 'tiny' \(5 samples, 2 classes\)"):
        ds.split()


def test_dataset_validates_its_fields():
    with pytest.raises(ValueError, match=r"y must hold codes 0..1"):
        Dataset(np.zeros((3, 1)), np.array([0, 1, 2]), ["a"], ["p", "q"])
    with pytest.raises(ValueError, match="2 feature names for 1 feature columns"):
        Dataset(np.zeros((3, 1)), np.array([0, 1, 1]), ["a", "b"], ["p", "q"])
    with pytest.raises(ValueError, match="integer class codes"):
        Dataset(np.zeros((3, 1)), np.array([0.0, 1.0, 1.0]), ["a"], ["p", "q"])
    with pytest.raises(ValueError, match=r"y must have shape \(N,\)"):
        Dataset(np.zeros((3, 1)), np.array([0, 1]), ["a"], ["p", "q"])
    ds = Dataset(np.ones((4, 1), dtype=np.float32), [0, 1, 0, 1], ["a"], ["p", "q"], name="t")
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.int64
    assert (
        ds.description
        == "t: 4 samples, 1 features, 2 classes (class balance: balanced, 2 per class)."
    )


def test_import_stays_light():
    """``import lossesbox.datasets`` must not pull in scikit-learn or pandas."""
    code = (
        "import sys, lossesbox.datasets; "
        "print(sorted(m for m in ('sklearn', 'pandas', 'mlflow', 'streamlit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
