"""Deletion closes the loop, tick by tick with Dagster's own contexts and in-process runs:
force-deleting the data production was trained on makes the deleted-data sensor record the
failure of `trained_on_live_data` on production and request the retraining job once; the
retrained candidate (the next day's data) passes its gates and the promotion sensor
replaces the stale version without it having to be beaten; the check then passes."""

from __future__ import annotations

import dagster as dg
import pytest

from registry_project import ModelRegistry, Stage
from registry_project.orchestration import ModelRegistryResource
from registry_project.orchestration.deletion import CHECK_NAME
from registry_project.pipelines.churn import DATASETS, churn

PRODUCTION = churn.production.key
CHECK = dg.AssetCheckKey(PRODUCTION, CHECK_NAME)
PRODUCTION_OP = PRODUCTION.to_python_identifier()


def _tick(sensor: dg.SensorDefinition, instance, resource, defs, cursor=None):  # type: ignore[no-untyped-def]
    with dg.build_sensor_context(
        instance=instance, resources={"registry": resource}, cursor=cursor, definitions=defs
    ) as context:
        return sensor.evaluate_tick(context)


def _check_status(instance: dg.DagsterInstance) -> str | None:
    found = instance.event_log_storage.get_latest_asset_check_execution_by_key([CHECK])
    return found[CHECK].status.value if CHECK in found else None


def _promote(instance, resource, defs, cursor):  # type: ignore[no-untyped-def]
    """A promotion sensor tick and the promotion job's run it requests (production, its
    blocking check, the scores)."""
    tick = _tick(churn.promotion_sensor, instance, resource, defs, cursor)
    [request] = tick.run_requests
    run = defs.resolve_job_def("churn_promotion").execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags
    )
    assert run.success
    return tick


def test_force_deleted_training_data_is_retrained_away(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert churn.deleted_data_sensor is not None
    sensor = churn.deleted_data_sensor
    defs = churn.definitions(extra_assets=DATASETS, resources={"registry": registry_resource})
    retraining = defs.resolve_job_def("churn_retraining")
    assert retraining.execute_in_process(instance=instance).success
    first = _promote(instance, registry_resource, defs, None)
    stale = registry.get_version("churn@production")
    assert _tick(sensor, instance, registry_resource, defs).skip_message == (
        f"{stale.ref} was trained on live data"
    )

    [customers] = registry.datasets("customers")
    registry.delete_dataset(customers, actor="dpo", reason="GDPR request 17", force=True)
    tick = _tick(sensor, instance, registry_resource, defs)
    [request] = tick.run_requests
    assert request.job_name == "churn_retraining" and request.run_key.startswith("deleted-data:")
    [failed] = tick.asset_events
    assert isinstance(failed, dg.AssetCheckEvaluation) and not failed.passed
    assert f"customers@{customers.digest[:12]} (trained), deleted by dpo for GDPR request 17" in (
        failed.description or ""
    )
    instance.report_runless_asset_event(failed)  # as the daemon stores a sensor's events
    assert _check_status(instance) == "FAILED"
    again = _tick(sensor, instance, registry_resource, defs, tick.cursor)
    assert not again.run_requests and "already requested" in (again.skip_message or "")

    # The retraining job, on the next day's data: a new snapshot, a new candidate.
    monkeypatch.setenv("REGISTRY_DEMO_DAY", "2026-11-03")
    assert retraining.execute_in_process(instance=instance, tags=request.tags).success
    _promote(instance, registry_resource, defs, first.cursor)
    serving = registry.get_version("churn@production")
    assert serving.id != stale.id and serving.version == 2
    assert registry.get_version(stale.id).stage is not Stage.PRODUCTION
    trained_on = [d.snapshot for d in registry.lineage(serving).datasets]
    assert all(not s.deleted for s in trained_on) and customers.id not in {s.id for s in trained_on}
    assert _check_status(instance) == "SUCCEEDED"  # the production run's blocking check
    assert _tick(sensor, instance, registry_resource, defs, tick.cursor).skip_message == (
        f"{serving.ref} was trained on live data"
    )
    [event] = [e for e in registry.audit_log(action="promote") if e.subject_id == serving.id]
    assert "replaces churn/1, trained on deleted data" in (event.reason or "")
