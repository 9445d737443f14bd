"""``python -m lossesbox study``: its options, the config they make, and the run."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


from .config import DEFAULT_DATASETS, HISTORIES, SOLVERS, StudyConfig, _as_tuple
from .report import _markdown_table, headline_table
from .run import run_study

# ------------------------------------------------------------------------ command line


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``study`` options to ``p`` (``lossesbox.cli`` creates the subparser)."""
    from ..cli import add_table_arguments

    d = StudyConfig.__dataclass_fields__
    g = p.add_argument_group("grid")
    g.add_argument(
        "--dataset",
        "--datasets",
        dest="datasets",
        default=",".join(DEFAULT_DATASETS),
        metavar="NAMES",
        help="comma list of datasets (default: %(default)s); 'csv' with --csv/--target",
    )
    g.add_argument(
        "--loss",
        "--losses",
        dest="losses",
        default="all",
        metavar="NAMES",
        help="comma list of losses, or 'all' = every registered loss (default: all)",
    )
    g.add_argument(
        "--lam",
        "--lams",
        dest="lams",
        default="1e-3",
        metavar="λ",
        help="comma list of λ ≥ 0, mean convention (default: %(default)s)",
    )
    g.add_argument(
        "--repeats",
        type=int,
        default=d["repeats"].default,
        metavar="N",
        help="seeded stratified splits per cell (default: %(default)s)",
    )
    g.add_argument(
        "--seed",
        "--seeds",
        dest="seed",
        type=int,
        default=d["seed"].default,
        metavar="N",
        help="first seed; repeat r uses seed + r for split, init and shuffling "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--csv", dest="csv_path", default=None, metavar="FILE", help="CSV file (dataset 'csv')"
    )
    g.add_argument("--target", default=None, metavar="COL", help="label column of --csv")
    add_table_arguments(g)
    g.add_argument(
        "--test-size",
        type=float,
        default=d["test_size"].default,
        metavar="F",
        help="test fraction of each split (default: %(default)s, DESIGN.md's reference split)",
    )
    g.add_argument(
        "--no-standardize", dest="standardize", action="store_false", help="raw features"
    )
    g.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the scikit-learn LogisticRegression reference row",
    )
    g = p.add_argument_group("solver budget (the same for every loss)")
    g.add_argument(
        "--model",
        "--models",
        dest="models",
        default="linear",
        metavar="NAMES",
        help="comma list of models: linear, mlp (default: %(default)s)",
    )
    g.add_argument(
        "--hidden",
        default="100",
        metavar="H",
        help="MLP architectures: sizes joined by x, architectures by commas, e.g. 100,100x100 "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--activation", choices=("relu", "tanh"), default="relu", help="MLP hidden activation"
    )
    g.add_argument(
        "--solver",
        "--solvers",
        dest="solver",
        default=d["solver"].default,
        metavar="NAMES",
        help=f"comma list of {', '.join(SOLVERS)} (default: %(default)s)",
    )
    g.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rate",
        default=str(d["learning_rate"].default),
        metavar="η",
        help="comma list of step sizes of gd/momentum/sgd/adam (default: %(default)s)",
    )
    g.add_argument(
        "--validation-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="held out of each training split for per-epoch val_accuracy curves (default: 0)",
    )
    g.add_argument(
        "--epochs",
        dest="max_epochs",
        type=int,
        default=d["max_epochs"].default,
        metavar="N",
        help="maximum epochs (lbfgs: iterations) per run (default: %(default)s)",
    )
    g.add_argument(
        "--batch-size",
        type=int,
        default=d["batch_size"].default,
        metavar="N",
        help="mini-batch size of sgd/adam (default: %(default)s)",
    )
    g.add_argument(
        "--history",
        choices=HISTORIES,
        default=d["history"].default,
        help="per-epoch record of every sgd/adam run: a full pass over the training set "
        "(exact, default) or accumulated from the epoch's mini-batches at no extra cost, "
        "lagging by up to one epoch (running); other solvers are exact either way",
    )
    g.add_argument(
        "--tol",
        type=float,
        default=d["tol"].default,
        metavar="T",
        help="stopping tolerance (lbfgs: ftol and gtol) (default: %(default)s)",
    )
    g.add_argument(
        "--init",
        choices=("zeros", "normal", "random"),
        default=d["init"].default,
        help="initialization for training; zeros and normal are measured at init; random = "
        "normal for linear, glorot for mlp (default: zeros)",
    )
    g.add_argument("--dtype", choices=("float64", "float32"), default=d["dtype"].default)
    g = p.add_argument_group("output and tracking")
    g.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="report folder (default: reports/study-<timestamp>/)",
    )
    g.add_argument(
        "--experiment",
        default=None,
        metavar="NAME",
        help="MLflow experiment (default: study-<timestamp>)",
    )
    g.add_argument("--no-track", dest="track", action="store_false", help="do not log to MLflow")
    g.add_argument(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("parallel execution")
    g.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="parallel training runs (-1 = all cores; default: 1)",
    )
    g.add_argument(
        "--backend",
        choices=("loky", "dask", "ray"),
        default="loky",
        help="joblib backend for --jobs (default: loky)",
    )
    g.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address")
    g.add_argument("--address", metavar="ADDR", help="Ray cluster address")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``study`` on an argparse ``subparsers`` object; returns the parser."""
    p = subparsers.add_parser(
        "study",
        help="compare losses over datasets × repeated splits and write a report",
        description=(
            "Run every dataset × λ × loss over repeated seeded stratified splits with the "
            "same solver budget, log each run to MLflow under one study run, and write a "
            "report (Markdown, HTML with charts, CSV) to --out."
        ),
    )
    add_arguments(p)
    p.set_defaults(_run=run)
    return p


def _lr_list(text: Any) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in _as_tuple(text, "learning_rates"))
    except ValueError:
        raise ValueError(f"--lr must be a comma list of numbers; got {text!r}") from None


def config_from_args(args: argparse.Namespace) -> StudyConfig:
    """Build a :class:`StudyConfig` from parsed ``study`` arguments (ValueError if bad)."""
    from ..losses import LOSSES

    losses = args.losses
    if isinstance(losses, str):
        all_ = losses.strip().lower() == "all"
        losses = tuple(LOSSES) if all_ else _as_tuple(losses, "losses")
    lams = args.lams
    if isinstance(lams, str):
        try:
            lams = tuple(float(v) for v in _as_tuple(lams, "lams"))
        except ValueError:
            raise ValueError(f"--lam must be a comma list of numbers; got {args.lams!r}") from None
    datasets = args.datasets
    if args.csv_path and datasets in (None, ",".join(DEFAULT_DATASETS)):
        datasets = "csv"
    if args.csv_path and not os.path.isfile(args.csv_path):
        raise ValueError(f"CSV file not found: {args.csv_path}")
    if getattr(args, "drop", None) and not args.csv_path:
        raise ValueError("--drop needs --csv FILE")
    dataset_options = {}
    if args.csv_path and hasattr(args, "impute"):
        from ..cli import table_options

        dataset_options["csv"] = table_options(args)
    return StudyConfig(
        datasets=_as_tuple(datasets, "datasets"),
        losses=tuple(losses),
        lams=tuple(lams),
        repeats=args.repeats,
        seed=args.seed,
        solver=args.solver.split(",")[0],
        solvers=_as_tuple(args.solver, "solvers"),
        learning_rates=_lr_list(args.learning_rate),
        models=_as_tuple(args.models, "models"),
        hidden=_as_tuple(args.hidden, "hidden"),
        activation=args.activation,
        validation_fraction=args.validation_fraction,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        history=args.history,
        tol=args.tol,
        init=args.init,
        test_size=args.test_size,
        standardize=args.standardize,
        dtype=args.dtype,
        reference=args.reference,
        csv_path=args.csv_path,
        target=args.target,
        dataset_options=dataset_options,
    )


def run(args: argparse.Namespace) -> int:
    """``python -m lossesbox study``: progress bar, the table, where the report is.

    Bad values raise :class:`lossesbox.errors.UsageError` (one line, exit status 2). Returns
    0, or 1 when some run failed (diverged or raised): the report still has everything.
    """
    from ..errors import UsageError

    try:
        config = config_from_args(args)
        if args.jobs == 0:
            raise ValueError("--jobs must not be 0 (1 = sequential, -1 = all cores)")
        from ..datasets import DATASETS

        unknown = [d for d in config.datasets if d not in DATASETS and d != "csv"]
        if unknown:
            raise ValueError(
                f"unknown dataset(s) {', '.join(map(repr, unknown))}; valid: "
                f"{', '.join(DATASETS)}, or --csv FILE --target COL"
            )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from tqdm.auto import tqdm

    n = len(config.datasets) * len(config.lams) * config.repeats
    total = n * (len(config.losses) * len(config.setups()) + (1 if config.reference else 0))
    bar = tqdm(total=total, desc="study", unit="run", file=sys.stderr, disable=args.quiet)

    from ..cli import _raise_if_signalled

    def progress(done: int, total: int, row: dict) -> None:
        _raise_if_signalled()  # a Ctrl-C or SIGTERM a callback swallowed: stop between runs
        bar.set_postfix_str(f"{row['dataset']} {row['loss']} #{row['repeat']}", refresh=False)
        bar.update(1)

    try:
        result = run_study(
            config,
            track=args.track,
            experiment=args.experiment,
            tracking_uri=args.tracking_uri,
            out=args.out,
            jobs=args.jobs,
            backend=args.backend,
            scheduler=args.scheduler,
            address=args.address,
            progress=progress,
        )
    except ValueError as exc:  # dataset loading, backend set-up
        raise UsageError(str(exc)) from None
    finally:
        bar.close()
    print(_markdown_table(headline_table(result.summary)))
    print()
    if result.n_failed:
        print(f"{result.n_failed} run(s) failed (diverged or raised); see runs.csv and the report")
    print(f"report: {result.files['markdown']}  (HTML: {result.files['html']})")
    if result.run_id:
        from ..tracking import ui_command

        print(f"MLflow: experiment {result.experiment!r}, study run {result.run_id}")
        print(f"view: {ui_command(args.tracking_uri)}")
    if result.tracking_error:
        print(f"warning: {result.tracking_error}", file=sys.stderr)
    return 1 if result.n_failed else 0
