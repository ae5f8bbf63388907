"""Production changes made outside Dagster reach the `<model>/production` asset (sensor ticks
on a real instance), and Dagster's own promotions are not reported twice."""

from __future__ import annotations

import dagster as dg
import pytest

from registry_project import ModelRegistry, Stage
from registry_project.definitions import registry_sync
from registry_project.orchestration import ModelRegistryResource, registry_sync_sensor
from registry_project.pipelines.churn import DATASETS, churn

PRODUCTION = dg.AssetKey(["churn", "production"])
SCORES = dg.AssetKey(["churn", "scores"])


def _tick(
    instance: dg.DagsterInstance, resource: ModelRegistryResource, cursor: str | None
) -> dg.SensorExecutionData:
    with dg.build_sensor_context(
        instance=instance, resources={"registry": resource}, cursor=cursor
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
    training = ["customers", "customers_holdout", "churn/candidate", "churn/evaluation"]
    assert dg.materialize(assets, instance=instance, resources=resources, selection=training)
    first = _tick(instance, registry_resource, None)
    assert first.skip_message and first.skip_message.startswith("following the registry's")
    config = {"candidate_version_id": registry.get_version("churn/1").id, "reason": "first"}
    assert dg.materialize(
        assets,
        instance=instance,
        resources=resources,
        selection=["churn/production"],
        run_config={"ops": {"churn__production": {"config": config}}},
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
    assert "none to a production asset from outside Dagster" in (data.skip_message or "")
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
    # The scores follow the new production version.
    [rescore] = data.run_requests
    assert list(rescore.asset_selection or []) == [SCORES]
    assert data.cursor == str(head.seq)

    # Nothing new: nothing reported, the cursor stays.
    idle = _tick(instance, registry_resource, data.cursor)
    assert not idle.asset_events and idle.skip_message == "no registry changes since the last tick"

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


def test_library_default_is_stopped_and_downstream_needs_a_production_asset() -> None:
    sensor = registry_sync_sensor(production_assets={"churn": PRODUCTION})
    assert sensor.default_status is dg.DefaultSensorStatus.STOPPED
    assert registry_sync.default_status is dg.DefaultSensorStatus.RUNNING  # the demo opts in
    with pytest.raises(ValueError, match="without a production asset: \\['other'\\]"):
        registry_sync_sensor(production_assets={"churn": PRODUCTION}, downstream={"other": []})
