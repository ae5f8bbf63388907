"""The rows of one imported MLflow item, written inside its version's transaction
(`ops/import_ops.py`): the version's stage and aliases, and its source run with the run's
dataset references, each with its import record and `import` audit event, unless an
earlier import already brought it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core import mlflow_import as mapping
from registry_project.core.entities import AuditAction, ModelVersion, RunInput, Stage
from registry_project.core.mlflow_source import MlflowSource, MlflowVersion
from registry_project.core.ops import governance_ops
from registry_project.core.store import aliases as alias_store
from registry_project.core.store import audit
from registry_project.core.store import dataset_snapshots as dataset_store
from registry_project.core.store import imports as import_store
from registry_project.core.store import runs as run_store
from registry_project.core.store import stage_history as history_store
from registry_project.core.store import step_metrics as step_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft


def record_import(
    connection: Connection,
    source: MlflowSource,
    *,
    kind: str,
    external_id: str,
    local_id: str,
    details: dict[str, Any],
    who: str,
    at: Any,
    subject_type: str,
    shown: Mapping[str, Any],
    model_name: str | None = None,
    dataset_name: str | None = None,
) -> None:
    """What every imported item leaves in the same transaction: its import record (what it
    was in MLflow, which makes a second import skip it) and its `import` audit event
    (`shown`, after the source, is the event's `after`)."""
    import_store.record(
        connection,
        source=source.source_id,
        kind=kind,
        external_id=external_id,
        local_id=local_id,
        details=details,
        actor=who,
        at=at,
    )
    audit.append_event(
        connection,
        EventDraft(
            actor=who,
            action=AuditAction.IMPORT,
            subject_type=subject_type,
            subject_id=local_id,
            model_name=model_name,
            dataset_name=dataset_name,
            after={"source": source.source_id, **shown},
        ),
    )


def python_class(flavors: list[str], flavor: str) -> str:
    # Recorded for people: which of MLflow's flavors the directory holds.
    named = ",".join(flavors) or flavor
    return f"mlflow:{named}"[:512]


def import_stage(
    connection: Connection,
    entity: ModelVersion,
    stage: Stage,
    version: MlflowVersion,
    who: str,
    notes: list[str],
) -> Stage:
    if stage is Stage.EXPERIMENT:
        return stage
    if stage is Stage.PRODUCTION:
        current = version_store.fetch_production(connection, entity.model_name)
        if current is not None:
            notes.append(
                f"Production in MLflow, imported archived: {current.ref} is production here"
            )
            stage = Stage.ARCHIVED
    if stage in (Stage.STAGING, Stage.PRODUCTION):
        governance_ops.check_stage_entry(connection, entity, stage)
    version_store.set_stage(connection, entity.id, stage, version.updated_at)
    history_store.record_transition(
        connection,
        version_id=entity.id,
        model_name=entity.model_name,
        version=entity.version,
        from_stage=Stage.EXPERIMENT,
        to_stage=stage,
        actor=who,
        reason=f"imported from MLflow (stage {version.stage})",
        at=version.updated_at,
    )
    return stage


def import_alias(
    connection: Connection, entity: ModelVersion, alias: str, who: str, at: Any
) -> None:
    governance_ops.check_alias_entry(connection, entity, alias)
    current = alias_store.fetch_alias(connection, entity.model_name, alias)
    before = None
    if current is not None:
        moved = version_store.fetch_by_id(connection, current.version_id)
        before = moved.version if moved is not None else None
    alias_store.put_alias(
        connection,
        entity.model_name,
        alias,
        entity.id,
        actor=who,
        at=at,
        exists=current is not None,
    )
    alias_store.record_change(
        connection,
        entity.model_name,
        alias,
        from_version=before,
        to_version=entity.version,
        actor=who,
        reason="imported from MLflow",
        at=at,
    )


def import_run(connection: Connection, source: MlflowSource, run: Any, who: str, at: Any) -> str:
    """The version's source run (and its dataset references), unless imported before."""
    existing = import_store.local_id(connection, source.source_id, "run", run.run_id)
    if existing is not None:
        return existing
    inputs = []
    for dataset in run.datasets:
        dataset_id = import_dataset(connection, source, run, dataset, who, at)
        inputs.append(RunInput(dataset_id, mapping.role_of(dataset)))
    entity, params_json = mapping.training_run(run, _unique(inputs))
    metrics, _ = mapping.finite_metrics(run)
    run_store.insert_run(connection, entity, params_json=params_json)
    if entity.ended_at is not None:  # a new run's row has no end; MLflow's ended
        run_store.finish_run(
            connection,
            entity.id,
            status=entity.status.value,
            ended_at=entity.ended_at,
            error=entity.error,
        )
    # Every logged value (a loss curve stays a curve), then MLflow's latest values, which
    # are what the run's metrics say (the history's last point by step and time).
    step_store.insert_points(connection, entity.id, mapping.metric_points(run))
    run_store.upsert_run_metrics(
        connection, entity.id, metrics, entity.ended_at or entity.started_at
    )
    user_tags = mapping.run_tags(run)
    if user_tags:
        run_store.upsert_run_tags(connection, entity.id, user_tags)
    details = {
        "mlflow_run_id": run.run_id,
        "mlflow_experiment_id": run.experiment_id,
        "mlflow_status": run.status,
        "tags": dict(run.tags),
        "metric_history_lengths": dict(run.metric_steps),
    }
    record_import(
        connection,
        source,
        kind="run",
        external_id=run.run_id,
        local_id=entity.id,
        details=details,
        who=who,
        at=at,
        subject_type="run",
        shown={"name": entity.name, **details},
    )
    return entity.id


def _unique(inputs: list[RunInput]) -> list[RunInput]:
    seen, unique = set(), []
    for item in inputs:
        if item.dataset_id not in seen:
            seen.add(item.dataset_id)
            unique.append(item)
    return unique


def import_dataset(
    connection: Connection, source: MlflowSource, run: Any, dataset: Any, who: str, at: Any
) -> str:
    key = mapping.dataset_key(dataset)
    existing = import_store.local_id(connection, source.source_id, "dataset", key)
    if existing is not None:
        return existing
    snapshot = mapping.dataset_reference(dataset, run, who, at)
    dataset_store.insert_dataset(connection, snapshot)
    details = {
        "mlflow_name": dataset.name,
        "mlflow_digest": dataset.digest,
        "mlflow_source_type": dataset.source_type,
        "mlflow_source": dataset.source_uri,
        "first_run": run.run_id,
    }
    record_import(
        connection,
        source,
        kind="dataset",
        external_id=key,
        local_id=snapshot.id,
        details=details,
        who=who,
        at=at,
        subject_type="dataset",
        shown={"uri": snapshot.uri, **details},
        dataset_name=snapshot.name,
    )
    return snapshot.id
