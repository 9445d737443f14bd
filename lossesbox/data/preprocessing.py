r"""Preprocessing of user tables: which column becomes what, done by scikit-learn.

:func:`plan_table` looks at the feature columns of a table once and decides, for each,
what the model does with it; the decision is a :class:`TablePlan`, whose
:meth:`~TablePlan.preprocessor` is the (unfitted) scikit-learn ``ColumnTransformer``:

- **numeric** columns (numbers, in a semicolon file also decimal commas ``1,5``):
  ``SimpleImputer(strategy=impute)`` then ``StandardScaler`` (``standardize=True``):
  :math:`z = (x - \mu_{train}) / \sigma_{train}`;
- **categorical** columns (text or booleans with at most ``max_categories`` distinct
  values): ``SimpleImputer(strategy="most_frequent")`` then
  ``OneHotEncoder(handle_unknown="ignore")``: one 0/1 column per value seen in training;
  a value never seen in training encodes as all zeros;
- **left out**: text columns with more than ``max_categories`` distinct values (a name or
  an ID per row: one-hot encoding would add a column per row and learn nothing), and
  columns with no value at all. They are named in the summary.

Options (the CLI flags ``--impute``, ``--categorical``, ``--max-categories``):

- ``impute``: ``"median"`` (default), ``"mean"`` or ``"most_frequent"`` for numeric gaps
  (text gaps always take the most frequent value); ``"none"`` refuses any gap;
- ``categorical``: ``"onehot"`` (default) or ``"error"``: refuse every non-numeric column;
- ``max_categories``: default 50.

Infinite numbers are always refused (no imputer treats them as missing). Every action is
one line of :attr:`TablePlan.notes`; nothing happens silently. The preprocessor is fitted
on the training split only (it is the first step of the trained pipeline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CATEGORICAL",
    "DEFAULT_MAX_CATEGORIES",
    "IMPUTE",
    "ColumnPlan",
    "TablePlan",
    "plan_table",
]

#: Values of ``impute`` (``--impute``).
IMPUTE = ("median", "mean", "most_frequent", "none")
#: Values of ``categorical`` (``--categorical``).
CATEGORICAL = ("onehot", "error")
#: Default of ``max_categories`` (``--max-categories``).
DEFAULT_MAX_CATEGORIES = 50
#: A numeric-looking column with at most this share of non-numeric cells (e.g. ``?``)
#: reads those cells as missing.
_STRAY_SHARE = 0.05


@dataclass(frozen=True)
class ColumnPlan:
    """One column of a table: ``kind`` is ``numeric``, ``boolean``, ``text`` or ``empty``;
    ``role`` is ``numeric``, ``categorical``, ``left out``, ``dropped`` or ``target``;
    ``action`` says in words what the model does with it."""

    name: str
    kind: str
    n_missing: int
    n_unique: int
    role: str
    action: str


@dataclass
class TablePlan:
    """What preprocessing does with each feature column of a table (see the module)."""

    numeric: list[str]
    categorical: list[str]
    columns: list[ColumnPlan]
    impute: str = "median"
    categorical_mode: str = "onehot"
    max_categories: int = DEFAULT_MAX_CATEGORIES
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        """The columns the model takes, in table order."""
        keep = set(self.numeric) | set(self.categorical)
        return [c.name for c in self.columns if c.name in keep]

    @property
    def left_out(self) -> dict[str, str]:
        """Columns not used, with the reason."""
        return {c.name: c.action for c in self.columns if c.role == "left out"}

    @property
    def needs_fitting(self) -> bool:
        """False when the table is all numbers without gaps (X is then the table itself)."""
        if self.categorical:
            return True
        by_name = {c.name: c for c in self.columns}
        return any(by_name[c].n_missing for c in self.numeric)

    def preprocessor(self, standardize: bool = True):
        """The unfitted ``ColumnTransformer``: numeric -> impute (-> scale), categorical ->
        impute most frequent -> one-hot. Output columns: numeric first, then one 0/1
        column per category (``get_feature_names_out`` names them ``column_value``)."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        transformers = []
        if self.numeric:
            steps: list[tuple[str, Any]] = []
            if self.impute != "none":
                steps.append(("impute", SimpleImputer(strategy=self.impute)))
            if standardize:
                steps.append(("scale", StandardScaler()))
            num: Any = Pipeline(steps) if steps else "passthrough"
            transformers.append(("numeric", num, list(self.numeric)))
        if self.categorical:
            cat_steps: list[tuple[str, Any]] = []
            if self.impute != "none":
                cat_steps.append(("impute", SimpleImputer(strategy="most_frequent")))
            cat_steps.append(
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))
            )
            transformers.append(("categorical", Pipeline(cat_steps), list(self.categorical)))
        return ColumnTransformer(
            transformers, remainder="drop", verbose_feature_names_out=False
        ).set_output(transform="default")

    def summary(self) -> str:
        """The notes as one short text, one action per line."""
        return "\n".join(f"- {n}" for n in self.notes)

    def column_table(self) -> pd.DataFrame:
        """One row per column: name, type, missing, distinct, what will be done."""
        import pandas as pd

        return pd.DataFrame(
            {
                "column": [c.name for c in self.columns],
                "type": [c.kind for c in self.columns],
                "missing": [c.n_missing for c in self.columns],
                "distinct values": [c.n_unique for c in self.columns],
                "what will be done": [c.action for c in self.columns],
            }
        )

    def params(self) -> dict[str, Any]:
        """Flat parameters for tracking (``preprocessing.*``)."""
        return {
            "preprocessing.impute": self.impute,
            "preprocessing.categorical": self.categorical_mode,
            "preprocessing.max_categories": self.max_categories,
            "preprocessing.numeric": ",".join(self.numeric),
            "preprocessing.onehot": ",".join(self.categorical),
            "preprocessing.left_out": ",".join(self.left_out),
        }


def check_options(impute: Any, categorical: Any, max_categories: Any) -> int:
    """Raise ``ValueError`` for a bad option value; return ``max_categories`` as int."""
    import numbers

    if impute not in IMPUTE:
        raise ValueError(f"impute must be one of {', '.join(IMPUTE)}; got {impute!r}")
    if categorical not in CATEGORICAL:
        raise ValueError(
            f"categorical must be one of {', '.join(CATEGORICAL)}; got {categorical!r}"
        )
    if (
        isinstance(max_categories, bool)
        or not isinstance(max_categories, numbers.Integral)
        or max_categories < 2
    ):
        raise ValueError(f"max_categories must be an integer >= 2; got {max_categories!r}")
    return int(max_categories)


def _head(items: Sequence[Any], n: int = 5) -> str:
    shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in items[:n])
    return shown + (f" (and {len(items) - n} more)" if len(items) > n else "")


def _rows(mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask) + 1
    return f"data row{'s' if idx.size > 1 else ''} {_head(idx.tolist())}"


def _numeric_view(col: pd.Series, sep: str) -> tuple[pd.Series | None, np.ndarray]:
    """``(numbers, stray)``: the column as float64 with ``stray`` cells (non-numeric text
    in an otherwise numeric column) as NaN; ``(None, ...)`` if it is a text column."""
    import pandas as pd

    text = col.astype("string").str.strip()
    if sep == ";":  # decimal commas: "1,5" means 1.5 in semicolon-separated files
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce")
    present = col.notna().to_numpy()
    stray = present & numbers.isna().to_numpy()
    n_present = int(present.sum())
    if n_present == 0 or stray.sum() > _STRAY_SHARE * n_present:
        return None, stray
    return numbers.astype(np.float64), stray


def plan_table(
    df: pd.DataFrame,
    features: Sequence[str],
    *,
    impute: str = "median",
    categorical: str = "onehot",
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    delimiter: str = ",",
    label: str = "the file",
) -> tuple[TablePlan, pd.DataFrame]:
    """Decide what happens to each feature column; return ``(plan, frame)``.

    ``frame`` is the model's input table: the kept columns in table order, numeric ones as
    float64 (missing = NaN), categorical ones as text (``object``, missing = NaN).
    Raises ``ValueError`` naming the columns and rows when the options refuse something
    (``categorical="error"`` and a text column, ``impute="none"`` and a gap, or any
    infinite number).
    """
    import pandas as pd

    max_categories = check_options(impute, categorical, max_categories)
    numeric: list[str] = []
    cats: list[str] = []
    columns: list[ColumnPlan] = []
    out: dict[str, pd.Series] = {}
    not_numbers: list[str] = []
    strays: list[str] = []
    left_out: list[str] = []
    ids: list[str] = []
    table = df[list(features)]
    missing_counts = table.isna().sum().to_dict()  # one pass for all columns
    unique_counts = table.nunique(dropna=True).to_dict()
    for c in features:
        col = table[c]
        n_missing = int(missing_counts[c])
        n_unique = int(unique_counts[c])
        is_bool = pd.api.types.is_bool_dtype(col)
        if n_missing == len(col):
            columns.append(ColumnPlan(c, "empty", n_missing, 0, "left out", "left out: no values"))
            left_out.append(c)
            continue
        if not is_bool and (
            pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_complex_dtype(col)
        ):
            values, stray = col.astype(np.float64), np.zeros(len(col), dtype=bool)
        elif is_bool:
            values, stray = None, np.zeros(len(col), dtype=bool)
        else:
            values, stray = _numeric_view(col, delimiter)
        if values is not None:
            if stray.any():
                i = int(np.flatnonzero(stray)[0])
                if categorical == "error":
                    not_numbers.append(f"{c!r} (e.g. {str(col.iloc[i])!r} in data row {i + 1})")
                    continue
                tokens = sorted({str(v).strip() for v in col[stray]})
                strays.append(f"{c!r}: {int(stray.sum())} ({_head(tokens, 3)})")
                n_missing += int(stray.sum())
            what = "standardize" if n_missing == 0 else f"impute {impute}, standardize"
            if impute == "none" and n_missing:
                what = "refused: gaps"
            columns.append(ColumnPlan(c, "numeric", n_missing, n_unique, "numeric", what))
            numeric.append(c)
            out[c] = values
            continue
        kind = "boolean" if is_bool else "text"
        if categorical == "error":
            offending = col.notna().to_numpy()
            if not is_bool:
                coerced = pd.to_numeric(col, errors="coerce")
                offending = offending & coerced.isna().to_numpy()
            i = int(np.flatnonzero(offending)[0]) if offending.any() else 0
            not_numbers.append(f"{c!r} (e.g. {str(col.iloc[i])!r} in data row {i + 1})")
            continue
        if n_unique > max_categories:
            columns.append(
                ColumnPlan(
                    c,
                    kind,
                    n_missing,
                    n_unique,
                    "left out",
                    f"left out: {n_unique} distinct values > max categories {max_categories}",
                )
            )
            ids.append(f"{c!r} ({n_unique} values)")
            continue
        what = f"one-hot ({n_unique} values)"
        if n_missing:
            what = f"impute most frequent, {what}"
        columns.append(ColumnPlan(c, kind, n_missing, n_unique, "categorical", what))
        cats.append(c)
        text = col.astype(object).where(col.notna(), np.nan)
        out[c] = text.map(lambda v: v if isinstance(v, float) else str(v).strip()).astype(object)

    if not_numbers:
        shown = ", ".join(not_numbers[:5])
        if len(not_numbers) > 5:
            shown += f" and {len(not_numbers) - 5} more"
        raise ValueError(
            f"{len(not_numbers)} non-numeric feature column(s) in {label}: {shown}; with "
            "categorical='error' (--categorical error) features must be numbers: drop these "
            "columns (--drop) or use the default --categorical onehot to encode them"
        )
    kept = [c for c in features if c in out]
    frame = pd.DataFrame({c: out[c] for c in kept}, index=df.index)
    # infinite values: always refused; gaps: refused with impute="none"
    if numeric:
        num = frame[numeric].to_numpy(dtype=np.float64)
        bad = np.isinf(num) if impute != "none" else ~np.isfinite(num)
        if impute == "none" and cats:
            gaps = frame[cats].isna().to_numpy()
            bad = np.concatenate([bad, gaps], axis=1)
        _refuse(bad, numeric + (cats if impute == "none" else []), len(frame))
    elif impute == "none" and cats:
        _refuse(frame[cats].isna().to_numpy(), cats, len(frame))
    if not kept:
        unused = left_out + [s.split(" ")[0] for s in ids]
        raise ValueError(
            f"{label} has no usable feature column: {_head(unused)} were left out; raise "
            "--max-categories or pick other columns"
        )

    plan = TablePlan(
        numeric=numeric,
        categorical=cats,
        columns=columns,
        impute=impute,
        categorical_mode=categorical,
        max_categories=max_categories,
    )
    notes = plan.notes
    if strays:
        notes.append(
            "read as missing: non-numeric cells in numeric columns " + "; ".join(strays[:5])
        )
    gaps = {c.name: c.n_missing for c in columns if c.role in {"numeric", "categorical"}}
    n_gaps = sum(gaps.values())
    if n_gaps:
        cols = [f"{k} ({v})" for k, v in gaps.items() if v]
        rule = f"numbers: {impute}" if any(gaps[c] for c in numeric) else ""
        if any(gaps[c] for c in cats):
            rule += ("; " if rule else "") + "text: most frequent"
        notes.append(
            f"imputed {n_gaps} missing value(s) in {len(cols)} column(s) "
            f"({rule}, learned on the training split): {', '.join(cols[:8])}"
        )
    if cats:
        widths = {c.name: c.n_unique for c in columns if c.role == "categorical"}
        notes.append(
            f"one-hot encoded {len(cats)} text/boolean column(s) into "
            f"{sum(widths.values())} 0/1 columns: "
            + ", ".join(f"{k} ({v} values)" for k, v in widths.items())
        )
    if ids:
        notes.append(
            f"left out {len(ids)} ID-like text column(s) (more than --max-categories "
            f"{max_categories} distinct values): {', '.join(ids)}"
        )
    if left_out:
        notes.append(f"left out column(s) with no values: {_head(left_out)}")
    if numeric:
        notes.append(
            f"{len(numeric)} numeric column(s), standardized unless --no-standardize: "
            f"{_head(numeric, 8)}"
        )
    return plan, frame


def _refuse(bad: np.ndarray, names: list[str], n_rows: int) -> None:
    if not bad.any():
        return
    per_col = bad.sum(axis=0)
    cols = [
        f"{names[j]!r} ({int(per_col[j])} row{'s' if per_col[j] > 1 else ''})"
        for j in np.flatnonzero(per_col)
    ]
    shown = ", ".join(cols[:5]) + (f" and {len(cols) - 5} more" if len(cols) > 5 else "")
    bad_rows = bad.any(axis=1)
    raise ValueError(
        f"missing or infinite values (NaN/inf) in feature column(s) {shown}: "
        f"{int(bad_rows.sum())} of {n_rows} rows affected ({_rows(bad_rows)}); "
        "drop those rows, or impute the gaps (--impute median/mean/most_frequent; "
        "infinite numbers are always refused)"
    )
