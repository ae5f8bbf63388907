"""Queries and writes on dataset snapshots, references and their tombstones."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import DatasetKind, DatasetSnapshot
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.rows import dataset_from_row, dataset_values
from registry_project.core.store.schema import datasets


def insert_dataset(connection: Connection, snapshot: DatasetSnapshot) -> None:
    connection.execute(datasets.insert(), dataset_values(snapshot))


def fetch_dataset(connection: Connection, dataset_id: str) -> DatasetSnapshot | None:
    row = connection.execute(sa.select(datasets).where(datasets.c.id == dataset_id)).first()
    return dataset_from_row(row) if row is not None else None


_EXISTS = PreparedStatement(
    sa.select(sa.literal(1)).where(datasets.c.id == sa.bindparam("dataset_id", type_=sa.String()))
)


def dataset_exists(connection: Connection, dataset_id: str) -> bool:
    """Whether a snapshot or reference (or its tombstone) has this id: for the callers that
    need only that, one indexed probe on the driver's cursor (each page of `dependents`
    checks it; reading the whole row through SQLAlchemy cost a page more than its rows)."""
    return bool(_EXISTS.execute(connection, {"dataset_id": dataset_id}))


def lock_dataset(connection: Connection, dataset_id: str) -> DatasetSnapshot | None:
    """Read a dataset row and lock it until the transaction ends (PostgreSQL; SQLite's write
    transaction excludes other writers anyway). Deleting a dataset locks it exclusively,
    registering a version on a run trained on it locks it shared (`runs.lock_run_inputs`):
    whichever comes second sees what the first committed."""
    row = connection.execute(
        sa.select(datasets).where(datasets.c.id == dataset_id).with_for_update()
    ).first()
    return dataset_from_row(row) if row is not None else None


def share_lock_dataset(connection: Connection, dataset_id: str) -> DatasetSnapshot | None:
    """Read a dataset row and lock it shared until the transaction ends: a write that makes
    a version depend on the dataset (metrics evaluated on it) and a `delete_dataset`
    (which locks it exclusively, `lock_dataset`) are ordered, so the second sees the first."""
    row = connection.execute(
        sa.select(datasets).where(datasets.c.id == dataset_id).with_for_update(read=True)
    ).first()
    return dataset_from_row(row) if row is not None else None


def fetch_datasets(connection: Connection, dataset_ids: list[str]) -> dict[str, DatasetSnapshot]:
    if not dataset_ids:
        return {}
    rows = connection.execute(sa.select(datasets).where(datasets.c.id.in_(dataset_ids)))
    return {row.id: dataset_from_row(row) for row in rows}


def find_live_snapshot(connection: Connection, name: str, digest: str) -> DatasetSnapshot | None:
    """An existing, not deleted snapshot of the same name and content (snapshots are
    idempotent: the same data snapshotted twice is one snapshot)."""
    row = connection.execute(
        sa.select(datasets)
        .where(
            datasets.c.name == name,
            datasets.c.digest == digest,
            datasets.c.kind == DatasetKind.SNAPSHOT.value,
            datasets.c.deleted_at.is_(None),
        )
        .order_by(datasets.c.created_at)
        .limit(1)
    ).first()
    return dataset_from_row(row) if row is not None else None


def list_datasets(
    connection: Connection, name: str | None = None, *, include_deleted: bool = True
) -> list[DatasetSnapshot]:
    query = sa.select(datasets).order_by(datasets.c.name, datasets.c.created_at.desc())
    if name is not None:
        query = query.where(datasets.c.name == name)
    if not include_deleted:
        query = query.where(datasets.c.deleted_at.is_(None))
    return [dataset_from_row(row) for row in connection.execute(query)]


def mark_deleted(
    connection: Connection, dataset_id: str, *, actor: str, reason: str, at: datetime
) -> None:
    connection.execute(
        datasets.update()
        .where(datasets.c.id == dataset_id)
        .values(deleted_at=at, deleted_by=actor, deletion_reason=reason)
    )


def live_ids_with_digest(connection: Connection, digest: str) -> list[str]:
    rows = connection.execute(
        sa.select(datasets.c.id).where(
            datasets.c.digest == digest,
            datasets.c.kind == DatasetKind.SNAPSHOT.value,
            datasets.c.deleted_at.is_(None),
        )
    )
    return [row[0] for row in rows]
