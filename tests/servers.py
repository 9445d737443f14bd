"""A real ``mlflow server`` on 127.0.0.1 for tests that need one (faults mid-run, own tables).

The server runs in its own process group (``start_new_session``) so the whole tree (the CLI
and its uvicorn workers) can be frozen with SIGSTOP, thawed with SIGCONT or killed with
SIGKILL, and restarted on the same port, database and artifact folder (the URI stays).
Every wait is bounded; :meth:`MlflowServer.close` always leaves nothing running. Use the
``mlflow_server`` fixture of ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """``mlflow server --backend-store-uri sqlite:///<dir>/mlflow.db --artifacts-destination
    <dir>/artifacts --host 127.0.0.1 --port <free> --workers 1`` in its own process group."""

    def __init__(self, folder: str | os.PathLike, *, workers: int = 1):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db_uri = f"sqlite:///{self.folder / 'mlflow.db'}"
        self.artifacts = self.folder / "artifacts"
        self.workers = workers
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.stopped = False
        self._log = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle
    def start(self, timeout: float = START_TIMEOUT, *, port: int | None = None) -> MlflowServer:
        """Start the server (on ``port``, else a free one) and wait until ``/health`` answers
        (≈5 s on an idle machine, up to ≈30 s on a loaded one)."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        self.port = port or free_port()
        self._log = open(self.folder / "server.log", "ab")  # closed in close()
        cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.db_uri,
            "--artifacts-destination",
            str(self.artifacts),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
        env.pop("MLFLOW_TRACKING_URI", None)
        self.proc = subprocess.Popen(
            cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        self.stopped = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited early:\n{self.log_tail()}")
            if self.healthy(1.0):
                return self
            time.sleep(0.2)
        self.close()
        raise RuntimeError(f"mlflow server did not answer within {timeout:.0f} s")

    def healthy(self, timeout: float = 1.0) -> bool:
        """Whether ``GET /health`` answers within ``timeout`` s."""
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=timeout):
                return True
        except urllib.error.HTTPError:
            return True
        except (OSError, ValueError):
            return False

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def freeze(self) -> None:
        """SIGSTOP the whole process group: the port stays open, nothing answers."""
        self._signal(signal.SIGSTOP)
        self.stopped = True

    def thaw(self) -> None:
        """SIGCONT after :meth:`freeze`."""
        self._signal(signal.SIGCONT)
        self.stopped = False

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the whole process group and reap it (the database stays)."""
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        # Workers of the group that outlived the leader (reparented): kill them too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.stopped = False

    def restart(self, timeout: float = START_TIMEOUT) -> MlflowServer:
        """Kill whatever runs and start again on the same port, database and artifacts
        (the same URI, so what clients remember of it stays valid)."""
        self.kill()
        return self.start(timeout, port=self.port)

    def close(self) -> None:
        """Stop everything this object started (thaw first, so SIGKILL is delivered)."""
        if self.proc is not None:
            self._signal(signal.SIGCONT)
            self.kill()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 3000) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
