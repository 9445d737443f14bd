"""Command line: ``python -m lossesbox {train,sweep,study,ui} ...``.

Subcommands are a table (:data:`COMMANDS`): each names the module holding its
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen subcommand's module
is imported and only its options are built, so ``--help`` stays fast (no scikit-learn,
scipy or mlflow import). ``study`` lives in :mod:`lossesbox.study` and appears when that
module exists; it can reuse :func:`add_training_arguments` and :func:`configs_from_args`.

Usage errors (unknown option, bad value, missing CSV file, ...) print one line and exit
with status 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from .errors import UsageError

__all__ = [
    "COMMANDS",
    "Command",
    "UsageError",
    "add_parallel_arguments",
    "add_table_arguments",
    "add_training_arguments",
    "configs_from_args",
    "main",
    "table_options",
]

PROG = "python -m lossesbox"


@dataclass(frozen=True)
class Command:
    """A subcommand: ``module.add_arguments(parser)`` builds it, ``module.run(args)`` runs it."""

    name: str
    help: str
    module: str
    add: str = "add_arguments"
    run: str = "run"
    optional: bool = False  # listed only when ``module`` can be found

    def available(self) -> bool:
        return not self.optional or importlib.util.find_spec(self.module) is not None

    def load(self) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[..., int]]:
        mod = importlib.import_module(self.module)
        return getattr(mod, self.add), getattr(mod, self.run)


COMMANDS: tuple[Command, ...] = (
    Command(
        "train",
        "train one model, log it to MLflow, print its metrics",
        __name__,
        "add_train_arguments",
        "run_train",
    ),
    Command(
        "sweep",
        "train a grid of configurations in parallel (one MLflow run each, under a parent run)",
        __name__,
        "add_sweep_arguments",
        "run_sweep",
    ),
    Command(
        "study",
        "the loss study: datasets × losses × repeats, with a report",
        "lossesbox.study",
        optional=True,
    ),
    Command(
        "ui", "start the dashboard (Streamlit) on 127.0.0.1", __name__, "add_ui_arguments", "run_ui"
    ),
    Command(
        "sync",
        "deliver runs kept in the local spool (store down or hung mid-run) to their store",
        __name__,
        "add_sync_arguments",
        "run_sync",
    ),
)


# ---------------------------------------------------------------- parsing helpers
class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _fail(message: str) -> NoReturn:
    raise UsageError(message)


def _split(text: str) -> list[str]:
    items = [s.strip() for s in str(text).split(",")]
    if not items or any(not s for s in items):
        raise argparse.ArgumentTypeError(f"empty item in comma list {text!r}")
    return items


#: numpy's seeds (and scikit-learn's ``random_state``) are 32-bit.
MAX_SEED = 2**32 - 1
#: MLflow refuses longer experiment names.
MAX_EXPERIMENT_NAME = 500


def _experiment_name(text: str) -> str:
    name = str(text).strip()
    if not name:
        raise argparse.ArgumentTypeError("--experiment must not be blank")
    if len(name) > MAX_EXPERIMENT_NAME:
        raise argparse.ArgumentTypeError(
            f"--experiment must be at most {MAX_EXPERIMENT_NAME} characters (MLflow's limit); "
            f"got {len(name)}"
        )
    return name


def _number(kind: type, text: str, *, minimum=None, strict=False, what="value", maximum=None):
    try:
        value = kind(text)
    except ValueError:
        name = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{what} must be {name}; got {text!r}") from None
    if kind is float and value != value:  # NaN
        raise argparse.ArgumentTypeError(f"{what} must be a number; got {text!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        sign = ">" if strict else "≥"
        raise argparse.ArgumentTypeError(f"{what} must be {sign} {minimum:g}; got {text!r}")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"{what} must be ≤ {maximum}; got {text!r}")
    if kind is float and value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{what} must be finite; got {text!r}")
    return value


def _list_of(kind: type, *, minimum=None, strict=False, what="value", choices=None, maximum=None):
    def parse(text: str) -> list:
        items = _split(text)
        if kind is str:
            if choices is not None:
                for item in items:
                    if item not in choices():
                        raise argparse.ArgumentTypeError(
                            f"unknown {what} {item!r}; valid: {', '.join(choices())}"
                        )
            return items
        return [
            _number(kind, s, minimum=minimum, strict=strict, what=what, maximum=maximum)
            for s in items
        ]

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def _one(kind: type, *, minimum=None, strict=False, what="value"):
    def parse(text: str):
        return _number(kind, text, minimum=minimum, strict=strict, what=what)

    parse.__name__ = what
    return parse


def _hidden_list(text: str) -> list[tuple[int, ...]]:
    """``100,100x100`` → ``[(100,), (100, 100)]``: commas between architectures."""
    from .experiment import parse_hidden

    try:
        return [parse_hidden(item) for item in _split(text)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_hidden_list.__name__ = "--hidden"


def _batch_size(text: str) -> int | None:
    if text.strip().lower() in {"full", "none"}:
        return None
    return _number(int, text, minimum=1, what="--batch-size")


def _loss_names() -> list[str]:
    from .losses import LOSSES

    return list(LOSSES)


def _losses(text: str) -> list[str]:
    if text.strip() == "all":
        return _loss_names()
    return _list_of(str, what="loss", choices=_loss_names)(text)


_losses.__name__ = "loss"

_SOLVERS = ("gd", "momentum", "sgd", "adam", "lbfgs")


def add_table_arguments(g: Any) -> None:
    """The ``--csv`` preparation options (``train``, ``sweep`` and ``study``) on the
    argparse group ``g``: ``--drop``, ``--impute``, ``--categorical``, ``--max-categories``
    (see :mod:`lossesbox.data.preprocessing`; :func:`table_options` reads them back)."""
    g.add_argument(
        "--drop",
        type=_list_of(str, what="column"),
        default=None,
        metavar="COLS",
        help="comma list of --csv columns to leave out (IDs, leaks)",
    )
    g.add_argument(
        "--impute",
        choices=["median", "mean", "most_frequent", "none"],
        default="median",
        help="fill gaps in --csv numeric columns (text: most frequent); 'none' refuses gaps "
        "(default: %(default)s)",
    )
    g.add_argument(
        "--categorical",
        choices=["onehot", "error"],
        default="onehot",
        help="text/boolean --csv columns: one-hot encode them, or refuse them (default: "
        "%(default)s)",
    )
    g.add_argument(
        "--max-categories",
        type=_one(int, minimum=2, what="--max-categories"),
        default=50,
        metavar="N",
        help="text columns with more distinct values are left out as ID-like (default: "
        "%(default)s)",
    )


def table_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``load_csv`` options given by :func:`add_table_arguments`' flags."""
    return {
        "drop": list(args.drop or []),
        "impute": args.impute,
        "categorical": args.categorical,
        "max_categories": args.max_categories,
    }


def add_training_arguments(parser: argparse.ArgumentParser, *, lists: bool = True) -> None:
    """The options shared by train, sweep and study (DESIGN.md "Command line").

    With ``lists`` the help says that comma lists are accepted; the values are always
    parsed as lists (``args.datasets``, ``args.losses``, ``args.lams``, ``args.seeds``,
    ``args.solvers``, ``args.learning_rates``) and :func:`configs_from_args` expands them.
    """
    many = " (comma list)" if lists else ""
    g = parser.add_argument_group("data")
    g.add_argument(
        "--dataset",
        "--datasets",
        dest="datasets",
        type=_list_of(str, what="dataset"),
        default=None,
        metavar="NAME",
        help=f"built-in or generated dataset{many}: iris, wine, breast_cancer, digits, blobs, "
        "moons, circles, spiral, xor, classification (default: iris)",
    )
    g.add_argument("--csv", metavar="FILE", help="train on a CSV file instead")
    g.add_argument("--target", metavar="COL", help="label column of --csv (default: inferred)")
    add_table_arguments(g)
    g.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_false",
        help="do not put a StandardScaler in front of the classifier",
    )
    g.add_argument(
        "--test-size",
        type=_one(float, minimum=0, strict=True, what="--test-size"),
        default=0.25,
        metavar="F",
        help="held-out fraction for the test metrics (default: 0.25)",
    )
    g = parser.add_argument_group("model and training")
    g.add_argument(
        "--model",
        "--models",
        dest="models",
        type=_list_of(str, what="model", choices=lambda: ("linear", "mlp")),
        default=None,
        metavar="NAME",
        help=f"linear (softmax regression) or mlp (hidden layers){many} (default: linear)",
    )
    g.add_argument(
        "--hidden",
        dest="hidden",
        type=_hidden_list,
        default=None,
        metavar="H",
        help="MLP hidden sizes joined by x, e.g. 100x100"
        + (" (commas between architectures)" if lists else "")
        + " (default: 100)",
    )
    g.add_argument(
        "--activation",
        "--activations",
        dest="activations",
        type=_list_of(str, what="activation", choices=lambda: ("relu", "tanh")),
        default=None,
        metavar="NAME",
        help=f"MLP hidden activation: relu or tanh{many} (default: relu)",
    )
    g.add_argument(
        "--loss",
        "--losses",
        dest="losses",
        type=_losses,
        default=None,
        metavar="NAME",
        help=f"loss{many}; 'all' = every registered loss (default: cross_entropy)",
    )
    g.add_argument(
        "--lam",
        "--lams",
        dest="lams",
        type=_list_of(float, minimum=0, what="--lam"),
        default=None,
        metavar="λ",
        help=f"L2 penalty λ ≥ 0, mean convention{many} (default: 1e-3)",
    )
    g.add_argument(
        "--seed",
        "--seeds",
        dest="seeds",
        type=_list_of(int, minimum=0, what="--seed", maximum=MAX_SEED),
        default=None,
        metavar="N",
        help=f"seed of the split, init and shuffling{many} (default: 0)",
    )
    g.add_argument(
        "--solver",
        "--solvers",
        dest="solvers",
        type=_list_of(str, what="solver", choices=lambda: _SOLVERS),
        default=None,
        metavar="NAME",
        help=f"{', '.join(_SOLVERS)}{many} (default: lbfgs)",
    )
    g.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rates",
        type=_list_of(float, minimum=0, strict=True, what="--lr"),
        default=None,
        metavar="η",
        help=f"step size of gd/momentum/sgd/adam{many} (default: 0.1)",
    )
    g.add_argument(
        "--epochs",
        type=_one(int, minimum=1, what="--epochs"),
        default=200,
        metavar="N",
        help="maximum epochs (lbfgs: iterations) (default: 200)",
    )
    g.add_argument(
        "--batch-size",
        type=_batch_size,
        default=256,
        metavar="N",
        help="mini-batch size of sgd/adam, or 'full' (default: 256)",
    )
    g.add_argument(
        "--tol",
        type=_one(float, minimum=0, what="--tol"),
        default=1e-6,
        metavar="T",
        help="relative objective decrease that stops training (default: 1e-6)",
    )
    g.add_argument(
        "--init",
        choices=("zeros", "normal", "glorot"),
        default=None,
        help="initial weights (default: zeros for linear, glorot for mlp; mlp refuses zeros)",
    )
    g.add_argument(
        "--validation-fraction",
        type=_one(float, minimum=0, what="--validation-fraction"),
        default=0.0,
        metavar="F",
        help="held-out share of the training data for per-epoch validation (default: 0)",
    )
    g.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    g.add_argument(
        "--history",
        choices=("exact", "running"),
        default="exact",
        help="sgd/adam per-epoch record: a full pass over the training set (exact, default) "
        "or accumulated from the epoch's mini-batches at no extra cost (running)",
    )
    g = parser.add_argument_group("tracking")
    g.add_argument(
        "--experiment",
        metavar="NAME",
        type=_experiment_name,
        help="MLflow experiment (default: one per dataset, named after it)",
    )
    g.add_argument("--no-track", dest="track", action="store_false", help="do not log to MLflow")
    g.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)",
    )


def add_parallel_arguments(parser: argparse.ArgumentParser) -> None:
    """``--jobs``, ``--backend``, ``--scheduler``, ``--address`` (sweep, study)."""
    g = parser.add_argument_group("parallel execution")
    g.add_argument(
        "--jobs",
        type=_one(int, what="--jobs"),
        default=1,
        metavar="N",
        help="parallel workers (-1 = all cores; default: 1)",
    )
    g.add_argument(
        "--backend",
        choices=("loky", "dask", "ray"),
        default="loky",
        help="joblib backend: local processes (loky), a Dask or a Ray cluster (default: loky)",
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="Dask scheduler address (default: $DASK_SCHEDULER_ADDRESS, else a local cluster "
        "on 127.0.0.1)",
    )
    g.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray instance)",
    )


def configs_from_args(args: argparse.Namespace) -> list:
    """Expand the list-valued options into ``TrainConfig``s (grid order: dataset, loss,
    λ, seed, solver, learning rate), each validated; ``UsageError`` on a bad value."""
    import itertools

    from .experiment import TrainConfig

    if args.csv is not None:
        if args.datasets not in (None, ["csv"]):
            _fail("give either --dataset or --csv, not both")
        if os.path.isdir(args.csv):
            _fail(f"--csv {args.csv} is a directory; give a CSV file")
        if not os.path.isfile(args.csv):
            _fail(f"CSV file not found: {args.csv}")
        datasets = ["csv"]
        table = table_options(args)
    else:
        if args.target is not None:
            _fail("--target needs --csv FILE")
        if args.drop:
            _fail("--drop needs --csv FILE")
        table = {}
        datasets = args.datasets or ["iris"]
        from .datasets import DATASETS

        for name in datasets:
            if name not in DATASETS:
                _fail(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}, or --csv FILE")
    if not 0 < args.test_size < 1:
        _fail(f"--test-size must be a fraction strictly between 0 and 1; got {args.test_size}")
    if not 0 <= args.validation_fraction < 1:
        _fail(f"--validation-fraction must be in [0, 1); got {args.validation_fraction}")
    models = args.models or ["linear"]
    if "mlp" not in models and (args.hidden is not None or args.activations is not None):
        _fail("--hidden and --activation describe an MLP: add --model mlp")
    architectures = [
        (model, hidden, activation)
        for model in models
        for hidden, activation in (
            itertools.product(args.hidden or [(100,)], args.activations or ["relu"])
            if model == "mlp"
            else [((100,), "relu")]
        )
    ]
    grid = itertools.product(
        datasets,
        architectures,
        args.losses or ["cross_entropy"],
        args.lams or [1e-3],
        args.seeds or [0],
        args.solvers or ["lbfgs"],
        args.learning_rates or [0.1],
    )
    configs = []
    for dataset, (model, hidden, activation), loss, lam, seed, solver, lr in grid:
        config = TrainConfig(
            model=model,
            hidden=hidden,
            activation=activation,
            dataset=dataset,
            dataset_options=dict(table),
            csv_path=args.csv,
            target=args.target,
            loss=loss,
            lam=lam,
            solver=solver,
            learning_rate=lr,
            max_epochs=args.epochs,
            batch_size=args.batch_size,
            tol=args.tol,
            init=args.init,
            seed=seed,
            standardize=args.standardize,
            test_size=args.test_size,
            validation_fraction=args.validation_fraction,
            dtype=args.dtype,
            history=args.history,
        )
        try:
            config.validate()
        except ValueError as exc:
            _fail(str(exc))
        configs.append(config)
    return configs


def _load_dataset_or_fail(config):
    """Load a config's dataset; a bad CSV (or option) is a usage error."""
    from .experiment import load_config_dataset

    try:
        dataset = load_config_dataset(config)
    except ValueError as exc:
        _fail(str(exc))
    try:  # a split that cannot be made is a usage error, not a crash after loading
        dataset.split(test_size=config.test_size, random_state=config.seed)
    except ValueError as exc:
        _fail(f"{exc}; choose another --test-size (e.g. 0.25)")
    return dataset


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# ---------------------------------------------------------------- train
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(parser, lists=False)
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (results are still printed)"
    )


def run_train(args: argparse.Namespace) -> int:
    for name in (
        "datasets",
        "models",
        "hidden",
        "activations",
        "losses",
        "lams",
        "seeds",
        "solvers",
        "learning_rates",
    ):
        values = getattr(args, name)
        if values is not None and len(values) > 1:
            option = {
                "learning_rates": "lr",
                "losses": "loss",
                "datasets": "dataset",
                "hidden": "hidden",
            }.get(name, name[:-1])
            _fail(f"train takes one --{option}; got {len(values)} (use sweep for a grid)")
    (config,) = configs_from_args(args)
    dataset = _load_dataset_or_fail(config)
    if dataset.preprocessing_summary():
        print(f"{dataset.name}: what is done to the table\n{dataset.preprocessing_summary()}")

    from tqdm.auto import tqdm

    from .experiment import run_experiment

    bars: list = []  # created at the first epoch, after MLflow has started the run

    def progress(record: dict) -> None:
        _raise_if_signalled()  # a Ctrl-C or SIGTERM whose exception was swallowed
        if not bars:
            bars.append(
                tqdm(
                    total=config.max_epochs,
                    desc=f"{dataset.name} {config.loss}",
                    unit="epoch",
                    disable=args.quiet,
                    leave=False,
                    file=sys.stderr,
                )
            )
        bar = bars[0]
        if record.get("epoch", 0) > 0:
            bar.update(1)
        bar.set_postfix(
            J=f"{record.get('objective', float('nan')):.4g}",
            acc=f"{record.get('train_accuracy', float('nan')):.3f}",
            refresh=False,
        )

    try:
        result = run_experiment(
            config,
            dataset=dataset,
            track=args.track,
            experiment=args.experiment,
            tracking_uri=args.tracking_uri,
            callback=progress,
        )
    finally:
        for bar in bars:
            bar.close()
    print(_train_summary(result))
    if result.tracking_error:
        print(f"warning: {result.tracking_error}", file=sys.stderr)
    return 1 if result.status == "diverged" else 0


def _model_text(config) -> str:
    """``"mlp 100x100 relu, "`` for an MLP, ``""`` for the linear model."""
    if config.model != "mlp":
        return ""
    from .experiment import format_hidden

    return f"mlp {format_hidden(config.hidden)} {config.activation}, "


def _train_summary(result) -> str:
    from .tracking import not_delivered_message, ui_command

    m = result.metrics
    lines = [
        f"{result.dataset.name}: {_model_text(result.config)}{result.config.loss}, "
        f"{result.config.solver}, "
        f"λ={result.config.lam:g}, seed {result.config.seed} — {result.status} after "
        f"{m['n_iter']} epochs ({m['fit_seconds']:.2f} s): {result.estimator.stop_reason_}",
        "  ".join(
            f"{k} {_fmt(m[k])}"
            for k in (
                "test_accuracy",
                "test_log_loss",
                "train_accuracy",
                "objective",
                "wrong_way_share",
            )
            if k in m
        ),
    ]
    if result.status == "diverged":
        lines.append("training diverged: try a smaller --lr (or another --solver / --loss)")
    if result.spool:
        held = result.run_status or "unknown (unreachable)"
        name = f"MLflow run {result.run_id}" if result.run_id else "the MLflow run (not created)"
        lines.append(
            f"{name} in experiment '{result.experiment}': the store holds {held}; "
            f"{not_delivered_message(result.spool)} (training waited "
            f"{result.tracking_wait:.1f} s for the store)"
        )
    elif result.run_id:
        lines.append(
            f"MLflow run {result.run_id} ({result.run_status}) in experiment '{result.experiment}'"
        )
        lines.append(f"view it: {ui_command(result.tracking_uri)}")
    elif result.tracking_error is None:
        lines.append("not tracked (--no-track)")
    return "\n".join(lines)


# ---------------------------------------------------------------- sweep
def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(parser, lists=True)
    add_parallel_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_sweep(args: argparse.Namespace) -> int:
    if args.jobs == 0:
        _fail("--jobs must not be 0 (use 1 for sequential, -1 for all cores)")
    configs = configs_from_args(args)
    datasets = {}
    for config in configs:
        key = config.csv_path or config.dataset
        if key not in datasets:
            datasets[key] = _load_dataset_or_fail(config)
    from .sweep import SchedulerLost, format_table
    from .sweep import run_sweep as sweep

    try:
        result = sweep(
            configs,
            datasets=datasets,
            jobs=args.jobs,
            backend=args.backend,
            scheduler=args.scheduler,
            address=args.address,
            track=args.track,
            experiment=args.experiment,
            tracking_uri=args.tracking_uri,
            progress=not args.quiet,
        )
    except ValueError as exc:  # backend set-up problems (bad address, missing package)
        _fail(str(exc))
    except SchedulerLost as exc:  # the parent run is FAILED with the same reason
        print(f"{PROG} sweep: error: {exc}", file=sys.stderr)
        return 1
    print(format_table(result.table))
    for parent in result.parent_run_ids:
        print(f"MLflow parent run {parent}")
    if result.table is not None and len(result.table) and args.track:
        from .tracking import ui_command

        print(f"view: {ui_command(args.tracking_uri)}")
    if result.tracking_errors:
        print(f"warning: {result.tracking_errors[0]}", file=sys.stderr)
    failed = int((result.table["status"] == "error").sum()) if len(result.table) else 0
    return 1 if failed else 0


# ---------------------------------------------------------------- ui
def add_ui_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=_one(int, minimum=1, what="--port"), default=8501, help="(default: 8501)"
    )
    parser.add_argument(
        "--headless", action="store_true", help="do not open a browser (servers, CI)"
    )
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow store the dashboard reads and writes (default as for train)",
    )
    parser.add_argument(
        "--print-command",
        action="store_true",
        help="print the streamlit command instead of running it",
    )


def ui_argv(args: argparse.Namespace) -> list[str]:
    """``python -m streamlit run <package root>/dashboard.py`` bound to 127.0.0.1."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "dashboard.py")
    if not os.path.isfile(script):
        _fail(f"dashboard not found at {script} (run from a lossesbox checkout)")
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(args.port),
    ]
    if args.headless:
        argv += ["--server.headless", "true"]
    return argv


def run_ui(args: argparse.Namespace) -> int:
    import subprocess

    from .tracking import resolve_tracking_uri

    argv = ui_argv(args)
    if args.print_command:
        print(" ".join(argv))
        return 0
    env = dict(os.environ)
    # Pin the store (resolved against *this* working directory) for the dashboard.
    env["MLFLOW_TRACKING_URI"] = resolve_tracking_uri(args.tracking_uri)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"dashboard: http://127.0.0.1:{args.port}  (store {env['MLFLOW_TRACKING_URI']})")
    proc = subprocess.Popen(argv, cwd=root, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 130


# ---------------------------------------------------------------- sync
def add_sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="deliver into this store instead of the one each spooled run names; also "
        "picks the spool folder (default: the default store's, e.g. mlruns/.spool)",
    )
    parser.add_argument(
        "--spool-dir", metavar="DIR", help="the spool folder to read (default: see above)"
    )


def run_sync(args: argparse.Namespace) -> int:
    """Replay every spooled run; exit 1 when one could not be delivered (it is kept)."""
    # Nothing waits on a sync but the user: give a busy server time to answer (training
    # keeps MLflow's per-request timeout short instead).
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    from .tracking import list_spools, spool_root, sync_spool

    root = args.spool_dir or spool_root(args.tracking_uri)
    if args.spool_dir and not os.path.isdir(args.spool_dir):
        _fail(f"--spool-dir {args.spool_dir} is not a folder")
    spools = list_spools(args.tracking_uri, root)
    if not spools:
        print(f"nothing to sync in {root}")
        return 0
    results = [sync_spool(s.path, tracking_uri=args.tracking_uri) for s in spools]
    for r in results:
        print(r.line())
    counts = {o: sum(r.outcome == o for r in results) for o in ("delivered", "skipped", "failed")}
    print(", ".join(f"{n} {o}" for o, n in counts.items()))
    return 1 if counts["failed"] else 0


# ---------------------------------------------------------------- main
def _subcommand(argv: Sequence[str], commands: Sequence[Command]) -> Command | None:
    names = {c.name: c for c in commands}
    for arg in argv:
        if arg.startswith("-"):
            continue
        return names.get(arg)
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in ``argv`` gets its options (fast --help)."""
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Classification losses on a linear softmax classifier: train, sweep, "
        "study, dashboard. Every run is tracked in MLflow.",
    )
    parser.add_argument("--version", action="version", version=f"lossesbox {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands = [c for c in COMMANDS if c.available()]
    chosen = _subcommand(argv, commands)
    for command in commands:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        if command is chosen:
            add, run = command.load()
            add(sub)
            sub.set_defaults(_run=run)
    return parser


class _Terminated(SystemExit):
    """``kill <pid>`` (SIGTERM), raised in the main thread so ``finally`` blocks run."""

    signal_name = "SIGTERM"  # the MLflow run's stop_reason: "interrupted (SIGTERM)"


_SIGNALLED: int | None = None
"""The signal (SIGINT or SIGTERM) this process received, if any: see :func:`_on_signal`."""


def _on_signal(signum, frame) -> NoReturn:
    """Turn Ctrl-C / ``kill <pid>`` into an exception in the main thread, so ``finally``
    blocks run and the MLflow run ends KILLED.

    Python runs a signal handler between any two bytecodes, including inside a weakref
    or garbage-collection callback (SQLAlchemy has one), where an exception is printed
    as "Exception ignored" and dropped: training then went on. So the signal is also
    remembered, and :func:`_raise_if_signalled` raises it again at the next epoch.
    """
    global _SIGNALLED
    _SIGNALLED = signum
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise _Terminated(128 + signum)


def _quiet_unraisable(unraisable) -> None:
    """``sys.unraisablehook`` while a command runs: a signal's exception that Python had
    to drop (see :func:`_on_signal`) is not printed as a traceback, since it is raised
    again at the next epoch; everything else goes to the previous hook."""
    exc = unraisable.exc_value
    if _SIGNALLED is not None and isinstance(exc, _Terminated | KeyboardInterrupt):
        return
    _previous_unraisablehook(unraisable)


_previous_unraisablehook = sys.unraisablehook


def _raise_if_signalled() -> None:
    """Raise the exception of a signal received earlier (one a callback swallowed)."""
    if _SIGNALLED is not None:
        _on_signal(_SIGNALLED, None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m lossesbox``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    import threading

    global _SIGNALLED, _previous_unraisablehook
    _SIGNALLED = None
    previous = previous_int = None
    _previous_unraisablehook = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_signal)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous_int = signal.signal(signal.SIGINT, _on_signal)
    try:
        return int(args._run(args) or 0)
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc} (see --help)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (the MLflow run is marked KILLED)", file=sys.stderr)
        return 130
    except _Terminated as exc:
        print("terminated by SIGTERM (the MLflow run is marked KILLED)", file=sys.stderr)
        return int(exc.code)
    except Exception as exc:
        if os.environ.get("LOSSESBOX_DEBUG"):
            raise
        print(
            f"{PROG} {args.command}: error: {type(exc).__name__}: {exc} "
            "(set LOSSESBOX_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        sys.unraisablehook = _previous_unraisablehook
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
