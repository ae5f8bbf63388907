"""The same workloads on MLflow (mlflow-skinny, SQLite tracking/registry store, local disk;
W1 optionally on PostgreSQL)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from benchmarks.harness import Progress, time_each
from benchmarks.ours import PARAMS, metrics


def client_for(directory: Path, database_url: str | None = None) -> tuple[Any, str]:
    import mlflow
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    uri = database_url or f"sqlite:///{directory / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("bench", artifact_location=str(directory / "artifacts"))
    return client, experiment


def registration(
    directory: Path, count: int, artifact: bytes, database_url: str | None = None
) -> tuple[float, tuple[float, ...]]:
    """W1 on MLflow: run + 5 params + 5 metrics + a 100 KB artifact + a model version (its
    tracking and registry store on SQLite, or the empty PostgreSQL schema `database_url`)."""
    client, experiment = client_for(directory, database_url)
    client.create_registered_model("bench")
    staging = directory / "staging"
    staging.mkdir()

    def register(i: int) -> None:
        run = client.create_run(experiment)
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            params=[_param(k, v) for k, v in PARAMS.items()],
            metrics=[_metric(k, v) for k, v in metrics(i).items()],
        )
        model_dir = staging / f"model-{i}"
        model_dir.mkdir()
        (model_dir / "model.bin").write_bytes(artifact + i.to_bytes(8, "big", signed=True))
        client.log_artifacts(run_id, str(model_dir), artifact_path="model")
        client.create_model_version("bench", f"{run.info.artifact_uri}/model", run_id)
        client.set_terminated(run_id)

    [first] = time_each(lambda _: register(-1), 1)
    return first, time_each(register, count)


def _param(key: str, value: object) -> Any:
    from mlflow.entities import Param

    return Param(key, str(value))


def _metric(key: str, value: float) -> Any:
    import time

    from mlflow.entities import Metric

    return Metric(key, value, int(time.time() * 1000), 0)


def populate(directory: Path, versions: int) -> tuple[Any, str]:
    """Setup for W2/W3: `versions` runs with an auc metric, each a model version."""
    client, experiment = client_for(directory)
    client.create_registered_model("bench")
    progress = Progress("mlflow versions", versions)
    for i in range(versions):
        run = client.create_run(experiment)
        client.log_batch(run.info.run_id, metrics=[_metric(k, v) for k, v in metrics(i).items()])
        client.create_model_version("bench", f"{run.info.artifact_uri}/model", run.info.run_id)
        progress(i + 1)
    client.set_registered_model_alias("bench", "production", "1")
    return client, experiment


def production_lookup(client: Any, count: int) -> tuple[float, ...]:
    return time_each(lambda _: client.get_model_version_by_alias("bench", "production"), count)


def best_by_metric(
    client: Any, experiment: str, count: int, budget_s: float | None = None
) -> tuple[float, ...]:
    return time_each(
        lambda _: client.search_runs([experiment], order_by=["metrics.auc DESC"], max_results=1),
        count,
        budget_s,
    )
