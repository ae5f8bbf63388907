"""A run's params read and rewritten after it started (autologging adds an estimator's)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.store.schema import runs


def fetch_params_json(connection: Connection, run_id: str, *, lock: bool = False) -> str | None:
    """The run's params as stored (canonical JSON), None when there is no such run;
    `lock` holds the row (PostgreSQL) so a concurrent addition cannot be lost."""
    query = sa.select(runs.c.params_json).where(runs.c.id == run_id)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).scalar_one_or_none()


def update_params_json(connection: Connection, run_id: str, params_json: str) -> None:
    connection.execute(runs.update().where(runs.c.id == run_id).values(params_json=params_json))
