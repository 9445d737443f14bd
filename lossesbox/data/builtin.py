"""scikit-learn's bundled datasets: iris, wine, breast_cancer, digits."""

from __future__ import annotations

from .dataset import Dataset


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
