"""Queries and writes on models and model versions (their rows; each version's current
metrics joined in). Metrics are written in `version_metrics.py`, stage history and approvals
in `stage_history.py`, the versions that depend on a dataset are read in `dependents.py`."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from registry_project.core.entities import Model, ModelVersion, Stage
from registry_project.core.store.engine import insert_for
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.rows import (
    model_from_values,
    version_from_row,
    version_from_values,
    version_values,
)
from registry_project.core.store.schema import (
    PRODUCTION,
    model_versions,
    models,
    version_metric_latest,
)
from registry_project.core.store.version_metrics import latest_metrics
from registry_project.core.validation import OrderBy

# --- models ----------------------------------------------------------------------------


def ensure_model(connection: Connection, name: str, actor: str, at: datetime) -> bool:
    """Create the model row if missing; True when this call created it."""
    statement = _ensure_model(connection.dialect.name)
    created = statement.execute(
        connection, {"model_name": name, "new_created_at": at, "new_created_by": actor}
    )
    # rowcount is unreliable for ON CONFLICT DO NOTHING across drivers; RETURNING is not.
    return bool(created)


def allocate_version_number(connection: Connection, name: str) -> int | None:
    """Next version number: an atomic, row-locked counter (rolled back with its transaction,
    so numbers have no gaps). None when the model does not exist yet."""
    rows = _ALLOCATE_NUMBER.execute(connection, {"model_name": name})
    return rows[0][0] if rows else None


# Registration runs these on every new version, on the driver's cursor (see prepared.py).
# One statement per dialect, built on first use: a PreparedStatement keeps its compiled
# SQL, and building PostgreSQL's imports its dialect (see engine.insert_for).
@functools.cache
def _ensure_model(dialect_name: str) -> PreparedStatement:
    return PreparedStatement(
        insert_for(dialect_name, models)
        .values(
            # Bind names differ from column names: SQLAlchemy reserves those in VALUES/SET.
            name=sa.bindparam("model_name"),
            created_at=sa.bindparam("new_created_at"),
            created_by=sa.bindparam("new_created_by"),
            last_version=0,
        )
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(models.c.name)
    )


_ALLOCATE_NUMBER = PreparedStatement(
    models.update()
    .where(models.c.name == sa.bindparam("model_name"))
    .values(last_version=models.c.last_version + 1)
    .returning(models.c.last_version)
)
_INSERT_VERSION = PreparedStatement(model_versions.insert())


def lock_model(connection: Connection, name: str) -> bool:
    """Row-lock the model for a stage change (PostgreSQL); False if the model does not exist."""
    row = connection.execute(
        sa.select(models.c.name).where(models.c.name == name).with_for_update()
    ).first()
    return row is not None


def list_models(connection: Connection) -> list[Model]:
    production = (
        sa.select(model_versions.c.model_name, model_versions.c.version)
        .where(model_versions.c.stage == PRODUCTION)
        .subquery()
    )
    rows = connection.execute(
        sa.select(models, production.c.version.label("production_version"))
        .select_from(models.outerjoin(production, production.c.model_name == models.c.name))
        .order_by(models.c.name)
    )
    return [model_from_values(row._mapping) for row in rows]


def model_exists(connection: Connection, name: str) -> bool:
    return (
        connection.execute(sa.select(models.c.name).where(models.c.name == name)).first()
        is not None
    )


# --- versions --------------------------------------------------------------------------


def fetch_by_id(connection: Connection, version_id: str) -> ModelVersion | None:
    """A version's row as committed, without its metrics (for stage changes)."""
    row = connection.execute(_ROW_BY_ID, {"version_id": version_id}).first()
    return version_from_row(row) if row is not None else None


_ROW_BY_ID = sa.select(model_versions).where(model_versions.c.id == sa.bindparam("version_id"))


def _version_with_metrics(condition: sa.ColumnElement[bool]) -> PreparedStatement:
    return PreparedStatement(
        sa.select(
            model_versions,
            version_metric_latest.c.key.label("metric_key"),
            version_metric_latest.c.value.label("metric_value"),
        )
        .select_from(
            model_versions.outerjoin(
                version_metric_latest, version_metric_latest.c.version_id == model_versions.c.id
            )
        )
        .where(condition)
    )


_MV = model_versions.c
# Built once with bind parameters and run on the driver's cursor (see prepared.py): this is
# the lookup every model load does, and through SQLAlchemy's execution layer it spent more
# time in Python than in SQLite.
_BY_ID = _version_with_metrics(_MV.id == sa.bindparam("version_id"))
_BY_NUMBER = _version_with_metrics(
    sa.and_(_MV.model_name == sa.bindparam("name"), _MV.version == sa.bindparam("number"))
)
_IN_PRODUCTION = _version_with_metrics(  # the partial unique index: at most one row
    sa.and_(_MV.model_name == sa.bindparam("name"), _MV.stage == PRODUCTION)
)
_NEWEST_IN_STAGE = _version_with_metrics(
    _MV.id
    == sa.select(_MV.id)
    .where(_MV.model_name == sa.bindparam("name"), _MV.stage == sa.bindparam("stage"))
    .order_by(_MV.version.desc())
    .limit(1)
    .scalar_subquery()
)
_NEWEST = _version_with_metrics(
    _MV.id
    == sa.select(_MV.id)
    .where(_MV.model_name == sa.bindparam("name"))
    .order_by(_MV.version.desc())
    .limit(1)
    .scalar_subquery()
)


def fetch_version(connection: Connection, reference: object) -> ModelVersion | None:
    """One version and its current metrics in a single round trip (the hot lookup)."""
    from registry_project.core.version_refs import ByAlias, ById, ByNumber

    statement: PreparedStatement
    if isinstance(reference, ById):
        statement, params = _BY_ID, {"version_id": reference.version_id}
    elif isinstance(reference, ByNumber):
        statement, params = _BY_NUMBER, {"name": reference.model_name, "number": reference.version}
    else:
        assert isinstance(reference, ByAlias)
        params = {"name": reference.model_name}
        if reference.alias == PRODUCTION:
            statement = _IN_PRODUCTION
        elif reference.alias == "latest":
            statement = _NEWEST
        else:
            statement, params = _NEWEST_IN_STAGE, {**params, "stage": reference.alias}
    rows = statement.fetch(connection, params)
    if not rows:
        return None
    metrics = {
        row["metric_key"]: row["metric_value"] for row in rows if row["metric_key"] is not None
    }
    return version_from_values(rows[0], metrics)


def fetch_production(connection: Connection, name: str) -> ModelVersion | None:
    """The production version's row as committed, without its metrics (for stage changes)."""
    row = connection.execute(
        sa.select(model_versions).where(
            model_versions.c.model_name == name, model_versions.c.stage == PRODUCTION
        )
    ).first()
    return version_from_row(row) if row is not None else None


def to_versions(connection: Connection, rows: Sequence[Row[Any]]) -> list[ModelVersion]:
    metrics = latest_metrics(connection, [row.id for row in rows])
    return [version_from_row(row, metrics.get(row.id, {})) for row in rows]


def list_versions(
    connection: Connection,
    name: str,
    *,
    stage: Stage | None,
    order: OrderBy,
    limit: int | None,
) -> list[Row[Any]]:
    if order.is_metric:
        return _list_by_metric(connection, name, stage=stage, order=order, limit=limit)
    column = model_versions.c[order.field]
    query = sa.select(model_versions).where(model_versions.c.model_name == name)
    if stage is not None:
        query = query.where(model_versions.c.stage == stage.value)
    query = query.order_by(
        column.desc() if order.descending else column.asc(), model_versions.c.version.desc()
    )
    if limit is not None:
        query = query.limit(limit)
    return list(connection.execute(query))


def _list_by_metric(
    connection: Connection,
    name: str,
    *,
    stage: Stage | None,
    order: OrderBy,
    limit: int | None,
) -> list[Row[Any]]:
    """An index range scan on (model_name, key, value); versions without the metric last."""
    value = version_metric_latest.c.value
    query = (
        sa.select(model_versions)
        .select_from(
            version_metric_latest.join(
                model_versions, model_versions.c.id == version_metric_latest.c.version_id
            )
        )
        .where(
            version_metric_latest.c.model_name == name, version_metric_latest.c.key == order.field
        )
        .order_by(
            value.desc() if order.descending else value.asc(), model_versions.c.version.desc()
        )
    )
    if stage is not None:
        query = query.where(model_versions.c.stage == stage.value)
    if limit is not None:
        query = query.limit(limit)
    rows = list(connection.execute(query))
    if limit is not None and len(rows) >= limit:
        return rows
    has_metric = sa.select(version_metric_latest.c.version_id).where(
        version_metric_latest.c.model_name == name, version_metric_latest.c.key == order.field
    )
    rest = (
        sa.select(model_versions)
        .where(model_versions.c.model_name == name, model_versions.c.id.not_in(has_metric))
        .order_by(model_versions.c.version.desc())
    )
    if stage is not None:
        rest = rest.where(model_versions.c.stage == stage.value)
    if limit is not None:
        rest = rest.limit(limit - len(rows))
    return rows + list(connection.execute(rest))


def insert_version(connection: Connection, version: ModelVersion) -> None:
    _INSERT_VERSION.execute_later(connection, version_values(version))


def set_stage(connection: Connection, version_id: str, stage: Stage, at: datetime) -> None:
    connection.execute(
        model_versions.update()
        .where(model_versions.c.id == version_id)
        .values(stage=stage.value, stage_changed_at=at)
    )


# --- versions trained on deleted data ---------------------------------------------------


def mark_trained_on_deleted(connection: Connection, version_ids: Iterable[str]) -> None:
    ids = list(version_ids)
    if ids:
        connection.execute(
            model_versions.update()
            .where(model_versions.c.id.in_(ids))
            .values(trained_on_deleted_data=True)
        )
