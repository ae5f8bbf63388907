"""`export_model(..., format="mlflow")`: a version as an MLflow model directory, for the
serving stacks that take one (MLflow's `models serve`, KServe's MLflow runtime, Seldon
MLServer, BentoML).

A scikit-learn estimator is written through MLflow's own sklearn flavor (pickle
serialisation); any other model as python_function, loaded by a small loader module
written into the directory (so serving needs MLflow and the model's libraries, not this
registry). The signature comes from the version's recorded input columns, the pinned
requirements from the environment recorded with its run, and the MLmodel metadata names
the registry's version id, reference and digest. A version imported from MLflow is written
back as the directory it came as. MLflow is imported only inside `export_model`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from registry_project.core import flavors, model_dirs
from registry_project.core.entities import Column, ModelVersion
from registry_project.core.errors import InvalidInputError
from registry_project.core.mlflow_source import require_mlflow
from registry_project.core.ops import version_ops
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.ops.writer import Writer
from registry_project.core.store import runs as run_store

FORMATS = ("mlflow",)

# Arrow type names (as `signature_from_sample` records them) -> MLflow's column types.
_MLFLOW_TYPES = {
    "double": "double",
    "float": "float",
    "int64": "long",
    "int32": "integer",
    "int16": "integer",
    "int8": "integer",
    "bool": "boolean",
    "string": "string",
    "large_string": "string",
    "binary": "binary",
    "large_binary": "binary",
}

# What each kind of export needs installed to load, looked up in the recorded packages.
_SKLEARN_NEEDS = ("scikit-learn", "numpy", "scipy", "joblib")
_PYFUNC_NEEDS = ("numpy", "pandas", "joblib", "cloudpickle")

LOADER_MODULE = "registry_pyfunc_loader"
_LOADER_SOURCE = '''"""Loads a model registry_project exported as an MLflow python_function."""

import pickle


class _Model:
    def __init__(self, model):
        self.model = model

    def predict(self, model_input, params=None):
        return self.model.predict(model_input)


def _load_pyfunc(path):
    if path.endswith(".joblib"):
        import joblib

        return _Model(joblib.load(path))
    with open(path, "rb") as file:
        return _Model(pickle.load(file))
'''


def export_model(
    w: Writer, version: VersionRef, directory: str | os.PathLike[str], *, format: str
) -> str:
    if format not in FORMATS:
        raise InvalidInputError(f"unknown export format {format!r}; known: {', '.join(FORMATS)}")
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidInputError(f"{target} exists and is not an empty directory; name a new one")
    require_mlflow()
    found = version_ops.get(w, version)
    # Written beside the target and renamed: a failed export leaves no half directory.
    parent = target.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        built = work / "model"
        if found.flavor == "mlflow":
            with w.blobs.open_verified(found.artifact_digest) as stream:
                model_dirs.unpack(stream, built)
            _add_metadata(built, found)
        else:
            _write_mlflow_directory(w, found, built)
        if target.exists():
            target.rmdir()
        built.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return str(target)


def _registry_metadata(found: ModelVersion) -> dict[str, str]:
    return {
        "registry_project_version_id": found.id,
        "registry_project_ref": found.ref,
        "registry_project_digest": found.artifact_digest,
        "registry_project_flavor": found.flavor,
    }


def _add_metadata(built: Path, found: ModelVersion) -> None:
    """An imported directory goes back as it came, but for the registry's names added to
    its MLmodel metadata (the rest of the file, and every other file, unchanged)."""
    from mlflow.models import Model

    mlmodel = Model.load(str(built / "MLmodel"))
    mlmodel.metadata = {**(mlmodel.metadata or {}), **_registry_metadata(found)}
    mlmodel.save(str(built / "MLmodel"))


def _write_mlflow_directory(w: Writer, found: ModelVersion, built: Path) -> None:
    require_mlflow()
    import mlflow.pyfunc
    import mlflow.sklearn

    model = version_ops.load(w, found.id)  # digest verified, pickle refusal applied
    signature = _signature(found.signature)
    metadata: dict[str, str] = _registry_metadata(found)
    packages = _recorded_packages(w, found)
    sklearn = any(flavors._is_sklearn_module(kind.__module__) for kind in type(model).__mro__)
    needs = _SKLEARN_NEEDS if sklearn else _PYFUNC_NEEDS
    requirements = [packages[name] for name in needs if name in packages]
    metadata["registry_project_requirements"] = (
        "recorded with the run" if packages else "none recorded: MLflow's defaults"
    )
    pip = requirements or None
    if sklearn:
        mlflow.sklearn.save_model(
            model,
            str(built),
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
            signature=signature,
            pip_requirements=pip,
            metadata=metadata,
        )
        return
    staging = built.parent / "staging"
    staging.mkdir()
    data = staging / ("model.joblib" if found.flavor == "joblib" else "model.pkl")
    with w.blobs.open_verified(found.artifact_digest) as stream, data.open("wb") as out:
        shutil.copyfileobj(stream, out)
    loader = staging / f"{LOADER_MODULE}.py"
    loader.write_text(_LOADER_SOURCE)
    mlflow.pyfunc.save_model(
        str(built),
        loader_module=LOADER_MODULE,
        data_path=str(data),
        code_paths=[str(loader)],
        signature=signature,
        pip_requirements=pip,
        metadata=metadata,
    )


def _signature(columns: tuple[Column, ...] | None) -> Any:
    """MLflow's input signature from the recorded columns, or None when a type has no
    MLflow counterpart (a signature that lies is worse than none)."""
    if not columns:
        return None
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    specs = []
    for column in columns:
        kind = _MLFLOW_TYPES.get(column.type)
        if kind is None and column.type.startswith("timestamp"):
            kind = "datetime"
        if kind is None:
            return None
        specs.append(ColSpec(kind, column.name))
    return ModelSignature(inputs=Schema(specs))


def _recorded_packages(w: Writer, found: ModelVersion) -> dict[str, str]:
    """`name -> name==version` from the environment recorded with the version's run."""
    if found.run_id is None:
        return {}
    with w.read() as connection:
        run = run_store.fetch_run(connection, found.run_id)
    if run is None or run.environment is None or run.environment.packages_digest is None:
        return {}
    text = w.blobs.read_bytes(run.environment.packages_digest).decode("utf-8")
    from registry_project.core.environment import normalise_package_name

    packages = {}
    for line in text.splitlines():
        name, sep, _ = line.partition("==")
        if sep:
            packages[normalise_package_name(name)] = line.strip()
    return packages
