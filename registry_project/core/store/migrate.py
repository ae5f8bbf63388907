"""Schema migrations, driven programmatically through Alembic.

Policy: an empty database is created at head automatically; a database at an older
revision is refused with a message that says to run `registry db upgrade`, because
silently migrating a shared PostgreSQL under other running clients is not safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from registry_project.core.errors import RegistryNotFoundError, SchemaVersionError
from registry_project.core.secrets import mask_credentials
from registry_project.core.store.engine import write_transaction
from registry_project.core.store.schema_revision import HEAD_REVISION

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Where Alembic records a database's revision (its default version table).
_VERSION_TABLE = "alembic_version"
# Arbitrary constant: the PostgreSQL advisory lock that serialises schema changes.
_MIGRATION_LOCK_ID = 0x5EC1_57E7


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The schema revision this package's code is written for."""
    return HEAD_REVISION


def migrations_head() -> str | None:
    """The head revision according to the migration scripts themselves (Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _revision_of(connection)


def _revision_of(connection: Connection) -> str | None:
    """The database's revision as Alembic recorded it; None for a database without one."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    revisions = connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars()
    found = sorted(revisions)
    if len(found) > 1:
        raise SchemaVersionError(
            f"the registry database records several schema revisions {found}; this package's "
            "migrations are linear. Restore it from a backup."
        )
    return found[0] if found else None


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    # SQLite: write_transaction already holds the database write lock.


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the schema to `revision` in one transaction; returns the new revision."""
    from alembic import command

    with write_transaction(engine) as connection:
        _lock(connection)
        command.upgrade(_config(connection), revision)
    return current_revision(engine)


def registry_not_found(location: str) -> RegistryNotFoundError:
    shown = mask_credentials(location)
    return RegistryNotFoundError(
        f"no registry at {shown}: that database holds no registry, and nothing was created. "
        "Point REGISTRY_DATABASE_URL (and REGISTRY_ARTIFACT_ROOT) at an existing registry, "
        "or open it with create=True to start a new one.",
        shown,
    )


def ensure_schema(engine: Engine, *, create: bool = True) -> None:
    """Create an empty database at head (unless `create` is false: then an empty database
    is refused with `RegistryNotFoundError`); refuse a database at another revision."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    if current is None and not create:
        raise registry_not_found(engine.url.render_as_string())
    if current is None:
        with write_transaction(engine) as connection:
            _lock(connection)
            # Re-check under the lock: another process may have created it meanwhile.
            if _revision_of(connection) is None:
                if inspect(connection).has_table("model_versions"):
                    raise SchemaVersionError(
                        "the database has registry tables but no Alembic revision; it was not "
                        "created by this registry. Point REGISTRY_DATABASE_URL at another database."
                    )
                from alembic import command

                command.upgrade(_config(connection), "head")
        return
    raise SchemaVersionError(
        f"the registry database is at schema revision {current}, this version of "
        f"registry_project needs {head}. Back it up, then run `registry db upgrade`."
    )
