"""The command group, its global options, and how errors reach the terminal."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from registry_project.core.config import RegistryConfig, resolve_actor
from registry_project.core.display import inert
from registry_project.core.entities.vocabulary import Stage
from registry_project.core.errors import RegistryError, RegistryNotFoundError
from registry_project.core.secrets import mask_credentials

if TYPE_CHECKING:
    from registry_project.cli.commands import LazyCommand

    # Imported where a registry is opened: SQLAlchemy and the core are most of a command's
    # start-up, and `--help`, usage errors and `db` never need them (issue #18).
    from registry_project.core.registry import ModelRegistry

F = TypeVar("F", bound=Callable[..., Any])

# The stage machine's LIFE_CYCLE is tuple(Stage) (test_stage_machine holds the two equal);
# read from the vocabulary, not core/stages.py, whose moves `--help` never needs.
STAGES = tuple(stage.value for stage in Stage)


@dataclass
class CliState:
    config: RegistryConfig
    actor: str | None
    json: bool
    # Where the database URL came from (--database-url, the environment, or the default),
    # so that "no registry here" can say which setting to change.
    url_source: str = "the default"
    _registry: ModelRegistry | None = field(default=None, repr=False)

    def registry(self) -> ModelRegistry:
        """Opened on first use, so `--help`, usage errors and `db` never open it (opening
        refuses a database whose schema is older than the package). Never created: every
        command needs records that only the Python API (or Dagster) writes, so a command
        run in the wrong directory says where it looked instead of leaving an empty
        registry there. `registry db upgrade` creates an empty one deliberately."""
        if self._registry is None:
            from registry_project.core.registry import ModelRegistry

            try:
                self._registry = ModelRegistry.open(
                    self.config.database_url, self.config.artifact_root, create=False
                )
            except RegistryNotFoundError as exc:
                fail(
                    f"no registry at {exc.location} ({self.url_source}); nothing was created. "
                    "Point the command at your registry with --database-url and "
                    "--artifact-root (or REGISTRY_DATABASE_URL and REGISTRY_ARTIFACT_ROOT), "
                    "or run it in the directory that holds ./.registry."
                )
            click.get_current_context().call_on_close(self._registry.close)
        return self._registry

    def who(self) -> str:
        """--actor, else REGISTRY_ACTOR, else the OS user (the core's own fallback)."""
        return resolve_actor(self.actor)


def fail(message: str) -> NoReturn:
    """How every expected failure ends: one line on stderr, exit status 1. Credentials
    are masked and invisible characters escaped, whatever the message quotes."""
    click.echo(f"error: {inert(mask_credentials(' '.join(message.split())))}", err=True)
    raise SystemExit(1)


def json_option(command: F) -> F:
    """`--json` after the command name too (`registry versions churn --json`); it sets the
    same flag as the global `registry --json versions churn`."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        state = ctx.find_object(CliState)
        if value and state is not None:
            state.json = True
        return value

    return click.option(
        "--json",
        "json_flag",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help="Machine-readable JSON on stdout.",
    )(command)


def handles_errors(command: F) -> F:
    """An expected error is one line on stderr and exit status 1, never a traceback.

    Expected: the registry's own errors (their messages say what to do), a database that
    cannot be reached or read, and file-system failures. A broken pipe (`| head`) is left
    to click, which exits quietly.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RegistryError as exc:
            fail(str(exc))
        except BrokenPipeError:
            raise
        except Exception as exc:
            if _is_database_error(exc):
                detail = getattr(exc, "orig", None) or exc
                fail(
                    f"registry database error: {detail}. Check --database-url "
                    "(REGISTRY_DATABASE_URL) and that the database is reachable."
                )
            if isinstance(exc, OSError):
                fail(f"{exc}. Check the path and its permissions.")
            raise

    return wrapper  # type: ignore[return-value]


def _is_database_error(exc: BaseException) -> bool:
    """A SQLAlchemy error, without importing SQLAlchemy to ask: a command that never
    loaded it cannot have raised one, and loading it costs ~0.1 s of start-up."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError)


class RegistryGroup(click.Group):
    """Lists commands by purpose, in the order they were added, instead of alphabetically.

    A command of a lazy section (add_lazy_section, from the table in commands.py) is
    imported from its module only when it is invoked: `--help` lists it from the table, so
    `registry --help` loads no command module, and `registry versions` only its own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sections: dict[str, list[str]] = {}
        self.lazy: dict[str, LazyCommand] = {}

    def add_section(self, title: str, *commands: click.Command) -> None:
        for command in commands:
            self.add_command(command)
            self._list_in(title, command.name or "")

    def add_lazy_section(self, title: str, commands: Sequence[LazyCommand]) -> None:
        for command in commands:
            self.lazy[command.name] = command
            self._list_in(title, command.name)

    def _list_in(self, title: str, name: str) -> None:
        names = self.sections.setdefault(title, [])
        if name not in names:
            names.append(name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        listed = [name for names in self.sections.values() for name in names]
        return list(dict.fromkeys([*listed, *self.commands]))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        lazy = self.lazy.get(cmd_name)
        if command is None and lazy is not None:
            command = getattr(importlib.import_module(lazy.module), lazy.attribute)
            self.add_command(command, cmd_name)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            # click suggests close names from the commands loaded so far; suggest from all.
            raise click.exceptions.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = max((len(name) for name in self.list_commands(ctx)), default=0)
        limit = formatter.width - 6 - width
        for title, names in self.sections.items():
            rows = [(name, self._short_help(name, limit)) for name in names]
            with formatter.section(title):
                formatter.write_dl(rows)

    def _short_help(self, name: str, limit: int) -> str:
        lazy = self.lazy.get(name)
        return (
            lazy.short_help if lazy is not None else self.commands[name].get_short_help_str(limit)
        )


@click.group(
    cls=RegistryGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--database-url",
    envvar="REGISTRY_DATABASE_URL",
    metavar="URL",
    help="Metadata database [env REGISTRY_DATABASE_URL; default sqlite:///./.registry/registry.db].",
)
@click.option(
    "--artifact-root",
    envvar="REGISTRY_ARTIFACT_ROOT",
    metavar="DIR|S3",
    help="Blob store: a directory or s3://bucket/prefix "
    "[env REGISTRY_ARTIFACT_ROOT; default ./.registry/artifacts].",
)
@click.option(
    "--actor",
    envvar="REGISTRY_ACTOR",
    help="Who is acting, recorded in the audit log [env REGISTRY_ACTOR; default the OS user].",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Machine-readable JSON on stdout (also accepted after any command name).",
)
@click.version_option(package_name="registry_project", prog_name="registry")
@click.pass_context
def cli(
    ctx: click.Context,
    database_url: str | None,
    artifact_root: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Inspect, compare, promote and govern the model registry.

    A version is referred to by its UUID, NAME/N (churn/7), NAME@STAGE (churn@production,
    churn@latest) or NAME@ALIAS (churn@champion). Errors print one line on stderr and exit
    1; usage errors exit 2.

    \b
    Examples:
      registry models
      registry versions churn --order-by -metrics.auc --limit 5
      registry compare churn 6 7
      registry promote churn/7 --reason "auc 0.93 > 0.91" --expect churn/6
      registry --json lineage churn@production | jq .datasets
    """
    sources = {
        click.core.ParameterSource.COMMANDLINE: "given by --database-url",
        click.core.ParameterSource.ENVIRONMENT: "from REGISTRY_DATABASE_URL",
    }
    url_source = sources.get(
        ctx.get_parameter_source("database_url"),  # type: ignore[arg-type]
        "the default, ./.registry in the current directory",
    )
    try:
        config = RegistryConfig.resolve(database_url, artifact_root)
    except RegistryError as exc:
        fail(str(exc))
    ctx.obj = CliState(config, actor, as_json, url_source)


pass_state = click.make_pass_decorator(CliState)
