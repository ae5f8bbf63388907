"""`export_model(format="mlflow")`: the directory `mlflow.pyfunc.load_model` loads and
predicts with exactly as `reg.load_model` does, for a scikit-learn estimator (MLflow's
sklearn flavor), a plain pickled model (python_function) and an imported MLflow model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from registry_project import ModelRegistry
from registry_project.core import model_dirs
from registry_project.core.environment import installed_packages
from registry_project.core.errors import InvalidInputError, UnsafeFlavorError
from registry_project_tests.mlflow_store import ThresholdModel, build_store, features

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _mlmodel(directory: Path) -> dict:
    return yaml.safe_load((directory / "MLmodel").read_text())


def test_sklearn_export_loads_and_predicts_the_same(registry: ModelRegistry, tmp_path: Path):
    import mlflow.pyfunc
    from sklearn.linear_model import LogisticRegression

    X, y = features(1)
    with registry.start_run("churn-training", params={"C": 1.0}) as run:
        model = LogisticRegression(max_iter=500).fit(X, y)
        mv = registry.register_model("churn", model, run=run, signature=X.head())
    written = Path(registry.export_model("churn/1", tmp_path / "served", format="mlflow"))

    loaded = mlflow.pyfunc.load_model(str(written))
    ours = registry.load_model("churn/1")
    X_new, _ = features(7)
    assert np.array_equal(loaded.predict(X_new), ours.predict(X_new))
    mlmodel = _mlmodel(written)
    assert "sklearn" in mlmodel["flavors"]
    assert mlmodel["metadata"]["registry_project_version_id"] == mv.id
    assert mlmodel["metadata"]["registry_project_digest"] == mv.artifact_digest
    inputs = [c["name"] for c in yaml.safe_load(mlmodel["signature"]["inputs"])]
    assert inputs == list(X.columns)
    # requirements pinned as the run recorded them
    recorded = next(p for p in installed_packages() if p.lower().startswith("scikit-learn=="))
    assert recorded in (written / "requirements.txt").read_text().splitlines()


def test_pickled_model_exports_as_python_function(sqlite_registry: ModelRegistry, tmp_path: Path):
    import mlflow.pyfunc

    sqlite_registry.register_model("rules", ThresholdModel("support_calls", 4.0))
    written = Path(sqlite_registry.export_model("rules/1", tmp_path / "rules"))
    mlmodel = _mlmodel(written)
    assert set(mlmodel["flavors"]) == {"python_function"}
    X, _ = features(2)
    loaded = mlflow.pyfunc.load_model(str(written))
    assert np.array_equal(loaded.predict(X), sqlite_registry.load_model("rules/1").predict(X))


def test_imported_model_exports_as_it_came(
    sqlite_registry: ModelRegistry, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
):
    import mlflow.pyfunc
    from mlflow import MlflowClient

    store = build_store(tmp_path_factory.mktemp("mlflow-export"))
    sqlite_registry.import_mlflow(store.tracking_uri, models=["churn"])
    written = Path(sqlite_registry.export_model("churn@champion", tmp_path / "champion"))
    uri = MlflowClient(store.tracking_uri, store.tracking_uri).get_model_version_download_uri(
        "churn", "2"
    )
    original = {n: p.read_bytes() for n, p in model_dirs.files_of(Path(uri[len("file://") :]))}
    exported = {n: p.read_bytes() for n, p in model_dirs.files_of(written)}
    assert set(exported) == set(original)
    assert {n: b for n, b in exported.items() if n != "MLmodel"} == {
        n: b for n, b in original.items() if n != "MLmodel"
    }
    assert _mlmodel(written)["metadata"]["registry_project_ref"] == "churn/2"
    X, _ = features(5)
    assert np.array_equal(
        mlflow.pyfunc.load_model(str(written)).predict(X),
        mlflow.pyfunc.load_model(uri).predict(X),
    )


def test_export_refuses_a_non_empty_directory_and_unknown_formats(
    sqlite_registry: ModelRegistry, tmp_path: Path
):
    sqlite_registry.register_model("rules", ThresholdModel("a", 1.0))
    out = tmp_path / "out"
    (out / "taken").mkdir(parents=True)
    (out / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="not an empty directory"):
        sqlite_registry.export_model("rules/1", out / "taken")
    assert [p.name for p in (out / "taken").iterdir()] == ["keep.txt"]
    with pytest.raises(InvalidInputError, match="unknown export format"):
        sqlite_registry.export_model("rules/1", out / "new", format="onnx")
    # a refusal half way (pickle loading switched off) leaves no directory, no temporary
    sqlite_registry.allow_pickle = False
    with pytest.raises(UnsafeFlavorError):
        sqlite_registry.export_model("rules/1", out / "new")
    assert [p.name for p in out.iterdir()] == ["taken"]
