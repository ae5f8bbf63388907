"""Import provenance (migration 0007): which item of another registry became which record.

A row per imported item, keyed by (source, kind, external id): the key a second import
looks up to skip what is already here, and the conflict a concurrent import hits instead
of importing the same item twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.store.schema import imported_items, models

_I = imported_items.c


def local_id(connection: Connection, source: str, kind: str, external_id: str) -> str | None:
    """The record `external_id` of `source` became, or None when it was never imported."""
    return connection.execute(
        sa.select(_I.local_id).where(
            _I.source == source, _I.kind == kind, _I.external_id == external_id
        )
    ).scalar()


def imported_ids(connection: Connection, source: str, kind: str) -> dict[str, str]:
    """Every imported item of one kind from `source`: external id -> local id."""
    rows = connection.execute(
        sa.select(_I.external_id, _I.local_id).where(_I.source == source, _I.kind == kind)
    )
    return {row.external_id: row.local_id for row in rows}


def record(
    connection: Connection,
    *,
    source: str,
    kind: str,
    external_id: str,
    local_id: str,
    details: Mapping[str, Any],
    actor: str,
    at: datetime,
) -> None:
    connection.execute(
        imported_items.insert().values(
            source=source,
            kind=kind,
            external_id=external_id,
            local_id=local_id,
            details_json=json.dumps(details, sort_keys=True, separators=(",", ":")),
            imported_at=at,
            imported_by=actor,
        )
    )


def details_of(connection: Connection, kind: str, local: str) -> dict[str, Any] | None:
    """What was recorded when the item that became `local` was imported (any source)."""
    text = connection.execute(
        sa.select(_I.details_json).where(_I.kind == kind, _I.local_id == local).limit(1)
    ).scalar()
    return None if text is None else json.loads(text)


def last_version(connection: Connection, model_name: str) -> int:
    """The model's version counter (the model row must exist and be locked)."""
    return int(
        connection.execute(
            sa.select(models.c.last_version).where(models.c.name == model_name)
        ).scalar_one()
    )


def keep_number(connection: Connection, model_name: str, number: int) -> None:
    """Advance the model's counter to `number`, an imported version's own number: the
    numbers between are gaps the source registry had (deleted versions), recorded in the
    import event, and the next registration continues after `number`."""
    connection.execute(
        models.update().where(models.c.name == model_name).values(last_version=number)
    )


def describe_model(connection: Connection, model_name: str, description: str) -> bool:
    """Set the model's description unless it has one; True when this call set it."""
    result = connection.execute(
        models.update()
        .where(models.c.name == model_name, models.c.description.is_(None))
        .values(description=description)
    )
    return bool(result.rowcount)
