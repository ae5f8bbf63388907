"""Import rate: how many MLflow model versions per second `import_mlflow` moves in.

An MLflow store (mlflow-skinny, SQLite backend, file artifacts) with one registered model
of N versions, each from its own run (5 params, 5 metrics, a dataset input) and its own
small MLflow model directory, is built through MLflow's client; then the import is timed,
and timed again (the second import skips everything: the cost of a resumed or repeated
import). Not part of the W1-W6 comparison (MLflow has no import to compare with).

    python -m benchmarks.mlflow_import --versions 1000
    python -m benchmarks.mlflow_import --versions 20 --json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
    env:
      virtualenv: python_env.yaml
"""


def build(directory: Path, versions: int) -> str:
    """An MLflow store with `versions` versions of model `bench`; its tracking URI."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("bench", artifact_location=(directory / "art").as_uri())
    client.create_registered_model("bench")
    now = int(time.time() * 1000)
    for number in range(versions):
        run = client.create_run(experiment)
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(f"m{i}", number / (i + 1), now, 0) for i in range(5)],
            params=[Param(f"p{i}", str(i)) for i in range(5)],
        )
        dataset = mlflow.data.from_numpy(
            __import__("numpy").arange(number, number + 10), source=f"s3://b/d{number}"
        )
        client.log_inputs(run_id, datasets=[_input(dataset)])
        client.set_terminated(run_id)
        model_dir = directory / "models" / str(number)
        model_dir.mkdir(parents=True)
        (model_dir / "MLmodel").write_text(MLMODEL)
        (model_dir / "model.pkl").write_bytes(os.urandom(16 * 1024))
        client.log_artifacts(run_id, str(model_dir), "model")
        client.create_model_version("bench", f"runs:/{run_id}/model", run_id=run_id)
    return uri


def _input(dataset):
    from mlflow.entities import DatasetInput

    return DatasetInput(dataset._to_mlflow_entity(), tags=[])


def measure(versions: int, workdir: Path) -> dict[str, float]:
    from registry_project import ModelRegistry

    uri = build(workdir, versions)
    with ModelRegistry.open(f"sqlite:///{workdir / 'registry.db'}", str(workdir / "blobs")) as reg:
        started = time.perf_counter()
        report = reg.import_mlflow(uri)
        first = time.perf_counter() - started
        assert len([i for i in report.imported if i.kind == "version"]) == versions, report
        started = time.perf_counter()
        again = reg.import_mlflow(uri)
        second = time.perf_counter() - started
        assert not again.imported
    return {
        "versions": versions,
        "import_seconds": round(first, 3),
        "versions_per_second": round(versions / first, 1),
        "repeat_seconds": round(second, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=20, help="versions to import (20)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        result = measure(args.versions, workdir)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"imported {result['versions']} MLflow versions in {result['import_seconds']} s "
            f"({result['versions_per_second']} versions/s); "
            f"a repeated import skipped them all in {result['repeat_seconds']} s"
        )


if __name__ == "__main__":
    main()
