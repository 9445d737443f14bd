"""Streamlit helpers shared by the dashboard pages (the only Streamlit module in the package).

- :func:`page_setup`: page config and the common sidebar footer.
- :func:`friendly_errors`: turn any ``Exception`` into an ``st.error`` with what to do,
  never a traceback (Streamlit's own rerun/stop exceptions are ``BaseException`` and pass).
- :func:`tracking_uri` / :func:`mlflow_ui_url`: where runs are stored and the MLflow UI
  link of a run, ``<ui>/#/experiments/<experiment id>/runs/<run id>``.
- Session keys: :data:`LAST_RESULT` (the Train page's last ``ExperimentResult``, read by the
  Gradient signs page), :data:`TRAIN_JOB` (the running :class:`~lossesbox.app.live.TrainingJob`).

Widgets that must survive page switches pass ``persist_state="session"`` (Streamlit ≥ 1.67)
with a stable ``key``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

__all__ = [
    "DEFAULT_TRACKING_URI",
    "LAST_RESULT",
    "LAST_SNAPSHOTS",
    "MLFLOW_UI",
    "TRAIN_JOB",
    "collect_finished_job",
    "friendly_errors",
    "load_builtin_dataset",
    "load_uploaded_dataset",
    "mlflow_ui_url",
    "named_buffer",
    "page_setup",
    "preload",
    "tracking_uri",
    "upload_digest",
]

log = logging.getLogger("lossesbox.dashboard")

LAST_RESULT = "last_result"
LAST_SNAPSHOTS = "last_snapshots"
TRAIN_JOB = "train_job"
DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
MLFLOW_UI = os.environ.get("LOSSESBOX_MLFLOW_UI", "http://127.0.0.1:5000")
"""Base URL of ``mlflow ui`` (override with the ``LOSSESBOX_MLFLOW_UI`` variable)."""

PERSIST = "session"


MODEL_LABELS = {"linear": "Linear (softmax regression)", "mlp": "MLP (hidden layers)"}


def model_inputs(slots: Any, key: str, help: str) -> tuple[str, str, str]:
    """The model choice: a radio, then for the MLP its hidden sizes and activation.

    ``slots`` are three places to draw in (the sidebar three times, or three columns);
    widget keys are ``{key}_model``, ``{key}_hidden`` and ``{key}_act``. Returns
    ``(model, hidden text, activation)``; the hidden text is parsed by
    :func:`lossesbox.experiment.parse_hidden` where the run is made."""
    model = slots[0].radio(
        "Model",
        list(MODEL_LABELS),
        format_func=MODEL_LABELS.get,
        horizontal=True,
        key=f"{key}_model",
        persist_state=PERSIST,
        help=help,
    )
    hidden, activation = "100", "relu"
    if model == "mlp":
        hidden = slots[1].text_input(
            "Hidden layer sizes",
            "100",
            key=f"{key}_hidden",
            persist_state=PERSIST,
            help="Units per hidden layer joined by x, e.g. 100x100 for two layers of 100.",
        )
        activation = slots[2].selectbox(
            "Activation", ["relu", "tanh"], key=f"{key}_act", persist_state=PERSIST
        )
    return model, hidden, activation


def page_setup(title: str, icon: str = "📉") -> None:
    """Set the page config: ``<title> · lossesbox``, wide layout."""
    st.set_page_config(page_title=f"{title} · lossesbox", page_icon=icon, layout="wide")


def tracking_uri() -> str:
    """The MLflow store runs go to: ``$MLFLOW_TRACKING_URI`` or the project default."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def mlflow_ui_base() -> str:
    """The MLflow UI base URL: the tracking server itself when runs go to one over
    HTTP(S), else ``$LOSSESBOX_MLFLOW_UI`` (default ``http://127.0.0.1:5000``, where
    ``mlflow ui --backend-store-uri <store>`` serves)."""
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        return uri.rstrip("/")
    return os.environ.get("LOSSESBOX_MLFLOW_UI", MLFLOW_UI).rstrip("/")


def mlflow_ui_url(experiment_id: str | None, run_id: str | None) -> str | None:
    """Link to a run in the MLflow UI: ``<base>/#/experiments/<exp id>/runs/<run id>``."""
    if not run_id:
        return None
    if experiment_id is None:
        return f"{mlflow_ui_base()}/#/runs/{run_id}"
    return f"{mlflow_ui_base()}/#/experiments/{experiment_id}/runs/{run_id}"


def mlflow_ui_command() -> str:
    """The shell command that serves the current store in the MLflow UI (or where the
    tracking server is), as :func:`lossesbox.tracking.ui_command` words it."""
    from ..tracking import ui_command

    return ui_command(tracking_uri())


@contextmanager
def friendly_errors(what: str, hint: str | None = None) -> Iterator[None]:
    """Show ``Exception`` s raised inside the block as ``st.error`` and carry on.

    ``ValueError`` messages are written to be read by users and are shown as they are;
    other exceptions show their type too, and the traceback goes to the server log only.
    Streamlit's control-flow exceptions (rerun, stop) derive from ``BaseException`` and
    are not caught.
    """
    try:
        yield
    except ValueError as exc:
        st.error(f"**{what}:** {exc}" + (f"\n\n{hint}" if hint else ""))
    except Exception as exc:
        from ..tracking import short_error  # mlflow itself is not imported by this

        log.exception("%s failed", what)
        st.error(
            f"**{what} failed** ({type(exc).__name__}): {short_error(exc, 600)}"
            + (f"\n\n{hint}" if hint else "\n\nDetails are in the terminal running Streamlit.")
        )


def collect_finished_job() -> None:
    """Move a finished background training job's result into :data:`LAST_RESULT`.

    Called at the top of the pages that read the last result, so a run that ended while
    the user was on another page is not lost.
    """
    job = st.session_state.get(TRAIN_JOB)
    if job is not None and job.done:
        if job.result is not None:
            st.session_state[LAST_RESULT] = job.result
            st.session_state[LAST_SNAPSHOTS] = job.snapshots()  # for the epoch replay
        st.session_state["last_job_error"] = job.error_message
        del st.session_state[TRAIN_JOB]


@st.cache_data(show_spinner="Loading the dataset…", max_entries=32)
def load_builtin_dataset(name: str, options: tuple[tuple[str, Any], ...] = ()):
    """``lossesbox.datasets.load_dataset(name, **options)``, cached per name and options."""
    from ..datasets import load_dataset

    return load_dataset(name, **dict(options))


@st.cache_data(show_spinner="Reading the CSV…", max_entries=8)
def load_uploaded_dataset(
    file_name: str,
    digest: str,
    target: str | None,
    _data: bytes,
    options: tuple[tuple[str, Any], ...] = (),
):
    """An uploaded CSV, parsed in memory (nothing is written to disk), as a Dataset.

    Cached by file name, content ``digest`` (:func:`upload_digest`), target and the table
    ``options`` (``drop``, ``impute``, ``categorical``, ``max_categories``); the bytes
    themselves are not hashed on every rerun. ``ValueError`` names the problem (a single
    class, infinite numbers, too large, not text …)."""
    from ..datasets import load_dataset

    return load_dataset("csv", path=named_buffer(file_name, _data), target=target, **dict(options))


def named_buffer(file_name: str, data: bytes) -> io.BytesIO:
    """``data`` as a file-like object whose ``name`` is the upload's base name (the
    loader's messages and the run's ``dataset.file`` parameter show it)."""
    buf = io.BytesIO(data)
    buf.name = os.path.basename(file_name) or "upload.csv"
    return buf


def upload_digest(data: bytes) -> str:
    """A short SHA-256 of an upload: different files with one name stay apart.

    Raises ``ValueError`` for empty data or over the 50 MB limit, before any parsing."""
    from ..datasets import MAX_BYTES

    if not data:
        raise ValueError("the uploaded file is empty")
    if len(data) > MAX_BYTES:
        raise ValueError(
            f"the file has {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB"
        )
    return hashlib.sha256(data).hexdigest()[:16]


@st.cache_resource(show_spinner=False)
def preload() -> dict[str, float]:
    """Import scikit-learn, the trainer, the charts and MLflow, and open the run store:
    once per server, **in the calling script's thread** (:mod:`lossesbox.app.startup`).

    Every page calls it before importing anything heavy; ``st.cache_resource`` runs it
    once and makes a second session wait for the first instead of importing alongside
    it. No import ever runs in a background thread while a page imports too (that race
    handed pages a half-initialized ``sklearn.base``). Home calls it after its content
    is drawn, so a person reads Home while it loads; the first Train run then pays for
    training and logging only. Returns the seconds each step took.
    """
    from .startup import import_all

    return import_all(tracking_uri())
