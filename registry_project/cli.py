"""The `registry` command: a thin layer that formats what the core returns."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from registry_project.core.config import RegistryConfig
from registry_project.core.errors import RegistryError
from registry_project.core.store import migrate
from registry_project.core.store.engine import create_registry_engine

F = TypeVar("F", bound=Callable[..., Any])


def registry_errors(command: F) -> F:
    """Expected errors become one line on stderr and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RegistryError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group()
@click.option("--database-url", envvar="REGISTRY_DATABASE_URL", help="Metadata database URL.")
@click.option("--artifact-root", envvar="REGISTRY_ARTIFACT_ROOT", help="Blob store root.")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, artifact_root: str | None) -> None:
    """Inspect and govern the model registry.

    Example: registry db current
    """
    ctx.obj = RegistryConfig.resolve(database_url, artifact_root)


@cli.group()
def db() -> None:
    """Schema migrations of the metadata database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_obj
@registry_errors
def db_upgrade(config: RegistryConfig, revision: str) -> None:
    """Upgrade the database schema (back it up first).

    Example: registry db upgrade
    """
    engine = create_registry_engine(config.database_url)
    try:
        before = migrate.current_revision(engine)
        after = migrate.upgrade(engine, revision)
    finally:
        engine.dispose()
    click.echo(f"schema upgraded: {before or 'empty'} -> {after}")


@db.command("current")
@click.pass_obj
@registry_errors
def db_current(config: RegistryConfig) -> None:
    """Show the schema revision of the database and the one this version needs.

    Example: registry db current
    """
    engine = create_registry_engine(config.database_url)
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if current == head else "needs `registry db upgrade`"
    click.echo(f"database: {current or 'empty'}  package: {head}  ({state})")


def main() -> None:
    cli()
