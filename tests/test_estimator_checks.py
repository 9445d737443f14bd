"""scikit-learn's estimator checks for LinearSoftmaxClassifier.

Every check that scikit-learn selects for a classifier runs; none is skipped or
expected to fail. (The array-API check skips itself unless ``SCIPY_ARRAY_API`` is set;
the estimator does not claim array-API support.) Small ``max_epochs`` keeps it quick.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from lossesbox.estimator import LinearSoftmaxClassifier


@parametrize_with_checks(
    [
        LinearSoftmaxClassifier(max_epochs=50),
        LinearSoftmaxClassifier(
            loss="mse", solver="adam", learning_rate=0.05, max_epochs=30, batch_size=32
        ),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
