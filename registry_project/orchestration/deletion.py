"""Deletion closes the loop: a blocking asset check on `<model>/production` that fails while
the production version was trained (or evaluated) on data that has since been
force-deleted, naming each tombstone; and a sensor that, once it sees such a production
version, records that check's failure and requests the retraining job (fresh data, a new
candidate, its gates; the promotion sensor does the rest, with the stale version as no
baseline: see `promotion_decisions.py`)."""

# No `from __future__ import annotations`: Dagster reads the check's real type hints.

from typing import Any

import dagster as dg

from registry_project.core.entities import LineageDataset, ModelVersion
from registry_project.core.errors import RegistryError
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration._common import as_failure, to_asset_key
from registry_project.orchestration.translator import identifier

CHECK_NAME = "trained_on_live_data"


def deleted_inputs(
    registry: ModelRegistry, model_name: str
) -> tuple[ModelVersion | None, list[LineageDataset]]:
    """The production version and the deleted datasets it was trained or evaluated on."""
    version = registry.production_version(model_name)
    if version is None:
        return None, []
    return version, [item for item in registry.lineage(version).datasets if item.deleted]


def failure_description(version: ModelVersion, deleted: list[LineageDataset]) -> str:
    return (
        f"{version.ref} was trained on deleted data: "
        + "; ".join(tombstone_text(item) for item in deleted)
        + ". Retrain on data without it and promote the new version."
    )


def tombstone_text(item: LineageDataset) -> str:
    """`customers@a53488e6c1f0 (trained), deleted by dpo for GDPR request 17`."""
    snapshot = item.snapshot
    digest = (snapshot.digest or snapshot.id)[:12]
    return (
        f"{snapshot.name}@{digest} ({item.relation}), deleted by {snapshot.deleted_by} "
        f"for {snapshot.deletion_reason}"
    )


def registry_deleted_data_check(
    *, model_name: str, production: dg.AssetsDefinition, resource_key: str = "registry"
) -> dg.AssetChecksDefinition:
    """A blocking check on the production asset: fails while production was trained on
    deleted data, so nothing downstream runs on a model whose data had to be destroyed
    until a version trained without it is promoted."""

    @dg.asset_check(
        asset=production,
        name=CHECK_NAME,
        blocking=True,
        required_resource_keys={resource_key},
        description=f"The production {model_name} version was not trained or evaluated on "
        "data that has since been deleted.",
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        try:
            registry = getattr(context.resources, resource_key).get_registry()
            version, deleted = deleted_inputs(registry, model_name)
        except RegistryError as exc:
            raise as_failure(exc) from exc
        if version is None:
            return dg.AssetCheckResult(passed=True, description="no production version")
        if not deleted:
            return dg.AssetCheckResult(
                passed=True,
                description=f"{version.ref} was trained on live data",
                metadata={"registry/version_id": version.id},
            )
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=failure_description(version, deleted),
            metadata={
                "registry/version_id": version.id,
                "registry/deleted_snapshot_ids": [item.snapshot.id for item in deleted],
            },
        )

    return _check


def registry_deleted_data_sensor(
    *,
    model_name: str,
    production: dg.AssetsDefinition,
    retraining_job: Any,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds: int = 30,
    resource_key: str = "registry",
) -> dg.SensorDefinition:
    """When the production version was trained on data force-deleted since: record the
    failure of the `trained_on_live_data` check on production (in Dagster's event log,
    without a run) and request `retraining_job` once per production version and set of
    deleted snapshots. STOPPED unless `default_status` says otherwise."""
    production_key = to_asset_key(production)

    @dg.sensor(
        name=f"{identifier(model_name)}_deleted_data_sensor",
        job=retraining_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys={resource_key},
        description=f"Retrains {model_name} when its production version was trained on data "
        "that has since been deleted.",
    )
    def _deleted_data(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        registry: ModelRegistry = getattr(context.resources, resource_key).get_registry()
        version, deleted = deleted_inputs(registry, model_name)
        if version is None:
            return dg.SensorResult(skip_reason=f"no {model_name} version in production")
        if not deleted:
            return dg.SensorResult(skip_reason=f"{version.ref} was trained on live data")
        key = f"{version.id}:{','.join(sorted(item.snapshot.id for item in deleted))}"
        if context.cursor == key:
            return dg.SensorResult(
                skip_reason=f"retraining already requested for {version.ref}; waiting for a "
                "new version to be promoted"
            )
        description = failure_description(version, deleted)
        context.log.info(description)
        failed = dg.AssetCheckEvaluation(
            asset_key=production_key,
            check_name=CHECK_NAME,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=description,
            metadata={
                "registry/version_id": version.id,
                "registry/deleted_snapshot_ids": [item.snapshot.id for item in deleted],
            },
        )
        run = dg.RunRequest(
            job_name=retraining_job.name,
            run_key=f"deleted-data:{key}",
            tags={"registry/retrain_reason": f"{version.ref} was trained on deleted data"},
        )
        return dg.SensorResult(run_requests=[run], asset_events=[failed], cursor=key)

    return _deleted_data
