"""Train: pick data, loss and solver in the sidebar, train live, inspect the result."""

import streamlit as st

from lossesbox.app.widgets import page_setup, preload

page_setup("Train")
preload()  # every heavy import, once per server, in this thread: no import race

import numpy as np
import pandas as pd

from lossesbox import LOSSES
from lossesbox.app.live import TrainingJob
from lossesbox.app.replay import RegionGrid, snapshot_at
from lossesbox.app.results import confusion, decision_grid, ending_message, has_regions
from lossesbox.app.widgets import (
    LAST_RESULT,
    LAST_SNAPSHOTS,
    PERSIST,
    TRAIN_JOB,
    collect_finished_job,
    friendly_errors,
    load_builtin_dataset,
    load_uploaded_dataset,
    mlflow_ui_command,
    mlflow_ui_url,
    model_inputs,
    named_buffer,
    upload_digest,
)
from lossesbox.charts import (
    CURVE_STYLES,
    accuracy_curves,
    class_columns,
    confusion_matrix_chart,
    curve_frame,
    curve_spec,
    decision_regions_chart,
    sign_heatmap,
    training_curves,
    with_rule,
)
from lossesbox.datasets import DATASETS, GENERATED, dataset_options, read_csv_preview
from lossesbox.experiment import format_hidden

LAMBDAS = [0.0, 1e-6, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0]
RATES = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1000.0]
SOLVERS = ["lbfgs", "gd", "momentum", "sgd", "adam"]
LIVE_EVERY = 1.0  # seconds between redraws while training
LIVE_KEYS = ["epoch", "objective", "data_loss", "penalty", "train_accuracy", "val_accuracy"]


def stop_job() -> None:
    job = st.session_state.get(TRAIN_JOB)
    if job is not None:
        job.stop()


def option_widget(dataset: str, option: str, default):
    """A sidebar widget for one generated-dataset option, typed after its default."""
    key = f"tr_opt_{dataset}_{option}"
    label = option.replace("_", " ")
    if isinstance(default, bool):
        return st.checkbox(label, value=default, key=key, persist_state=PERSIST)
    if isinstance(default, int):
        return int(st.number_input(label, value=default, step=1, key=key, persist_state=PERSIST))
    if isinstance(default, float):
        return float(
            st.number_input(
                label, value=default, step=0.05, format="%.3f", key=key, persist_state=PERSIST
            )
        )
    return st.text_input(label, value=str(default), key=key, persist_state=PERSIST)


collect_finished_job()
st.title("Train")

# --- Sidebar: data -----------------------------------------------------------------------------
sb = st.sidebar
sb.header("Data")
source = sb.radio(
    "Source",
    ["Built-in or generated", "Upload a CSV"],
    key="tr_source",
    persist_state=PERSIST,
)
dataset = None
data_failed = False  # the chosen data cannot be read: its error, not an older result, shows
options: dict = {}
uploaded = False
target = None
if source.startswith("Built-in"):
    name = sb.selectbox(
        "Dataset",
        list(DATASETS),
        index=list(DATASETS).index("iris"),
        format_func=lambda n: f"{n} (generated)" if n in GENERATED else n,
        key="tr_dataset",
        persist_state=PERSIST,
    )
    sb.caption(DATASETS[name])
    with sb:
        options = {opt: option_widget(name, opt, d) for opt, d in dataset_options(name).items()}
    with friendly_errors(f"Loading {name}", "Change the dataset options."):
        dataset = load_builtin_dataset(name, tuple(sorted(options.items())))
    data_failed = dataset is None
else:
    upload = sb.file_uploader(
        "CSV file (≤ 50 MB, header row, one target column)",
        type=["csv", "tsv", "txt"],
        key="tr_upload",
    )
    if upload is not None:
        st.session_state["tr_csv"] = (upload.name, upload.getvalue())
    stored = st.session_state.get("tr_csv")
    if stored is None:
        st.info(
            "Upload a CSV in the sidebar: one target column plus feature columns (numbers, "
            "text or booleans; gaps are filled in, text is one-hot encoded)."
        )
    else:
        file_name, data = stored
        with friendly_errors(f"Reading {file_name}", "Fix the file and upload it again."):
            digest = upload_digest(data)
            preview = read_csv_preview(named_buffer(file_name, data), n=8)
            from lossesbox.datasets import infer_target_column

            columns = [str(c) for c in preview.columns]
            guess = infer_target_column(columns)
            target = sb.selectbox(
                "Target column",
                columns,
                index=columns.index(guess),
                key=f"tr_target_{file_name}",
                persist_state=PERSIST,
            )
            drop = sb.multiselect(
                "Columns to leave out",
                [c for c in columns if c != target],
                key=f"tr_drop_{file_name}",
                help="IDs, free text, or columns that give the answer away.",
            )
            with sb.expander("Preprocessing options"):
                impute = st.selectbox(
                    "Fill gaps in numeric columns with",
                    ["median", "mean", "most_frequent", "none"],
                    key="tr_impute",
                    help="Text gaps take the most frequent value; 'none' refuses gaps.",
                )
                categorical = st.radio(
                    "Text and boolean columns",
                    ["onehot", "error"],
                    format_func=lambda v: "one-hot encode" if v == "onehot" else "refuse",
                    key="tr_categorical",
                )
                max_categories = st.number_input(
                    "Leave out text columns with more distinct values than",
                    min_value=2,
                    value=50,
                    step=1,
                    key="tr_max_categories",
                )
            with st.expander(f"Preview of {file_name}", expanded=False):
                st.dataframe(preview, hide_index=True)
            table_options = (
                ("categorical", categorical),
                ("drop", tuple(drop)),
                ("impute", impute),
                ("max_categories", int(max_categories)),
            )
            # the guess goes in as "no target given", so the summary says why it was chosen
            chosen = None if target == guess else target
            dataset = load_uploaded_dataset(file_name, digest, chosen, data, table_options)
            uploaded = True
        data_failed = dataset is None
        if dataset is not None:
            st.subheader(f"Columns of {file_name}")
            st.dataframe(dataset.plan.column_table(), hide_index=True)
            notes = dataset.plan.notes
            for note in notes:
                if note.startswith("warning: "):
                    st.warning(note.removeprefix("warning: "))
            st.markdown(
                "**What is done to the data** (fitted on the training split only)\n\n"
                + "\n".join(f"- {n}" for n in notes if not n.startswith("warning: "))
            )

# --- Sidebar: model and training -----------------------------------------------------------------
sb.header("Model")
model, hidden, activation = model_inputs(
    [sb] * 3,
    "tr",
    help="The MLP puts ReLU/tanh hidden layers before the same K output scores: the same "
    "losses, history and gradient signs (taken at the output scores).",
)
loss = sb.selectbox(
    "Loss", list(LOSSES), index=0, key="tr_loss", persist_state=PERSIST, help="See Home / Theory."
)
sb.latex(LOSSES[loss].formula)
lam = sb.select_slider(
    "λ (L2 penalty, log scale)",
    LAMBDAS,
    value=1e-3,
    format_func=lambda v: "0" if v == 0 else f"{v:g}",
    key="tr_lam",
    persist_state=PERSIST,
)
solver = sb.selectbox("Solver", SOLVERS, key="tr_solver", persist_state=PERSIST)
lr = sb.select_slider(
    "Learning rate (log scale)",
    RATES,
    value=0.1,
    format_func=lambda v: f"{v:g}",
    key="tr_lr",
    persist_state=PERSIST,
    disabled=solver == "lbfgs",
    help="Not used by lbfgs (it searches its own step).",
)
epochs = sb.number_input(
    "Epochs (lbfgs: iterations)", 1, 20_000, 200, key="tr_epochs", persist_state=PERSIST
)
batch = sb.number_input(
    "Batch size",
    1,
    1_000_000,
    256,
    key="tr_batch",
    persist_state=PERSIST,
    disabled=solver not in ("sgd", "adam"),
    help="Mini-batch size for sgd and adam.",
)
history = sb.radio(
    "Mini-batch history",
    ["exact", "running"],
    horizontal=True,
    key="tr_history",
    persist_state=PERSIST,
    disabled=solver not in ("sgd", "adam"),
    help="What each epoch's record (curves, MLflow metrics) is for sgd and adam. exact: one "
    "extra pass over the training set after every epoch. running: added up from the "
    "epoch's mini-batches, so no extra full pass per epoch; it lags the exact values by up "
    "to one epoch. Training is the same either way; other solvers are always exact.",
)
init = sb.selectbox(
    "Initialization",
    ["zeros", "normal"] if model == "linear" else ["glorot", "normal"],
    key=f"tr_init_{model}",
    persist_state=PERSIST,
    help="An MLP cannot start from zeros: its hidden units would stay identical.",
)
seed = sb.number_input("Seed", 0, 2**31 - 1, 0, key="tr_seed", persist_state=PERSIST)
sb.header("Evaluation")
standardize = sb.checkbox("Standardize features", value=True, key="tr_std", persist_state=PERSIST)
val_share = sb.slider(
    "Validation share (of the training part)",
    0.0,
    0.5,
    0.2,
    0.05,
    key="tr_val",
    persist_state=PERSIST,
)
test_share = sb.slider("Test share", 0.1, 0.5, 0.25, 0.05, key="tr_test", persist_state=PERSIST)
sb.header("Tracking")
track = sb.checkbox("Log the run to MLflow", value=True, key="tr_track", persist_state=PERSIST)
experiment = sb.text_input(
    "Experiment (blank = dataset name)", "", key="tr_exp", persist_state=PERSIST
).strip()

# --- Main: data summary and the buttons --------------------------------------------------------
if dataset is not None:
    counts = ", ".join(f"{k}: {v}" for k, v in dataset.class_counts().items())
    shape = f"{dataset.n_features} features"
    if dataset.frame is not None and dataset.frame.shape[1] != dataset.n_features:
        shape = (
            f"{dataset.frame.shape[1]} columns ({dataset.n_features} model inputs after encoding)"
        )
    st.markdown(
        f"**{dataset.name}** — {dataset.n_samples} samples × {shape}, "
        f"{dataset.n_classes} classes ({counts if len(counts) < 200 else 'see preview'})."
    )

job = st.session_state.get(TRAIN_JOB)
running = job is not None and not job.done
c1, c2, c3 = st.columns([1, 1, 5])
clicked = c1.button("Train", type="primary", key="tr_train", disabled=dataset is None)
if clicked and running:
    st.warning("A run is already going: stop it first (or wait for it to finish).")
elif clicked:
    from lossesbox.experiment import TrainConfig

    with friendly_errors("These settings cannot be trained"):
        config = TrainConfig(
            dataset="csv" if uploaded else dataset.name,
            dataset_options={} if uploaded else dict(options),
            target=target,
            model=model,
            hidden=hidden,
            activation=activation,
            loss=loss,
            lam=float(lam),
            solver=solver,
            learning_rate=float(lr),
            max_epochs=int(epochs),
            batch_size=int(batch),
            history=history if solver in ("sgd", "adam") else "exact",
            init=init,
            seed=int(seed),
            standardize=bool(standardize),
            test_size=float(test_share),
            validation_fraction=float(val_share),
        ).validate(data_given=True)
        job = TrainingJob(
            config,
            dataset,
            track=track,
            experiment=experiment or None,
            # live decision regions and the replay: built-in or generated 2-D data (a user
            # table goes through its own column preprocessing, shown after training)
            keep_parameters=has_regions(dataset) and getattr(dataset, "frame", None) is None,
        ).start()
        st.session_state[TRAIN_JOB] = job
        running = True
c2.button("Stop", key="tr_stop", disabled=not running, on_click=stop_job)


def draw(history: pd.DataFrame, epoch: int | None = None) -> None:
    """Loss curves and accuracy side by side, a dashed rule at ``epoch`` (the replay)."""
    col_loss, col_acc = st.columns(2)
    col_loss.altair_chart(with_rule(training_curves(history), epoch))
    col_acc.altair_chart(with_rule(accuracy_curves(history), epoch))


def charts_available(history: pd.DataFrame) -> bool:
    return bool(class_columns(history, "wrong_way_share"))


def region_grid(job_or_result) -> RegionGrid:
    """The decision-region grid of a 2-D run, built once and kept on the job/result."""
    grid = getattr(job_or_result, "_region_grid", None)
    if grid is None:
        dataset = job_or_result.dataset if job_or_result.dataset is not None else None
        grid = RegionGrid(dataset, job_or_result.config)
        job_or_result._region_grid = grid
    return grid


def progress_text(job: TrainingJob, epoch: int) -> str:
    phase = job.phase()
    if job.stop_requested:
        return f"Stopping after epoch {epoch}…"
    if phase == "starting":
        return "Starting (loading scikit-learn, opening the MLflow run)…"
    if phase == "finishing":
        return f"Epoch {epoch}: evaluating on the test set and logging the run to MLflow…"
    return f"Epoch {epoch}/{job.config.max_epochs} · {job.seconds:.1f} s"


@st.fragment(run_every=LIVE_EVERY)
def live_view() -> None:
    """Redraw progress and curves from the worker's records; only this fragment reruns,
    every LIVE_EVERY seconds, so the page stays responsive and Stop can be clicked."""
    job = st.session_state.get(TRAIN_JOB)
    if job is None:
        return
    if job.done:
        st.rerun()  # the whole page, which collects and shows the result
    records = job.records()
    epoch = records[-1]["epoch"] if records else 0
    st.progress(min(epoch / job.config.max_epochs, 1.0), text=progress_text(job, epoch))
    if records:
        # plain Vega-Lite specs built once: no Altair validation on every redraw
        history = pd.DataFrame({k: [r.get(k, np.nan) for r in records] for k in LIVE_KEYS})
        latest = job.latest_snapshot() if job.keep_parameters else None
        cols = st.columns(3 if latest is not None else 2)
        for col, style in zip(cols, ("loss", "accuracy"), strict=False):
            frame = curve_frame(history, CURVE_STYLES[style]["metrics"])
            col.vega_lite_chart(frame, curve_spec(style))
        if latest is not None:  # 2-D data: the decision regions as they are now
            grid = region_grid(job)
            snap_epoch, parameters = latest
            cols[2].altair_chart(
                decision_regions_chart(
                    grid.frame(parameters),
                    grid.points,
                    x=job.dataset.feature_names[0],
                    y=job.dataset.feature_names[1],
                    title=f"Decision regions at epoch {snap_epoch}",
                    height=260,
                )
            )


# --- Live: while the worker trains, a fragment polls it ------------------------------------------
if running:
    live_view()
failure = st.session_state.pop("last_job_error", None)
if failure:
    st.error(
        f"**Training failed:** {failure}\n\n"
        "Check the settings (and the data); the server log has the details."
    )

# --- Result -------------------------------------------------------------------------------------
result = None if running or data_failed else st.session_state.get(LAST_RESULT)
if result is not None:
    cfg = result.config
    last_epoch = int(result.history["epoch"].iloc[-1]) if len(result.history) else 0
    replay = last_epoch
    if last_epoch > 0:
        replay = st.slider(
            "Replay the run: epoch",
            0,
            last_epoch,
            last_epoch,
            key="tr_replay",
            help="Moves the dashed rule on the curves and the heatmap"
            + (
                ", and redraws the decision regions at that epoch"
                if result.dataset.n_features == 2
                else ""
            )
            + ".",
        )
    draw(result.history, replay)
    if charts_available(result.history):
        with st.container(key="signs_heatmap_train"):
            st.altair_chart(
                with_rule(
                    sign_heatmap(result.history, "wrong_way_share", result.dataset.class_names),
                    replay,
                    offset=0.5,
                )
            )
    st.header("Result")
    st.caption(
        (
            f"MLP `{format_hidden(cfg.hidden)}` {cfg.activation}, "
            if cfg.model == "mlp"
            else "Linear, "
        )
        + f"`{cfg.loss}` on {result.dataset.name}, λ = {cfg.lam:g}, solver `{cfg.solver}`"
        + (f", learning rate {cfg.learning_rate:g}" if cfg.solver != "lbfgs" else "")
        + f", seed {cfg.seed} · trained in {result.seconds:.1f} s"
    )
    level, text = ending_message(result)
    getattr(st, level)(text)
    m = result.metrics
    cols = st.columns(6)
    cols[0].metric("Test accuracy", f"{m.get('test_accuracy', np.nan):.3f}")
    cols[1].metric("Train accuracy", f"{m.get('train_accuracy', np.nan):.3f}")
    cols[2].metric("Test log-loss", f"{m.get('test_log_loss', np.nan):.4f}")
    cols[3].metric("Objective J", f"{m.get('objective', np.nan):.4g}")
    cols[4].metric("Wrong-way share", f"{m.get('wrong_way_share', np.nan):.3f}")
    cols[5].metric("Epochs", int(m.get("n_iter", len(result.history) - 1)))

    if getattr(result, "spool", None):
        st.warning(
            f"Training finished but the run was **not delivered** to MLflow: "
            f"{result.tracking_error}. Or press **Sync** on the Compare runs page."
        )
    elif result.run_id:
        url = mlflow_ui_url(result.experiment_id, result.run_id)
        st.markdown(
            f"Logged as run `{result.run_id}` in experiment **{result.experiment}** "
            f"({result.run_status}) · [open it in the MLflow UI]({url})"
        )
        st.caption(f"Start the MLflow UI first: `{mlflow_ui_command()}`")
    elif result.tracking_error:
        st.warning(f"Training finished but the run was **not logged**: {result.tracking_error}")
    else:
        st.caption("Not logged to MLflow (tracking is off in the sidebar).")

    col_cm, col_dr = st.columns([2, 3])
    with col_cm, friendly_errors("Confusion matrix"):
        if result.dataset.n_classes <= 30:
            st.altair_chart(confusion_matrix_chart(confusion(result), result.dataset.class_names))
        else:
            st.caption("Confusion matrix left out: more than 30 classes.")
    if has_regions(result.dataset):
        with col_dr, friendly_errors("Decision regions"):
            names = result.dataset.feature_names
            snapshot = snapshot_at(st.session_state.get(LAST_SNAPSHOTS) or {}, replay)
            if replay < last_epoch and snapshot is not None:
                grid = region_grid(result)
                st.altair_chart(
                    decision_regions_chart(
                        grid.frame(snapshot[1]),
                        grid.points,
                        x=names[0],
                        y=names[1],
                        title=f"Decision regions at epoch {snapshot[0]} (replay)",
                    )
                )
            else:
                grid, points = decision_grid(result)
                st.altair_chart(decision_regions_chart(grid, points, x=names[0], y=names[1]))
    st.download_button(
        "Download the history (CSV)",
        result.history.to_csv(index=False),
        file_name=f"history-{result.run_id or cfg.label()}.csv",
        mime="text/csv",
        key="tr_download",
    )
    st.caption("The **Gradient signs** page (sidebar) shows this model's gradient signs per epoch.")
