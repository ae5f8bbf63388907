"""Row -> entity conversion: the only place that knows both column names and dataclasses."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from registry_project.core import entities
from registry_project.core.entities import (
    DatasetKind,
    InputRole,
    ModelVersion,
    RunStatus,
    Stage,
    frozen_mapping,
)
from registry_project.core.validation import canonical_json

if TYPE_CHECKING:
    # Annotations only: the CLI's SQLAlchemy-free read path (sqlite_reads.py) builds its
    # versions here too, without loading SQLAlchemy.
    from sqlalchemy.engine import Row

    from registry_project.core.entities import (
        AuditEvent,
        Column,
        DatasetSnapshot,
        Model,
        StageTransition,
        TrainingRun,
    )

# Records other than ModelVersion (a run's, a dataset's, a column of a signature, a stage
# transition) are read as attributes of `entities` when one is built: importing their
# modules creates a dozen dataclasses, ~0.03 s of `registry versions` (sqlite_reads.py),
# which builds none of them for versions without a signature (issue #18).


def columns_to_json(columns: Sequence[Column]) -> str:
    return canonical_json([[column.name, column.type] for column in columns])


def columns_from_json(text: str | None) -> tuple[Column, ...]:
    if not text:
        return ()
    return tuple(entities.Column(name, type_) for name, type_ in json.loads(text))


def model_from_values(m: Mapping[str, Any]) -> Model:
    """A model from its row's values and `production_version`, its production version's
    number (or None)."""
    return entities.Model(
        name=m["name"],
        created_at=m["created_at"],
        created_by=m["created_by"],
        latest_version=m["last_version"],
        production_version=m["production_version"],
        description=m["description"],
    )


def event_from_values(values: Mapping[str, Any]) -> AuditEvent:
    """An audit event from its column values (a row, or what was just appended); a
    payload that is not a JSON object is shown, never dropped."""
    return entities.AuditEvent(
        seq=values["seq"],
        id=values["event_id"],
        at=values["at"],
        actor=values["actor"],
        action=values["action"],
        subject_type=values["subject_type"],
        subject_id=values["subject_id"],
        model_name=values["model_name"],
        dataset_name=values["dataset_name"],
        before=_loads(values["before_json"]),
        after=_loads(values["after_json"]),
        reason=values["reason"],
        prev_hash=values["prev_hash"],
        hash=values["hash"],
    )


def _loads(text: str | None) -> Mapping[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"unreadable": text}
    return value if isinstance(value, dict) else {"value": value}


def dataset_from_row(row: Row[Any]) -> DatasetSnapshot:
    m = row._mapping
    return entities.DatasetSnapshot(
        id=m["id"],
        name=m["name"],
        kind=DatasetKind(m["kind"]),
        digest=m["digest"],
        uri=m["uri"],
        size_bytes=m["size_bytes"],
        row_count=m["row_count"],
        columns=columns_from_json(m["columns_json"]),
        created_at=m["created_at"],
        created_by=m["created_by"],
        version_id=m["version_id"],
        etag=m["etag"],
        expires_at=m["expires_at"],
        dagster_run_id=m["dagster_run_id"],
        asset_key=m["asset_key"],
        deleted_at=m["deleted_at"],
        deleted_by=m["deleted_by"],
        deletion_reason=m["deletion_reason"],
    )


def dataset_values(snapshot: DatasetSnapshot) -> dict[str, Any]:
    """A new snapshot or reference as the column values of its row."""
    return {
        "id": snapshot.id,
        "name": snapshot.name,
        "kind": snapshot.kind.value,
        "digest": snapshot.digest,
        "uri": snapshot.uri,
        "version_id": snapshot.version_id,
        "etag": snapshot.etag,
        "size_bytes": snapshot.size_bytes,
        "row_count": snapshot.row_count,
        "columns_json": columns_to_json(snapshot.columns),
        "created_at": snapshot.created_at,
        "created_by": snapshot.created_by,
        "expires_at": snapshot.expires_at,
        "dagster_run_id": snapshot.dagster_run_id,
        "asset_key": snapshot.asset_key,
    }


def version_values(version: ModelVersion) -> dict[str, Any]:
    """A new version as the column values of its row (its metrics live in their own table)."""
    signature = version.signature
    return {
        "id": version.id,
        "model_name": version.model_name,
        "version": version.version,
        "stage": version.stage.value,
        "flavor": version.flavor,
        "python_class": version.python_class,
        "artifact_digest": version.artifact_digest,
        "artifact_size": version.artifact_size,
        "signature_json": columns_to_json(signature) if signature is not None else None,
        "run_id": version.run_id,
        "created_at": version.created_at,
        "created_by": version.created_by,
        "stage_changed_at": version.stage_changed_at,
        "description": version.description,
        "trained_on_deleted_data": version.trained_on_deleted_data,
        "dagster_run_id": version.dagster_run_id,
        "asset_key": version.asset_key,
    }


def run_values(run: TrainingRun, params_json: str) -> dict[str, Any]:
    """A new run as the column values of its row; code and environment columns only when
    they were captured (the row's defaults otherwise)."""
    values: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "status": run.status.value,
        "params_json": params_json,
        "started_at": run.started_at,
        "created_by": run.created_by,
        "dagster_run_id": run.dagster_run_id,
        "asset_key": run.asset_key,
        "experiment": run.experiment or run.name,
    }
    environment = run.environment
    if environment is not None:
        code = run.code
        values.update(
            code_commit=code.commit,
            code_dirty=code.dirty,
            code_remote=code.remote,
            code_branch=code.branch,
            python_version=environment.python_version,
            platform=environment.platform,
            packages_digest=environment.packages_digest,
            package_count=environment.package_count,
        )
    return values


def version_from_row(row: Row[Any], metrics: Mapping[str, float] | None = None) -> ModelVersion:
    return version_from_values(row._mapping, metrics)


def version_from_values(
    m: Mapping[str, Any], metrics: Mapping[str, float] | None = None
) -> ModelVersion:
    """A version from its column values (a row, or what was just inserted)."""
    signature = columns_from_json(m["signature_json"]) if m["signature_json"] else None
    return ModelVersion(
        id=m["id"],
        model_name=m["model_name"],
        version=m["version"],
        stage=Stage(m["stage"]),
        flavor=m["flavor"],
        python_class=m["python_class"],
        artifact_digest=m["artifact_digest"],
        artifact_size=m["artifact_size"],
        created_at=m["created_at"],
        created_by=m["created_by"],
        stage_changed_at=m["stage_changed_at"],
        run_id=m["run_id"],
        metrics=frozen_mapping(metrics),
        signature=signature,
        description=m["description"],
        trained_on_deleted_data=bool(m["trained_on_deleted_data"]),
        dagster_run_id=m["dagster_run_id"],
        asset_key=m["asset_key"],
    )


def run_from_row(
    row: Row[Any],
    *,
    metrics: Mapping[str, float],
    inputs: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, str, int]],
    tags: Mapping[str, str] | None = None,
) -> TrainingRun:
    m = row._mapping
    environment = None
    if m["python_version"] is not None:
        environment = entities.EnvironmentInfo(
            python_version=m["python_version"],
            platform=m["platform"] or "",
            packages_digest=m["packages_digest"],
            package_count=m["package_count"] or 0,
            files=tuple(
                entities.EnvironmentFile(path, digest, size) for path, digest, size in files
            ),
        )
    return entities.TrainingRun(
        id=m["id"],
        name=m["name"],
        status=RunStatus(m["status"]),
        params=frozen_mapping(json.loads(m["params_json"])),
        metrics=frozen_mapping(metrics),
        inputs=tuple(entities.RunInput(dataset_id, InputRole(role)) for dataset_id, role in inputs),
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        created_by=m["created_by"],
        code=entities.CodeVersion(
            commit=m["code_commit"],
            dirty=m["code_dirty"],
            remote=m["code_remote"],
            branch=m["code_branch"],
        ),
        environment=environment,
        error=m["error"],
        dagster_run_id=m["dagster_run_id"],
        asset_key=m["asset_key"],
        experiment=m["experiment"] or m["name"],
        tags=frozen_mapping(tags),
    )


def transition_from_row(row: Row[Any]) -> StageTransition:
    m = row._mapping
    return entities.StageTransition(
        version_id=m["version_id"],
        model_name=m["model_name"],
        version=m["version"],
        from_stage=Stage(m["from_stage"]) if m["from_stage"] else None,
        to_stage=Stage(m["to_stage"]),
        actor=m["actor"],
        reason=m["reason"],
        at=m["at"],
    )
