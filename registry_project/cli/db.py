"""Schema commands: db upgrade, db current (they never open the registry, which would
refuse an old schema)."""

from __future__ import annotations

import click

from registry_project.cli.app import CliState, handles_errors, pass_state
from registry_project.core.store import migrate
from registry_project.core.store.engine import create_registry_engine


@click.group()
def db() -> None:
    """Schema migrations of the metadata database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_state
@handles_errors
def db_upgrade(state: CliState, revision: str) -> None:
    """Upgrade the database schema (back it up first).

    Example: registry db upgrade
    """
    engine = create_registry_engine(state.config.database_url)
    try:
        before = migrate.current_revision(engine)
        after = migrate.upgrade(engine, revision)
    finally:
        engine.dispose()
    click.echo(f"schema upgraded: {before or 'empty'} -> {after}")


@db.command("current")
@pass_state
@handles_errors
def db_current(state: CliState) -> None:
    """Show the schema revision of the database and the one this version needs.

    Example: registry db current
    """
    engine = create_registry_engine(state.config.database_url)
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if current == head else "needs `registry db upgrade`"
    click.echo(f"database: {current or 'empty'}  package: {head}  ({state})")


def register(group: click.Group) -> None:
    group.add_command(db)
