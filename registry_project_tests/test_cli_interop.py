"""`registry import mlflow` and `registry export --format mlflow` against a real MLflow
store: the report (table and --json), exit status 1 when a version failed, the exported
directory loading with `mlflow.pyfunc`; a missing extra is one error line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project_tests.mlflow_store import MlflowStore, build_store, features

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    return build_store(tmp_path_factory.mktemp("mlflow-cli"))


def _run(tmp_path: Path, *args: str):
    base = ["--database-url", f"sqlite:///{tmp_path / 'r.db'}"]
    base += ["--artifact-root", str(tmp_path / "a"), "--actor", "migrator"]
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


def test_import_then_export(tmp_path: Path, mlflow_store: MlflowStore) -> None:
    ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")).close()
    uri = mlflow_store.tracking_uri
    dry = _run(tmp_path, "import", "mlflow", "--tracking-uri", uri, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would import version churn/5" in dry.output

    table = _run(tmp_path, "import", "mlflow", "--tracking-uri", uri, "--model", "churn")
    assert table.exit_code == 0, table.output
    assert "imported version churn/5" in table.output and "gap kept" in table.output
    assert "5 imported, 0 already imported, 0 failed" in table.output

    result = _run(tmp_path, "--json", "import", "mlflow", "--tracking-uri", uri)
    assert result.exit_code == 1  # fraud/2's artifact is missing
    report = json.loads(result.stdout)
    assert [f["mlflow_id"] for f in report["failed"]] == ["fraud/2"]
    assert {i["mlflow_id"] for i in report["imported"]} == {"fraud", "fraud/1"}
    assert len(report["skipped"]) == 5  # churn and its four versions, imported before

    out = tmp_path / "served"
    exported = _run(tmp_path, "export", "churn@champion", "--format", "mlflow", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    import mlflow.pyfunc

    X, _ = features(4)
    registry = ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a"))
    expected = registry.load_model("churn@champion").predict(X)
    registry.close()
    assert np.array_equal(mlflow.pyfunc.load_model(str(out)).predict(X), expected)

    again = _run(tmp_path, "export", "churn@champion", "-o", str(out))
    assert again.exit_code == 1 and again.output.startswith("error: ")
    assert "Traceback" not in again.output


def test_missing_extra_is_one_error_line(tmp_path: Path, monkeypatch) -> None:
    ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")).close()
    monkeypatch.setitem(sys.modules, "mlflow", None)
    result = _run(tmp_path, "import", "mlflow", "--tracking-uri", "sqlite:///x.db")
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "registry_project[mlflow]" in result.output
    assert "Traceback" not in result.output
