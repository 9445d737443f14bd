"""What a study runs: :class:`StudyConfig` and the constants of the study tables."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


DEFAULT_DATASETS = ("iris", "wine", "breast_cancer", "digits")
#: ``loss`` value of the scikit-learn ``LogisticRegression`` reference row.
REFERENCE = "sklearn_logreg"
#: The training accuracy target, as a fraction of the final training accuracy.
TARGET_FRACTION = 0.95
#: Per-repeat quantities aggregated into ``<name>_mean`` / ``<name>_std``.
METRICS = (
    "test_accuracy",
    "test_log_loss",
    "train_accuracy",
    "test_accuracy_vs_reference",
    "wrong_way_init_zeros",
    "wrong_zero_init_zeros",
    "wrong_way_init_normal",
    "wrong_way_final",
    "wrong_way_max",
    "wrong_zero_final",
    "true_wrong_way_final",
    "epochs",
    "epochs_to_95",
    "seconds",
    "seconds_to_95",
)
#: Columns measured in wall-clock time (excluded from reproducibility comparisons).
TIMING_COLUMNS = ("seconds", "seconds_to_95")
STAGES = ("init_zeros", "init_normal", "final")
FAILED_STATUSES = ("diverged", "error")
HISTORY_COLUMNS = (
    "epoch",
    "objective",
    "train_accuracy",
    "val_accuracy",
    "wrong_way_share",
    "wrong_zero_share",
    "true_wrong_way_share",
    "seconds",
)
REPORT_FILES = {
    "markdown": "report.md",
    "html": "report.html",
    "summary": "results.csv",
    "runs": "runs.csv",
    "per_class": "per_class.csv",
    "history": "history.csv",
    "meta": "study.json",
}
SOLVERS = ("lbfgs", "gd", "momentum", "sgd", "adam")
HISTORIES = ("exact", "running")
#: ``load_csv``'s table options at their defaults (``lossesbox.data.preprocessing``; kept
#: literal so ``study --help`` does not import the data package): not echoed by ``command``.
TABLE_DEFAULTS = {"impute": "median", "categorical": "onehot", "max_categories": 50}


# ------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class StudyConfig:
    """What a study runs. Defaults are the ones of ``python -m lossesbox study``.

    Solver budget: the same for every loss. L-BFGS-B (the solver whose optimum the tests
    check against scikit-learn) with at most ``max_epochs = 500`` iterations and
    ``tol = 1e-9`` (scipy's ``ftol`` and ``gtol``): on the built-in sets every smooth loss
    converges well inside it (≤ ~320 iterations), so the numbers describe each loss's
    optimum, not the budget. ``hinge`` is not differentiable; L-BFGS has no convergence
    guarantee there and usually stops on a failed line search or at the iteration cap; the
    report lists each cell's stop reasons so that is visible. ``solver="gd"`` with a fixed
    ``max_epochs`` and ``tol=0`` gives a fixed-epoch first-order comparison instead.

    ``history`` (``"exact"`` or ``"running"``) is what every mini-batch run (sgd/adam with a
    ``batch_size``) records per epoch, see the estimators' ``history``; the other runs are
    exact whatever it says, and their ``history`` run parameter says so.
    """

    datasets: tuple[str, ...] = DEFAULT_DATASETS
    losses: tuple[str, ...] = ()
    lams: tuple[float, ...] = (1e-3,)
    repeats: int = 5
    seed: int = 0
    solver: str = "lbfgs"
    learning_rate: float = 0.1
    max_epochs: int = 500
    batch_size: int | None = 256
    history: str = "exact"
    tol: float = 1e-9
    init: str = "zeros"
    test_size: float = 0.3
    standardize: bool = True
    dtype: str = "float64"
    reference: bool = True
    csv_path: str | None = None
    target: str | None = None
    dataset_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: tuple[str, ...] = ("linear",)
    hidden: tuple[tuple[int, ...], ...] = ((100,),)
    activation: str = "relu"
    solvers: tuple[str, ...] = ()
    learning_rates: tuple[float, ...] = ()
    validation_fraction: float = 0.0

    def __post_init__(self) -> None:
        from ..experiment import parse_hidden
        from ..losses import LOSSES

        object.__setattr__(self, "models", _as_tuple(self.models, "models"))
        object.__setattr__(
            self, "hidden", tuple(parse_hidden(h) for h in _as_tuple(self.hidden, "hidden"))
        )
        object.__setattr__(self, "solvers", _as_tuple(self.solvers or (self.solver,), "solvers"))
        object.__setattr__(self, "solver", self.solvers[0])
        rates = _as_tuple(self.learning_rates or (self.learning_rate,), "learning_rates")
        object.__setattr__(self, "learning_rates", tuple(float(v) for v in rates))
        object.__setattr__(self, "learning_rate", self.learning_rates[0])
        bad = [m for m in self.models if m not in ("linear", "mlp")]
        if bad or not self.models:
            raise ValueError(f"models must be among linear, mlp; got {', '.join(bad) or 'none'}")
        if self.activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be relu or tanh; got {self.activation!r}")
        if "mlp" in self.models and self.init == "zeros":
            raise ValueError(
                "init 'zeros' cannot train an MLP (its hidden units would stay identical); "
                "use --init random (linear: normal, mlp: glorot) or normal"
            )
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ValueError(
                f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}"
            )

        object.__setattr__(self, "datasets", _as_tuple(self.datasets, "datasets"))
        object.__setattr__(self, "losses", _as_tuple(self.losses or tuple(LOSSES), "losses"))
        object.__setattr__(self, "lams", tuple(float(v) for v in _as_tuple(self.lams, "lams")))
        if REFERENCE in self.losses:
            raise ValueError(
                f"{REFERENCE!r} is the reference row (on by default), not a loss to train"
            )
        unknown = [name for name in self.losses if name not in LOSSES]
        if unknown:
            raise ValueError(
                f"unknown loss(es) {', '.join(map(repr, unknown))}; valid: {', '.join(LOSSES)}"
            )
        if not self.datasets:
            raise ValueError("a study needs at least one dataset")
        if "csv" in self.datasets and not (self.csv_path and self.target):
            raise ValueError(
                "the 'csv' dataset needs csv_path and target (--csv FILE --target COL)"
            )
        for lam in self.lams:
            if not (math.isfinite(lam) and lam >= 0):
                raise ValueError(f"lam must be a finite number >= 0; got {lam!r}")
        if not (isinstance(self.repeats, int) and self.repeats >= 1):
            raise ValueError(f"repeats must be an integer >= 1; got {self.repeats!r}")
        if not (isinstance(self.max_epochs, int) and self.max_epochs >= 1):
            raise ValueError(f"max_epochs must be an integer >= 1; got {self.max_epochs!r}")
        for solver in self.solvers:
            if solver not in SOLVERS:
                raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; got {solver!r}")
        if self.init not in ("zeros", "normal", "random"):
            raise ValueError(f"init must be 'zeros', 'normal' or 'random'; got {self.init!r}")
        if not 0.0 < float(self.test_size) < 1.0:
            raise ValueError(f"test_size must be a fraction in (0, 1); got {self.test_size!r}")
        if not (math.isfinite(self.tol) and self.tol >= 0):
            raise ValueError(f"tol must be a finite number >= 0; got {self.tol!r}")
        for lr in self.learning_rates:
            if not (math.isfinite(lr) and lr > 0):
                raise ValueError(f"learning_rate must be > 0; got {lr!r}")
        if self.history not in HISTORIES:
            raise ValueError(f"history must be one of {', '.join(HISTORIES)}; got {self.history!r}")

    def setups(self) -> dict[str, dict[str, Any]]:
        """Model × solver × learning rate of the grid, by label (e.g. ``mlp100x100 adam
        lr=0.01``); a study of one linear model and one solver has the single label
        ``linear <solver>`` (``lr=`` only for first-order solvers)."""
        from ..experiment import format_hidden

        models = []
        for model in self.models:
            if model == "mlp":
                models += [(f"mlp{format_hidden(h)}", model, h) for h in self.hidden]
            else:
                models.append(("linear", model, ()))
        out = {}
        for name, model, hidden in models:
            for solver in self.solvers:
                rates = (None,) if solver == "lbfgs" else self.learning_rates
                for lr in rates:
                    label = f"{name} {solver}" + ("" if lr is None else f" lr={lr:g}")
                    out[label] = dict(
                        model=model,
                        hidden=hidden or (100,),
                        activation=self.activation,
                        solver=solver,
                        learning_rate=self.learning_rates[0] if lr is None else lr,
                    )
        return out

    def history_for(self, solver: str) -> str:
        """The ``history`` of a run with ``solver``: :attr:`history` for a mini-batch run,
        ``"exact"`` otherwise (:func:`lossesbox.experiment.effective_history`)."""
        from ..experiment import effective_history

        return effective_history(solver, self.batch_size, self.history)

    def init_for(self, model: str) -> str:
        """The training init of ``model``: ``random`` is normal (linear) or glorot (mlp)."""
        if self.init == "random":
            return "glorot" if model == "mlp" else "normal"
        return self.init

    def seeds(self) -> list[int]:
        """The seed of each repeat: ``seed, seed + 1, ..., seed + repeats - 1``."""
        return [self.seed + r for r in range(self.repeats)]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("datasets", "losses", "lams", "models", "solvers", "learning_rates"):
            d[key] = list(d[key])
        d["hidden"] = [list(h) for h in d["hidden"]]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def command(self) -> str:
        """The ``python -m lossesbox study`` command line that reruns exactly this study."""
        parts = [
            "python -m lossesbox study",
            f"--datasets {','.join(self.datasets)}",
            f"--losses {','.join(self.losses)}",
            f"--lam {','.join(f'{v:g}' for v in self.lams)}",
            f"--repeats {self.repeats}",
            f"--seed {self.seed}",
            f"--solver {','.join(self.solvers)}",
            f"--epochs {self.max_epochs}",
            f"--tol {self.tol:g}",
            f"--test-size {self.test_size:g}",
            f"--init {self.init}",
        ]
        if self.models != ("linear",):
            from ..experiment import format_hidden

            parts.append(f"--models {','.join(self.models)}")
            if "mlp" in self.models:
                parts.append(f"--hidden {','.join(format_hidden(h) for h in self.hidden)}")
                parts.append(f"--activation {self.activation}")
        if set(self.solvers) != {"lbfgs"}:
            parts.append(f"--lr {','.join(f'{v:g}' for v in self.learning_rates)}")
            if {"sgd", "adam"} & set(self.solvers):
                parts.append(f"--batch-size {self.batch_size}")
        if self.history != "exact":
            parts.append(f"--history {self.history}")
        if self.validation_fraction:
            parts.append(f"--validation-fraction {self.validation_fraction:g}")
        if not self.standardize:
            parts.append("--no-standardize")
        if self.dtype != "float64":
            parts.append(f"--dtype {self.dtype}")
        if not self.reference:
            parts.append("--no-reference")
        if self.csv_path:
            parts.append(f"--csv {self.csv_path} --target {self.target}")
            table = self.dataset_options.get("csv", {})
            if table.get("drop"):
                parts.append(f"--drop {','.join(table['drop'])}")
            for key, default in TABLE_DEFAULTS.items():
                if table.get(key, default) != default:
                    parts.append(f"--{key.replace('_', '-')} {table[key]}")
        return " ".join(parts)


def _as_tuple(value: Any, what: str) -> tuple:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    try:
        return tuple(value)
    except TypeError:
        return (value,)
