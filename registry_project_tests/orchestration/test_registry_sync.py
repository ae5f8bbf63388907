"""Production changes made outside Dagster reach the `<model>/production` asset (sensor ticks
on a real instance), and Dagster's own promotions are not reported twice."""

from __future__ import annotations

import dagster as dg
import pytest

from registry_project import ModelRegistry, Stage
from registry_project.definitions import defs
from registry_project.orchestration import (
    ModelRegistryResource,
    build_model_pipeline,
    registry_sync_sensor,
)
from registry_project.orchestration import metadata as md
from registry_project.pipelines import churn as demo
from registry_project.pipelines.churn import DATASETS, churn

PRODUCTION = churn.production.key
assert churn.scores is not None
SCORES = churn.scores.key
registry_sync = churn.sync_sensor


def _tick(
    instance: dg.DagsterInstance, resource: ModelRegistryResource, cursor: str | None
) -> dg.SensorExecutionData:
    # With the demo's definitions, as under the daemon: the sensor resolves what to rescore.
    with dg.build_sensor_context(
        instance=instance, resources={"registry": resource}, cursor=cursor, definitions=defs
    ) as context:
        return registry_sync.evaluate_tick(context)


def _metadata(materialization: dg.AssetMaterialization) -> dict[str, object]:
    return {key: value.value for key, value in materialization.metadata.items()}


@pytest.fixture
def promoted_by_dagster(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> str:
    """churn/1 trained, evaluated and promoted by a run of churn/production; the sync
    sensor's cursor from a tick taken before that promotion."""
    assets = [*DATASETS, *churn.assets]
    resources = {"registry": registry_resource}
    training = [*(d.key for d in DATASETS), churn.candidate.key, churn.evaluation.key]
    assert dg.materialize(assets, instance=instance, resources=resources, selection=training)
    first = _tick(instance, registry_resource, None)
    assert first.skip_message and first.skip_message.startswith("following the registry's")
    config = {"candidate_version_id": registry.get_version("churn/1").id, "reason": "first"}
    assert dg.materialize(
        assets,
        instance=instance,
        resources=resources,
        selection=[PRODUCTION],
        run_config={"ops": {PRODUCTION.to_python_identifier(): {"config": config}}},
    ).success
    assert first.cursor is not None
    return first.cursor


def test_a_dagster_promotion_is_not_reported_again(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
    promoted_by_dagster: str,
) -> None:
    data = _tick(instance, registry_resource, promoted_by_dagster)
    assert not data.asset_events and not data.run_requests
    assert f"none to {PRODUCTION.to_user_string()} from outside Dagster" in (
        data.skip_message or ""
    )
    # The run's own materialization anchors the audit head it left behind.
    event = instance.get_latest_materialization_event(PRODUCTION)
    assert event is not None and event.asset_materialization is not None
    recorded = _metadata(event.asset_materialization)
    head = registry.audit_log(newest_first=True, limit=1)[0]
    assert (recorded["registry/audit_head_seq"], recorded["registry/audit_head_hash"]) == (
        head.seq,
        head.hash,
    )


def test_out_of_band_changes_reach_the_production_asset(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
    promoted_by_dagster: str,
) -> None:
    hotfix = registry.register_model("churn", {"hand": "made"}, actor="alice")
    registry.promote(hotfix, actor="alice", reason="hotfix for incident 7")
    data = _tick(instance, registry_resource, promoted_by_dagster)

    [materialization] = data.asset_events
    assert isinstance(materialization, dg.AssetMaterialization)
    assert materialization.asset_key == PRODUCTION
    recorded = _metadata(materialization)
    promote_event = registry.audit_log(action="promote", newest_first=True, limit=1)[0]
    head = registry.audit_log(newest_first=True, limit=1)[0]
    assert recorded["registry/version_id"] == hotfix.id
    assert recorded["registry/version"] == 2
    assert recorded["registry/actor"] == "alice"
    assert recorded["registry/reason"] == "hotfix for incident 7"
    assert recorded["registry/action"] == "promote"
    assert (recorded["registry/audit_seq"], recorded["registry/audit_hash"]) == (
        promote_event.seq,
        promote_event.hash,
    )
    assert (recorded["registry/audit_head_seq"], recorded["registry/audit_head_hash"]) == (
        head.seq,
        head.hash,
    )
    assert materialization.description == (
        "promoted churn/2 outside Dagster by alice: hotfix for incident 7"
    )
    assert materialization.tags["dagster/data_version"] == hotfix.id
    # Every key it records is a documented, public one.
    recorded_keys = {
        f"{md.METRIC_PREFIX}<name>" if key.startswith(md.METRIC_PREFIX) else key for key in recorded
    }
    assert recorded_keys <= set(md.METADATA_KEYS), recorded_keys - set(md.METADATA_KEYS)
    # The scores follow the new production version.
    [rescore] = data.run_requests
    assert list(rescore.asset_selection or []) == [SCORES]
    assert data.cursor == str(head.seq)

    # Nothing new: nothing reported, the cursor stays.
    idle = _tick(instance, registry_resource, data.cursor)
    assert not idle.asset_events
    assert idle.skip_message == "no churn registry changes since the last tick"

    # Another model's change is its own sync sensor's business.
    other = registry.register_model("churn-forest", {"other": "model"}, actor="alice")
    registry.promote(other, actor="alice", reason="first forest")
    elsewhere = _tick(instance, registry_resource, data.cursor)
    assert not elsewhere.asset_events and not elsewhere.run_requests

    registry.rollback("churn", actor="bob", reason="scores drifted")
    rolled = _tick(instance, registry_resource, data.cursor)
    [back] = rolled.asset_events
    assert _metadata(back)["registry/version"] == 1
    assert back.description == "rolled back to churn/1 outside Dagster by bob: scores drifted"
    assert len(rolled.run_requests) == 1

    registry.transition("churn/1", Stage.ARCHIVED, actor="carol", reason="model retired")
    archived = _tick(instance, registry_resource, rolled.cursor)
    [gone] = archived.asset_events
    assert gone.tags["dagster/data_version"] == "none"
    assert gone.description == (
        "archived churn production outside Dagster by carol: model retired; no version serves now"
    )
    assert not archived.run_requests  # nothing to score with


def test_library_default_is_stopped_and_rescoring_follows_the_promotion_job(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    sensor = registry_sync_sensor(model_name="churn", production=PRODUCTION)
    assert sensor.default_status is dg.DefaultSensorStatus.STOPPED
    assert registry_sync.default_status is dg.DefaultSensorStatus.RUNNING  # the demo opts in
    assert registry_sync in churn.sensors and registry_sync.name == "churn_registry_sync_sensor"

    # A pipeline of your own: STOPPED, and an out-of-band promotion rescores what its
    # promotion job would (the scores and your downstream asset), production excepted.
    pipeline = build_model_pipeline(
        model_name="own",
        datasets={"train": demo.customers},
        holdout=demo.customers_holdout,
        train=demo.train_logistic,
        evaluate=demo.evaluate,
        score=demo.score,
        policy=demo.CHURN_POLICY,
    )
    assert pipeline.scores is not None

    @dg.asset(deps=[pipeline.production])
    def own_report() -> None:
        """Your own asset that uses the production model."""

    assert pipeline.sync_sensor.default_status is dg.DefaultSensorStatus.STOPPED
    own_defs = pipeline.definitions(
        extra_assets=[*DATASETS, own_report], resources={"registry": registry_resource}
    )
    version = registry.register_model("own", {"hand": "made"}, actor="alice")
    with dg.build_sensor_context(
        instance=instance, resources={"registry": registry_resource}, definitions=own_defs
    ) as context:
        started = pipeline.sync_sensor.evaluate_tick(context)
    registry.promote(version, actor="alice", reason="by hand")
    with dg.build_sensor_context(
        instance=instance,
        resources={"registry": registry_resource},
        definitions=own_defs,
        cursor=started.cursor,
    ) as context:
        data = pipeline.sync_sensor.evaluate_tick(context)
    [materialization] = data.asset_events
    assert materialization.asset_key == pipeline.production.key
    [rescore] = data.run_requests
    assert set(rescore.asset_selection or []) == {pipeline.scores.key, own_report.key}
