"""Listing runs: an experiment's runs filtered by a parsed filter (`core/filters.py`, the
language `search` uses for versions, with the run vocabulary below) and ordered, in a fixed
number of queries however many runs match (no query per run).

Metric and tag comparisons are EXISTS probes on `run_metrics` / `run_tags` (`!=` means "has
none equal to", as in the version search); params are read out of the run's canonical JSON
by the database (`filter_sql.param_comparison`); attributes are columns. Every value is a
bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import RunStatus, TrainingRun
from registry_project.core.filters import (
    Comparison,
    FieldType,
    Node,
    Ordering,
    Vocabulary,
)
from registry_project.core.store.filter_sql import (
    compare,
    compile_tree,
    exists_matching,
    param_comparison,
)
from registry_project.core.store.rows import run_from_row
from registry_project.core.store.schema import (
    run_environment_files,
    run_inputs,
    run_metrics,
    run_tags,
    runs,
)

# Plain field names of the filter language and order_by, and their columns.
ATTRIBUTE_COLUMNS: dict[str, sa.Column[Any]] = {
    "status": runs.c.status,
    "experiment": runs.c.experiment,
    "name": runs.c.name,
    "created_by": runs.c.created_by,
    "start_time": runs.c.started_at,
    "end_time": runs.c.ended_at,
}
RUN_VOCABULARY = Vocabulary(
    fields={
        "status": FieldType.TEXT,
        "experiment": FieldType.TEXT,
        "name": FieldType.TEXT,
        "created_by": FieldType.TEXT,
        "start_time": FieldType.TIME,
        "end_time": FieldType.TIME,
    },
    namespaces={"metrics": FieldType.NUMBER, "params": FieldType.ANY, "tags": FieldType.TEXT},
    choices={"status": tuple(status.value for status in RunStatus)},
)
_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's bind limits


def _comparison(node: Comparison, dialect: str) -> sa.ColumnElement[bool]:
    field = node.field
    if field.key is None:
        return compare(ATTRIBUTE_COLUMNS[field.name], node.op, node.values)
    if field.name == "metrics":
        m = run_metrics.c
        return exists_matching(
            lambda o, v: sa.exists().where(
                m.run_id == runs.c.id, m.key == field.key, compare(m.value, o, v)
            ),
            node.op,
            node.values,
        )
    if field.name == "tags":
        t = run_tags.c
        return exists_matching(
            lambda o, v: sa.exists().where(
                t.run_id == runs.c.id, t.key == field.key, compare(t.value, o, v)
            ),
            node.op,
            node.values,
        )
    assert field.name == "params"
    return param_comparison(node, dialect)


def compile_run_filter(node: Node, dialect: str) -> sa.ColumnElement[bool]:
    return compile_tree(node, lambda comparison: _comparison(comparison, dialect))


def search_runs(
    connection: Connection,
    *,
    experiment: str | None,
    where: Node | None,
    ordering: Ordering,
    limit: int | None,
) -> list[TrainingRun]:
    query = sa.select(runs.c.id)
    if experiment is not None:
        query = query.where(runs.c.experiment == experiment)
    if where is not None:
        query = query.where(compile_run_filter(where, connection.dialect.name))
    if ordering.namespace == "metrics":
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
    if limit is not None:
        query = query.limit(limit)
    ids = [run_id for (run_id,) in connection.execute(query)]
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
