"""Retention policies and the tombstones of retired artifacts (migration 0006)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import (
    ArtifactRetirement,
    RetentionPolicy,
    RetentionSubject,
    Stage,
)
from registry_project.core.store.schema import (
    artifact_retirements,
    model_versions,
    retention_policies,
    stage_transitions,
)


def _policy(row: sa.Row) -> RetentionPolicy:
    return RetentionPolicy(
        subject=RetentionSubject(row.subject_type),
        name=row.subject_name,
        keep_days=row.keep_days,
        keep_last=row.keep_last,
        rollback_days=row.rollback_days,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        reason=row.reason,
    )


def fetch_policy(
    connection: Connection, subject: RetentionSubject, name: str
) -> RetentionPolicy | None:
    row = connection.execute(
        sa.select(retention_policies).where(
            retention_policies.c.subject_type == subject.value,
            retention_policies.c.subject_name == name,
        )
    ).first()
    return None if row is None else _policy(row)


def list_policies(connection: Connection) -> list[RetentionPolicy]:
    query = sa.select(retention_policies).order_by(
        retention_policies.c.subject_type, retention_policies.c.subject_name
    )
    return [_policy(row) for row in connection.execute(query)]


def save_policy(connection: Connection, policy: RetentionPolicy) -> None:
    values = {
        "keep_days": policy.keep_days,
        "keep_last": policy.keep_last,
        "rollback_days": policy.rollback_days,
        "updated_at": policy.updated_at,
        "updated_by": policy.updated_by,
        "reason": policy.reason,
    }
    key = (
        retention_policies.c.subject_type == policy.subject.value,
        retention_policies.c.subject_name == policy.name,
    )
    if connection.execute(retention_policies.update().where(*key).values(values)).rowcount == 0:
        connection.execute(
            retention_policies.insert().values(
                subject_type=policy.subject.value, subject_name=policy.name, **values
            )
        )


def delete_policy(connection: Connection, subject: RetentionSubject, name: str) -> None:
    connection.execute(
        retention_policies.delete().where(
            retention_policies.c.subject_type == subject.value,
            retention_policies.c.subject_name == name,
        )
    )


def _retirement_query() -> sa.Select:
    return sa.select(artifact_retirements, model_versions.c.version).join(
        model_versions, model_versions.c.id == artifact_retirements.c.version_id
    )


def _retirement(row: sa.Row) -> ArtifactRetirement:
    return ArtifactRetirement(
        version_id=row.version_id,
        model_name=row.model_name,
        version=row.version,
        digest=row.digest,
        retired_at=row.retired_at,
        retired_by=row.retired_by,
        rule=row.rule,
        reason=row.reason,
    )


def fetch_retirement(connection: Connection, version_id: str) -> ArtifactRetirement | None:
    row = connection.execute(
        _retirement_query().where(artifact_retirements.c.version_id == version_id)
    ).first()
    return None if row is None else _retirement(row)


def retirements_of_model(connection: Connection, model_name: str) -> list[ArtifactRetirement]:
    query = (
        _retirement_query()
        .where(artifact_retirements.c.model_name == model_name)
        .order_by(model_versions.c.version)
    )
    return [_retirement(row) for row in connection.execute(query)]


def retired_ids(connection: Connection, version_ids: Iterable[str]) -> set[str]:
    wanted = list(version_ids)
    if not wanted:
        return set()
    query = sa.select(artifact_retirements.c.version_id).where(
        artifact_retirements.c.version_id.in_(wanted)
    )
    return {row[0] for row in connection.execute(query)}


def insert_retirement(connection: Connection, retirement: ArtifactRetirement) -> None:
    connection.execute(
        artifact_retirements.insert().values(
            version_id=retirement.version_id,
            model_name=retirement.model_name,
            digest=retirement.digest,
            retired_at=retirement.retired_at,
            retired_by=retirement.retired_by,
            rule=retirement.rule,
            reason=retirement.reason,
        )
    )


def not_retired(version_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """A condition: the version whose id is `version_id` still has its artifact bytes."""
    return ~sa.exists().where(artifact_retirements.c.version_id == version_id)


def versions_newest_first(connection: Connection, model_name: str) -> list[sa.Row]:
    """The model's version rows, newest first (for `versions.to_versions`)."""
    query = (
        sa.select(model_versions)
        .where(model_versions.c.model_name == model_name)
        .order_by(model_versions.c.version.desc())
    )
    return list(connection.execute(query))


def left_production_at(connection: Connection, version_id: str) -> datetime | None:
    """When the version last left production (None: never was in production)."""
    query = sa.select(sa.func.max(stage_transitions.c.at)).where(
        stage_transitions.c.version_id == version_id,
        stage_transitions.c.from_stage == Stage.PRODUCTION.value,
    )
    return connection.execute(query).scalar_one_or_none()
