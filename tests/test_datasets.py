"""Tests for lossesbox.datasets: named datasets, generators, splits and CSV loading."""

from __future__ import annotations

import io
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
    infer_target_column,
    load_csv,
    load_dataset,
    make_spiral,
    make_xor,
    read_csv_preview,
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
        "mnist1d",
    }
    assert BUILTIN == {"iris", "wine", "breast_cancer", "digits"}
    assert GENERATED == set(DATASETS) - BUILTIN
    assert all(isinstance(d, str) and d for d in DATASETS.values())


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_options_have_common_keys(name):
    opts = dataset_options(name)
    assert {"n_samples", "noise", "random_state"} <= set(opts)
    assert opts["random_state"] == (42 if name == "mnist1d" else 0)  # mnist1d: the paper's seed
    opts["n_samples"] = -1  # a fresh dict each time: mutating it changes nothing
    assert dataset_options(name)["n_samples"] > 0


def test_dataset_options_builtin_and_csv():
    assert dataset_options("iris") == {}
    assert dataset_options("csv") == {
        "path": None,
        "target": None,
        "delimiter": None,
        "drop": [],
        "impute": "median",
        "categorical": "onehot",
        "max_categories": 50,
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


# --------------------------------------------------------------------------- CSV: happy paths

CSV = b"a,b,label\n1,2.5,dog\n3,4,cat\n5,6,dog\n7,8,cat\n9,10,emu\n11,12,emu\n"


def _write(tmp_path, content: bytes | str, name: str = "data.csv"):
    p = tmp_path / name
    if isinstance(content, str):
        p.write_text(content, encoding="utf-8")
    else:
        p.write_bytes(content)
    return p


def _check_small(ds: Dataset) -> None:
    np.testing.assert_array_equal(ds.X, [[1, 2.5], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]])
    assert ds.class_names == ["cat", "dog", "emu"]  # sorted, not in order of appearance
    np.testing.assert_array_equal(ds.y, [1, 0, 1, 0, 2, 2])
    assert ds.feature_names == ["a", "b"]
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.int64


def test_csv_from_path_str_and_pathlib(tmp_path):
    p = _write(tmp_path, CSV)
    for path in (p, str(p)):
        ds = load_dataset("csv", path=path, target="label")
        _check_small(ds)
        assert ds.name == "csv:data.csv"
        assert ds.description == (
            "csv:data.csv (target 'label'): 6 samples, 2 features, 3 classes "
            "(class balance: balanced, 2 per class)."
        )
        # no absolute path in what gets logged
        assert ds.options == {
            "file": "data.csv",
            "target": "label",
            "delimiter": ",",
            "drop": [],
            "impute": "median",
            "categorical": "onehot",
            "max_categories": 50,
        }
        assert str(tmp_path) not in repr(ds.summary())


def test_csv_from_bytes_and_text_buffers(tmp_path):
    _check_small(load_csv(io.BytesIO(CSV), target="label"))
    _check_small(load_csv(io.StringIO(CSV.decode()), target="label"))
    p = _write(tmp_path, CSV)
    with open(p, "rb") as fb:
        ds = load_csv(fb, target="label")
    _check_small(ds)
    assert ds.name == "csv:data.csv"  # file objects keep their name
    with open(p, encoding="utf-8") as ft:
        _check_small(load_csv(ft, target="label"))


def test_csv_uploaded_file_like_has_its_name():
    class Uploaded(io.BytesIO):  # what Streamlit's file_uploader returns
        name = "flowers.csv"

    ds = load_csv(Uploaded(CSV))
    assert ds.name == "csv:flowers.csv"
    buf = io.BytesIO(CSV)
    assert load_csv(buf).name == "csv"


def test_csv_roundtrip_iris_matches_scikit_learn(tmp_path):
    iris = skd.load_iris(as_frame=True)
    frame = iris.frame.copy()
    frame["species"] = np.asarray(iris.target_names)[iris.target]
    frame = frame.drop(columns="target")
    p = tmp_path / "iris.csv"
    frame.to_csv(p, index=False)
    ds = load_csv(p, target="species")
    np.testing.assert_array_equal(ds.X, iris.data.to_numpy())
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(ds.y, iris.target.to_numpy())
    assert ds.feature_names == list(iris.feature_names)
    _, X_te, _, y_te = ds.split()
    assert X_te.shape == (38, 4) and sorted(np.bincount(y_te).tolist()) == [12, 13, 13]


def test_csv_numeric_labels_sort_numerically():
    text = "x,y\n1,10\n2,2\n3,1\n4,10\n5,2\n6,1\n"
    ds = load_csv(io.StringIO(text), target="y")
    assert ds.class_names == ["1", "2", "10"]
    np.testing.assert_array_equal(ds.y, [2, 1, 0, 2, 1, 0])
    floats = load_csv(io.StringIO("x,y\n1,0.5\n2,1.5\n3,0.5\n4,1.5\n"), target="y")
    assert floats.class_names == ["0.5", "1.5"]


def test_csv_semicolon_tab_and_explicit_delimiter():
    semi = "a;b;label\n1,5;2;dog\n3;4,25;cat\n5;6;dog\n7;8;cat\n"
    ds = load_csv(io.StringIO(semi))
    assert ds.options["delimiter"] == ";"
    np.testing.assert_array_equal(ds.X, [[1.5, 2], [3, 4.25], [5, 6], [7, 8]])  # decimal commas
    assert ds.class_names == ["cat", "dog"]
    tab = "a\tb\tlabel\n1\t2\t0\n3\t4\t1\n5\t6\t0\n7\t8\t1\n"
    ds = load_csv(io.StringIO(tab))
    assert ds.options["delimiter"] == "\t" and ds.X.shape == (4, 2)
    pipe = "a|b|label\n1|2|0\n3|4|1\n5|6|0\n7|8|1\n"
    ds = load_csv(io.StringIO(pipe), delimiter="|")
    np.testing.assert_array_equal(ds.X[:, 1], [2, 4, 6, 8])


def test_csv_comma_wins_over_quoted_semicolons():
    text = 'a,b,label\n1,2,"x;y"\n3,4,z\n5,6,"x;y"\n7,8,z\n'
    ds = load_csv(io.StringIO(text))
    assert ds.options["delimiter"] == "," and ds.class_names == ["x;y", "z"]


def test_csv_bom_crlf_quotes_spaces_bools():
    text = (
        b'\xef\xbb\xbf"a", b ,flag,label\r\n'
        b'1, 2 ,True,"red, dark"\r\n3,4,False,blue\r\n5, 6,True,"red, dark"\r\n7,8,False,blue\r\n'
    )
    ds = load_csv(io.BytesIO(text))
    # booleans are categories: one-hot encoded (X, a view of the table) ...
    assert ds.feature_names == ["a", "b", "flag_False", "flag_True"]
    np.testing.assert_array_equal(ds.X, [[1, 2, 0, 1], [3, 4, 1, 0], [5, 6, 0, 1], [7, 8, 1, 0]])
    # ... and the model's input table keeps the column, as text
    assert list(ds.frame.columns) == ["a", "b", "flag"]
    assert ds.frame["flag"].tolist() == ["True", "False", "True", "False"]
    assert ds.class_names == ["blue", "red, dark"]


def test_csv_default_target_and_drop():
    text = "id,label,f1,f2\n1,a,0.1,1\n2,b,0.2,2\n3,a,0.3,3\n4,b,0.4,4\n"
    ds = load_csv(io.StringIO(text), drop=["id"])  # target inferred: the column named label
    assert ds.options["target"] == "label"
    assert ds.feature_names == ["f1", "f2"]
    ds = load_csv(io.StringIO("f1,f2,kind\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n"))
    assert ds.options["target"] == "kind"  # else the last column


@pytest.mark.parametrize("target", [None, "status"])
def test_csv_target_words_like_none_and_na_are_class_names(target):
    # pandas reads "None", "NA", "null" as missing by default; in a column of words
    # they are labels (e.g. a "None" severity, "NA" for North America)
    text = "f,status\n1,None\n2,NA\n3,null\n4,None\n5,NA\n6,null\n7,mild\n8,mild\n"
    ds = load_csv(io.StringIO(text), target=target)
    assert ds.class_names == ["NA", "None", "mild", "null"]
    np.testing.assert_array_equal(ds.y, [1, 0, 3, 1, 0, 3, 2, 2])
    assert read_csv_preview(io.StringIO(text), n=2)["status"].tolist() == ["None", "NA"]
    # in feature columns the markers still mean "missing": imputed, or refused on request
    gap = text.replace("\n3,null", "\nNA,null")
    assert load_csv(io.StringIO(gap), target=target).frame["f"].isna().sum() == 1
    with pytest.raises(ValueError, match=r"NaN/inf\) in feature column\(s\) 'f' \(1 row\)"):
        load_csv(io.StringIO(gap), target=target, impute="none")


def test_csv_na_in_a_numeric_target_is_missing():
    text = "f,label\n1,0\n2,1\n3,NA\n4,0\n5,1\n"
    with pytest.raises(ValueError, match=r"'label' has 1 missing value\(s\) \(data row 3\)"):
        load_csv(io.StringIO(text), impute="none")
    ds = load_csv(io.StringIO(text.replace("3,NA\n", "")))
    assert ds.class_names == ["0", "1"]
    # by default the row without a label is dropped, and the summary says so
    ds = load_csv(io.StringIO(text))
    assert ds.n_samples == 4 and ds.frame["f"].tolist() == [1.0, 2.0, 4.0, 5.0]
    assert "dropped 1 row(s) without a target value (data row 3)" in ds.preprocessing_summary()


def test_infer_target_column():
    import pandas as pd

    assert infer_target_column(pd.DataFrame(columns=["a", "b", "c"])) == "c"
    assert infer_target_column(["Class", "x", "y"]) == "Class"
    assert infer_target_column(["x", "y", "label", "target"]) == "target"
    assert infer_target_column(["x", "y", "color"]) == "color"  # a feature 'y' is not a target
    with pytest.raises(ValueError, match="no columns"):
        infer_target_column([])


def test_preview_rows_and_rewinds_the_buffer():
    buf = io.BytesIO(CSV)
    head = read_csv_preview(buf, n=2)
    assert head.columns.tolist() == ["a", "b", "label"]
    assert head.to_numpy().tolist() == [[1, 2.5, "dog"], [3, 4.0, "cat"]]
    assert buf.tell() == 0  # the same upload can be loaded next
    _check_small(load_csv(buf, target="label"))
    # a preview does not judge the values: non-numeric and NaN columns are shown
    messy = read_csv_preview(io.StringIO("a,b,c\nx,,1\ny,2,2\n"))
    assert messy.shape == (2, 3)


def test_preview_applies_the_file_checks(tmp_path):
    with pytest.raises(ValueError, match="not a UTF-8 text CSV"):
        read_csv_preview(io.BytesIO(b"\x00\x01\x02binary"))
    with pytest.raises(ValueError, match="larger than the size limit of 10 bytes"):
        read_csv_preview(io.BytesIO(CSV), max_bytes=10)
    with pytest.raises(ValueError, match="duplicated column names: 'a'"):
        read_csv_preview(io.StringIO("a,a\n1,2\n"))
    with pytest.raises(ValueError, match="is empty"):
        read_csv_preview(_write(tmp_path, b""))


def test_csv_dataset_splits_stratified():
    rows = "\n".join(f"{i},{i % 3}" for i in range(40))
    ds = load_csv(io.StringIO("x,label\n" + rows + "\n"))
    _, _, y_tr, y_te = ds.split(test_size=0.25)
    assert np.bincount(ds.y).tolist() == [14, 13, 13] and len(y_te) == 10
    assert np.all(np.abs(np.bincount(y_te) - np.array([14, 13, 13]) * 10 / 40) <= 1)
    assert (np.bincount(y_tr) + np.bincount(y_te)).tolist() == [14, 13, 13]


# --------------------------------------------------------------------------- CSV: bad input


@pytest.mark.parametrize(
    ("content", "target", "match"),
    [
        (b"", None, r"the file is empty; a CSV needs a header line"),
        (b"  \n\n \n", None, r"the file is empty"),
        (b"a,b,label\n", None, r"has a header but no data rows"),
        (b"a,b,label\n1,2,x\n", None, r"has only 1 data row"),
        (b"a,b\n1,2\n3,4\n", "species", r"target column 'species' not found .*: 'a', 'b'"),
        (b"a,b,label\n1,2,x\n3,4,x\n5,6,x\n", None, r"only one class \('x'\)"),
        (
            b"a,label\n1,x\n2,x\n3,y\n",
            None,
            r"1 class\(es\) have only 1 row \('y'\); every class needs at least 2 rows",
        ),
        (b"a,label\n1,0.5\n2,0.7\n3,0.9\n4,1.1\n", None, r"looks continuous"),
        (b"label,a\nu1,1\nu2,2\nu3,3\nu1,4\n", "label", r"is 'label' an ID column"),
        (b"a,b,label\n1,inf,x\n3,-inf,y\n1,2,x\n3,4,y\n", None, r"'b' \(2 rows\)"),
        (b"a,b,label\n1,1e999,x\n3,4,y\n1,2,x\n3,4,y\n", None, r"NaN/inf.*'b' \(1 row\)"),
        (b"a,b,a,label\n1,2,3,x\n3,4,5,y\n", None, r"duplicated column names: 'a'"),
        (b" a ,a,label\n1,2,x\n3,4,y\n", None, r"duplicated column names: 'a'"),
        (b"a,,label\n0,1,x\n1,2,y\n", None, r"column\(s\) 2 have an empty header name"),
        # a leading unnamed column is dropped only if it holds a row index
        (b",a,label\nu,1,x\nv,2,y\n", None, r"column\(s\) 1 have an empty header name"),
        (b",a,label\n1.5,1,x\n2.5,2,y\n", None, r"column\(s\) 1 have an empty header name"),
        (b"label\nx\ny\nx\ny\n", None, r"no feature columns besides the target 'label'"),
        (b"a,b,label\n1,2,x\n3,4,y\n5,6,x,9\n", None, r"Expected 3 fields in line 4, saw 4"),
        (b"a,b,label\n1,2,x,9\n3,4,y\n", None, r"a data row has more fields than the header"),
        (
            "a,b,label\n1,2,caf\xe9\n".encode("latin-1"),
            None,
            r"not a UTF-8 text CSV: invalid byte 0xe9",
        ),
        ("a,b,label\n1,2,x\n".encode("utf-16"), None, r"not a UTF-8 text CSV: .*UTF-16"),
        (b"a,b,label\n1,2,\x01\n", None, r"not a UTF-8 text CSV: .*control character U\+0001"),
        (b"a,b\x00,label\n", None, r"not a UTF-8 text CSV: it contains NUL bytes"),
        (b"PK\x03\x04\x14\x00\x06\x00", None, r"not a UTF-8 text CSV: .*\.xlsx"),
        (b"%PDF-1.7\n", None, r"not a UTF-8 text CSV: it looks like a PDF"),
    ],
)
def test_bad_csv_raises_specific_error(content, target, match):
    with pytest.raises(ValueError, match=match):
        load_csv(io.BytesIO(content), target=target)


@pytest.mark.parametrize(
    ("content", "options", "match"),
    [
        (
            b"a,color,city,label\n1,red,NY,x\n3,blue,LA,y\n1,red,NY,x\n3,blue,LA,y\n",
            {"categorical": "error"},
            r"2 non-numeric feature column\(s\) in the file: 'color' \(e\.g\. 'red' in data "
            r"row 1\), 'city' .*drop these columns .*--categorical onehot to encode them",
        ),
        (
            b"a,b,label\n1,2,x\n3,?,y\n1,2,x\n3,4,y\n",  # mostly numbers, one stray string
            {"categorical": "error"},
            r"non-numeric feature column\(s\) in the file: 'b' \(e\.g\. '\?' in data row 2\)",
        ),
        (
            b"a,b,label\n1,,x\n3,4,y\n1,2,x\nnan,4,y\n",
            {"impute": "none"},
            r"missing or infinite values \(NaN/inf\) in feature column\(s\) 'a' \(1 row\), "
            r"'b' \(1 row\): 2 of 4 rows affected \(data rows 1, 4\); drop those rows, or impute",
        ),
        (
            b"a,s,label\n1,u,x\n3,,y\n1,v,x\n3,u,y\n",
            {"impute": "none"},
            r"NaN/inf\) in feature column\(s\) 's' \(1 row\): 1 of 4 rows affected \(data row 2\)",
        ),
        (
            b"a,b,label\n1,2,\n3,4,y\n1,2,x\n3,4,y\n",
            {"impute": "none"},
            r"target column 'label' has 1 missing value\(s\) \(data row 1\)",
        ),
        (b"a,b,label\n1,2,x\n3,4,y\n", {"impute": "zero"}, r"impute must be one of median"),
        (b"a,b,label\n1,2,x\n3,4,y\n", {"categorical": "x"}, r"categorical must be one of"),
        (b"a,b,label\n1,2,x\n3,4,y\n", {"max_categories": 1}, r"max_categories must be"),
    ],
)
def test_strict_options_refuse_text_and_gaps(content, options, match):
    with pytest.raises(ValueError, match=match):
        load_csv(io.BytesIO(content), **options)


def test_bad_csv_from_path_names_the_file(tmp_path):
    p = _write(tmp_path, b"a,b\n1,2\n3,4\n", name="points.csv")
    with pytest.raises(ValueError, match=r"target column 'y' not found in points\.csv"):
        load_csv(p, target="y")
    with pytest.raises(ValueError, match=r"points\.csv is empty"):
        load_csv(_write(tmp_path, b"", name="points.csv"))


def test_random_binary_and_gzip_are_rejected(tmp_path):
    import gzip

    rng = np.random.default_rng(0)
    blob = rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    with pytest.raises(ValueError, match="not a UTF-8 text CSV"):
        load_csv(_write(tmp_path, blob, "noise.csv"))
    # compressed data is never decompressed (no zip/gzip bombs), whatever the extension
    packed = gzip.compress(CSV * 1000)
    with pytest.raises(ValueError, match="not a UTF-8 text CSV: it looks like a gzip"):
        load_csv(_write(tmp_path, packed, "data.csv.gz"))


def test_pickle_is_never_loaded(tmp_path):
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = pickle.dumps(Evil(), protocol=4)
    for loader in (load_csv, read_csv_preview):
        with pytest.raises(ValueError, match="not a UTF-8 text CSV: it looks like a Python pickle"):
            loader(io.BytesIO(payload))
    assert not marker.exists()


def test_string_formulas_stay_strings():
    # spreadsheet formulas and Python expressions are data, never evaluated
    text = "a,label\n=1+1,x\n__import__('os'),y\n=2+2,x\n3,y\n"
    with pytest.raises(ValueError, match=r"non-numeric feature column\(s\) in the file: 'a'"):
        load_csv(io.StringIO(text), categorical="error")
    assert load_csv(io.StringIO(text)).frame["a"].tolist() == [
        "=1+1",
        "__import__('os')",
        "=2+2",
        "3",
    ]
    ds = load_csv(io.StringIO("a,label\n1,=1+1\n2,__import__('os')\n3,=1+1\n4,__import__('os')\n"))
    assert ds.class_names == ["=1+1", "__import__('os')"]


def test_size_limit_on_buffers_without_allocating_much():
    with pytest.raises(ValueError, match=r"the file is larger than the size limit of 64 bytes"):
        load_csv(io.BytesIO(CSV * 2), max_bytes=64)
    with pytest.raises(ValueError, match=r"larger than the size limit of 64 bytes"):
        load_csv(io.StringIO(CSV.decode() * 2), max_bytes=64)
    # 30 characters but 60 bytes in UTF-8: the limit is in bytes
    with pytest.raises(ValueError, match=r"larger than the size limit of 40 bytes"):
        load_csv(io.StringIO("é" * 30), max_bytes=40)
    assert load_csv(io.BytesIO(CSV), max_bytes=len(CSV)).n_samples == 6  # exactly at the limit


def test_size_limit_on_a_huge_sparse_file_is_checked_before_reading(tmp_path, monkeypatch):
    import lossesbox.data.csvfile as csvfile

    p = tmp_path / "huge.csv"
    with open(p, "wb") as f:
        f.truncate(10**12)  # 1 TB, sparse: no disk or memory used

    def no_open(*args, **kwargs):
        raise AssertionError("the file must not be opened")

    monkeypatch.setattr(csvfile, "open", no_open, raising=False)
    with pytest.raises(
        ValueError, match=r"huge\.csv is 1,000,000,000,000 bytes, larger than the size limit"
    ):
        load_csv(p)
    with pytest.raises(ValueError, match=r"larger than the size limit"):
        read_csv_preview(p)


def test_endless_stream_is_read_only_up_to_the_limit():
    class Bomb(io.RawIOBase):
        """An endless CSV: a header, then rows forever, served in small chunks."""

        def __init__(self):
            self.served = 0

        def readable(self):
            return True

        def read(self, n=-1):
            k = min(n, 4096) if n and n > 0 else 4096
            self.served += k
            return (b"a,b,label\n" if self.served == k else b"") + b"1" * k

    bomb = Bomb()
    with pytest.raises(ValueError, match=r"larger than the size limit of 100,000 bytes"):
        load_csv(bomb, max_bytes=100_000)
    assert bomb.served <= 100_001 + 4096


def test_many_columns_fail_fast_before_parsing(monkeypatch):
    import pandas as pd

    header = ",".join(f"c{i}" for i in range(100_000)).encode()
    row = b",".join([b"1"] * 100_000)
    content = header + b"\n" + row + b"\n" + row + b"\n"

    def no_parse(*args, **kwargs):
        raise AssertionError("pandas must not parse a file over the column limit")

    monkeypatch.setattr(pd, "read_csv", no_parse)
    with pytest.raises(
        ValueError, match=r"has 100,000 columns, more than the limit of 10,000 \(max_columns\)"
    ):
        load_csv(io.BytesIO(content))
    with pytest.raises(ValueError, match=r"has 100,000 columns"):
        read_csv_preview(io.BytesIO(content))
    with pytest.raises(ValueError, match=r"has 3 columns, more than the limit of 2"):
        load_csv(io.BytesIO(CSV), max_columns=2)


@pytest.mark.parametrize(
    ("path", "match"),
    [
        (b"a,b\n1,2\n", r"wrap raw CSV bytes in io\.BytesIO"),
        (42, r"got int"),
        ("", r"path is empty"),
    ],
)
def test_bad_path_arguments(path, match):
    with pytest.raises(ValueError, match=match):
        load_csv(path)


def test_missing_file_directory_and_fifo(tmp_path):
    import os

    with pytest.raises(ValueError, match=r"CSV file not found: .*nope\.csv"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match=r"is a directory, not a CSV file"):
        load_csv(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.csv"
        os.mkfifo(fifo)
        with pytest.raises(ValueError, match=r"is not a regular file"):
            load_csv(fifo)  # opening a FIFO would block forever


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_bytes": 0}, r"max_bytes must be a positive integer; got 0"),
        ({"max_columns": 2.5}, r"max_columns must be a positive integer"),
        ({"delimiter": ",,"}, r"delimiter must be one character"),
        ({"drop": ["nope"]}, r"drop: column\(s\) 'nope' not found"),
        ({"drop": ["label"]}, r"the target column 'label' cannot be dropped"),
        ({"drop": ["a", "b"]}, r"no feature columns besides the target 'label'"),
    ],
)
def test_bad_csv_options(options, match):
    with pytest.raises(ValueError, match=match):
        load_csv(io.BytesIO(CSV), **options)


def test_load_dataset_csv_option_checks():
    with pytest.raises(ValueError, match=r"needs path=<CSV file path or file-like object>"):
        load_dataset("csv", target="y")
    with pytest.raises(ValueError, match=r"unknown option\(s\) for dataset 'csv': sep; valid"):
        load_dataset("csv", path=io.BytesIO(CSV), sep=";")


def test_csv_fuzz_never_raises_anything_but_value_error():
    """Random bytes and random CSV-ish text: a Dataset or a ValueError, nothing else."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    alphabet = st.sampled_from(list("ab,;\t\n\r\"' 0123456789.-eEinfNA?é\x00"))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.binary(max_size=300), st.text(alphabet, max_size=300)))
    def check(content):
        buf = io.BytesIO(content) if isinstance(content, bytes) else io.StringIO(content)
        try:
            ds = load_csv(buf, max_bytes=250)
        except ValueError:
            return
        assert ds.X.ndim == 2 and np.isfinite(ds.X).all()
        assert ds.n_classes >= 2 and np.bincount(ds.y).min() >= 2

    check()


# --------------------------------------------------------------------------- CSV: preprocessing


def test_csv_plan_text_gaps_ids_stray_words_and_empty_columns(tmp_path):
    import pandas as pd

    n = 40
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "name": [f"person {i}" for i in range(n)],  # one per row: ID-like
            "color": rng.choice(["red", "green", "blue"], n).astype(object),
            "size": rng.normal(size=n).round(3).astype(object),
            "empty": [None] * n,
            "flag": rng.choice([True, False], n),
            "label": ["yes", "no"] * (n // 2),
        }
    )
    frame.loc[3, "color"] = None
    frame.loc[5, "size"] = None
    frame.loc[7, "size"] = "?"  # a stray word in a numeric column: 1 cell of 40
    frame.to_csv(tmp_path / "people.csv")  # with the row index, as pandas saves by default
    ds = load_csv(tmp_path / "people.csv", max_categories=10)
    plan = ds.plan
    assert (plan.numeric, plan.categorical) == (["size"], ["color", "flag"])
    assert plan.left_out == {
        "name": "left out: 40 distinct values > max categories 10",
        "empty": "left out: no values",
    }
    assert list(ds.frame.columns) == ["color", "size", "flag"]
    assert ds.frame["size"].dtype == np.float64 and ds.frame["size"].isna().sum() == 2
    assert ds.frame["color"].isna().sum() == 1 and ds.frame["flag"].iloc[0] in ("True", "False")
    notes = plan.notes
    assert notes[0] == "target 'label': the column named 'label'"
    assert notes[1] == "dropped the leading unnamed column: a saved row index"
    assert "read as missing: non-numeric cells in numeric columns 'size': 1 ('?')" in notes
    assert any(s.startswith("imputed 3 missing value(s) in 2 column(s)") for s in notes)
    assert "left out 1 ID-like text column(s) (more than --max-categories 10 distinct values): " \
        "'name' (40 values)" in notes  # fmt: skip
    assert "left out column(s) with no values: 'empty'" in notes
    # X: a numeric view (numbers first, then one 0/1 column per category)
    assert ds.feature_names == [
        "size", "color_blue", "color_green", "color_red", "flag_False", "flag_True",
    ]  # fmt: skip
    np.testing.assert_array_equal(ds.X, ds.preprocessor(standardize=False).fit_transform(ds.frame))
    # the fitted preprocessor takes a category it never saw: all zeros, no error
    pre = ds.preprocessor().fit(ds.frame)
    new = ds.frame.head(1).assign(color="purple")
    assert pre.transform(new)[0, 1:4].tolist() == [0.0, 0.0, 0.0]
    # a column table row per column of the file (the saved index is gone)
    table = plan.column_table().set_index("column")
    assert list(table.index) == ["name", "color", "size", "empty", "flag", "label"]
    assert table.loc["label", "what will be done"] == "predicted (target)"


def test_built_in_data_keeps_arrays_and_a_scaler():
    ds = load_dataset("iris")
    assert ds.frame is None and ds.plan is None and ds.preprocessing_summary() == ""
    assert type(ds.preprocessor()).__name__ == "StandardScaler"
    assert ds.preprocessor(standardize=False) is None
    assert isinstance(ds.split()[0], np.ndarray) and ds.labels == ds.class_names
