"""Step 4, tests: the life cycle with Dagster's own `materialize`, a real instance and the
real promotion sensor. Hyperparameters change through run config, never code."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from examples.breast_cancer.definitions import PROJECT_ASSETS
from examples.breast_cancer.model import ForestConfig, cancer
from registry_project import ModelRegistry
from registry_project.orchestration import ModelRegistryResource

ASSETS = [*PROJECT_ASSETS, *cancer.assets]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def resources(tmp_path: Path) -> dict[str, ModelRegistryResource]:
    return {
        "registry": ModelRegistryResource(
            database_url=f"sqlite:///{tmp_path / 'registry.db'}",
            artifact_root=str(tmp_path / "artifacts"),
        )
    }


def retrain(instance: dg.DagsterInstance, resources: dict, **hyperparameters: object) -> None:
    """What the retraining job does: data, split, candidate, evaluation."""
    result = dg.materialize(
        ASSETS,
        selection=cancer.retraining_job.selection,
        run_config=dg.RunConfig(ops={cancer.candidate.op.name: ForestConfig(**hyperparameters)}),
        instance=instance,
        resources=resources,
    )
    assert result.success


def promotion_tick(instance: dg.DagsterInstance, resources: dict) -> dg.RunRequest | str:
    """One tick of the promotion sensor: a run request, or the reason it skipped."""
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        tick = cancer.promotion_sensor.evaluate_tick(context)
    return tick.run_requests[0] if tick.run_requests else tick.skip_message


def promote(instance: dg.DagsterInstance, resources: dict, request: dg.RunRequest) -> None:
    """What the promotion job does: production, then everything downstream of it."""
    result = dg.materialize(
        ASSETS,
        selection=cancer.promotion_job.selection,
        run_config=request.run_config,
        instance=instance,
        resources=resources,
    )
    assert result.success


def report_model(instance: dg.DagsterInstance) -> str:
    event = instance.get_latest_materialization_event(dg.AssetKey("malignancy_report"))
    return event.asset_materialization.metadata["model_version"].value


def test_from_first_model_to_a_better_one(instance: dg.DagsterInstance, resources: dict) -> None:
    registry = ModelRegistry.open(
        resources["registry"].database_url, resources["registry"].artifact_root
    )

    # The first candidate that passes its gate goes to production; the report uses it.
    retrain(instance, resources)
    request = promotion_tick(instance, resources)
    assert isinstance(request, dg.RunRequest)
    promote(instance, resources, request)
    first = registry.get_version("cancer@production")
    assert first.version == 1
    assert report_model(instance) == "cancer/1"
    assert dict(registry.lineage(first).run.params) == {"n_estimators": 10, "max_depth": 2}

    # A worse candidate (three stumps) is registered and evaluated, but not promoted.
    retrain(instance, resources, n_estimators=3, max_depth=1)
    worse = registry.get_version("cancer/2")
    assert worse.metrics["auc"] < first.metrics["auc"]
    skipped = promotion_tick(instance, resources)
    assert skipped.startswith("cancer/2 is not promoted: auc")
    assert f"{worse.metrics['auc']:.6g}" in skipped and f"{first.metrics['auc']:.6g}" in skipped

    # A better one is promoted, and the report is re-materialized with it.
    retrain(instance, resources, n_estimators=200, max_depth=None)
    request = promotion_tick(instance, resources)
    assert isinstance(request, dg.RunRequest)
    promote(instance, resources, request)
    assert registry.get_version("cancer@production").version == 3
    assert report_model(instance) == "cancer/3"
    registry.close()
