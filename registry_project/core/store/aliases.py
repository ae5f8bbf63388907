"""Aliases (migration 0005): named pointers `model@alias` to one version, and every change
of each. Callers hold the model row lock (`versions.lock_model`) while they change one, so
a compare-and-swap reads and writes the same committed state."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import AliasChange, ModelAlias
from registry_project.core.store.schema import alias_changes, model_aliases, model_versions

_A = model_aliases.c


def _select() -> sa.Select:
    return sa.select(
        _A.model_name, _A.alias, _A.version_id, model_versions.c.version, _A.set_at, _A.set_by
    ).select_from(model_aliases.join(model_versions, model_versions.c.id == _A.version_id))


def _alias(row: sa.Row) -> ModelAlias:
    return ModelAlias(
        row.model_name, row.alias, row.version_id, row.version, row.set_at, row.set_by
    )


def fetch_alias(connection: Connection, model_name: str, alias: str) -> ModelAlias | None:
    row = connection.execute(
        _select().where(_A.model_name == model_name, _A.alias == alias)
    ).first()
    return _alias(row) if row is not None else None


def resolve(connection: Connection, model_name: str, alias: str) -> str | None:
    """The version id `model_name@alias` names, if any."""
    return connection.execute(
        sa.select(_A.version_id).where(_A.model_name == model_name, _A.alias == alias)
    ).scalar()


def aliases_of_model(connection: Connection, model_name: str) -> list[ModelAlias]:
    rows = connection.execute(_select().where(_A.model_name == model_name).order_by(_A.alias))
    return [_alias(row) for row in rows]


def aliases_of_version(connection: Connection, version_id: str) -> list[str]:
    return list(
        connection.execute(
            sa.select(_A.alias).where(_A.version_id == version_id).order_by(_A.alias)
        ).scalars()
    )


def put_alias(
    connection: Connection,
    model_name: str,
    alias: str,
    version_id: str,
    *,
    actor: str,
    at: datetime,
    exists: bool,
) -> None:
    values = {"version_id": version_id, "set_at": at, "set_by": actor}
    if exists:
        connection.execute(
            model_aliases.update()
            .where(_A.model_name == model_name, _A.alias == alias)
            .values(values)
        )
    else:
        # A concurrent insert of the same alias fails on the primary key: a conflict.
        connection.execute(
            model_aliases.insert().values(model_name=model_name, alias=alias, **values)
        )


def delete_alias(connection: Connection, model_name: str, alias: str) -> None:
    connection.execute(model_aliases.delete().where(_A.model_name == model_name, _A.alias == alias))


def record_change(
    connection: Connection,
    model_name: str,
    alias: str,
    *,
    from_version: int | None,
    to_version: int | None,
    actor: str,
    reason: str | None,
    at: datetime,
) -> None:
    connection.execute(
        alias_changes.insert().values(
            model_name=model_name,
            alias=alias,
            from_version=from_version,
            to_version=to_version,
            actor=actor,
            reason=reason,
            at=at,
        )
    )


def changes(connection: Connection, model_name: str, alias: str | None) -> list[AliasChange]:
    c = alias_changes.c
    query = sa.select(alias_changes).where(c.model_name == model_name)
    if alias is not None:
        query = query.where(c.alias == alias)
    return [
        AliasChange(
            row.model_name,
            row.alias,
            row.from_version,
            row.to_version,
            row.actor,
            row.reason,
            row.at,
        )
        for row in connection.execute(query.order_by(c.id))
    ]
