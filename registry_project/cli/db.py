"""Schema commands: db upgrade, db current. They use the engine directly and never open
the registry, which refuses a database whose schema is older than the package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import click

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    fail,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import emit_json

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# The store (SQLAlchemy) is imported inside each command: `registry --help` lists these
# commands without loading it (issue #18).

T = TypeVar("T")


@contextmanager
def _engine(state: CliState) -> Iterator[Engine]:
    from registry_project.core.store.engine import create_registry_engine

    engine = create_registry_engine(state.config.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _alembic(step: Callable[[], T]) -> T:
    """Alembic's own refusals (an unknown revision, a downgrade) as one error line."""
    from alembic.util.exc import CommandError  # Alembic is loaded only to migrate

    try:
        return step()
    except CommandError as exc:
        fail(f"{exc}. `registry db current` shows the revisions; the target is usually head.")


@click.group(short_help="Schema migrations of the metadata database.")
def db() -> None:
    """Schema migrations of the metadata database (these never open the registry).

    \b
    Examples:
      registry db current
      registry db upgrade
    """


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@json_option
@pass_state
@handles_errors
def db_upgrade(state: CliState, revision: str) -> None:
    """Upgrade the database schema to the package's revision (back the database up first;
    other clients should be stopped).

    \b
    Example:
      registry db upgrade
    """
    from registry_project.core.store import migrate

    with _engine(state) as engine:
        before = migrate.current_revision(engine)
        after = _alembic(lambda: migrate.upgrade(engine, revision))
    if state.json:
        emit_json({"before": before, "after": after, "package": migrate.head_revision()})
    else:
        click.echo(f"schema upgraded: {before or 'empty'} -> {after}")


@db.command("current")
@json_option
@pass_state
@handles_errors
def db_current(state: CliState) -> None:
    """Show the schema revision of the database and the one this package needs.

    \b
    Example:
      registry db current
    """
    from registry_project.core.store import migrate

    with _engine(state) as engine:
        current = migrate.current_revision(engine)
    head = migrate.head_revision()
    if state.json:
        emit_json({"database": current, "package": head, "up_to_date": current == head})
        return
    if current == head:
        verdict = "up to date"
    elif current is None:
        verdict = "empty: created on first use, or by `registry db upgrade`"
    else:
        verdict = "differs: back up, then `registry db upgrade`"
    click.echo(f"database: {current or 'empty'}  package: {head}  ({verdict})")


def register(group: RegistryGroup) -> None:
    group.add_section("Schema", db)


@db.command("roles")
@click.option(
    "--prefix",
    default="registry",
    show_default=True,
    help="Role names: PREFIX_reader, PREFIX_writer, PREFIX_approver, PREFIX_admin.",
)
@json_option
@pass_state
@handles_errors
def db_roles(state: CliState, prefix: str) -> None:
    """Turn on identity mode (PostgreSQL only; run as the schema's owner): create the
    reader, writer, approver and admin roles with their GRANTs, and triggers that make
    the database refuse a write whose actor is not the connected role, an approval by a
    non-approver or by the version's registrant, and a move into a protected stage
    without the stored approvals. Create login users yourself and grant them a role;
    no password passes through this command.

    \b
    Example:
      registry db roles --prefix registry
      psql -c 'CREATE ROLE bob LOGIN IN ROLE registry_approver'
    """
    from registry_project.core.store import roles

    with _engine(state) as engine:
        roles.refuse_sqlite(engine.dialect.name)
        with engine.begin() as connection:
            created = roles.install(connection, prefix)
    if state.json:
        emit_json(created)
    else:
        click.echo("identity mode on; roles: " + ", ".join(created.values()))
