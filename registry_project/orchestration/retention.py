"""The retention schedule: a job that runs the registry's retention sweep
(`ModelRegistry.apply_retention`) and records what it deleted as asset observations on the
assets that made each item (a dataset snapshot's asset; a retired version's training asset).

The sweep's rules, and the re-checks that keep a version promoted meanwhile, are the
core's (core/ops/retention_ops.py); this module only schedules it and reports it.
"""

# No `from __future__ import annotations`: Dagster reads the real type hints of the op's
# `config` parameter (as in promotion.py).
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from registry_project.core.entities import RetentionItem, RetentionReport
from registry_project.core.errors import RegistryError
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration._common import as_failure

ACTOR = "dagster:retention"
# Observation metadata keys (the `registry/` prefix of metadata.py).
DELETED_BY = "registry/retention_deleted"
RULE = "registry/retention_rule"
WHY = "registry/retention_why"
DEPENDENTS = "registry/retention_dependents"
DATA_AGE_CHECK = "trained_on_recent_data"


class RetentionConfig(dg.Config):
    """`dry_run` lists what is due without deleting it (the run's log and metadata say what)."""

    dry_run: bool = False


def _asset_key(registry: ModelRegistry, item: RetentionItem) -> dg.AssetKey | None:
    """The asset that made the item, as the registry recorded it at write time."""
    if item.kind == "dataset":
        recorded = registry.get_dataset(item.subject_id).asset_key
    else:
        recorded = registry.get_version(item.subject_id).asset_key
    return dg.AssetKey.from_user_string(recorded) if recorded else None


def observations(registry: ModelRegistry, report: RetentionReport) -> list[dg.AssetObservation]:
    """One observation per deleted item whose asset is known."""
    found = []
    for item in report.done:
        key = _asset_key(registry, item)
        if key is None:
            continue
        found.append(
            dg.AssetObservation(
                asset_key=key,
                description=f"retention deleted {item.label}",
                metadata={
                    DELETED_BY: dg.MetadataValue.text(f"{item.kind} {item.label}"),
                    RULE: dg.MetadataValue.text(item.rule),
                    WHY: dg.MetadataValue.text(item.why),
                    DEPENDENTS: dg.MetadataValue.json(list(item.dependents)),
                },
            )
        )
    return found


def registry_retention_job(
    *, name: str = "registry_retention", resource_key: str = "registry"
) -> dg.JobDefinition:
    """A job of one op running the retention sweep with the `ModelRegistryResource`."""

    @dg.op(name=f"{name}_sweep", required_resource_keys={resource_key})
    def sweep(context: dg.OpExecutionContext, config: RetentionConfig) -> dict[str, Any]:
        registry = getattr(context.resources, resource_key).for_context(context)
        try:
            report = registry.apply_retention(dry_run=config.dry_run, actor=ACTOR)
            found = observations(registry, report)
        except RegistryError as exc:
            raise as_failure(exc) from exc
        for observation in found:
            context.log_event(observation)
        for item in report.due:
            context.log.info(f"{'due' if report.dry_run else 'deleted'}: {item.label} ({item.why})")
        for item in report.skipped:
            context.log.info(f"kept after all: {item.label} (protected since the plan)")
        return {
            "dry_run": report.dry_run,
            "due": len(report.due),
            "deleted": len(report.done),
            "skipped": len(report.skipped),
            "deleted_blobs": report.deleted_blobs,
        }

    @dg.job(name=name, description="Deletes what the registry's retention policies say is due.")
    def retention_job() -> None:
        sweep()

    return retention_job


def registry_retention_schedule(
    *,
    cron_schedule: str = "0 3 * * *",
    name: str = "registry_retention",
    resource_key: str = "registry",
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
) -> dg.ScheduleDefinition:
    """The retention sweep on a schedule (daily at 03:00 by default), STOPPED by default
    like every library schedule: start it in the UI, or pass `default_status`."""
    return dg.ScheduleDefinition(
        name=f"{name}_schedule",
        job=registry_retention_job(name=name, resource_key=resource_key),
        cron_schedule=cron_schedule,
        default_status=default_status,
    )


def registry_data_age_check(
    *,
    model_name: str,
    production: dg.AssetsDefinition,
    max_age: timedelta,
    resource_key: str = "registry",
) -> dg.AssetChecksDefinition:
    """A check on the production asset (a warning, not blocking): fails while the
    production version was trained on data snapshotted longer than `max_age` ago, the
    other half of staleness that the asset's freshness policy (its last promotion) cannot
    see. Pass the translator's `settings.production_max_age` to use one accepted age."""

    @dg.asset_check(
        asset=production,
        name=DATA_AGE_CHECK,
        required_resource_keys={resource_key},
        description=f"The production {model_name} version was trained on data at most "
        f"{max_age} old.",
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        try:
            registry = getattr(context.resources, resource_key).get_registry()
            version = registry.production_version(model_name)
            if version is None:
                return dg.AssetCheckResult(passed=True, description="no production version")
            trained = [
                d.snapshot for d in registry.lineage(version).datasets if d.relation == "trained"
            ]
        except RegistryError as exc:
            raise as_failure(exc) from exc
        if not trained:
            return dg.AssetCheckResult(
                passed=True, description=f"{version.ref} records no training data"
            )
        newest = max(snapshot.created_at for snapshot in trained)
        age = datetime.now(UTC) - newest
        metadata = {
            "registry/version_id": version.id,
            "registry/training_data_at": dg.MetadataValue.timestamp(newest),
        }
        if age <= max_age:
            return dg.AssetCheckResult(
                passed=True,
                description=f"{version.ref} was trained on data from {newest:%Y-%m-%d %H:%M} UTC",
                metadata=metadata,
            )
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{version.ref} was trained on data from {newest:%Y-%m-%d %H:%M} UTC, "
            f"{age.days} days old (more than {max_age}): retrain it on recent data.",
            metadata=metadata,
        )

    return _check
