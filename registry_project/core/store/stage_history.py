"""The stage history of model versions: every stage change (`stage_transitions`) and every
approval (`approvals`). The version row's current stage is `versions.set_stage`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import Approval, Stage, StageTransition
from registry_project.core.store.engine import dialect_insert
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.rows import transition_from_row
from registry_project.core.store.schema import PRODUCTION, approvals, stage_transitions

_INSERT_TRANSITION = PreparedStatement(stage_transitions.insert())


def record_transition(
    connection: Connection,
    *,
    version_id: str,
    model_name: str,
    version: int,
    from_stage: Stage | None,
    to_stage: Stage,
    actor: str,
    reason: str | None,
    at: datetime,
) -> None:
    _INSERT_TRANSITION.execute_later(
        connection,
        {
            "version_id": version_id,
            "model_name": model_name,
            "version": version,
            "from_stage": from_stage.value if from_stage else None,
            "to_stage": to_stage.value,
            "actor": actor,
            "reason": reason,
            "at": at,
        },
    )


def transitions(
    connection: Connection, *, version_id: str | None = None, model_name: str | None = None
) -> list[StageTransition]:
    query = sa.select(stage_transitions).order_by(stage_transitions.c.id)
    if version_id is not None:
        query = query.where(stage_transitions.c.version_id == version_id)
    if model_name is not None:
        query = query.where(stage_transitions.c.model_name == model_name)
    return [transition_from_row(row) for row in connection.execute(query)]


def previous_production_id(connection: Connection, name: str, current_id: str | None) -> str | None:
    """The version that most recently left production, other than the current one."""
    query = (
        sa.select(stage_transitions.c.version_id)
        .where(
            stage_transitions.c.model_name == name,
            stage_transitions.c.from_stage == PRODUCTION,
        )
        .order_by(stage_transitions.c.id.desc())
        .limit(1)
    )
    if current_id is not None:
        query = query.where(stage_transitions.c.version_id != current_id)
    return connection.execute(query).scalar_one_or_none()


# --- approvals -------------------------------------------------------------------------


def insert_approval(
    connection: Connection, version_id: str, actor: str, reason: str | None, at: datetime
) -> bool:
    result = connection.execute(
        dialect_insert(connection, approvals)
        .values(version_id=version_id, actor=actor, reason=reason, at=at)
        .on_conflict_do_nothing(index_elements=["version_id", "actor"])
        .returning(approvals.c.actor)
    )
    return result.first() is not None


def approvers(connection: Connection, version_id: str) -> list[str]:
    rows = connection.execute(
        sa.select(approvals.c.actor)
        .where(approvals.c.version_id == version_id)
        .order_by(approvals.c.at)
    )
    return [row[0] for row in rows]


def approval_records(connection: Connection, version_id: str) -> list[Approval]:
    """Who approved a version, why and when, oldest first."""
    rows = connection.execute(
        sa.select(approvals).where(approvals.c.version_id == version_id).order_by(approvals.c.at)
    )
    return [Approval(row.version_id, row.actor, row.reason, row.at) for row in rows]
