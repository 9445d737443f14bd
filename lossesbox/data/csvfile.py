r"""User CSV files: read as data only, checked, parsed into a :class:`Dataset`.

The bytes are checked (size limit, UTF-8 text, no binary content), the header is checked
(column count limit, no empty or duplicated names), then pandas' C parser reads the
values; nothing is evaluated or unpickled, compressed files are not decompressed and URLs
are not fetched. Every problem raises a ``ValueError`` naming it and saying what to
change. See :func:`load_csv` for the rules.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .dataset import Dataset, _describe
from .preprocessing import DEFAULT_MAX_CATEGORIES, ColumnPlan, check_options, plan_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_BYTES",
    "MAX_COLUMNS",
    "TargetChoice",
    "describe_target",
    "infer_target_column",
    "load_csv",
    "read_csv_preview",
]

#: Default size limit of a CSV file, in bytes.
MAX_BYTES = 50_000_000
#: Default limit on the number of CSV columns (target included).
MAX_COLUMNS = 10_000


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
    # a leading unnamed column is dropped below if it holds a saved row index
    if empty and empty != [1]:
        raise _empty_names(label, empty)
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
    if empty:
        if not _is_row_index(df.iloc[:, 0]):
            raise _empty_names(label, empty)
        df = df.iloc[:, 1:]
        df.attrs["index_dropped"] = True
    return df, sep, label


def _empty_names(label: str, empty: list[int]) -> ValueError:
    return ValueError(
        f"{label}: column(s) {_head(empty)} have an empty header name; name every "
        "column (an unnamed first column is dropped only when it holds a saved row index: "
        "distinct whole numbers)"
    )


def _is_row_index(col: pd.Series) -> bool:
    """A column as ``DataFrame.to_csv`` (index=True) or R's ``write.csv`` writes the row
    index: distinct whole numbers, none missing."""
    import pandas as pd

    if not pd.api.types.is_integer_dtype(col):
        return False
    return bool(col.notna().all() and col.is_unique)


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


@dataclass(frozen=True)
class TargetChoice:
    """The column to predict, why it was chosen, and a warning when the choice looks wrong."""

    column: str
    reason: str
    warning: str | None = None


#: A text column with at most this many distinct values looks like labels.
_FEW_LABELS = 20


def describe_target(df: pd.DataFrame, target: str | None = None) -> TargetChoice:
    """The target column of ``df`` and why: ``target`` if given, else
    :func:`infer_target_column`. When the default rule picks a numeric column while a
    text column with few distinct values (2 to 20) exists, ``warning`` says so and
    suggests ``--target``."""
    import pandas as pd

    columns = [str(c) for c in df.columns]
    if target is not None:
        return TargetChoice(str(target), f"target {target!r}: chosen by you (--target)")
    column = infer_target_column(columns)
    if column.strip().lower() in ("target", "label", "labels", "class"):
        reason = f"target {column!r}: the column named {column.strip().lower()!r}"
    else:
        reason = (
            f"target {column!r}: the last column (no column is named target, label, "
            "labels or class; choose another with --target)"
        )
    values = _target_values(df[column])
    warning = None
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        texts = []
        for c in columns:
            col = df[c]
            if c == column or pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                continue
            n = int(col.nunique(dropna=True))
            if 2 <= n <= _FEW_LABELS:
                texts.append((c, n))
        if texts:
            shown = ", ".join(f"{c!r} ({n} values)" for c, n in texts[:3])
            warning = (
                f"the default target {column!r} is a numeric column, but the text column(s) "
                f"{shown} look like labels: to predict {texts[0][0]!r}, choose it as the "
                f"target (--target {texts[0][0]})"
            )
    return TargetChoice(column, reason, warning)


def load_csv(
    path: Any,
    target: str | None = None,
    *,
    delimiter: str | None = None,
    drop: Sequence[str] = (),
    impute: str = "median",
    categorical: str = "onehot",
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    max_bytes: int = MAX_BYTES,
    max_columns: int = MAX_COLUMNS,
) -> Dataset:
    """Load a classification dataset from a CSV file (path or file-like, bytes or text).

    A valid CSV is UTF-8 text of at most ``max_bytes`` bytes (default 50 MB) with a
    header line of unique, non-empty column names (at most ``max_columns``, default
    10,000; a leading unnamed column holding a saved row index is dropped), separated by
    commas, semicolons or tabs (sniffed unless ``delimiter`` is given), then at least two
    data rows. One column is the ``target`` (default: :func:`infer_target_column`, see
    :func:`describe_target`); its values, strings or numbers, are the class labels: at
    least 2 classes, each with at least 2 rows. Rows without a target value are dropped
    (refused with ``impute="none"``). ``class_names`` are the labels sorted (numerically
    for a numeric column), ``y`` their codes.

    Every other column not in ``drop`` is a feature, prepared as
    :mod:`lossesbox.data.preprocessing` describes (``impute``, ``categorical``,
    ``max_categories``): numbers are imputed and scaled, text and booleans one-hot
    encoded, ID-like text left out. The returned :class:`Dataset` keeps the model's
    input table as ``frame`` and offers the unfitted ``preprocessor()``; ``X`` is the
    table itself when it is all numbers without gaps, else a numeric view of it (encoder
    and imputer fitted on all rows: for looking at; training fits its own preprocessor on
    the training split). ``plan.notes`` lists every action. Anything the options refuse
    raises a ``ValueError`` that names the problem.
    """
    import pandas as pd

    if isinstance(drop, str):
        drop = [drop]
    drop = [str(d).strip() for d in drop]
    max_categories = check_options(impute, categorical, max_categories)
    df, sep, label = _parse_frame(
        path,
        delimiter=delimiter,
        max_bytes=max_bytes,
        max_columns=max_columns,
        text_column=None if target is None else str(target).strip(),
        infer_text_column=target is None,
    )
    notes: list[str] = []
    if df.attrs.get("index_dropped"):
        notes.append("dropped the leading unnamed column: a saved row index")
    columns = [str(c) for c in df.columns]
    if len(df) == 0:
        raise ValueError(
            f"{label} has a header but no data rows; add at least 2 rows (2 per class)"
        )
    target = None if target is None else str(target).strip()
    if target is not None and target not in columns:
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
    choice = describe_target(df, target)
    target = choice.column
    notes.insert(0, choice.reason)
    if choice.warning:
        notes.insert(1, "warning: " + choice.warning)
    if target in drop:
        raise ValueError(f"drop: the target column {target!r} cannot be dropped")
    if drop:
        notes.append(f"dropped column(s) {_head(drop, 10)} (drop / --drop)")
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise ValueError(
            f"{label} has no feature columns besides the target {target!r}; a dataset "
            "needs at least one feature column"
        )
    if len(df) < 2:
        raise ValueError(f"{label} has only 1 data row; a dataset needs at least 2 rows per class")

    # ---- target -> codes
    t = _target_values(df[target])
    missing = t.isna().to_numpy()
    if missing.any():
        if impute == "none" or missing.all():
            raise ValueError(
                f"target column {target!r} has {int(missing.sum())} missing value(s) "
                f"({_rows(missing)}); drop those rows or fill in their labels"
            )
        notes.append(
            f"dropped {int(missing.sum())} row(s) without a target value ({_rows(missing)})"
        )
        df, t = df[~missing], t[~missing]
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

    # ---- features: what each column becomes (scikit-learn does the work at fit time)
    plan, frame = plan_table(
        df,
        features,
        impute=impute,
        categorical=categorical,
        max_categories=max_categories,
        delimiter=sep,
        label=label,
    )
    frame = frame.reset_index(drop=True)
    plan.notes[:0] = notes
    # the column table also shows the target and the dropped columns, in file order
    by_name = {c.name: c for c in plan.columns}
    for c in drop:
        by_name[c] = ColumnPlan(
            c, "-", int(df[c].isna().sum()), 0, "dropped", "dropped (you chose)"
        )
    by_name[target] = ColumnPlan(
        target, "target", int(missing.sum()), len(class_names), "target", "predicted (target)"
    )
    plan.columns = [by_name[c] for c in columns if c in by_name]
    if plan.needs_fitting:
        pre = plan.preprocessor(standardize=False)
        X = pre.fit_transform(frame)
        feature_names = [str(f) for f in pre.get_feature_names_out()]
    else:
        X = frame.to_numpy(dtype=np.float64)
        feature_names = list(plan.numeric)
    name = f"csv:{label}" if label != _UNNAMED else "csv"
    options = {
        "file": label,
        "target": target,
        "delimiter": sep,
        "drop": list(drop),
        "impute": impute,
        "categorical": categorical,
        "max_categories": max_categories,
    }
    class_labels = uniques.tolist() if numeric_target else list(class_names)
    ds = Dataset(
        X=np.ascontiguousarray(X, dtype=np.float64),
        y=y.astype(np.int64),
        feature_names=feature_names,
        class_names=class_names,
        name=name,
        options=options,
        frame=frame,
        plan=plan,
        class_labels=class_labels,
    )
    ds.description = _describe(f"{name} (target {target!r})", ds.y, ds.n_features, class_names)
    return ds
