"""Changes made outside Dagster reach Dagster: a sensor that follows the registry's audit log.

A promotion, rollback or archive made through the CLI or the Python API is reported as a
runless materialization of the model's `<model>/production` asset that names the version
now serving, who changed it and why, and anchors the audit chain (the event's sequence
number and hash, and the head of the chain) in Dagster's event log. The assets downstream
of production (the scores) are then re-materialized on the new version.

Changes made by a Dagster run of the production asset itself are not reported again: that
run materializes the asset, and its audit event records the run and the asset key.
"""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from registry_project.core.entities import AuditEvent, Stage
from registry_project.core.errors import NotFoundError
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration import metadata as md
from registry_project.orchestration._common import AssetRef, to_asset_key
from registry_project.orchestration.translator import identifier

# Audit events read per tick at most; a backlog is worked off over the next ticks.
MAX_EVENTS_PER_TICK = 500
# Actions that change which version serves. The `...:archive_previous` events of promote
# and rollback are the other half of the same change (same transaction) and are skipped.
PROMOTING_ACTIONS = ("promote", "rollback")
DATA_VERSION_TAG = "dagster/data_version"
NO_PRODUCTION = "none"  # the production asset's data version when nothing serves


@dataclass(frozen=True)
class ProductionChange:
    """One audit event that changed which version of a model serves."""

    event: AuditEvent
    serving_id: str | None  # None: the production version was archived, nothing serves

    @property
    def model_name(self) -> str:
        assert self.event.model_name is not None
        return self.event.model_name


def production_change(event: AuditEvent) -> ProductionChange | None:
    """The change `event` made to production, or None if it made none."""
    if event.subject_type != "model_version" or event.model_name is None:
        return None
    if event.action in PROMOTING_ACTIONS:
        return ProductionChange(event, event.subject_id)
    before = (event.before or {}).get("stage")
    if event.action == "transition" and before == Stage.PRODUCTION.value:
        return ProductionChange(event, None)  # taken out of production, nothing replaces it
    return None


def made_by_production_asset(event: AuditEvent, production_key: dg.AssetKey) -> bool:
    """A Dagster run of the production asset made it: that run materializes the asset."""
    after = event.after or {}
    return bool(after.get("dagster_run_id")) and (
        after.get("asset_key") == production_key.to_user_string()
    )


def _describe(change: ProductionChange, serving_ref: str | None) -> str:
    event = change.event
    verb = {"promote": "promoted", "rollback": "rolled back to"}.get(event.action, "archived")
    subject = serving_ref if change.serving_id is not None else f"{change.model_name} production"
    why = f": {event.reason}" if event.reason else ""
    outcome = "" if change.serving_id is not None else "; no version serves now"
    return f"{verb} {subject} outside Dagster by {event.actor}{why}{outcome}"


def change_materialization(
    registry: ModelRegistry,
    change: ProductionChange,
    production_key: dg.AssetKey,
    head: Mapping[str, Any],
) -> dg.AssetMaterialization:
    """The `<model>/production` materialization that reports an out-of-band change."""
    event = change.event
    metadata: dict[str, Any] = {
        md.ACTION: dg.MetadataValue.text(event.action),
        md.ACTOR: dg.MetadataValue.text(event.actor),
        md.REASON: dg.MetadataValue.text(event.reason or ""),
        md.AUDIT_SEQ: dg.MetadataValue.int(event.seq),
        md.AUDIT_HASH: dg.MetadataValue.text(event.hash),
        **head,
    }
    serving_ref = None
    if change.serving_id is not None:
        try:
            version = registry.get_version(change.serving_id)
        except NotFoundError:
            version = None
        if version is not None:
            serving_ref = version.ref
            metadata.update(md.version_metadata(version))
            # It served after this event, even if a later event in the same tick replaced it.
            metadata[md.STAGE] = dg.MetadataValue.text(Stage.PRODUCTION.value)
    description = _describe(change, serving_ref or change.serving_id)
    metadata[md.STATUS] = dg.MetadataValue.text(description)
    return dg.AssetMaterialization(
        asset_key=production_key,
        description=description,
        metadata=metadata,
        # The same data version the production asset's own runs record: the serving id.
        tags={DATA_VERSION_TAG: change.serving_id or NO_PRODUCTION},
    )


Rescore = dg.AssetSelection | Sequence[AssetRef]


def registry_sync_sensor(
    *,
    model_name: str,
    production: AssetRef,
    rescore: Rescore | None = None,
    name: str | None = None,
    minimum_interval_seconds: int = 30,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    resource_key: str = "registry",
) -> dg.SensorDefinition:
    """A sensor that reports `model_name`'s production changes made outside Dagster (CLI,
    Python API) on its `production` asset. `build_model_pipeline` builds one per model
    (`ModelPipeline.sync_sensor`); build it yourself for a production asset of your own.

    It reads the registry's audit log from a cursor (the last audit sequence number it
    read; on its first tick it starts at the current head, so history before it was turned
    on is not replayed). Each promotion, rollback or archive becomes a runless
    materialization of the production asset with the version now serving
    (`registry/version`, `registry/version_id`, ...), `registry/actor`, `registry/reason`,
    `registry/action`, the audit event's `registry/audit_seq` and `registry/audit_hash`,
    and the chain's head (`registry/audit_head_seq`, `registry/audit_head_hash`). Changes
    that a run of the production asset made are skipped: that run reported them.

    `rescore` selects the assets to re-materialize when a version serves after the change
    (for example the model's scores; an `AssetSelection` or asset keys): one run per tick
    that saw a change. With no `rescore`, nothing is re-run.

    Stopped by default, as Dagster's own sensors are; pass
    `default_status=dg.DefaultSensorStatus.RUNNING` or turn it on in the UI.

    Example::

        sync = registry_sync_sensor(
            model_name="cancer", production=cancer_production, rescore=[cancer_report]
        )
    """
    production_key = to_asset_key(production)
    target: dg.AssetSelection | None = None
    if isinstance(rescore, dg.AssetSelection):
        target = rescore
    elif rescore:
        target = dg.AssetSelection.assets(*(to_asset_key(ref) for ref in rescore))

    @dg.sensor(
        name=name or f"{identifier(model_name)}_registry_sync_sensor",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys={resource_key},
        target=target,
        description=f"Reports {model_name} promotions, rollbacks and archives made outside "
        f"Dagster on {production_key.to_user_string()}, and rescores on the new version.",
    )
    def _sync(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        registry: ModelRegistry = getattr(context.resources, resource_key).get_registry()
        if context.cursor is None:
            head = registry.audit_log(newest_first=True, limit=1)
            start = head[0].seq if head else 0
            return dg.SensorResult(
                skip_reason=f"following the registry's audit log from event #{start}",
                cursor=str(start),
            )
        try:
            after = int(context.cursor)
        except ValueError:  # edited by hand: start over from the head, as on a first tick
            head = registry.audit_log(newest_first=True, limit=1)
            after = head[0].seq if head else 0
        events = registry.audit_log(model=model_name, after_seq=after, limit=MAX_EVENTS_PER_TICK)
        if not events:
            return dg.SensorResult(
                skip_reason=f"no {model_name} registry changes since the last tick",
                cursor=str(after),
            )
        head = md.audit_head_metadata(registry)
        materializations: list[dg.AssetMaterialization] = []
        latest: ProductionChange | None = None
        for event in events:
            change = production_change(event)
            if change is None or change.model_name != model_name:
                continue
            if made_by_production_asset(event, production_key):
                context.log.info(f"#{event.seq} was made by a Dagster run: already reported")
                continue
            materialization = change_materialization(registry, change, production_key, head)
            context.log.info(f"#{event.seq}: {materialization.description}")
            materializations.append(materialization)
            latest = change
        cursor = str(events[-1].seq)
        if not materializations:
            return dg.SensorResult(
                skip_reason=f"{len(events)} {model_name} registry change(s), none to "
                f"{production_key.to_user_string()} from outside Dagster",
                cursor=cursor,
            )
        runs = []
        if latest is not None and latest.serving_id is not None and target is not None:
            selected = _rescored_keys(context, target)
            if selected is None or selected:
                runs.append(
                    dg.RunRequest(
                        run_key=f"registry-sync:{model_name}:{latest.event.seq}",
                        asset_selection=selected,
                        tags={"registry/sync_audit_seq": str(latest.event.seq)},
                    )
                )
        return dg.SensorResult(asset_events=materializations, run_requests=runs, cursor=cursor)

    return _sync


def _rescored_keys(
    context: dg.SensorEvaluationContext, target: dg.AssetSelection
) -> list[dg.AssetKey] | None:
    """The keys `target` selects in the code location (an empty list: nothing to re-run),
    or None when the context has no definitions to resolve it (the whole target runs)."""
    repository = context.repository_def
    if repository is None:
        return None
    return sorted(target.resolve(repository.asset_graph), key=lambda key: key.to_user_string())
