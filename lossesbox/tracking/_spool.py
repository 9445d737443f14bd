"""The local spool: what a run could not deliver to its store, kept as readable files.

A spool is a folder ``<spool root>/<spool id>/`` (the root is ``$LOSSESBOX_SPOOL_DIR``, else
``.spool/`` next to a sqlite database, else ``mlruns/.spool/`` in the working directory):

``run.json``
    the run: store URI, experiment, run name, run id (``null`` while the store never created
    it), parent run, every parameter and tag, the owning process (host, PID, start time), and
    once the run has ended its true final ``status``, ``stop_reason`` and ``end_time``.
``metrics*.jsonl``
    one metric a line, ``{"key", "value", "timestamp", "step"}`` (timestamps kept, so a
    replay is the same row).
``artifacts/``
    files to upload, laid out as in the run's artifact tree.
``model/`` + ``model.json``
    a saved MLflow model (``mlflow.sklearn.save_model``) and how to log it.

Writes are atomic (``run.json`` through a temporary file and ``os.replace``) or appends of
whole lines; a torn last line of a metrics file is ignored when it is read back.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._store import _is_http, _sqlite_path, resolve_tracking_uri

SPOOL_ENV = "LOSSESBOX_SPOOL_DIR"
RUN_FILE = "run.json"
MODEL_FILE = "model.json"
SYNC_COMMAND = "python -m lossesbox sync"
#: Every run is tagged with its spool id, so a sync finds a run an earlier attempt created.
TAG_SPOOL = "lossesbox.spool_id"


def spool_root(tracking_uri: str | None = None) -> Path:
    """Where spools of runs for ``tracking_uri`` live (see the module docstring)."""
    env = os.environ.get(SPOOL_ENV)
    if env:
        return Path(env).absolute()
    uri = resolve_tracking_uri(tracking_uri)
    path = _sqlite_path(uri)
    if path is not None and path != ":memory:" and not _is_http(uri):
        return Path(os.path.dirname(os.path.abspath(path))) / ".spool"
    return Path("mlruns", ".spool").absolute()


def not_delivered_message(path: str | os.PathLike) -> str:
    return f"not delivered; kept in {os.fspath(path)}; run `{SYNC_COMMAND}`"


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


class Spool:
    """One run's spool folder; every method is safe to call from several threads."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.RLock()

    @classmethod
    def create(cls, root: Path, meta: Mapping[str, Any]) -> Spool:
        """A new spool under ``root`` holding ``meta`` (raises ``OSError`` if unwritable)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        spool = cls(root / f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}")
        spool.path.mkdir(parents=True, exist_ok=False)
        _write_json(spool.path / RUN_FILE, {"spool_id": spool.path.name, **meta})
        return spool

    # -- run.json
    def meta(self) -> dict[str, Any]:
        with self._lock:
            return read_json(self.path / RUN_FILE)

    def update(self, **changes: Any) -> None:
        with self._lock:
            meta = self.meta()
            meta.update(changes)
            _write_json(self.path / RUN_FILE, meta)

    def add_tags(self, tags: Mapping[str, str]) -> None:
        with self._lock:
            meta = self.meta()
            meta["tags"] = {**meta.get("tags", {}), **{str(k): str(v) for k, v in tags.items()}}
            _write_json(self.path / RUN_FILE, meta)

    # -- metrics
    def add_metrics(self, metrics: Iterable[Any]) -> None:
        """Append MLflow ``Metric`` objects (or ``(key, value, timestamp, step)`` tuples)."""
        lines = []
        for m in metrics:
            if isinstance(m, tuple):
                key, value, ts, step = m
            else:
                key, value, ts, step = m.key, m.value, m.timestamp, m.step
            lines.append(
                json.dumps({"key": key, "value": value, "timestamp": ts, "step": step}) + "\n"
            )
        if not lines:
            return
        with self._lock, open(self.path / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write("".join(lines))

    def metric_files(self) -> list[Path]:
        return sorted(self.path.glob("metrics*.jsonl"))

    def take_metrics_file(self) -> Path | None:
        """Rename ``metrics.jsonl`` aside (new appends start a new file) for delivery."""
        with self._lock:
            src = self.path / "metrics.jsonl"
            if not src.exists():
                return None
            dst = self.path / f"metrics-{time.time_ns()}.jsonl"
            os.replace(src, dst)
            return dst

    @staticmethod
    def read_metrics(path: Path) -> list[tuple[str, float, int, int]]:
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
                out.append((str(d["key"]), float(d["value"]), int(d["timestamp"]), int(d["step"])))
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash
        return out

    # -- artifacts and the model
    def add_artifacts(self, files: Mapping[str, str | bytes], artifact_path: str | None) -> None:
        base = self.path / "artifacts" / (artifact_path or "")
        for name, content in files.items():
            target = base / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")

    def add_artifact_file(self, path: str | os.PathLike, artifact_path: str | None) -> None:
        base = self.path / "artifacts" / (artifact_path or "")
        base.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, base / os.path.basename(path))

    def add_model(self, model_dir: str | os.PathLike, info: Mapping[str, Any]) -> None:
        target = self.path / "model"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(model_dir, target)
        _write_json(self.path / MODEL_FILE, dict(info))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def list_spools(tracking_uri: str | None = None, root: str | os.PathLike | None = None) -> list:
    """Spools under ``root`` (default: :func:`spool_root` of ``tracking_uri``), oldest first."""
    folder = Path(root) if root is not None else spool_root(tracking_uri)
    if not folder.is_dir():
        return []
    return [Spool(p) for p in sorted(folder.iterdir()) if (p / RUN_FILE).is_file()]


def describe_spools(tracking_uri: str | None = None, root: str | os.PathLike | None = None):
    """One row per spool (for the dashboard): ``spool, experiment, run_name, run_id,
    status`` (the run's true final status; empty while its process still runs it),
    ``metric_values`` (waiting to be sent), ``model`` (whether a model waits), ``path``."""
    import pandas as pd

    rows = []
    for spool in list_spools(tracking_uri, root):
        try:
            meta = spool.meta()
        except (OSError, ValueError):
            continue
        values = 0
        for file in spool.metric_files():
            with open(file, encoding="utf-8") as f:
                values += sum(1 for _ in f)
        rows.append(
            {
                "spool": spool.path.name,
                "experiment": meta.get("experiment"),
                "run_name": meta.get("run_name"),
                "run_id": meta.get("run_id"),
                "status": meta.get("status") or "",
                "metric_values": values,
                "model": (spool.path / MODEL_FILE).is_file(),
                "path": str(spool.path),
            }
        )
    columns = ["spool", "experiment", "run_name", "run_id", "status", "metric_values", "model"]
    return pd.DataFrame(rows, columns=[*columns, "path"])
