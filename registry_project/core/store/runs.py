"""Queries and writes on training runs, their inputs, metrics and environment files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import TrainingRun
from registry_project.core.store.engine import dialect_insert
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.rows import run_from_row, run_values
from registry_project.core.store.schema import (
    datasets,
    run_environment_files,
    run_inputs,
    run_metrics,
    run_tags,
    runs,
)


def insert_run(connection: Connection, run: TrainingRun, *, params_json: str) -> None:
    """A new run's row, its inputs and its environment files (`params_json` is the
    canonical JSON `validate_params` made of `run.params`)."""
    _INSERT_RUN.execute_later(connection, run_values(run, params_json))
    _INSERT_INPUTS.execute_many_later(
        connection,
        [
            {"run_id": run.id, "dataset_id": item.dataset_id, "role": item.role.value}
            for item in run.inputs
        ],
    )
    _INSERT_TAGS.execute_many_later(
        connection,
        [{"run_id": run.id, "key": key, "value": value} for key, value in run.tags.items()],
    )
    files = run.environment.files if run.environment is not None else ()
    _INSERT_FILES.execute_many_later(
        connection,
        [
            {"run_id": run.id, "path": f.path, "digest": f.digest, "size_bytes": f.size_bytes}
            for f in files
        ],
    )


# Every training run writes these (see prepared.py).
_INSERT_RUN = PreparedStatement(runs.insert())
_INSERT_INPUTS = PreparedStatement(run_inputs.insert())
_INSERT_FILES = PreparedStatement(run_environment_files.insert())
_INSERT_TAGS = PreparedStatement(run_tags.insert())


def finish_run(
    connection: Connection, run_id: str, *, status: str, ended_at: datetime, error: str | None
) -> None:
    _FINISH_RUN.execute_later(
        connection,
        {"run_id": run_id, "new_status": status, "new_ended_at": ended_at, "new_error": error},
    )


_FINISH_RUN = PreparedStatement(
    runs.update()
    .where(runs.c.id == sa.bindparam("run_id"))
    .values(
        # Bind names differ from column names: SQLAlchemy reserves those in SET.
        status=sa.bindparam("new_status"),
        ended_at=sa.bindparam("new_ended_at"),
        error=sa.bindparam("new_error"),
    )
)


def upsert_run_metrics(
    connection: Connection, run_id: str, metrics: Mapping[str, float], at: datetime
) -> None:
    if not metrics:
        return
    insert = dialect_insert(connection, run_metrics)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={"value": insert.excluded.value, "logged_at": insert.excluded.logged_at},
        ),
        [
            {"run_id": run_id, "key": key, "value": value, "logged_at": at}
            for key, value in metrics.items()
        ],
    )


def fetch_run(connection: Connection, run_id: str) -> TrainingRun | None:
    row = connection.execute(sa.select(runs).where(runs.c.id == run_id)).first()
    if row is None:
        return None
    metrics = {
        key: value
        for key, value in connection.execute(
            sa.select(run_metrics.c.key, run_metrics.c.value).where(run_metrics.c.run_id == run_id)
        )
    }
    inputs = [
        (dataset_id, role)
        for dataset_id, role in connection.execute(
            sa.select(run_inputs.c.dataset_id, run_inputs.c.role)
            .where(run_inputs.c.run_id == run_id)
            .order_by(run_inputs.c.role, run_inputs.c.dataset_id)
        )
    ]
    files = [
        (path, digest, size)
        for path, digest, size in connection.execute(
            sa.select(
                run_environment_files.c.path,
                run_environment_files.c.digest,
                run_environment_files.c.size_bytes,
            )
            .where(run_environment_files.c.run_id == run_id)
            .order_by(run_environment_files.c.path)
        )
    ]
    tags = dict(
        connection.execute(
            sa.select(run_tags.c.key, run_tags.c.value).where(run_tags.c.run_id == run_id)
        ).all()
    )
    return run_from_row(row, metrics=metrics, inputs=inputs, files=files, tags=tags)


_RUN_SUMMARY = PreparedStatement(
    sa.select(
        runs.c.dagster_run_id,
        sa.exists()
        .where(
            run_inputs.c.run_id == runs.c.id,
            datasets.c.id == run_inputs.c.dataset_id,
            datasets.c.deleted_at.is_not(None),
        )
        .label("uses_deleted_data"),
    ).where(runs.c.id == sa.bindparam("run_id"))
)


def lock_run_inputs(connection: Connection, run_id: str) -> None:
    """Share-lock the datasets a run read, in id order (one lock order, so no deadlock), so
    that a concurrent `delete_dataset` either commits before `run_summary` looks or waits
    until the version that depends on them is committed (see `datasets.lock_dataset`).

    Nothing to do on SQLite: a write transaction holds the database's write lock from its
    BEGIN IMMEDIATE, so no deletion can commit until it ends (and SQLite has no row
    locks: the statement would only read the ids)."""
    if connection.dialect.name == "sqlite":
        return
    # Nobody reads the rows: on PostgreSQL the locks are taken with the next statement's
    # round trip (prepared.py), still before it runs.
    _LOCK_RUN_INPUTS.execute_later(connection, {"run_id": run_id})


# On every registration from a run on PostgreSQL (see prepared.py).
_LOCK_RUN_INPUTS = PreparedStatement(
    sa.select(datasets.c.id)
    .where(
        datasets.c.id.in_(
            sa.select(run_inputs.c.dataset_id).where(run_inputs.c.run_id == sa.bindparam("run_id"))
        )
    )
    .order_by(datasets.c.id)
    .with_for_update(read=True)
)


def run_summary(connection: Connection, run_id: str) -> tuple[str | None, bool] | None:
    """(Dagster run id, trained on deleted data?) of a run in one query, or None."""
    return run_summary_soon(connection, run_id)()


def run_summary_soon(
    connection: Connection, run_id: str
) -> Callable[[], tuple[str | None, bool] | None]:
    """`run_summary`, its answer read when it is called: on PostgreSQL the query travels
    with the next statement that waits for a result (a registration's version number),
    one round trip fewer (prepared.py)."""
    soon = _RUN_SUMMARY.execute_soon(connection, {"run_id": run_id})

    def summary() -> tuple[str | None, bool] | None:
        rows = soon.rows()
        if not rows:
            return None
        [(dagster_run_id, uses_deleted_data)] = rows
        return dagster_run_id, bool(uses_deleted_data)

    return summary


_RUN_EXISTS = PreparedStatement(sa.select(runs.c.id).where(runs.c.id == sa.bindparam("run_id")))


def run_exists(connection: Connection, run_id: str) -> bool:
    return bool(_RUN_EXISTS.execute(connection, {"run_id": run_id}))


def upsert_run_tags(connection: Connection, run_id: str, tags: Mapping[str, str]) -> None:
    """Add or replace tags of a run (migration 0004)."""
    if not tags:
        return
    insert = dialect_insert(connection, run_tags)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"value": insert.excluded.value}
        ),
        [{"run_id": run_id, "key": key, "value": value} for key, value in tags.items()],
    )
