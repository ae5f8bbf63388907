"""What the `registry` command imports, as real processes (issue #18).

`registry --help` must not load SQLAlchemy, the core registry or any heavy library;
`registry versions m --limit 20` reads a SQLite registry without SQLAlchemy
(core/store/sqlite_reads.py), and opens any other registry with SQLAlchemy and nothing of
Dagster, pandas, pyarrow, MLflow, Alembic or boto. No timing here (benchmarks/startup.py
measures the seconds); a module list is what a test can hold without flaking.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project.cli.app import RegistryGroup
from registry_project.cli.commands import SECTIONS

REGISTRY = Path(sys.executable).parent / "registry"
ROOT = Path(__file__).resolve().parents[1]

# Third-party packages no command listing or reading versions needs.
HEAVY = ("dagster", "pandas", "pyarrow", "numpy", "mlflow", "alembic", "boto3", "botocore")
# The core modules behind other commands: loaded by `versions`, they would be paid by every
# command (and they drag in the store's other halves, subprocess, zipfile, ...).
OTHER_COMMANDS = (
    "registry_project.core.mlflow_import",
    "registry_project.core.mlflow_export",
    "registry_project.core.evidence",
    "registry_project.core.model_card",
    "registry_project.core.reproduce",
    "registry_project.ui",
)

# Runs the real command group in-process with click's standalone mode off, then prints
# every module the process holds: the same code path as the console script, minus exit.
WRAPPER = """
import json, sys
from registry_project.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="registry", standalone_mode=False)
except SystemExit:
    pass
print("\\n@@MODULES@@" + json.dumps(sorted(sys.modules)))
"""


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def modules_after(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[str, set[str]]:
    """(stdout before the module list, the module names) of `registry ARGS`; `env` is
    added to the environment."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**environment(), **(env or {})},
        timeout=120,
        check=True,
    )
    output, _, listed = done.stdout.rpartition("\n@@MODULES@@")
    return output, set(json.loads(listed))


def imported_by_console_script(*args: str, cwd: Path | None = None) -> set[str]:
    """Every module `-X importtime` reports for the installed `registry` script itself."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(REGISTRY), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    names.discard("package")  # the header line
    return names


def loaded(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == r or m.startswith(r + ".") for r in roots))


def test_help_loads_neither_sqlalchemy_nor_the_core() -> None:
    output, modules = modules_after("--help")
    assert "Inspect, compare, promote and govern the model registry." in output
    assert "versions" in output and "promote" in output  # the full command list
    assert "click" in modules  # the list is real
    assert loaded(modules, ("sqlalchemy", *HEAVY, *OTHER_COMMANDS)) == []
    assert loaded(modules, ("registry_project.core.registry", "registry_project.core.store")) == []


def test_help_creates_no_record_and_loads_no_check() -> None:
    """`--help` lists commands: no record dataclass (only the vocabulary their options
    name), no validation module beyond the limits and names, no progress bar, no socket."""
    _, modules = modules_after("--help")
    assert loaded(modules, ("registry_project.core.entities",)) == [
        "registry_project.core.entities",
        "registry_project.core.entities.vocabulary",
    ]
    assert loaded(modules, ("registry_project.core.validation",)) == [
        "registry_project.core.validation",
        "registry_project.core.validation.limits",
        "registry_project.core.validation.names",
    ]
    assert loaded(modules, ("rich.progress", "socket", "registry_project.core.facade")) == []


def test_the_installed_console_script_help_loads_no_sqlalchemy() -> None:
    """The entry point pyproject.toml names (registry_project.cli:main), as installed."""
    modules = imported_by_console_script("--help")
    assert "registry_project.cli" in modules
    assert loaded(modules, ("sqlalchemy", *HEAVY, "registry_project.core.registry")) == []


# The command modules, in the order their sections appear in `registry --help`.
COMMAND_MODULES = (
    "inspect",
    "tracking",
    "search",
    "stages",
    "governance",
    "data",
    "retention",
    "integrity",
    "evidence",
    "reproduce",
    "interop",
    "db",
    "ui_command",
)


def eager_group() -> RegistryGroup:
    """`registry` as it was before the table: every command module imported, each adding
    its own section (`register`), with the real group's options and text."""
    group = RegistryGroup(
        name=cli.name,
        callback=cli.callback,
        params=cli.params,
        help=cli.help,
        context_settings=cli.context_settings,
    )
    for module in COMMAND_MODULES:
        importlib.import_module(f"registry_project.cli.{module}").register(group)
    return group


def test_the_command_table_is_the_commands_own() -> None:
    """commands.py's table names each command's section, module and short help as the
    command modules themselves do; `--help` lists them identically."""
    eager = eager_group()
    assert {title: [c.name for c in rows] for title, rows in SECTIONS.items()} == eager.sections
    for rows in SECTIONS.values():
        for row in rows:
            command = getattr(importlib.import_module(row.module), row.attribute)
            assert isinstance(command, click.Command) and command is eager.commands[row.name]
            assert command.name == row.name
            assert command.get_short_help_str(limit=1000) == row.short_help
    runner = CliRunner()
    for width in (None, 60):  # click's default width, and a narrow terminal that wraps
        lazy_help = runner.invoke(cli, ["--help"], terminal_width=width)
        eager_help = runner.invoke(eager, ["--help"], terminal_width=width)
        assert lazy_help.exit_code == eager_help.exit_code == 0
        assert lazy_help.output == eager_help.output
        assert lazy_help.output.count("  runs ") == 1  # each command listed once


def command_modules(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.startswith("registry_project.cli."))


def test_help_imports_no_command_module_and_no_rich() -> None:
    output, modules = modules_after("--help")
    for rows in SECTIONS.values():
        assert all(f"  {row.name} " in output for row in rows)
    assert command_modules(modules) == ["registry_project.cli.app", "registry_project.cli.commands"]
    # nor the stage machine: the stage names come from the vocabulary
    assert loaded(modules, ("rich", "registry_project.core.stages")) == []


def test_a_command_imports_its_own_module_only() -> None:
    """`registry runs --help` loads tracking.py (and what it imports), no other command's."""
    output, modules = modules_after("runs", "--help")
    assert "Usage: registry runs" in output
    others = ("inspect", "stages", "governance", "data", "retention", "integrity", "evidence")
    assert "registry_project.cli.tracking" in modules
    assert loaded(modules, tuple(f"registry_project.cli.{m}" for m in others)) == []


def test_an_unknown_command_is_matched_against_every_command() -> None:
    """click suggests close names; `verify` is suggested though its module is not loaded."""
    done = subprocess.run(
        [sys.executable, "-c", "from registry_project.cli import main; main()", "verions"],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
    )
    assert done.returncode == 2
    assert "No such command 'verions'. (Did you mean one of: 'verify', 'versions'?)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["db", "evidence", "reproduce", "import", "versions"])
def test_a_commands_help_loads_no_sqlalchemy(command: str) -> None:
    output, modules = modules_after(command, "--help")
    assert "Usage: registry" in output
    assert loaded(modules, ("sqlalchemy", *HEAVY)) == []


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    """A real registry in ./.registry (where the command looks by default): model m, 25
    versions registered through the Python API."""
    url = f"sqlite:///{tmp_path / '.registry' / 'registry.db'}"
    (tmp_path / ".registry").mkdir()
    with ModelRegistry.open(url, str(tmp_path / ".registry" / "artifacts")) as reg:
        for i in range(25):
            reg.register_model("m", {"i": i}, metrics={"auc": 0.5 + i / 100}, actor="ana")
    return tmp_path


def test_versions_of_a_sqlite_registry_loads_neither_sqlalchemy_nor_the_core(
    registry_dir: Path,
) -> None:
    output, modules = modules_after("--json", "versions", "m", "--limit", "20", cwd=registry_dir)
    rows = json.loads(output)
    assert [row["version"] for row in rows] == list(range(25, 5, -1))
    assert "registry_project.core.store.sqlite_reads" in modules  # the list is real
    assert loaded(modules, ("sqlalchemy", "registry_project.core.registry")) == []
    assert loaded(modules, ("registry_project.core.facade", "registry_project.core.ops")) == []
    assert loaded(modules, (*HEAVY, *OTHER_COMMANDS)) == []
    assert loaded(modules, ("rich",)) == []


@pytest.mark.parametrize("as_json", [True, False])
def test_models_of_a_sqlite_registry_loads_neither_sqlalchemy_nor_the_core(
    registry_dir: Path, as_json: bool
) -> None:
    output, modules = modules_after(
        *(["--json"] if as_json else []), "models", "--metric", "auc", cwd=registry_dir
    )
    if as_json:
        [row] = json.loads(output)
        assert (row["name"], row["latest_version"], row["value"]) == ("m", 25, 0.74)
    else:
        assert "auc=0.74" in output and "v25" in output
    assert "registry_project.core.store.sqlite_reads" in modules  # the list is real
    assert loaded(modules, ("sqlalchemy", "registry_project.core.registry")) == []
    assert loaded(modules, ("registry_project.core.facade", "registry_project.core.ops")) == []


def test_audit_of_a_sqlite_registry_loads_neither_sqlalchemy_nor_the_core(
    registry_dir: Path,
) -> None:
    output, modules = modules_after(
        "--json", "audit", "--model", "m", "--newest-first", "--limit", "3", cwd=registry_dir
    )
    rows = json.loads(output)
    assert [(row["action"], row["after"]["version"]) for row in rows] == [
        ("register_model", 25),
        ("register_model", 24),
        ("register_model", 23),
    ]
    assert "registry_project.core.store.sqlite_reads" in modules  # the list is real
    assert loaded(modules, ("sqlalchemy", "registry_project.core.registry")) == []
    assert loaded(modules, ("registry_project.core.facade", "registry_project.core.ops")) == []


@pytest.mark.parametrize("terminal", [{}, {"FORCE_COLOR": "1", "TERM": "xterm-256color"}])
def test_versions_table_of_a_sqlite_registry_loads_no_rich(
    registry_dir: Path, terminal: dict[str, str]
) -> None:
    """The table as rich prints it to a pipe or a colour terminal (cli/plain_table.py),
    without rich; from `inspect`, the only command module loaded, and version records
    only: no run or dataset record class is created for versions without a signature."""
    output, modules = modules_after(
        "versions", "m", "--limit", "20", cwd=registry_dir, env=terminal
    )
    assert "m: 20 version(s), by -version" in output and "│ 25 " in output
    assert ("\x1b[" in output) == bool(terminal)
    assert loaded(modules, ("rich",)) == []
    assert command_modules(modules) == [
        "registry_project.cli.app",
        "registry_project.cli.commands",
        "registry_project.cli.inspect",
        "registry_project.cli.output",
        "registry_project.cli.plain_table",
    ]
    records = ("model_records", "run_records", "dataset_records", "audit_records")
    assert loaded(modules, tuple(f"registry_project.core.entities.{m}" for m in records)) == []


def test_versions_opening_the_registry_loads_no_heavy_library(registry_dir: Path) -> None:
    """A URL with options is SQLAlchemy's to read: the command opens the registry."""
    url = f"sqlite:///{registry_dir / '.registry' / 'registry.db'}?timeout=30"
    output, modules = modules_after(
        "--database-url", url, "--json", "versions", "m", "--limit", "20"
    )
    assert [row["version"] for row in json.loads(output)] == list(range(25, 5, -1))
    assert "sqlalchemy" in modules and "registry_project.core.registry" in modules
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, OTHER_COMMANDS) == []


def test_versions_opening_a_sqlite_registry_loads_neither_postgresql_nor_other_ops(
    registry_dir: Path,
) -> None:
    """SQLAlchemy's PostgreSQL dialect (and its psycopg and asyncpg adapters) only for a
    PostgreSQL registry; the facade's ops modules for writes only in the calls using them."""
    url = f"sqlite:///{registry_dir / '.registry' / 'registry.db'}?timeout=30"
    output, modules = modules_after("--database-url", url, "versions", "m", "--limit", "20")
    assert "25" in output and "sqlalchemy.dialects.sqlite" in modules
    assert loaded(modules, ("sqlalchemy.dialects.postgresql", "psycopg", "asyncpg")) == []
    lazy_ops = ("audit_ops", "tag_ops", "registration", "retention_ops", "run_param_ops")
    assert loaded(modules, tuple(f"registry_project.core.ops.{m}" for m in lazy_ops)) == []
    assert (
        loaded(modules, ("registry_project.core.ops.run_artifact_ops", "xml", "urllib.request"))
        == []
    )


def test_versions_through_the_console_script_loads_no_heavy_library(registry_dir: Path) -> None:
    modules = imported_by_console_script("versions", "m", "--limit", "20", cwd=registry_dir)
    assert "registry_project.core.store.sqlite_reads" in modules
    assert loaded(modules, ("sqlalchemy", *HEAVY, *OTHER_COMMANDS)) == []


def test_the_public_names_resolve_on_first_use() -> None:
    code = (
        "import sys, registry_project; before = 'sqlalchemy' in sys.modules; "
        "from registry_project import Stage, RegistryError; "
        "middle = 'sqlalchemy' in sys.modules; "
        "from registry_project import ModelRegistry; "
        "print(before, middle, 'sqlalchemy' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment()
    )
    assert done.stdout.split() == ["False", "False", "True"], done.stderr


# The packages whose names resolve on first use (PEP 562).
LAZY_PACKAGES = (
    "registry_project",
    "registry_project.core.entities",
    "registry_project.core.validation",
)


@pytest.mark.parametrize("package_name", LAZY_PACKAGES)
def test_every_public_name_is_the_defining_modules_object(package_name: str) -> None:
    package = importlib.import_module(package_name)
    public = package._PUBLIC
    assert sorted(public) == sorted(package.__all__)
    for name, module in public.items():
        assert getattr(package, name) is getattr(importlib.import_module(module), name)
    assert set(package.__all__) <= set(dir(package))
    namespace: dict[str, object] = {}
    exec(f"from {package_name} import *", namespace)
    assert set(package.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        package.NoSuchName  # noqa: B018


@pytest.mark.parametrize("package_name", LAZY_PACKAGES)
def test_type_checkers_see_the_same_names(package_name: str) -> None:
    """The `if TYPE_CHECKING:` imports (what mypy and IDEs read) name exactly the public
    names, each from the module the lazy table resolves it from."""
    package = importlib.import_module(package_name)
    tree = ast.parse(Path(package.__file__ or "").read_text())
    seen: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                for alias in statement.names:
                    seen[alias.asname or alias.name] = statement.module or ""
    assert seen == package._PUBLIC


def test_a_pickle_naming_the_old_module_of_a_moved_record_still_loads() -> None:
    """Registration, Lineage, ... moved from entities/version_records.py to model_records.py
    (so that a listing of versions creates one record class); a pickle written before, such
    as a Dagster output, names the old module and still finds its class there."""
    import datetime
    import io
    import pickle
    import pickletools

    from registry_project.core.entities import model_records, version_records

    approval = model_records.Approval("v1", "ana", None, datetime.datetime(2026, 12, 3))
    written = pickle.dumps(approval, protocol=2)
    old = written.replace(b"model_records", b"version_records")
    assert b"version_records" in old and b"model_records" not in old
    pickletools.optimize(old)  # still a well-formed pickle
    assert pickle.load(io.BytesIO(old)) == approval
    for name in version_records._MOVED:
        assert getattr(version_records, name) is getattr(model_records, name)
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        version_records.Nothing  # noqa: B018
