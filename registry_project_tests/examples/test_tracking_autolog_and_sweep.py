"""The README's autolog example (examples/tracking/autolog.py) and Dagster sweep example
(examples/tracking/dagster_sweep.py) run on a real registry and a real Dagster instance."""

from pathlib import Path

import dagster as dg
import pytest

from examples.tracking.autolog import train_with_autolog
from examples.tracking.dagster_sweep import churn_sgd, defs
from registry_project import ModelRegistry
from registry_project.orchestration import ModelRegistryResource
from registry_project.orchestration import metadata as md


def test_the_autolog_example_records_the_pipeline(tmp_path: Path) -> None:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as reg:
        run_id = train_with_autolog(reg)
        run = reg.get_run(run_id)
        assert run.params["logisticregression__C"] == 0.5
        assert {"training_score", "validation_score"} <= set(run.metrics)
        names = {a.name for a in reg.run_artifacts(run_id)}
        assert {"coefficients.csv", "input_signature.json", "confusion_matrix.csv"} <= names
        assert reg.versions("cancer")[0].run_id == run_id


def test_the_dagster_sweep_example_tracks_six_trials_and_registers_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_DEMO_DAY", "2026-11-02")
    resource = ModelRegistryResource(
        database_url=f"sqlite:///{tmp_path / 'r.db'}", artifact_root=str(tmp_path / "a")
    )
    assets = defs.resolve_asset_graph().get_all_asset_keys()
    assert churn_sgd.candidate.key in assets
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*churn_sgd.assets, *[a for a in defs.assets if a not in churn_sgd.assets]],
            instance=instance,
            resources={"registry": resource},
            selection=["customers", "customers_holdout", "churn-sgd/churn_sgd_candidate"],
        )
        assert result.success
        recorded = md.recorded_metadata(instance, churn_sgd.candidate.key)
    assert recorded is not None and recorded[md.SWEEP_TRIALS].value == 6
    assert isinstance(recorded[f"{md.RUN_METRIC_PREFIX}train_error"], dg.FloatMetadataValue)
    with ModelRegistry.open(resource.database_url, resource.artifact_root) as reg:
        trials = reg.runs("churn-sgd.churn_sgd_candidate")
        assert len(trials) == 6
        assert len(reg.versions("churn-sgd")) == 1
        best = reg.runs("churn-sgd.churn_sgd_candidate", order_by="-metrics.validation_auc")[0]
        assert reg.versions("churn-sgd")[0].run_id == best.id
