"""Logging the fitted pipeline as an MLflow model in two steps that a spool can hold apart.

1. :func:`save_model_dir` writes the model locally with ``mlflow.sklearn.save_model``
   (signature from the input example and its predictions, skops format trusting exactly the
   lossesbox types found in the model, explicit pip requirements). No store is touched.
2. :func:`deliver_model` attaches that folder to a run as a LoggedModel (what
   ``mlflow.sklearn.log_model`` does: create the LoggedModel with the run as its source,
   record it as the run's output, upload the folder, mark it READY), so
   ``runs:/<run id>/<name>`` loads it. Idempotent: a READY model of that name and run is
   reused, a PENDING one (an interrupted upload) is completed.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from typing import Any

from ._store import _MAX_PARAM_CHARS, _mlflow, _retry


def _param_str(value: Any) -> str:
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return text[:_MAX_PARAM_CHARS]


def _skops_trusted_types(model: Any) -> tuple[list[str], int]:
    """The types skops would refuse in ``model`` (only lossesbox's own may be trusted), and
    the size in bytes of its skops serialization."""
    import skops.io

    data = skops.io.dumps(model)
    untrusted = skops.io.get_untrusted_types(data=data)
    # numpy.dtype: SimpleImputer keeps the dtype it was fitted on (a plain value)
    foreign = [t for t in untrusted if not t.startswith("lossesbox.") and t != "numpy.dtype"]
    if foreign:
        raise TypeError(
            "the model holds types skops does not trust and lossesbox will not vouch for: "
            + ", ".join(foreign)
        )
    return list(untrusted), len(data)


@functools.cache
def _pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for dist in ("mlflow", "numpy", "scipy", "scikit-learn", "skops", "pandas"):
        try:
            reqs.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return reqs


def save_model_dir(
    model: Any,
    input_example: Any,
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, Any] | None = None,
) -> int:
    """Save ``model`` as an MLflow sklearn model folder at ``path`` (must not exist);
    return the size in bytes of the serialized model.

    A DataFrame example gives a signature of named columns, every one required (a request
    without one is refused by name) and taking missing values (they reach the model's
    imputer); MLflow matches request columns by name, in any order."""
    _mlflow()
    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = infer_signature(input_example, model.predict(input_example))
    if signature.inputs is not None and signature.inputs.has_input_names():
        from mlflow.types import ColSpec, Schema

        signature.inputs = Schema(
            [ColSpec(c.type, c.name, required=True) for c in signature.inputs.inputs]
        )
    trusted, size = _skops_trusted_types(model)
    mlflow.sklearn.save_model(
        model,
        os.fspath(path),
        signature=signature,
        input_example=input_example,
        pip_requirements=_pip_requirements(),
        serialization_format="skops",
        skops_trusted_types=trusted,
        metadata=dict(metadata or {}),
    )
    return size


def deliver_model(
    client,
    experiment_id: str,
    run_id: str,
    model_dir: str | os.PathLike,
    *,
    name: str = "model",
    params: Mapping[str, Any] | None = None,
    step: int = 0,
) -> str:
    """Attach the saved model folder to run ``run_id``; return ``runs:/<run id>/<name>``."""
    from mlflow.entities import LoggedModelOutput

    found = _retry(
        client.search_logged_models,
        experiment_ids=[experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{name}'",
    )
    ready = [m for m in found if str(m.status).upper().endswith("READY")]
    if ready:
        return f"runs:/{run_id}/{name}"
    if found:
        logged = found[0]
    else:
        str_params = {str(k): _param_str(v) for k, v in (params or {}).items()}
        logged = _retry(
            client.create_logged_model,
            experiment_id,
            name=name,
            source_run_id=run_id,
            params=str_params or None,
            model_type="sklearn",
        )
        _retry(client.log_outputs, run_id, [LoggedModelOutput(logged.model_id, step=int(step))])
    _retry(client.log_model_artifacts, logged.model_id, os.fspath(model_dir))
    _retry(client.finalize_logged_model, logged.model_id, "READY")
    return f"runs:/{run_id}/{name}"
