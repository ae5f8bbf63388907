"""Deletion closes the loop: a blocking asset check on `<model>/production` that fails while
the production version was trained (or evaluated) on data that has since been
force-deleted, naming each tombstone."""

# No `from __future__ import annotations`: Dagster reads the check's real type hints.

import dagster as dg

from registry_project.core.entities import LineageDataset
from registry_project.core.errors import RegistryError
from registry_project.orchestration._common import as_failure

CHECK_NAME = "trained_on_live_data"


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
            version = registry.production_version(model_name)
            if version is None:
                return dg.AssetCheckResult(passed=True, description="no production version")
            deleted = [item for item in registry.lineage(version).datasets if item.deleted]
        except RegistryError as exc:
            raise as_failure(exc) from exc
        if not deleted:
            return dg.AssetCheckResult(
                passed=True,
                description=f"{version.ref} was trained on live data",
                metadata={"registry/version_id": version.id},
            )
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{version.ref} was trained on deleted data: "
            + "; ".join(tombstone_text(item) for item in deleted)
            + ". Retrain on data without it and promote the new version.",
            metadata={
                "registry/version_id": version.id,
                "registry/deleted_snapshot_ids": [item.snapshot.id for item in deleted],
            },
        )

    return _check
