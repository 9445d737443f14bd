"""Shared fixtures: every test gets its own temporary MLflow store, never the user's mlruns/."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path, monkeypatch):
    """Point MLflow at a sqlite store in a temp dir and run the test from that dir."""
    store = tmp_path / "mlruns"
    store.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("LOSSESBOX_ARTIFACT_ROOT", str(store))
    monkeypatch.setenv("LOSSESBOX_SPOOL_DIR", str(store / ".spool"))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    yield
    os.environ.pop("MLFLOW_RUN_ID", None)


@pytest.fixture
def mlflow_server(tmp_path):
    """A real ``mlflow server`` on 127.0.0.1 (sqlite + artifact folder under ``tmp_path``),
    started for this test and always stopped after it: see ``tests/servers.py`` for
    ``freeze()`` (SIGSTOP), ``thaw()``, ``kill()`` (SIGKILL) and ``restart()``."""
    from servers import MlflowServer

    server = MlflowServer(tmp_path / "server")
    try:
        yield server.start()
    finally:
        server.close()
