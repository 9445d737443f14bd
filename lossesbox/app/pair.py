"""Train two losses on the same data and budget (the Gradient signs page's side-by-side view).

No Streamlit here; the experiment runner is imported on first use (it pulls scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PAIR_DATASETS", "PairSettings", "train_pair"]

PAIR_DATASETS = ("iris", "wine", "breast_cancer", "digits", "blobs", "moons", "spiral", "xor")
"""Datasets offered for the side-by-side comparison (small enough to train in seconds)."""


@dataclass(frozen=True)
class PairSettings:
    """What both runs share: data, split, seed, initialization and solver budget."""

    dataset: str = "wine"
    losses: tuple[str, str] = ("mse", "exp_mse")
    solver: str = "gd"
    learning_rate: float = 0.1
    max_epochs: int = 100
    lam: float = 1e-3
    init: str = "normal"
    seed: int = 0
    test_size: float = 0.25
    model: str = "linear"
    hidden: tuple[int, ...] = (100,)
    activation: str = "relu"


def train_pair(
    settings: PairSettings, *, track: bool = True, experiment: str | None = None
) -> list[Any]:
    """Train each loss of ``settings.losses`` with otherwise identical settings.

    Returns the two ``ExperimentResult`` objects (each tracked as its own MLflow run when
    ``track``). ``tol=0`` so both use the full epoch budget and their per-epoch gradient
    signs line up. ``model="mlp"`` trains :class:`~lossesbox.MLPSoftmaxClassifier` with
    ``hidden`` and ``activation`` (its signs are those of the output scores); both runs
    start from the same initial weights (same ``seed``).
    """
    from ..datasets import load_dataset
    from ..experiment import TrainConfig, run_experiment

    if len(settings.losses) != 2:
        raise ValueError(f"choose exactly two losses, got {len(settings.losses)}")
    dataset = load_dataset(settings.dataset)
    results = []
    for loss in settings.losses:
        config = TrainConfig(
            dataset=settings.dataset,
            loss=loss,
            lam=settings.lam,
            solver=settings.solver,
            learning_rate=settings.learning_rate,
            max_epochs=settings.max_epochs,
            tol=0.0,
            init=settings.init,
            seed=settings.seed,
            test_size=settings.test_size,
            model=settings.model,
            hidden=settings.hidden,
            activation=settings.activation,
        )
        results.append(run_experiment(config, dataset=dataset, track=track, experiment=experiment))
    return results
