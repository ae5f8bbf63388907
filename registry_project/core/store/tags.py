"""Tags (migration 0005): key/value labels on models and on versions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import Tag
from registry_project.core.store.schema import model_tags, model_versions, version_tags


def fetch_value(
    connection: Connection, model_name: str, version_id: str | None, key: str
) -> str | None:
    if version_id is None:
        query = sa.select(model_tags.c.value).where(
            model_tags.c.model_name == model_name, model_tags.c.key == key
        )
    else:
        query = sa.select(version_tags.c.value).where(
            version_tags.c.version_id == version_id, version_tags.c.key == key
        )
    return connection.execute(query).scalar()


def put_tag(
    connection: Connection,
    model_name: str,
    version_id: str | None,
    key: str,
    value: str,
    *,
    actor: str,
    at: datetime,
    exists: bool,
) -> None:
    values = {"value": value, "set_at": at, "set_by": actor}
    if version_id is None:
        table, where = model_tags, (model_tags.c.model_name == model_name)
        identity = {"model_name": model_name}
    else:
        table, where = version_tags, (version_tags.c.version_id == version_id)
        identity = {"version_id": version_id, "model_name": model_name}
    if exists:
        connection.execute(table.update().where(where, table.c.key == key).values(values))
    else:
        connection.execute(table.insert().values(key=key, **identity, **values))


def delete_tag(connection: Connection, model_name: str, version_id: str | None, key: str) -> None:
    if version_id is None:
        connection.execute(
            model_tags.delete().where(
                model_tags.c.model_name == model_name, model_tags.c.key == key
            )
        )
    else:
        connection.execute(
            version_tags.delete().where(
                version_tags.c.version_id == version_id, version_tags.c.key == key
            )
        )


def model_tags_of(connection: Connection, model_name: str) -> list[Tag]:
    rows = connection.execute(
        sa.select(model_tags)
        .where(model_tags.c.model_name == model_name)
        .order_by(model_tags.c.key)
    )
    return [Tag(r.model_name, None, r.key, r.value, r.set_at, r.set_by) for r in rows]


def version_tags_of(connection: Connection, version_id: str) -> list[Tag]:
    rows = connection.execute(
        sa.select(version_tags, model_versions.c.version)
        .select_from(
            version_tags.join(model_versions, model_versions.c.id == version_tags.c.version_id)
        )
        .where(version_tags.c.version_id == version_id)
        .order_by(version_tags.c.key)
    )
    return [Tag(r.model_name, r.version, r.key, r.value, r.set_at, r.set_by) for r in rows]
