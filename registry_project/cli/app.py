"""The command group, its global options, and how errors reach the terminal."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from registry_project.core.config import RegistryConfig, resolve_actor
from registry_project.core.errors import RegistryError
from registry_project.core.registry import ModelRegistry

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    config: RegistryConfig
    actor: str | None
    json: bool
    _registry: ModelRegistry | None = field(default=None, repr=False)

    def registry(self) -> ModelRegistry:
        """Opened on first use, so `--help` and usage errors never touch the database."""
        if self._registry is None:
            self._registry = ModelRegistry.open(self.config.database_url, self.config.artifact_root)
            click.get_current_context().call_on_close(self._registry.close)
        return self._registry

    def who(self) -> str:
        return resolve_actor(self.actor)


def json_option(command: F) -> F:
    """`--json` after the command name too (`registry versions churn --json`)."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.find_object(CliState).json = True  # type: ignore[union-attr]
        return value

    return click.option(
        "--json",
        "json_flag",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help="Machine-readable JSON output.",
    )(command)


def handles_errors(command: F) -> F:
    """An expected error is one line on stderr and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RegistryError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--database-url",
    envvar="REGISTRY_DATABASE_URL",
    help="Metadata database URL [env REGISTRY_DATABASE_URL; default ./.registry/registry.db].",
)
@click.option(
    "--artifact-root",
    envvar="REGISTRY_ARTIFACT_ROOT",
    help="Blob store: a directory or s3://bucket/prefix [env REGISTRY_ARTIFACT_ROOT].",
)
@click.option(
    "--actor",
    envvar="REGISTRY_ACTOR",
    help="Who is acting, for the audit log [env REGISTRY_ACTOR; default the OS user].",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.pass_context
def cli(
    ctx: click.Context,
    database_url: str | None,
    artifact_root: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Inspect, compare, promote and govern the model registry.

    \b
    Examples:
      registry models
      registry versions churn --order-by -metrics.auc --limit 5
      registry show churn@production
      registry promote churn/7 --reason "auc 0.93 > 0.91" --expect churn/6
      registry --json lineage churn/7
    """
    ctx.obj = CliState(RegistryConfig.resolve(database_url, artifact_root), actor, as_json)


pass_state = click.make_pass_decorator(CliState)
