"""Alembic environment: always run with a connection handed over by `migrate.py`."""

from __future__ import annotations

from alembic import context

from registry_project.core.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through `registry db upgrade` (registry_project.core.store.migrate)"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
