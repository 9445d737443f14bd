"""Fuzzing the two entry points for user data: ``load_csv`` and ``fit``.

``tests/test_datasets.py`` already throws random bytes and CSV-like text at the loader
and checks a fixed list of bad files message by message. This file adds what that does
not cover:

- *structured* CSV fuzzing: any valid table (random column names, delimiters, labels,
  float magnitudes, column order) loads back exactly, and one injected fault (a
  missing/infinite cell or a non-numeric token at a random place) is reported with the
  right column name and data row;
- ``LinearSoftmaxClassifier.fit`` on arbitrary arrays (NaN, ±inf, 1e300, subnormals,
  empty, one row, one class, object arrays of strings/None, float32 overflow, wrong
  shapes): it either raises a ``ValueError`` that names the problem, or returns a fitted
  model whose parameters are finite, whose history is consistent, and which predicts
  finite probabilities on its own training data. Divergence never raises.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lossesbox import LOSSES, LinearSoftmaxClassifier
from lossesbox.datasets import load_csv
from lossesbox.estimator import SOLVERS

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
STATUSES = {"converged", "max_epochs", "stopped", "diverged"}

# --------------------------------------------------------------------------- CSV tables

_NAME_CHARS = st.sampled_from(list("abcxyzABC_0123456789éß数 -."))
_names = (
    st.text(_NAME_CHARS, min_size=1, max_size=8)
    .map(str.strip)
    .filter(lambda s: s and s.lower() not in {"target", "label", "labels", "class"})
)
_finite = st.one_of(
    st.floats(-1e300, 1e300, allow_nan=False, allow_subnormal=False),
    st.integers(-(10**6), 10**6).map(float),
    st.sampled_from([0.0, -0.0, 1e-300, 5e-324 * 2**60, 1.7976931348623157e308]),
)


@st.composite
def valid_tables(draw):
    """A frame of numeric features plus a ``label`` column (2+ classes, 2+ rows each)."""
    names = draw(st.lists(_names, min_size=1, max_size=5, unique=True))
    n_classes = draw(st.integers(2, 3))
    classes = draw(
        st.lists(
            st.text(st.sampled_from(list("abcdXY_1é")), min_size=1, max_size=4),
            min_size=n_classes,
            max_size=n_classes,
            unique=True,
        )
    )
    classes = [f"c{c}" for c in classes]  # a letter first: never parsed as a number/NA
    per_class = draw(st.lists(st.integers(2, 4), min_size=n_classes, max_size=n_classes))
    labels = [c for c, n in zip(classes, per_class, strict=True) for _ in range(n)]
    labels = draw(st.permutations(labels))
    n = len(labels)
    X = draw(hnp.arrays(np.float64, (n, len(names)), elements=_finite))
    frame = pd.DataFrame(X, columns=names)
    frame.insert(draw(st.integers(0, len(names))), "label", labels)
    sep = draw(st.sampled_from([",", ";", "\t"]))
    return frame, sep


def _to_csv(frame: pd.DataFrame, sep: str) -> bytes:
    return frame.to_csv(index=False, sep=sep, float_format="%.17g", lineterminator="\n").encode()


@FUZZ
@given(valid_tables())
def test_any_valid_table_loads_back_exactly(table):
    frame, sep = table
    ds = load_csv(io.BytesIO(_to_csv(frame, sep)))
    features = [c for c in frame.columns if c != "label"]
    assert ds.feature_names == features
    expected = frame[features].to_numpy(dtype=np.float64)
    # pandas' default ("high") float parser: at most one unit in the last place
    np.testing.assert_array_max_ulp(ds.X, expected, maxulp=1)
    assert ds.class_names == sorted(set(frame["label"]))
    np.testing.assert_array_equal(np.array(ds.class_names)[ds.y], frame["label"].to_numpy())


_MISSING_TOKENS = ["", "nan", "NaN", "NA", "N/A", "null", "#N/A", "inf", "-inf", "1e999", "-1e999"]
_NON_NUMERIC_TOKENS = ["abc", "1.2.3", "--1", "x1", "?", "0x10", "1e", "=1+1", "True1"]


@FUZZ
@given(valid_tables(), st.data())
def test_one_bad_cell_is_reported_with_its_column_and_row(table, data):
    frame, sep = table
    features = [c for c in frame.columns if c != "label"]
    column = data.draw(st.sampled_from(features))
    row = data.draw(st.integers(0, len(frame) - 1))
    token = data.draw(st.sampled_from(_MISSING_TOKENS + _NON_NUMERIC_TOKENS))
    text = frame.astype({column: object})
    text.loc[row, column] = token
    content = text.to_csv(index=False, sep=sep, float_format="%.17g", lineterminator="\n")
    with pytest.raises(ValueError) as excinfo:  # strict: no imputing, no encoding
        load_csv(io.StringIO(content), impute="none", categorical="error")
    message = str(excinfo.value)
    if token in _MISSING_TOKENS:
        assert (
            f"missing or infinite values (NaN/inf) in feature column(s) {column!r} (1 row): "
            f"1 of {len(frame)} rows affected (data row {row + 1})"
        ) in message
    else:
        assert (
            f"1 non-numeric feature column(s) in the file: {column!r} "
            f"(e.g. {token!r} in data row {row + 1})"
        ) in message


# --------------------------------------------------------------------------- fit: named cases

_rng = np.random.default_rng(0)
_X = _rng.normal(size=(20, 3))
_y = np.array([0, 1] * 10)


def _with(value, at=(3, 1)):
    X = _X.copy()
    X[at] = value
    return X


@pytest.mark.parametrize(
    ("X", "y", "params", "match"),
    [
        (_with(np.nan), _y, {}, r"Input X contains NaN"),
        (_with(np.inf), _y, {}, r"Input X contains infinity"),
        (_with(-np.inf), _y, {}, r"Input X contains infinity"),
        (_with(1e39), _y, {"dtype": "float32"}, r"infinity or a value too large.*float32"),
        (np.empty((0, 3)), np.empty(0), {}, r"Found array with 0 sample\(s\)"),
        (np.empty((20, 0)), _y, {}, r"Found array with 0 feature\(s\)"),
        (_X[:1], _y[:1], {}, r"y has only one class .*needs at least 2 classes"),
        (_X, np.zeros(20), {}, r"y has only one class .*needs at least 2 classes"),
        (_X, np.full(20, "cat"), {}, r"y has only one class \(.*'cat'.*\)"),
        (np.full((20, 2), "a", dtype=object), _y, {}, r"could not convert string to float: 'a'"),
        (np.array([[1.0, None]] * 20, dtype=object), _y, {}, r"Input X contains NaN"),
        (_X, np.where(np.arange(20) == 3, np.nan, _y), {}, r"Input y contains NaN"),
        (_X, np.linspace(0, 1, 20), {}, r"Unknown label type: continuous"),
        (_X, np.array([None, 1] * 10, dtype=object), {}, r"Unknown label type"),
        (_X.reshape(20, 3, 1), _y, {}, r"Found array with dim 3"),
        (_X[:, 0], _y, {}, r"Expected 2D array, got 1D array"),
        (_X, _y[:10], {}, r"inconsistent numbers of samples: \[20, 10\]"),
        (_X + 1j, _y, {}, r"Complex data not supported"),
        (_X, np.stack([_y, _y], axis=1), {}, r"y should be a 1d array"),
    ],
    ids=[
        "nan",
        "inf",
        "-inf",
        "float32-overflow",
        "empty",
        "no-features",
        "one-row",
        "one-class",
        "one-string-class",
        "object-strings",
        "object-none",
        "y-nan",
        "y-continuous",
        "y-none",
        "3d",
        "1d",
        "length-mismatch",
        "complex",
        "y-2d",
    ],
)
def test_bad_fit_input_is_a_value_error_naming_the_problem(X, y, params, match):
    with pytest.raises(ValueError, match=match):
        LinearSoftmaxClassifier(**params).fit(X, y)


def test_labels_mixing_strings_and_numbers_are_a_value_error():
    with pytest.raises(ValueError, match=r"use one label type"):
        LinearSoftmaxClassifier().fit(_X, np.array(["a", 1] * 10, dtype=object))


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_huge_finite_features_stop_as_diverged_not_a_crash(solver):
    """1e300-scale features: the gradient overflows at epoch 0; fit reports, never raises."""
    clf = LinearSoftmaxClassifier(solver=solver)
    with pytest.warns(RuntimeWarning, match=r"Diverged: the gradient is non-finite .*epoch 0") as w:
        clf.fit(_X * 1e300, _y)
    msg = str(w[0].message)
    assert "standardized features" in msg and "init='zeros'" not in msg  # already zeros
    assert clf.status_ == "diverged" and clf.n_iter_ == 0 and len(clf.history_) == 1
    np.testing.assert_array_equal(clf.coef_, 0.0)  # the initial parameters are kept
    assert math.isfinite(clf.history_[0]["objective"])  # J(0) = log 2 is finite ...
    assert not math.isfinite(clf.history_[0]["grad_norm"])  # ... its gradient is not
    assert np.isfinite(clf.predict_proba(_X * 1e300)).all()


def test_a_hundred_thousand_columns_fit_quickly_and_correctly():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 100_000))
    y = np.array([0, 1, 2, 0, 1, 2])
    clf = LinearSoftmaxClassifier(lam=1e-2, max_epochs=50).fit(X, y)
    assert clf.coef_.shape == (3, 100_000) and np.isfinite(clf.coef_).all()
    assert clf.score(X, y) == 1.0  # D ≫ N: separable


# --------------------------------------------------------------------------- fit: fuzzed


_finite_wide = st.one_of(
    st.floats(-10, 10),
    st.floats(-1e6, 1e6),
    st.sampled_from([1e150, -1e154, 1e300, -1e300, 1.7976931348623157e308, 5e-324, 0.0]),
)
_special = st.one_of(_finite_wide, st.sampled_from([np.nan, np.inf, -np.inf]), st.floats())


@st.composite
def fit_inputs(draw):
    """Mostly well-formed data (so that most examples really train), sometimes broken."""
    mode = draw(st.sampled_from(["finite", "finite", "finite", "special", "object", "shape"]))
    n = draw(st.integers(0, 8) if mode == "shape" else st.integers(2, 10))
    d = draw(st.integers(0, 3) if mode == "shape" else st.integers(1, 3))
    dtype = "float32" if draw(st.integers(0, 4)) == 0 else "float64"
    if mode == "object":
        cell = st.one_of(
            st.none(),
            st.floats(-5, 5),
            st.text(st.sampled_from(list("0123456789.-eainf x")), max_size=4),
        )
        X = np.empty((n, d), dtype=object)
        for idx in np.ndindex(n, d):
            X[idx] = draw(cell)
    elif mode == "finite" and draw(st.booleans()):
        kind = draw(st.sampled_from([np.int64, np.bool_]))
        X = draw(hnp.arrays(kind, (n, d)))
    else:
        X = draw(
            hnp.arrays(np.float64, (n, d), elements=_special if mode != "finite" else _finite_wide)
        )
    m = draw(st.integers(0, 9)) if mode == "shape" and draw(st.booleans()) else n
    y_kind = draw(st.sampled_from(["int", "int", "str", "float"]))
    if y_kind == "int":
        y = draw(hnp.arrays(np.int64, m, elements=st.integers(-1, 2)))
    elif y_kind == "str":
        y = np.array(draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=m, max_size=m)))
    else:
        values = [0.0, 1.0, 2.5] + ([np.nan] if mode == "special" else [])
        y = draw(hnp.arrays(np.float64, m, elements=st.sampled_from(values)))
    if mode != "shape" and m >= 2 and draw(st.integers(0, 9)) < 9:
        y[:2] = ["a", "b"] if y.dtype.kind == "U" else [0, 1]  # usually 2+ classes: trains
    params = {
        "solver": draw(st.sampled_from(SOLVERS)),
        "loss": draw(st.sampled_from(sorted(LOSSES))),
        "learning_rate": draw(st.sampled_from([1e-3, 0.1, 10.0, 1e6, 1e300])),
        "lam": draw(st.sampled_from([0.0, 1e-3, 10.0])),
        "dtype": dtype,
        "max_epochs": 15,
        "batch_size": draw(st.sampled_from([None, 1, 3])),
        "init": draw(st.sampled_from(["zeros", "normal"])),
        "random_state": 0,
    }
    return X, y, params


@FUZZ
@given(fit_inputs())
def test_fit_on_anything_is_a_value_error_or_a_consistent_finite_model(case):
    X, y, params = case
    clf = LinearSoftmaxClassifier(**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            clf.fit(X, y)
        except ValueError as exc:
            assert str(exc)  # a message, not a bare exception
            return
    Xf = np.asarray(X, dtype=np.float64)
    K = np.unique(y).size
    assert clf.status_ in STATUSES and clf.stop_reason_
    assert clf.coef_.shape == (K, Xf.shape[1]) and clf.intercept_.shape == (K,)
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    assert len(clf.history_) == clf.n_iter_ + 1 >= 1
    assert [r["epoch"] for r in clf.history_] == list(range(clf.n_iter_ + 1))
    # every recorded epoch after 0 had a finite objective (the non-finite one is not kept)
    assert all(math.isfinite(r["objective"]) for r in clf.history_[1:])
    diverged = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    diverged = [w for w in diverged if str(w.message).startswith("Diverged")]
    if clf.status_ == "diverged":
        assert len(diverged) == 1 and "epoch" in str(diverged[0].message)
    else:
        assert not diverged
    # the kept parameters had finite scores on the training data
    P = clf.predict_proba(Xf.astype(clf.coef_.dtype))
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)
    assert set(clf.predict(Xf.astype(clf.coef_.dtype))) <= set(clf.classes_)
