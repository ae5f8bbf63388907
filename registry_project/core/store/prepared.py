"""Hot-path statements, compiled once per dialect and run on the driver's own cursor.

Registration runs about fifteen statements in three transactions. Through SQLAlchemy's
execution layer each statement costs tens of microseconds of Python (events, execution
context, result wrapping) on top of a few microseconds in SQLite itself; on the write path
that overhead was most of a registration. A `PreparedStatement` is still defined as a Core
statement, so both dialects get their own SQL from one definition; only its execution skips
the layer: bind values go through the same type processors SQLAlchemy would apply, and
driver errors are raised as the `sqlalchemy.exc.DBAPIError` subclasses the rest of the
store handles (retries, conflicts).

`execute` gives rows as the driver does (tuples, no result processing: SQLite gives 0/1
for booleans); `fetch` applies the column types' result processors to a SELECT's rows.

Skipping the layer also skips what hangs off it: `create_engine(echo=True)` and
`before_cursor_execute` listeners see neither these statements nor SQLite's BEGIN (see
engine.py); COMMIT and every other query still go through SQLAlchemy.

On PostgreSQL each statement that waits for its answer costs a round trip. Statements whose
results nobody reads (the INSERTs of a run's or a version's rows, the audit event, the head
UPDATE) are queued instead (`execute_later`, `execute_many_later`) and sent together in one
psycopg pipeline, in front of the next statement whose result is needed, so the whole batch
waits on one Sync. A statement whose rows are needed, but not before another statement's, is
queued the same way (`execute_soon`): its rows arrive with that statement's. The
transaction's BEGIN is queued the same way (engine.py runs the driver in autocommit mode and
sends BEGIN itself), and COMMIT rides the last pipeline (`commit_pending`). A queued
statement's error arrives at that flush, wrapped as every other driver error here; the
transaction is rolled back by its caller, so nothing it queued is written. On SQLite (no
network between client and database) and with the switch off, the queued methods execute at
once.

The switch, for hunting a bug: with `REGISTRY_PREPARED_STATEMENTS=0` in the environment when
the registry opens its engine, the same statements run through SQLAlchemy's ordinary
`Connection.execute` (and BEGIN through `exec_driver_sql`), so echo, listeners and
SQLAlchemy's own error handling see everything; results are the same either way (the test
suite runs both ways in CI). The SQLAlchemy internals the fast path relies on are checked by
registry_project_tests/core/test_prepared_internals.py; pyproject.toml pins SQLAlchemy to the
minor release they were verified against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.base import Executable

from registry_project.core.errors import ConfigurationError

Processor = Callable[[Any], Any] | None
_UNSET = object()

SWITCH_VARIABLE = "REGISTRY_PREPARED_STATEMENTS"
# An engine execution option (set by engine.py from the switch): False runs every
# PreparedStatement through SQLAlchemy's ordinary execution. Absent means True.
DRIVER_CURSOR_OPTION = "registry_driver_cursor"
_SWITCH_VALUES = {
    "": True,
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def prepared_statements_enabled(environ: Mapping[str, str]) -> bool:
    """The switch as read from `environ`: on unless REGISTRY_PREPARED_STATEMENTS says 0."""
    raw = environ.get(SWITCH_VARIABLE, "")
    try:
        return _SWITCH_VALUES[raw.strip().lower()]
    except KeyError:
        raise ConfigurationError(
            f"{SWITCH_VARIABLE}={raw!r} is not a switch; set it to 0 to run the hot-path "
            "statements through SQLAlchemy's ordinary execution, 1 (or leave it unset) for "
            "the driver's cursor"
        ) from None


class SoonRows:
    """The rows of a statement queued by `PreparedStatement.execute_soon`, there once the
    pipeline it travelled in has been sent."""

    __slots__ = ("_connection", "_rows")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._rows: list[tuple[Any, ...]] | None = None

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row, sending what is still queued first if the statement is among it."""
        connection = self._connection
        if self._rows is None and not connection.closed and connection.in_transaction():
            flush_pending(connection)
        if self._rows is None:  # queued, then discarded by a rollback: a caller's bug
            raise RuntimeError("the statement's transaction ended before its rows were read")
        return self._rows


# Connection.info key (the pooled connection's own dict): the statements queued on it, as
# (SQL, the driver's parameters, many rows?, where its rows go or None). Cleared on every
# flush, rollback and checkin.
PENDING_KEY = "registry_pending"
BEGIN_SQL = "BEGIN"
COMMIT_SQL = "COMMIT"
Queued = tuple[str, Any, bool, SoonRows | None]
Pending = list[Queued]


def on_driver_cursor(connection: Connection) -> bool:
    """Whether statements on `connection` take the fast path (the engine's switch)."""
    return connection.get_execution_options().get(DRIVER_CURSOR_OPTION, True)


def _autobegin(connection: Connection) -> None:
    """On PostgreSQL, begin the transaction SQLAlchemy begins on a first statement
    (autobegin). The driver runs in autocommit mode there, its BEGIN queued by engine.py's
    begin event (`_pipeline_transactions`), so a statement this module ran outside
    `begin()` would run outside any transaction: a server-side cursor (`stream`) would be
    refused, and queued statements would wait for a COMMIT that never comes. Through
    SQLAlchemy, and with psycopg's own transactions before pipelines, such a statement ran
    in a transaction that ends with the connection; so it does here. SQLite keeps its
    driver's autocommit, as before."""
    if connection.dialect.name == "postgresql" and not connection.in_transaction():
        connection.begin()


# eq=False: hashed by identity, because `fetch` looks its result processors up by the
# compiled statement on every call (a field-wise hash would walk every column).
@dataclass(frozen=True, eq=False)
class _Compiled:
    sql: str
    positional: bool
    # (key in the caller's parameters, key in the driver's parameters, value when the caller
    # gives none (a literal in the statement), bind processor)
    binds: tuple[tuple[str, str, Any, Processor], ...]
    # A SELECT's columns, in the order of the driver's rows: (key, type).
    columns: tuple[tuple[str, sa.types.TypeEngine[Any]], ...]

    def driver_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """`driver_parameters` of many rows, column by column: a value that is the same
        object as the row before's is processed once (a batch of step metrics shares one
        timestamp per logged step, and its conversion is most of the batch's Python)."""
        columns = []
        for key, _, default, process in self.binds:
            values = [row.get(key, default) for row in rows]
            if process is not None:
                previous: Any = _UNSET
                converted: Any = None
                out = []
                for value in values:
                    if value is None:
                        out.append(None)
                        continue
                    if value is not previous:
                        previous, converted = value, process(value)
                    out.append(converted)
                values = out
            columns.append(values)
        if self.positional:
            return list(zip(*columns, strict=True))
        keys = [driver_key for _, driver_key, _, _ in self.binds]
        return [dict(zip(keys, values, strict=True)) for values in zip(*columns, strict=True)]

    def driver_parameters(self, parameters: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = []
        for key, _, default, process in self.binds:
            value = parameters.get(key, default)
            values.append(value if process is None or value is None else process(value))
        if self.positional:
            return tuple(values)
        return {
            driver_key: value
            for (_, driver_key, _, _), value in zip(self.binds, values, strict=True)
        }


class PreparedStatement:
    """A Core statement executed without SQLAlchemy's per-call execution machinery.

    Compiled lazily per (dialect, parameter names), exactly as SQLAlchemy would compile it
    for those parameters: an INSERT names only the columns given, so server defaults apply.
    """

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
        self._processors: dict[_Compiled, tuple[Processor, ...]] = {}

    def execute(
        self, connection: Connection, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run once; the rows of a SELECT or RETURNING, fetched in full so that the
        statement is finished before the next one (SQLite cannot commit around an open one).

        Values are unprocessed on the fast path and processed by SQLAlchemy with the switch
        off: callers use them only where both agree (numbers, text, truth values)."""
        if not on_driver_cursor(connection):
            result = _ordinary(connection, self._statement, dict(parameters or {}))
            return [tuple(row) for row in result] if result.returns_rows else []
        _, rows, _ = self._run(connection, parameters or {})
        return rows

    def fetch(
        self, connection: Connection, parameters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run a SELECT; its rows as {column key: value}, each value converted by its
        column type's result processor as SQLAlchemy would (SQLite's text datetimes become
        aware UTC datetimes, and so on)."""
        if not on_driver_cursor(connection):
            result = _ordinary(connection, self._statement, dict(parameters or {}))
            return [dict(row) for row in result.mappings()]
        compiled, rows, description = self._run(connection, parameters or {})
        # Some processors depend on the driver's type code (PostgreSQL's numerics), so they
        # are chosen from the first result's description, then kept.
        processors = self._processors.get(compiled)
        if processors is None:
            processors = self._processors[compiled] = _result_processors(
                compiled, connection.dialect, description
            )
        keys = [key for key, _ in compiled.columns]
        return [
            {
                key: value if process is None or value is None else process(value)
                for key, process, value in zip(keys, processors, row, strict=True)
            }
            for row in rows
        ]

    def execute_later(self, connection: Connection, parameters: Mapping[str, Any]) -> None:
        """Run `execute`'s statement, whose result nobody reads, with the next statement that
        waits for one (or the COMMIT): on PostgreSQL's fast path it is queued on the
        connection; elsewhere it runs at once. Bind values are converted now, so a value
        the column type refuses fails here as with `execute`."""
        self._queue(connection, parameters, None)

    def execute_soon(self, connection: Connection, parameters: Mapping[str, Any]) -> SoonRows:
        """`execute`, its rows read from the result only when they are needed: on
        PostgreSQL's fast path the statement is queued as `execute_later` queues it, so it
        shares the round trip of the next statement that waits for a result; elsewhere it
        runs at once. The statements run in the order they were issued either way."""
        soon = SoonRows(connection)
        self._queue(connection, parameters, soon)
        return soon

    def _queue(
        self, connection: Connection, parameters: Mapping[str, Any], soon: SoonRows | None
    ) -> None:
        """Queue the statement on the connection (its rows, if any, to `soon` at the flush),
        or where nothing is queued run it at once (its rows to `soon` now)."""
        if on_driver_cursor(connection):
            _autobegin(connection)
        pending = _pending(connection)
        if pending is None:
            rows = self.execute(connection, parameters)
            if soon is not None:
                soon._rows = rows
            return
        compiled = self._compile(connection.dialect, tuple(parameters))
        pending.append((compiled.sql, compiled.driver_parameters(parameters), False, soon))

    def execute_many_later(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """`execute_many`, queued as `execute_later` queues."""
        if not rows:
            return
        if on_driver_cursor(connection):
            _autobegin(connection)
        pending = _pending(connection)
        if pending is None:
            self.execute_many(connection, rows)
            return
        compiled = self._compile(connection.dialect, tuple(rows[0]))
        pending.append((compiled.sql, compiled.driver_rows(rows), True, None))

    def stream(self, connection: Connection, batch: int = 5000) -> Iterator[Sequence[Any]]:
        """Run a SELECT (its literal values bound, no others); its rows in lists of up to
        `batch`, read as they are needed (a scan of the whole audit log never holds it in
        memory at once).

        On the fast path the rows are the driver's, unprocessed as with `execute`;
        `processed` converts one as `fetch` would. With the switch off they come through
        SQLAlchemy, already processed. PostgreSQL streams through a server-side cursor,
        as SQLAlchemy's `yield_per` does."""
        if not on_driver_cursor(connection):
            result = connection.execution_options(yield_per=batch).execute(self._statement)
            for rows in result.partitions():
                yield [tuple(row) for row in rows]
            return
        compiled = self._compile(connection.dialect, ())
        _autobegin(connection)
        flush_pending(connection)
        driver = connection.connection
        named = connection.dialect.name == "postgresql"
        cursor = driver.cursor(name=f"registry_stream_{id(self):x}") if named else driver.cursor()
        try:
            run_on_driver(
                connection.dialect, cursor.execute, compiled.sql, compiled.driver_parameters({})
            )
            while True:
                try:
                    rows = cursor.fetchmany(batch)
                except connection.dialect.loaded_dbapi.Error as exc:
                    raise sa.exc.DBAPIError.instance(
                        compiled.sql,
                        (),
                        exc,
                        connection.dialect.loaded_dbapi.Error,
                        dialect=connection.dialect,
                    ) from exc
                if not rows:
                    return
                if compiled not in self._processors:
                    self._processors[compiled] = _result_processors(
                        compiled, connection.dialect, cursor.description
                    )
                yield rows
        finally:
            cursor.close()

    def processed(self, connection: Connection, row: Sequence[Any]) -> dict[str, Any]:
        """One row of `stream` as {column key: value}, converted as `fetch` converts."""
        compiled = self._compile(connection.dialect, ())
        keys = [key for key, _ in compiled.columns]
        processors = self._processors.get(compiled)
        if not on_driver_cursor(connection) or processors is None:
            return dict(zip(keys, row, strict=True))
        return {
            key: value if process is None or value is None else process(value)
            for key, process, value in zip(keys, processors, row, strict=True)
        }

    def execute_many(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row (rows share their keys), in one driver call."""
        if not rows:
            return
        if not on_driver_cursor(connection):
            _ordinary(connection, self._statement, [dict(row) for row in rows])
            return
        compiled = self._compile(connection.dialect, tuple(rows[0]))
        driver_rows = compiled.driver_rows(rows)
        _autobegin(connection)
        if _pending(connection):
            flush_pending(connection, (compiled.sql, driver_rows, True, None))
            return
        cursor = connection.connection.cursor()
        try:
            run_on_driver(connection.dialect, cursor.executemany, compiled.sql, driver_rows)
        finally:
            cursor.close()

    def _run(
        self, connection: Connection, parameters: Mapping[str, Any]
    ) -> tuple[_Compiled, list[tuple[Any, ...]], Any]:
        """(the compiled statement, every row it returned, the cursor's description)."""
        _autobegin(connection)
        compiled = self._compile(connection.dialect, tuple(parameters))
        driver_parameters = compiled.driver_parameters(parameters)
        if _pending(connection):
            cursor = flush_pending(connection, (compiled.sql, driver_parameters, False, None))
            description = cursor.description
            rows = cursor.fetchall() if description else []
            cursor.close()
            return compiled, rows, description
        cursor = connection.connection.cursor()
        try:
            run_on_driver(connection.dialect, cursor.execute, compiled.sql, driver_parameters)
            description = cursor.description
            return compiled, cursor.fetchall() if description else [], description
        finally:
            cursor.close()

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        cache_key = (dialect.name, keys)
        found = self._compiled.get(cache_key)
        if found is None:
            found = self._compiled[cache_key] = _compile(self._statement, dialect, keys)
        return found


def _ordinary(
    connection: Connection, statement: Executable, parameters: dict[str, Any] | list[dict[str, Any]]
) -> sa.CursorResult[Any]:
    """SQLAlchemy's own execution, failing as the fast path fails: a bind processor's error
    (a naive datetime) as itself, not wrapped in a StatementError; driver errors unchanged."""
    try:
        return connection.execute(statement, parameters)
    except sa.exc.StatementError as exc:
        if isinstance(exc, sa.exc.DBAPIError) or exc.orig is None:
            raise
        raise exc.orig from exc


def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    escaped = compiled.escaped_bind_names or {}
    # Each bind parameter under the name it is rendered with, in rendering order when the
    # driver's parameters are positional.
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    order = compiled.positiontup if compiled.positional else by_name
    binds = []
    for name in order or ():
        bind = by_name[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        default = None if name in keys else bind.effective_value
        binds.append((name, escaped.get(name, name), default, process))
    columns = []
    if isinstance(statement, sa.Select):
        columns = [(key, column.type) for key, column in statement.selected_columns.items()]
    return _Compiled(
        sql=compiled.string,
        positional=compiled.positional,
        binds=tuple(binds),
        columns=tuple(columns),
    )


def _result_processors(
    compiled: _Compiled, dialect: Dialect, description: Sequence[Sequence[Any]]
) -> tuple[Processor, ...]:
    return tuple(
        type_.dialect_impl(dialect).result_processor(dialect, column_description[1])
        for (_, type_), column_description in zip(compiled.columns, description, strict=True)
    )


def run_on_driver(
    dialect: Dialect, method: Callable[[str, Any], object], sql: str, parameters: Any
) -> None:
    """`method(sql, parameters)` on a driver cursor or connection, its errors wrapped."""
    try:
        method(sql, parameters)
    except dialect.loaded_dbapi.Error as exc:
        # The same wrapping SQLAlchemy applies, so callers see IntegrityError,
        # OperationalError, ... with the driver's error as `.orig`.
        raise sa.exc.DBAPIError.instance(
            sql, parameters, exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc


def _pending(connection: Connection) -> Pending | None:
    """The queue of `connection`'s transaction; None where statements are not queued
    (SQLite, the switch off, a connection engine.py did not set up for it)."""
    if not on_driver_cursor(connection):
        return None
    return connection.info.get(PENDING_KEY)


def begin_later(connection: Connection) -> None:
    """Queue the transaction's BEGIN (engine.py's begin event on PostgreSQL)."""
    connection.info[PENDING_KEY] = [(BEGIN_SQL, None, False, None)]


def discard_pending(info: dict[str, Any]) -> None:
    """Forget what was queued (a rollback: none of it may be written)."""
    pending = info.get(PENDING_KEY)
    if pending:
        pending.clear()


def flush_pending(connection: Connection, last: Queued | None = None) -> Any:
    """Send the queued statements, then `last` (SQL, parameters, many rows?, None), in one
    pipeline: one Sync, one wait. Returns the cursor `last` ran on (its rows read), None
    without `last`; a statement queued by `execute_soon` has its rows handed over. The
    first error of any of them is raised wrapped as SQLAlchemy's; the server skipped
    everything after it, so the transaction is left failed for its caller to roll back.
    """
    pending = connection.info.get(PENDING_KEY)
    if not pending and last is None:
        return None
    statements = list(pending or ())
    if pending:
        pending.clear()
    if last is not None:
        statements.append(last)
    driver = connection.connection.driver_connection
    dialect = connection.dialect
    cursors = []
    try:
        with driver.pipeline():  # type: ignore[union-attr]
            for sql, parameters, many, _ in statements:
                cursor = driver.cursor()  # type: ignore[union-attr]
                cursors.append(cursor)
                if many:
                    cursor.executemany(sql, parameters)
                elif parameters is None:  # BEGIN, COMMIT: nothing to prepare
                    cursor.execute(sql, prepare=False)
                else:
                    cursor.execute(sql, parameters)
    except dialect.loaded_dbapi.Error as exc:
        for cursor in cursors:
            cursor.close()
        sql = "; ".join(sql for sql, _, _, _ in statements)
        # A lost connection is invalidated as SQLAlchemy invalidates it, so `Writer.write`
        # may run the work again on a fresh one (when the COMMIT was not among these).
        lost = dialect.is_disconnect(exc, driver, None)
        if lost:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            sql,
            None,
            exc,
            dialect.loaded_dbapi.Error,
            dialect=dialect,
            connection_invalidated=lost,
        ) from exc
    for (_, _, _, soon), cursor in zip(statements, cursors, strict=True):
        if soon is not None:
            soon._rows = cursor.fetchall()
    for cursor in cursors[:-1] if last is not None else cursors:
        cursor.close()
    return cursors[-1] if last is not None else None


def commit_pending(connection: Connection) -> None:
    """Send what is queued with the COMMIT in one pipeline (engine.py's commit event): the
    driver is then out of its transaction, and SQLAlchemy's own commit has nothing to send.
    Nothing queued but the BEGIN: nothing was run, nothing to commit."""
    pending = connection.info.get(PENDING_KEY)
    if not pending:
        return
    if len(pending) == 1 and pending[0][0] == BEGIN_SQL:
        pending.clear()
        return
    flush_pending(connection, (COMMIT_SQL, None, False, None)).close()
