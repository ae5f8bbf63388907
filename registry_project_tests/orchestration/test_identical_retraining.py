"""Retraining on unchanged data registers nothing new, and the materialization says so."""

from __future__ import annotations

import dagster as dg
import pytest

from registry_project import ModelRegistry
from registry_project.orchestration import ModelRegistryResource, build_model_pipeline
from registry_project.pipelines import churn as demo
from registry_project.pipelines.churn import DATASETS, churn

CANDIDATE = churn.candidate.key


def _train(
    instance: dg.DagsterInstance, resource: ModelRegistryResource, pipeline: object = churn
) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [*DATASETS, *pipeline.assets],  # type: ignore[attr-defined]
        instance=instance,
        resources={"registry": resource},
        selection=[demo.customers.key, pipeline.candidate.key],  # type: ignore[attr-defined]
    )
    assert result.success
    return result


def _candidate_metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, object]:
    event = instance.get_latest_materialization_event(key)
    assert event is not None and event.asset_materialization is not None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_identical_retraining_names_the_existing_version(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    _train(instance, registry_resource)
    first = _candidate_metadata(instance, CANDIDATE)
    assert first["registry/reused"] is False
    assert first["registry/registration"] == "registered churn/1"

    _train(instance, registry_resource)  # the same day's data, params and code
    second = _candidate_metadata(instance, CANDIDATE)
    assert [v.version for v in registry.versions("churn")] == [1]
    assert second["registry/reused"] is True
    assert second["registry/version_id"] == first["registry/version_id"]
    assert str(second["registry/registration"]).startswith(
        "nothing new registered: churn/1 (experiment) already has this artifact"
    )
    # Both trainings are tracked runs; only the first produced a version.
    assert len(registry.audit_log(action="start_run")) == 2
    assert len(registry.audit_log(action="register_model")) == 1


def test_reuse_can_be_turned_off(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    every_training = build_model_pipeline(
        model_name="churn-every",
        datasets={"train": demo.customers},
        holdout=demo.customers_holdout,
        train=demo.train_logistic,
        evaluate=demo.evaluate,
        params={"C": 1.0},
        policy=demo.CHURN_POLICY,
        reuse_identical=False,
    )
    _train(instance, registry_resource, every_training)
    _train(instance, registry_resource, every_training)
    versions = registry.versions("churn-every", order_by="version")
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].artifact_digest == versions[1].artifact_digest
    metadata = _candidate_metadata(instance, every_training.candidate.key)
    assert metadata["registry/reused"] is False
    assert metadata["registry/registration"] == "registered churn-every/2"


# Dagster's own automation tester passes a beta parameter internally.
@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_an_identical_retraining_is_not_evaluated_again(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The evaluation follows the candidate's data version (its version id), not every
    materialization: a retraining that reused the identical version is not re-evaluated,
    a retraining that registered a new version is."""
    defs = dg.Definitions(
        assets=[*DATASETS, *churn.assets], resources={"registry": registry_resource}
    )
    everything = [demo.customers.key, demo.customers_holdout.key, CANDIDATE, churn.evaluation.key]
    assert dg.materialize(
        [*DATASETS, *churn.assets],
        instance=instance,
        resources={"registry": registry_resource},
        selection=everything,
    ).success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # the baseline

    _train(instance, registry_resource)  # same data, params and code: churn/1 again
    assert _candidate_metadata(instance, CANDIDATE)["registry/reused"] is True
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(churn.evaluation.key) == set()

    monkeypatch.setenv("REGISTRY_DEMO_DAY", "2026-11-03")  # a new day's data: churn/2
    _train(instance, registry_resource)
    assert _candidate_metadata(instance, CANDIDATE)["registry/reused"] is False
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(churn.evaluation.key) == {None}
