"""Listing runs: an experiment's runs filtered by a `core.filters.Filter` and ordered, in a
fixed number of queries however many runs match (no query per run).

Metric, tag and attribute conditions become SQL (EXISTS on `run_metrics` / `run_tags`, so
a run lacking the metric or tag matches none of its conditions); params live in the run's
canonical JSON and are compared in Python (`params_match`), before the limit is applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import TrainingRun
from registry_project.core.filters import Condition, Filter, Ordering, compare
from registry_project.core.store.rows import run_from_row
from registry_project.core.store.schema import (
    run_environment_files,
    run_inputs,
    run_metrics,
    run_tags,
    runs,
)

# Attribute names of the filter language and order_by, and their columns.
ATTRIBUTE_COLUMNS: dict[str, sa.Column[Any]] = {
    "status": runs.c.status,
    "experiment": runs.c.experiment,
    "name": runs.c.name,
    "created_by": runs.c.created_by,
    "start_time": runs.c.started_at,
    "end_time": runs.c.ended_at,
}
_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's bind limits


def _compared(column: sa.ColumnElement[Any], op: str, value: object) -> sa.ColumnElement[bool]:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    return column >= value


def _sql_condition(condition: Condition) -> sa.ColumnElement[bool] | None:
    if condition.prefix == "metrics":
        return sa.exists().where(
            run_metrics.c.run_id == runs.c.id,
            run_metrics.c.key == condition.key,
            _compared(run_metrics.c.value, condition.op, condition.value),
        )
    if condition.prefix == "tags":
        return sa.exists().where(
            run_tags.c.run_id == runs.c.id,
            run_tags.c.key == condition.key,
            _compared(run_tags.c.value, condition.op, condition.value),
        )
    if condition.prefix is None:
        return _compared(ATTRIBUTE_COLUMNS[condition.key], condition.op, condition.value)
    return None  # params: compared in Python


def params_match(params: dict[str, Any], conditions: Iterable[Condition]) -> bool:
    """Every params condition holds: numbers against numbers, text against text (a param
    of another type, or missing, matches none of its conditions)."""
    for condition in conditions:
        if condition.key not in params:
            return False
        value = params[condition.key]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return False
        if isinstance(value, str) != isinstance(condition.value, str):
            return False
        if not compare(value, condition.op, condition.value):
            return False
    return True


def search_runs(
    connection: Connection,
    *,
    experiment: str | None,
    where: Filter,
    ordering: Ordering,
    limit: int | None,
) -> list[TrainingRun]:
    query = sa.select(runs.c.id, runs.c.params_json)
    if experiment is not None:
        query = query.where(runs.c.experiment == experiment)
    in_python = [c for c in where.conditions if c.prefix == "params"]
    for condition in where.conditions:
        clause = _sql_condition(condition)
        if clause is not None:
            query = query.where(clause)
    if ordering.prefix == "metrics":
        chosen = run_metrics.alias("ordering_metric")
        query = query.outerjoin(
            chosen, sa.and_(chosen.c.run_id == runs.c.id, chosen.c.key == ordering.key)
        )
        key: sa.ColumnElement[Any] = chosen.c.value
    else:
        key = ATTRIBUTE_COLUMNS[ordering.key]
    # Runs lacking the key come last either way (portable NULLS LAST); ties newest first.
    query = query.order_by(
        key.is_(None), key.desc() if ordering.descending else key.asc(), runs.c.started_at.desc()
    ).order_by(runs.c.id)
    if limit is not None and not in_python:
        query = query.limit(limit)
    ids: list[str] = []
    for run_id, params_json in connection.execute(query):
        if in_python and not params_match(json.loads(params_json), in_python):
            continue
        ids.append(run_id)
        if limit is not None and len(ids) >= limit:
            break
    return fetch_runs(connection, ids)


def fetch_runs(connection: Connection, ids: Sequence[str]) -> list[TrainingRun]:
    """The runs with these ids, in this order (unknown ids left out), in five queries per
    chunk of ids."""
    found: dict[str, TrainingRun] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        rows = connection.execute(sa.select(runs).where(runs.c.id.in_(chunk))).all()
        metrics = _grouped(
            connection,
            sa.select(run_metrics.c.run_id, run_metrics.c.key, run_metrics.c.value).where(
                run_metrics.c.run_id.in_(chunk)
            ),
        )
        tags = _grouped(
            connection,
            sa.select(run_tags.c.run_id, run_tags.c.key, run_tags.c.value).where(
                run_tags.c.run_id.in_(chunk)
            ),
        )
        inputs: dict[str, list[tuple[str, str]]] = {}
        for run_id, dataset_id, role in connection.execute(
            sa.select(run_inputs.c.run_id, run_inputs.c.dataset_id, run_inputs.c.role)
            .where(run_inputs.c.run_id.in_(chunk))
            .order_by(run_inputs.c.role, run_inputs.c.dataset_id)
        ):
            inputs.setdefault(run_id, []).append((dataset_id, role))
        files: dict[str, list[tuple[str, str, int]]] = {}
        for run_id, path, digest, size in connection.execute(
            sa.select(
                run_environment_files.c.run_id,
                run_environment_files.c.path,
                run_environment_files.c.digest,
                run_environment_files.c.size_bytes,
            )
            .where(run_environment_files.c.run_id.in_(chunk))
            .order_by(run_environment_files.c.path)
        ):
            files.setdefault(run_id, []).append((path, digest, size))
        for row in rows:
            run_id = row._mapping["id"]
            found[run_id] = run_from_row(
                row,
                metrics=metrics.get(run_id, {}),
                inputs=inputs.get(run_id, []),
                files=files.get(run_id, []),
                tags=tags.get(run_id, {}),
            )
    return [found[run_id] for run_id in ids if run_id in found]


def _grouped(connection: Connection, query: sa.Select[Any]) -> dict[str, dict[str, Any]]:
    grouped: dict[str, dict[str, Any]] = {}
    for run_id, key, value in connection.execute(query):
        grouped.setdefault(run_id, {})[key] = value
    return grouped
