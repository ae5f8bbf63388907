"""The fence around store/prepared.py: every SQLAlchemy internal it relies on, checked one by
one so that an upgrade which changes one fails here, naming it, instead of as a wrong row
somewhere in the registry. If one of these fails: run with REGISTRY_PREPARED_STATEMENTS=0
(SQLAlchemy's ordinary execution) until prepared.py is adapted, then move the pin in
pyproject.toml to the release verified."""

from __future__ import annotations

import re
import sqlite3
import tomllib
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from packaging.requirements import Requirement
from packaging.version import Version
from sqlalchemy.engine import Dialect

from registry_project.core.store.prepared import DRIVER_CURSOR_OPTION
from registry_project.core.store.schema import UTCDateTime, models

SQLALCHEMY = version("sqlalchemy")
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def require(condition: object, internal: str, detail: str) -> None:
    if not condition:
        pytest.fail(
            f"SQLAlchemy {SQLALCHEMY} changed {internal}, which store/prepared.py relies on: "
            f"{detail}. Set REGISTRY_PREPARED_STATEMENTS=0 (ordinary execution) until "
            "prepared.py is adapted, then re-pin SQLAlchemy in pyproject.toml.",
            pytrace=False,
        )


def dialects() -> list[Dialect]:
    # Engines are created without connecting: only their dialects are used.
    return [
        sa.create_engine("sqlite://").dialect,
        sa.create_engine("postgresql+psycopg://nobody@127.0.0.1/none").dialect,
    ]


def test_the_installed_sqlalchemy_is_the_pinned_minor_release() -> None:
    [pin] = [
        Requirement(line)
        for line in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
        if Requirement(line).name.lower() == "sqlalchemy"
    ]
    installed = Version(SQLALCHEMY)
    assert installed in pin.specifier, (
        f"SQLAlchemy {installed} is installed but pyproject.toml pins {pin}: the internals "
        "store/prepared.py uses were verified only inside that range"
    )
    lower = {Version(s.version) for s in pin.specifier if s.operator == ">="}
    upper = {Version(s.version) for s in pin.specifier if s.operator == "<"}
    assert len(lower) == len(upper) == 1, f"{pin}: pin one minor range, >=X.Y,<X.Y+1"
    [low], [high] = lower, upper
    assert (high.major, high.minor) == (low.major, low.minor + 1), (
        f"{pin} spans more than one minor release; prepared.py was verified on one"
    )


@pytest.mark.parametrize("dialect", dialects(), ids=lambda d: d.name)
def test_compile_with_column_keys_names_only_the_given_columns(dialect: Dialect) -> None:
    compiled = models.insert().compile(dialect=dialect, column_keys=["name", "created_at"])
    require(
        re.search(r"\(name, created_at\)", compiled.string)
        and "last_version" not in compiled.string,
        "Executable.compile(column_keys=...)",
        f"an INSERT compiled for two columns reads {compiled.string!r}",
    )


@pytest.mark.parametrize("dialect", dialects(), ids=lambda d: d.name)
def test_bind_names_positional_and_positiontup(dialect: Dialect) -> None:
    statement = (
        models.update()
        .where(models.c.name == sa.bindparam("model_name"))
        .values(created_by=sa.bindparam("new_by"), last_version=7)
    )
    compiled = statement.compile(dialect=dialect, column_keys=["model_name", "new_by"])
    require(
        isinstance(getattr(compiled, "bind_names", None), dict)
        and all(isinstance(b, sa.BindParameter) for b in compiled.bind_names),
        "SQLCompiler.bind_names",
        "no longer a {BindParameter: rendered name} dict",
    )
    names = set(compiled.bind_names.values())
    require(
        {"model_name", "new_by"} <= names,
        "SQLCompiler.bind_names",
        f"rendered names {names} lack the statement's bind parameters",
    )
    expected_positional = dialect.paramstyle in ("qmark", "numeric", "format")
    require(
        getattr(compiled, "positional", None) is expected_positional,
        "SQLCompiler.positional",
        f"{dialect.paramstyle} gives positional={getattr(compiled, 'positional', None)}",
    )
    order = getattr(compiled, "positiontup", "missing")
    if expected_positional:
        require(
            isinstance(order, list | tuple) and set(order) == names,
            "SQLCompiler.positiontup",
            f"expected every rendered bind name in order, got {order!r}",
        )
        # The order is the order of the placeholders: SET (new_by, the literal) then WHERE.
        values = {name: f"<{name}>" for name in names}
        rendered = compiled.string
        for name in order:
            rendered = rendered.replace("?", values[name], 1)
        require(
            rendered.index("<new_by>") < rendered.index("<model_name>"),
            "SQLCompiler.positiontup",
            f"the order {order!r} is not the placeholders' order in {compiled.string!r}",
        )


def test_escaped_bind_names_map_to_the_rendered_placeholder() -> None:
    dialect = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1/none").dialect
    statement = sa.select(models.c.name).where(models.c.name == sa.bindparam("odd name(1)"))
    compiled = statement.compile(dialect=dialect, column_keys=["odd name(1)"])
    escaped = getattr(compiled, "escaped_bind_names", "missing")
    require(
        isinstance(escaped, dict) and "odd name(1)" in escaped,
        "SQLCompiler.escaped_bind_names",
        f"expected {{original: escaped}} for a name psycopg cannot render, got {escaped!r}",
    )
    require(
        f"%({escaped['odd name(1)']})s" in compiled.string,
        "SQLCompiler.escaped_bind_names",
        f"the escaped name {escaped['odd name(1)']!r} is not in {compiled.string!r}",
    )
    plain = models.insert().compile(dialect=dialect, column_keys=["name"])
    require(
        not plain.escaped_bind_names,
        "SQLCompiler.escaped_bind_names",
        "names that need no escaping are expected to be absent (empty or None)",
    )


@pytest.mark.parametrize("dialect", dialects(), ids=lambda d: d.name)
def test_a_literal_in_the_statement_is_an_effective_value(dialect: Dialect) -> None:
    statement = models.insert().values(name=sa.bindparam("model_name"), last_version=0)
    compiled = statement.compile(dialect=dialect, column_keys=["model_name"])
    literals = [
        getattr(bind, "effective_value", "missing")
        for bind, name in compiled.bind_names.items()
        if name != "model_name"
    ]
    require(
        literals == [0],
        "BindParameter.effective_value",
        f"the literal last_version=0 reads as {literals!r}",
    )


@pytest.mark.parametrize("dialect", dialects(), ids=lambda d: d.name)
def test_type_processors_are_reachable_per_dialect(dialect: Dialect) -> None:
    impl = UTCDateTime().dialect_impl(dialect)
    bind = impl.bind_processor(dialect)
    at = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    require(
        callable(bind),
        "TypeEngine.dialect_impl(dialect).bind_processor(dialect)",
        "a TypeDecorator gave no bind processor",
    )
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2026, 7, 1))  # type: ignore[misc]
    stored = bind(at)  # type: ignore[misc]
    result = impl.result_processor(dialect, None)
    require(
        callable(result) and result(stored) == at,
        "TypeEngine.result_processor(dialect, coltype)",
        f"a stored {stored!r} does not read back as {at!r}",
    )


def test_selected_columns_give_keys_and_types_in_row_order() -> None:
    statement = sa.select(models.c.name, sa.literal(True).label("flag"))
    items = list(statement.selected_columns.items())
    require(
        [key for key, _ in items] == ["name", "flag"] and isinstance(items[1][1].type, sa.Boolean),
        "Select.selected_columns",
        f"got {items!r}",
    )


@pytest.mark.parametrize(
    ("dbapi_error", "expected"),
    [
        (sqlite3.IntegrityError("UNIQUE constraint failed"), sa.exc.IntegrityError),
        (sqlite3.OperationalError("database is locked"), sa.exc.OperationalError),
        (psycopg.errors.UniqueViolation("duplicate key"), sa.exc.IntegrityError),
        (psycopg.errors.SerializationFailure("could not serialize"), sa.exc.OperationalError),
    ],
    ids=lambda value: type(value).__name__,
)
def test_dbapi_error_instance_wraps_as_sqlalchemy_would(
    dbapi_error: Exception, expected: type[sa.exc.DBAPIError]
) -> None:
    dialect = next(
        d for d in dialects() if isinstance(dbapi_error, d.loaded_dbapi.Error)
    )  # also checks Dialect.loaded_dbapi
    wrapped: Any = sa.exc.DBAPIError.instance(
        "INSERT ...", (1,), dbapi_error, dialect.loaded_dbapi.Error, dialect=dialect
    )
    require(
        isinstance(wrapped, expected) and wrapped.orig is dbapi_error,
        "sqlalchemy.exc.DBAPIError.instance(statement, params, orig, dbapi_base_err, dialect=)",
        f"{type(dbapi_error).__name__} became {type(wrapped).__name__}",
    )


def test_engine_execution_options_reach_connections_and_the_driver(tmp_path: Path) -> None:
    engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'x.db'}", execution_options={DRIVER_CURSOR_OPTION: False}
    )
    try:
        with engine.connect() as connection:
            require(
                connection.get_execution_options().get(DRIVER_CURSOR_OPTION) is False,
                "create_engine(execution_options=) / Connection.get_execution_options()",
                "an engine's option does not reach its connections",
            )
            cursor = connection.connection.cursor()
            cursor.execute("SELECT 1")
            require(
                cursor.fetchall() == [(1,)]
                and isinstance(connection.connection.driver_connection, sqlite3.Connection),
                "Connection.connection (the pooled DBAPI connection)",
                "no driver cursor or driver_connection",
            )
            cursor.close()
    finally:
        engine.dispose()
