"""A run's step metrics: every point in `run_step_metrics`, the latest value of each key in
`run_metrics` (what `get_run`, `runs(filter=...)` and ordering read).

`insert_points` is the tracking hot path (`ActiveRun.log_metric` flushes through it): two
statements per batch, each one executemany on the driver's cursor (store/prepared.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import MetricStep
from registry_project.core.store.engine import insert_for
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.schema import run_metrics, run_step_metrics


def _upsert(
    table: sa.Table, keys: list[str], updated: list[str], dialect: str
) -> PreparedStatement:
    """The same upsert for each dialect (their ON CONFLICT clauses differ in class only)."""
    insert = insert_for(dialect, table)
    return PreparedStatement(
        insert.on_conflict_do_update(
            index_elements=keys, set_={c: insert.excluded[c] for c in updated}
        )
    )


# Built once per dialect on first use (building PostgreSQL's imports its dialect, see
# engine.insert_for). A point logged twice at the same step keeps the last value (a re-run
# loop, a retry).
@functools.cache
def _points(dialect: str) -> PreparedStatement:
    return _upsert(run_step_metrics, ["run_id", "key", "step"], ["value", "logged_at"], dialect)


@functools.cache
def _latest(dialect: str) -> PreparedStatement:
    return _upsert(run_metrics, ["run_id", "key"], ["value", "logged_at"], dialect)


_UNNEST_POINTS = sa.text(
    f"INSERT INTO {run_step_metrics.name} (run_id, key, step, value, logged_at) "
    "SELECT :run_id, u.key, u.step, u.value, u.logged_at FROM unnest("
    "CAST(:keys AS text[]), CAST(:steps AS bigint[]), CAST(:values AS float8[]), "
    "CAST(:ats AS timestamptz[])) AS u(key, step, value, logged_at) "
    "ON CONFLICT (run_id, key, step) DO UPDATE "
    "SET value = excluded.value, logged_at = excluded.logged_at"
)


def insert_points(
    connection: Connection, run_id: str, points: Sequence[tuple[str, int, float, datetime]]
) -> None:
    """Store `(key, step, value, logged_at)` points in the order logged; each key's last
    point becomes its latest value."""
    if not points:
        return
    dialect = connection.dialect.name
    # One row per (key, step) and per key: an upsert may not touch a row twice in a
    # statement on PostgreSQL, and the last logged must win.
    by_step: dict[tuple[str, int], tuple[float, datetime]] = {}
    latest: dict[str, tuple[float, datetime]] = {}
    for key, step, value, at in points:
        by_step[(key, step)] = (value, at)
        latest[key] = (value, at)
    if dialect == "postgresql":
        # One statement for the whole batch: psycopg's executemany still sends one INSERT
        # per row (pipelined), ten times slower than the server unnesting four arrays.
        connection.execute(
            _UNNEST_POINTS,
            {
                "run_id": run_id,
                "keys": [key for key, _ in by_step],
                "steps": [step for _, step in by_step],
                "values": [value for value, _ in by_step.values()],
                "ats": [at for _, at in by_step.values()],
            },
        )
    else:
        _points(dialect).execute_many(
            connection,
            [
                {"run_id": run_id, "key": key, "step": step, "value": value, "logged_at": at}
                for (key, step), (value, at) in by_step.items()
            ],
        )
    _latest(dialect).execute_many(
        connection,
        [
            {"run_id": run_id, "key": key, "value": value, "logged_at": at}
            for key, (value, at) in latest.items()
        ],
    )


def history(connection: Connection, run_id: str, key: str) -> tuple[MetricStep, ...]:
    """Every point of one key, in step order."""
    rows = connection.execute(
        sa.select(run_step_metrics.c.step, run_step_metrics.c.value, run_step_metrics.c.logged_at)
        .where(run_step_metrics.c.run_id == run_id, run_step_metrics.c.key == key)
        .order_by(run_step_metrics.c.step)
    )
    return tuple(MetricStep(step, value, at) for step, value, at in rows)


def last_steps(connection: Connection, run_id: str) -> dict[str, int]:
    """The highest step logged for each key of a run (where an ActiveRun resumes)."""
    return {
        key: step
        for key, step in connection.execute(
            sa.select(run_step_metrics.c.key, sa.func.max(run_step_metrics.c.step))
            .where(run_step_metrics.c.run_id == run_id)
            .group_by(run_step_metrics.c.key)
        )
    }
