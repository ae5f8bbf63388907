"""A real MLflow tracking store and model registry, built with mlflow-skinny for the import
tests: a SQLite backend with file artifacts, written only through MLflow's own API.

`build_store` makes two registered models:
- churn: versions 1-5, version 4 deleted (a gap), 1 Archived, 2 Production (alias
  `champion`), 3 Staging (alias `challenger`), 5 None; each from its own run with params,
  a metric history and a dataset input; descriptions and tags on the model and versions.
- fraud: version 1 (a run with two dataset inputs, aliases `champion` and `latest-good`)
  and version 2, whose model directory is deleted after registration (a missing artifact).
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


@dataclass(frozen=True)
class MlflowStore:
    tracking_uri: str
    artifact_root: Path
    missing: str  # "fraud/2": the version whose artifact was deleted


def features(seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Demo-like churn features and labels."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 72, 200).astype("float64"),
            "monthly_charges": rng.normal(70, 20, 200),
            "support_calls": rng.integers(0, 10, 200).astype("float64"),
        }
    )
    y = ((X.support_calls > 4) | (X.tenure_months < 6)).astype(int)
    return X, y


def _log_version(client, model: str, C: float, seed: int, datasets: int = 1):
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    X, y = features(seed)
    with mlflow.start_run(run_name=f"{model}-C{C}") as run:
        mlflow.log_params({"C": C, "solver": "lbfgs"})
        for step in range(4):
            mlflow.log_metric("loss", 1.0 / (step + 1 + C), step=step)
        mlflow.log_metric("auc", 0.8 + C / 100)
        mlflow.set_tag("team", "risk")
        for i in range(datasets):
            dataset = mlflow.data.from_pandas(
                features(seed + 100 * i)[0],
                source=f"s3://data/{model}/features-{seed}-{i}.parquet",
                name=f"{model}-features",
            )
            mlflow.log_input(dataset, context="training" if i == 0 else "validation")
        fitted = LogisticRegression(C=C, max_iter=500).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logged = mlflow.sklearn.log_model(
                fitted,
                name="model",
                serialization_format="pickle",
                signature=mlflow.models.infer_signature(X, fitted.predict(X)),
                # given, so that MLflow does not infer them in a subprocess (seconds each)
                pip_requirements=["scikit-learn", "numpy"],
            )
    return client.create_model_version(
        model, logged.model_uri, run_id=run.info.run_id, description=f"C={C}", tags={"C": str(C)}
    )


def build_store(base: Path, uri: str | None = None) -> MlflowStore:
    """The store under `base` (artifacts, and the SQLite file unless `uri` names another
    backend database, e.g. PostgreSQL)."""
    import mlflow
    from mlflow import MlflowClient

    base.mkdir(parents=True, exist_ok=True)
    uri = uri or f"sqlite:///{base / 'mlflow.db'}"
    artifacts = base / "mlartifacts"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment("churn", artifact_location=artifacts.as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated in MLflow; still reported
        client.create_registered_model(
            "churn", tags={"owner": "risk-team"}, description="Churn classifier"
        )
        for number, C in enumerate([0.5, 1.0, 2.0, 4.0, 8.0], start=1):
            _log_version(client, "churn", C, seed=number)
        client.delete_model_version("churn", "4")
        client.transition_model_version_stage("churn", "1", "Archived")
        client.transition_model_version_stage("churn", "2", "Production")
        client.transition_model_version_stage("churn", "3", "Staging")
        client.set_registered_model_alias("churn", "champion", "2")
        client.set_registered_model_alias("churn", "challenger", "3")
        client.create_registered_model("fraud", description="Fraud model")
        _log_version(client, "fraud", 1.5, seed=11, datasets=2)
        broken = _log_version(client, "fraud", 3.0, seed=12)
        client.set_registered_model_alias("fraud", "champion", "1")
        client.set_registered_model_alias("fraud", "latest-good", "1")
    download = client.get_model_version_download_uri("fraud", broken.version)
    shutil.rmtree(download.removeprefix("file://"))
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)  # the import must use only the URIs it is given
    return MlflowStore(uri, artifacts, f"fraud/{broken.version}")


class ThresholdModel:
    """A plain Python model (no scikit-learn): registered with the pickle flavor."""

    def __init__(self, column: str, threshold: float) -> None:
        self.column = column
        self.threshold = threshold

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame[self.column] > self.threshold).astype(int).to_numpy()
