"""The metrics of model versions: every value logged per (version, key, dataset) in
`version_metrics`, and each version's current value per key in `version_metric_latest` (what
lookups, listings and ordering by a metric read)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import MetricRecord
from registry_project.core.store.engine import dialect_insert
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.schema import version_metric_latest, version_metrics

TRAINING_DATASET = ""  # version_metrics.dataset_id for metrics not tied to a dataset

_INSERT_METRIC = PreparedStatement(version_metrics.insert())
# A new version's current metrics are the training metrics just inserted: copied in one
# statement (on SQLite one instead of one per metric; on PostgreSQL no second batch of
# parameters travels).
_COPY_LATEST_METRICS = PreparedStatement(
    version_metric_latest.insert().from_select(
        ["version_id", "key", "model_name", "value"],
        sa.select(
            version_metrics.c.version_id,
            version_metrics.c.key,
            sa.bindparam("model_name", type_=version_metric_latest.c.model_name.type),
            version_metrics.c.value,
        ).where(
            version_metrics.c.version_id == sa.bindparam("version_id"),
            version_metrics.c.dataset_id == TRAINING_DATASET,
        ),
    )
)


def latest_metrics(
    connection: Connection, version_ids: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Current metrics of many versions in one query (no N+1)."""
    result: dict[str, dict[str, float]] = defaultdict(dict)
    if not version_ids:
        return result
    rows = connection.execute(
        sa.select(
            version_metric_latest.c.version_id,
            version_metric_latest.c.key,
            version_metric_latest.c.value,
        ).where(version_metric_latest.c.version_id.in_(list(version_ids)))
    )
    for version_id, key, value in rows:
        result[version_id][key] = value
    return result


def upsert_metrics(
    connection: Connection,
    *,
    version_id: str,
    model_name: str,
    metrics: Mapping[str, float],
    dataset_id: str | None,
    actor: str,
    at: datetime,
) -> None:
    if not metrics:
        return
    dataset_key = dataset_id or TRAINING_DATASET
    rows = [
        {
            "version_id": version_id,
            "key": key,
            "dataset_id": dataset_key,
            "value": value,
            "logged_at": at,
            "logged_by": actor,
        }
        for key, value in metrics.items()
    ]
    statement = dialect_insert(connection, version_metrics)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["version_id", "key", "dataset_id"],
            set_={
                "value": statement.excluded.value,
                "logged_at": statement.excluded.logged_at,
                "logged_by": statement.excluded.logged_by,
            },
        ),
        rows,
    )
    latest = dialect_insert(connection, version_metric_latest)
    connection.execute(
        latest.on_conflict_do_update(
            index_elements=["version_id", "key"], set_={"value": latest.excluded.value}
        ),
        [
            {"version_id": version_id, "key": key, "model_name": model_name, "value": value}
            for key, value in metrics.items()
        ],
    )


def insert_new_version_metrics(
    connection: Connection,
    *,
    version_id: str,
    model_name: str,
    metrics: Mapping[str, float],
    actor: str,
    at: datetime,
) -> None:
    """Training metrics of a version being registered: nothing to conflict with, so plain
    cached INSERTs instead of upserts (registration is the hot write path)."""
    if not metrics:
        return
    _INSERT_METRIC.execute_many_later(
        connection,
        [
            {
                "version_id": version_id,
                "key": key,
                "dataset_id": TRAINING_DATASET,
                "value": value,
                "logged_at": at,
                "logged_by": actor,
            }
            for key, value in metrics.items()
        ],
    )
    # Nobody reads the result: queued on PostgreSQL, sent with the next read or COMMIT.
    _COPY_LATEST_METRICS.execute_later(
        connection, {"version_id": version_id, "model_name": model_name}
    )


def metric_records(connection: Connection, version_id: str) -> list[MetricRecord]:
    rows = connection.execute(
        sa.select(version_metrics)
        .where(version_metrics.c.version_id == version_id)
        .order_by(version_metrics.c.dataset_id, version_metrics.c.key)
    )
    return [
        MetricRecord(
            key=row.key,
            value=row.value,
            dataset_id=row.dataset_id or None,
            logged_at=row.logged_at,
            logged_by=row.logged_by,
        )
        for row in rows
    ]


def evaluated_dataset_ids(connection: Connection, version_id: str) -> list[str]:
    rows = connection.execute(
        sa.select(version_metrics.c.dataset_id)
        .where(
            version_metrics.c.version_id == version_id,
            version_metrics.c.dataset_id != TRAINING_DATASET,
        )
        .distinct()
    )
    return [row[0] for row in rows]
