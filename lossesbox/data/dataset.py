"""The :class:`Dataset` container every loader returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Dataset"]


@dataclass(eq=False)
class Dataset:
    """A classification dataset: features ``X (N, D)``, integer labels ``y`` in ``0..K-1``.

    ``class_names[k]`` is the original label of code ``k`` as text; ``class_labels[k]``
    the label as the file had it (numbers stay numbers; ``None`` = the class names).
    ``options`` records the options that produced the data (defaults filled in; for a CSV
    the file's base name, never a full path), so a run can be reproduced.

    A user table (CSV) also keeps ``frame``, the model's input table (named columns,
    numbers as float64 with NaN for gaps, text as text), and ``plan``, the
    :class:`~lossesbox.data.preprocessing.TablePlan` saying what happens to each column;
    :meth:`preprocessor` gives the unfitted scikit-learn preprocessing and :meth:`split`
    splits ``frame``, so preprocessing is fitted on the training split only. Built-in
    and generated data have ``frame = None``: ``X`` is what the model takes.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    description: str = ""
    name: str = "dataset"
    options: dict[str, Any] = field(default_factory=dict)
    frame: Any = None
    plan: Any = None
    class_labels: list[Any] | None = None

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
        if self.frame is not None and len(self.frame) != X.shape[0]:
            raise ValueError(f"frame has {len(self.frame)} rows for {X.shape[0]} samples")
        if self.class_labels is not None and len(self.class_labels) != K:
            raise ValueError(f"{len(self.class_labels)} class labels for {K} classes")
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

    @property
    def labels(self) -> list[Any]:
        """The original label of each class code (``class_labels``, else ``class_names``)."""
        return list(self.class_labels if self.class_labels is not None else self.class_names)

    def preprocessor(self, standardize: bool = True) -> Any:
        """The unfitted scikit-learn step in front of the classifier, or ``None``.

        A user table: its ``ColumnTransformer`` (impute, one-hot, scale numeric columns
        when ``standardize``). Other data: ``StandardScaler()`` when ``standardize``,
        else ``None`` (nothing to do).
        """
        if self.plan is not None:
            return self.plan.preprocessor(standardize=standardize)
        if standardize:
            from sklearn.preprocessing import StandardScaler

            return StandardScaler()
        return None

    def preprocessing_summary(self) -> str:
        """What was done to the data, one action per line ('' for built-in data)."""
        return self.plan.summary() if self.plan is not None else ""

    def split(
        self, test_size: float | int = 0.25, random_state: int | None = 0
    ) -> tuple[Any, Any, np.ndarray, np.ndarray]:
        """Stratified train/test split: ``(X_train, X_test, y_train, y_test)``.

        Uses :func:`sklearn.model_selection.train_test_split` with ``stratify=y``, so
        each class keeps its share (up to rounding) in both parts. ``test_size`` is a
        fraction in (0, 1) or a number of samples; the test part needs at least one
        sample per class. For a user table the X parts are rows of ``frame``
        (DataFrames, the same rows a split of ``X`` would give).
        """
        from sklearn.model_selection import train_test_split

        data = self.X if self.frame is None else self.frame
        try:
            X_train, X_test, y_train, y_test = train_test_split(
                data, self.y, test_size=test_size, random_state=random_state, stratify=self.y
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
