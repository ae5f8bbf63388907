"""Engine creation: one place that knows SQLite's and PostgreSQL's quirks."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from registry_project.core.errors import ConfigurationError
from registry_project.core.secrets import mask_credentials
from registry_project.core.store.prepared import (
    DRIVER_CURSOR_OPTION,
    begin_later,
    commit_pending,
    discard_pending,
    flush_pending,
    on_driver_cursor,
    prepared_statements_enabled,
    run_on_driver,
)

SQLITE_BUSY_TIMEOUT_SECONDS = 60
WRITE_OPTION = "registry_write"
# A write transaction whose commit need not be synced on its own (`write_transaction`).
SYNC_LATER_OPTION = "registry_sync_later"


def normalise_database_url(database_url: str) -> str:
    """Accept `postgresql://` and `postgres://` as psycopg 3 URLs; reject unsupported backends."""
    if not isinstance(database_url, str):
        raise ConfigurationError(
            f"database URL must be a string, got {type(database_url).__name__}"
        )
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ConfigurationError(
            f"database URL {mask_credentials(database_url)!r} is not a valid SQLAlchemy URL "
            f"({mask_credentials(str(exc))}); use 'sqlite:///path/registry.db' or "
            "'postgresql+psycopg://user@host:5432/db'"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql") and "+" not in url.drivername:
        # psycopg 3 is the driver we install; plain URLs would ask for psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"database backend {backend!r} is not supported; use SQLite or PostgreSQL"
        )
    return url.render_as_string(hide_password=False)


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite registry URL (None for PostgreSQL and in-memory SQLite)."""
    url = make_url(normalise_database_url(database_url))
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser()


def create_registry_engine(database_url: str, environ: Mapping[str, str] | None = None) -> Engine:
    """An engine configured for safe concurrent use from several processes.

    `environ` (default: the process's) holds the prepared-statement switch (prepared.py)."""
    url = make_url(normalise_database_url(database_url))
    options = {
        DRIVER_CURSOR_OPTION: prepared_statements_enabled(
            os.environ if environ is None else environ
        )
    }
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, options)
    engine = sa.create_engine(url, pool_size=5, max_overflow=5, execution_options=options)
    _guard_checkouts(engine)
    if options[DRIVER_CURSOR_OPTION]:
        _pipeline_transactions(engine)
    return engine


def _pipeline_transactions(engine: Engine) -> None:
    """Transactions whose statements travel in psycopg pipelines (prepared.py): BEGIN is
    queued with the first statements, COMMIT rides the last ones, so a transaction whose
    work only writes costs one round trip, not BEGIN + one per statement + COMMIT.

    psycopg would send its own BEGIN, as a separate wait, before the first statement, so the
    driver runs in autocommit mode and the transaction is begun here; SQLAlchemy still
    drives begin, commit and rollback (psycopg's commit and rollback act on the open
    transaction whatever the mode)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if on_driver_cursor(connection):
            begin_later(connection)
            return
        # A connection switched to ordinary execution on its own still needs its BEGIN.
        connection.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection: Connection, *_args: Any) -> None:
        # A statement through SQLAlchemy runs after what was queued before it.
        flush_pending(connection)

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Connection) -> None:
        commit_pending(connection)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Connection) -> None:
        # An invalidated connection has no pooled connection left (nor queue) to clear.
        if not connection.invalidated:
            discard_pending(connection.info)

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        discard_pending(record.info)


# A pooled PostgreSQL connection idle for longer than this is pinged (one round trip)
# before it is used; a younger one is checked without a round trip (_usable).
PING_AFTER_IDLE_SECONDS = 30.0
_IDLE_SINCE = "registry_idle_since"


def _guard_checkouts(engine: Engine) -> None:
    """A server restart or a terminated backend must not poison the next call, without
    the round trip per transaction that `pool_pre_ping` costs (three per registration).

    A backend that is terminated or shut down sends its client a FATAL message and closes
    the socket, so a dead idle connection has something to read: checked locally on
    every checkout (a zero-timeout poll). A connection idle for PING_AFTER_IDLE_SECONDS
    is pinged as well (a silently dropped network path sends nothing). What remains, a
    connection dying between the checkout and its first statement, `Writer.write`
    retries once, since nothing was committed."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if not _usable(engine, dbapi_connection, record.info.get(_IDLE_SINCE)):
            # The pool discards this connection and checks out a fresh one.
            raise sa.exc.DisconnectionError("the server closed this pooled connection")


def _usable(engine: Engine, dbapi_connection: Any, idle_since: float | None) -> bool:
    try:
        if dbapi_connection.closed or dbapi_connection.pgconn.status != 0:  # CONNECTION_OK
            return False
        # poll, not select: select refuses descriptors above 1023, which a process with
        # many open files (a Dagster webserver, a code server) hands its connections.
        poller = select.poll()
        poller.register(dbapi_connection.pgconn.socket, select.POLLIN)
        # An idle connection the server wrote to (or hung up on): usually a FATAL before
        # it hung up (rarely a notice); either way the ping tells.
        if poller.poll(0) or (
            idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE_SECONDS
        ):
            engine.dialect.do_ping(dbapi_connection)
    except (engine.dialect.loaded_dbapi.Error, OSError, ValueError):
        return False
    return True


# Every commit is synced to disk before it is acknowledged (see _on_connect), except a
# transaction written with `write_transaction(..., sync_later=True)`, which commits with
# SQLITE_SYNCHRONOUS_LATER (see there).
SQLITE_SYNCHRONOUS = "FULL"
SQLITE_SYNCHRONOUS_LATER = "NORMAL"


def _sqlite_engine(url: sa.URL, options: dict[str, bool]) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, execution_options=options
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE below is honoured.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: in WAL mode NORMAL may lose the last acknowledged commits on a power loss
        # (they are in the WAL but not yet synced); the registry promises that an
        # acknowledged registration, promotion or approval survives one.
        cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A write transaction takes the write lock up front: a deferred transaction that
        # upgrades from read to write fails with SQLITE_BUSY without waiting.
        options = connection.get_execution_options()
        statement = "BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN"
        if options.get(SYNC_LATER_OPTION):
            # SQLite refuses to change the level inside a transaction: set before BEGIN,
            # restored by write_transaction once the transaction has ended.
            _on_driver(connection, f"PRAGMA synchronous={SQLITE_SYNCHRONOUS_LATER}")
        if not on_driver_cursor(connection):
            connection.exec_driver_sql(statement)
            return
        # Straight to the driver: through exec_driver_sql this cost ~0.1 ms per transaction.
        _on_driver(connection, statement)

    return engine


def _on_driver(connection: Connection, statement: str) -> None:
    """A statement without parameters or rows run on the driver's connection itself, so
    that SQLAlchemy does not begin a transaction for it (PRAGMA synchronous must run
    outside one); its errors wrapped as SQLAlchemy wraps them."""
    driver = connection.connection.driver_connection
    run_on_driver(connection.dialect, driver.execute, statement, ())  # type: ignore[union-attr]


@contextlib.contextmanager
def write_transaction(engine: Engine, *, sync_later: bool = False) -> Iterator[Connection]:
    """A transaction that will write; on SQLite it holds the write lock from its start.

    `sync_later=True` (SQLite): the commit is not synced to disk on its own but by the next
    synced commit of any connection, which fsyncs the WAL it was appended to. In WAL mode
    every commit appends its frames to the one log, in commit order, and with
    synchronous=FULL each commit first syncs that log, all of it; so a commit made with
    synchronous=NORMAL, which is consistent but may be lost on a power loss
    (sqlite.org/pragma.html#pragma_synchronous, sqlite.org/wal.html), becomes durable with
    the next FULL commit after it, and a power loss can lose it only together with every
    later commit, never behind one of them: no durable row can point at a lost one. A
    checkpoint also syncs the WAL before it copies frames. For a write whose loss with the
    power is harmless until a later synced write depends on it: the start of a training run
    (run_ops.start), which its process's next write (a registration, the run's end) makes
    durable; see docs/ARCHITECTURE.md, Storage rules.

    Not on PostgreSQL (`sync_later` is ignored there): the server is not the client's
    machine, so a server crash that lost an unsynced run start would not take its client
    with it; the client, acknowledged, would go on training and fail on its next write.
    SQLite's file and the process writing it lose power together."""
    with engine.connect() as connection:
        relaxed = sync_later and connection.dialect.name == "sqlite"
        options: dict[str, bool] = {WRITE_OPTION: True}
        if relaxed:
            options[SYNC_LATER_OPTION] = True
        connection = connection.execution_options(**options)
        try:
            with connection.begin():
                yield connection
        finally:
            if relaxed:
                _restore_synchronous(connection)


def _restore_synchronous(connection: Connection) -> None:
    """Back to synchronous=FULL before the connection returns to the pool, so no other
    write commits unsynced. A connection that cannot be restored is discarded instead
    (the pool opens a fresh one at FULL), without hiding the transaction's own outcome."""
    try:
        _on_driver(connection, f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    except Exception:
        connection.invalidate()


@contextlib.contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, connection.begin():
        yield connection


# PostgreSQL: the statement that makes a transaction read one snapshot (sent first).
SNAPSHOT_SQL = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


@contextlib.contextmanager
def snapshot_transaction(engine: Engine) -> Iterator[Connection]:
    """A read transaction whose statements all see one snapshot of the database: for a
    read of several statements that compares what they return (verify(): the version
    rows, then the audit chain, then the datasets), where a write committing between two
    of them would look like a row without its event, or an event without its row.

    SQLite's read transaction already is one (in WAL mode the snapshot taken by its first
    read holds until it ends). PostgreSQL's default, READ COMMITTED, takes a new snapshot
    for every statement; REPEATABLE READ keeps the first one, and a READ ONLY transaction
    at that level never fails with a serialization error."""
    with read_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(SNAPSHOT_SQL)
        yield connection


def dialect_insert(connection: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which has ON CONFLICT support on both SQLite and PostgreSQL."""
    return insert_for(connection.dialect.name, table)


def insert_for(dialect_name: str, table: sa.Table) -> Any:
    """`dialect_insert` by the dialect's name (for statements built once per dialect).

    The PostgreSQL dialect is imported here, on first use, not with this module: it loads
    the psycopg and asyncpg adapters, about a tenth of a second of every command's
    start-up that a SQLite registry never needs (issue #18)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)
