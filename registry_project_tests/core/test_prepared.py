"""Hot-path statements run on the driver's cursor must store exactly what SQLAlchemy would,
and fail the way SQLAlchemy would, on both databases."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry
from registry_project.core.registry import _is_retriable
from registry_project.core.store.engine import write_transaction
from registry_project.core.store.prepared import (
    DRIVER_CURSOR_OPTION,
    PreparedStatement,
    run_on_driver,
)
from registry_project.core.store.schema import model_versions, models
from registry_project.core.store.versions import _ALLOCATE_NUMBER
from registry_project_tests.conftest import open_registry

BERLIN_SUMMER = timezone(timedelta(hours=2))


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> sa.Engine:
    registry: ModelRegistry = open_registry(request.param, tmp_path, request)
    return registry._engine


def _model_row(engine: sa.Engine, name: str) -> sa.Row:
    with engine.connect() as connection:
        return connection.execute(sa.select(models).where(models.c.name == name)).one()


def test_insert_stores_what_sqlalchemy_stores(engine: sa.Engine) -> None:
    at = datetime(2026, 7, 1, 12, 30, 15, 123456, tzinfo=BERLIN_SUMMER)
    insert = PreparedStatement(models.insert())
    with write_transaction(engine) as connection:
        connection.execute(
            models.insert(), {"name": "through-sqlalchemy", "created_at": at, "created_by": "a"}
        )
        insert.execute(connection, {"name": "prepared", "created_at": at, "created_by": "a"})

    expected = _model_row(engine, "through-sqlalchemy")
    stored = _model_row(engine, "prepared")
    assert stored._asdict() | {"name": "x"} == expected._asdict() | {"name": "x"}
    # the aware time converted to UTC, and the omitted column took its server default
    assert stored.created_at == at and stored.created_at.tzinfo == UTC
    assert stored.last_version == 0


def test_literals_in_the_statement_and_returning_rows(engine: sa.Engine) -> None:
    with write_transaction(engine) as connection:
        PreparedStatement(models.insert()).execute(
            connection, {"name": "m", "created_at": datetime.now(UTC), "created_by": "a"}
        )
        first = _ALLOCATE_NUMBER.execute(connection, {"model_name": "m"})
        second = _ALLOCATE_NUMBER.execute(connection, {"model_name": "m"})
        missing = _ALLOCATE_NUMBER.execute(connection, {"model_name": "no-such-model"})
    assert (first, second, missing) == ([(1,)], [(2,)], [])
    assert _model_row(engine, "m").last_version == 2


def test_execute_many_writes_every_row_and_nothing_for_none(engine: sa.Engine) -> None:
    insert = PreparedStatement(models.insert())
    at = datetime.now(UTC)
    with write_transaction(engine) as connection:
        insert.execute_many(connection, [])
        insert.execute_many(
            connection, [{"name": f"m{i}", "created_at": at, "created_by": "a"} for i in range(3)]
        )
    with engine.connect() as connection:
        names = connection.execute(sa.select(models.c.name).order_by(models.c.name)).scalars()
        assert list(names) == ["m0", "m1", "m2"]


def test_driver_errors_arrive_as_sqlalchemy_errors_and_roll_back(engine: sa.Engine) -> None:
    insert = PreparedStatement(models.insert())
    row = {"name": "dup", "created_at": datetime.now(UTC), "created_by": "a"}
    with pytest.raises(sa.exc.IntegrityError) as caught, write_transaction(engine) as connection:
        insert.execute(connection, {**row, "name": "kept-only-if-committed"})
        insert.execute(connection, row)
        insert.execute(connection, row)
    assert isinstance(caught.value.orig, engine.dialect.loaded_dbapi.IntegrityError)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(models)).scalar() == 0


def test_naive_datetimes_are_refused_as_through_sqlalchemy(engine: sa.Engine) -> None:
    with write_transaction(engine) as connection, pytest.raises(ValueError, match="naive"):
        PreparedStatement(models.insert()).execute(
            connection, {"name": "m", "created_at": datetime.now(), "created_by": "a"}
        )


def test_a_busy_sqlite_database_is_a_retriable_sqlalchemy_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    waiter = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        dialect = sa.create_engine("sqlite://").dialect
        with pytest.raises(sa.exc.OperationalError) as caught:
            run_on_driver(dialect, waiter.execute, "BEGIN IMMEDIATE", ())
        assert _is_retriable(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        waiter.close()


def test_fetch_reads_back_what_sqlalchemy_reads(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for backend in ("sqlite-local", "postgres-local"):
        registry: ModelRegistry = open_registry(backend, tmp_path / backend, request)
        registry.register_model("m", {"w": 1}, metrics={"auc": 0.5}, description="d")
        registry.promote("m/1", actor="a", reason="r")
        select = sa.select(model_versions, sa.literal(True).label("flag"))
        with registry._engine.connect() as connection:
            expected = dict(connection.execute(select).mappings().one())
            fetched = PreparedStatement(select).fetch(connection)
        assert fetched == [expected], backend
        assert fetched[0]["created_at"].tzinfo == UTC and fetched[0]["flag"] is True


# --- the switch: REGISTRY_PREPARED_STATEMENTS=0 runs the same statements through SQLAlchemy


def _workload(registry: ModelRegistry) -> None:
    """Every PreparedStatement in the store: models, numbers, versions, metrics, runs,
    transitions, audit events, and the version lookups."""
    import pandas as pd

    snap = registry.snapshot_dataset("d", pd.DataFrame({"x": [1, 2, 3]}))
    with registry.start_run("train", params={"C": 1.0}, inputs=[snap]) as run:
        registry.register_model("m", {"w": 1}, run=run, metrics={"auc": 0.5, "f1": 0.25})
    registry.register_model("m", {"w": 2}, metrics={"auc": 0.75}, actor="carol")
    registry.log_metrics("m/2", {"auc": 0.8}, dataset=snap)
    registry.promote("m/1", actor="alice", reason="first")
    registry.transition("m/2", "staging", actor="ci", reason="checks")
    registry.approve("m/2", actor="bob", reason="reviewed")
    registry.promote("m/2", actor="alice", reason="better")


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VOLATILE = {"id", "at", "created_at", "stage_changed_at", "run_id", "subject_id", "hash"}


def _comparable(value: object) -> object:
    """A record without the fields that differ between two equal workloads (ids, times)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _comparable(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if field.name not in _VOLATILE and not field.name.endswith("_hash")
        }
    if isinstance(value, list | tuple):
        return [_comparable(item) for item in value]
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items() if key not in _VOLATILE}
    if isinstance(value, str):
        return _UUID.sub("<uuid>", value)
    return value


def _records(registry: ModelRegistry) -> object:
    return _comparable(
        [
            [registry.get_version(ref) for ref in ("m/1", "m/2", "m@production", "m@latest")],
            registry.get_version("m@archived"),
            registry.versions("m"),
            registry.audit_log(),
            registry.history("m/2"),
            registry.approvals("m/2"),
        ]
    )


@pytest.mark.parametrize("backend", ["sqlite-local", "postgres-local"])
def test_both_ways_give_the_same_records(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = {}
    for switch in ("1", "0"):
        monkeypatch.setenv("REGISTRY_PREPARED_STATEMENTS", switch)
        registry = open_registry(backend, tmp_path / switch, request)
        _workload(registry)
        records[switch] = _records(registry)
        assert registry.verify().ok
    assert records["0"] == records["1"]
    # and what one way wrote, the other reads the same
    monkeypatch.setenv("REGISTRY_PREPARED_STATEMENTS", "1")
    if backend.startswith("sqlite"):
        reread = ModelRegistry.open(
            f"sqlite:///{tmp_path / '0' / 'registry.db'}", str(tmp_path / "0" / "artifacts")
        )
        request.addfinalizer(reread.close)
        assert _records(reread) == records["0"]


@pytest.mark.parametrize(("switch", "seen"), [("0", True), ("", False), ("on", False)])
def test_the_switch_sends_the_statements_through_sqlalchemy(
    switch: str, seen: bool, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch
) -> None:
    monkeypatch.setenv("REGISTRY_PREPARED_STATEMENTS", switch)
    registry = open_registry("sqlite-local", tmp_path, request)
    statements: list[str] = []
    sa.event.listen(
        registry._engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement),
    )
    registry.register_model("m", {"w": 1}, metrics={"auc": 0.5})
    # BEGIN IMMEDIATE, the version row and the audit event are all PreparedStatement work
    seen_by_sqlalchemy = {
        "BEGIN IMMEDIATE" in statements,
        any(s.startswith("INSERT INTO model_versions") for s in statements),
        any(s.startswith("INSERT INTO audit_events") for s in statements),
    }
    assert seen_by_sqlalchemy == {seen}, statements


def test_an_unknown_switch_value_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry_project.core.errors import ConfigurationError

    monkeypatch.setenv("REGISTRY_PREPARED_STATEMENTS", "maybe")
    with pytest.raises(
        ConfigurationError, match=r"REGISTRY_PREPARED_STATEMENTS='maybe'.*set it to 0"
    ):
        ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a"))
    assert not (tmp_path / "r.db").exists()


def test_queued_statements_are_written_in_order_with_the_next_read(engine: sa.Engine) -> None:
    insert = PreparedStatement(models.insert())
    at = datetime.now(UTC)
    with write_transaction(engine) as connection:
        insert.execute_later(connection, {"name": "a", "created_at": at, "created_by": "x"})
        insert.execute_many_later(
            connection, [{"name": n, "created_at": at, "created_by": "x"} for n in ("b", "c")]
        )
        # the read sees what was queued before it (sent ahead of it, in one pipeline)
        assert _ALLOCATE_NUMBER.execute(connection, {"model_name": "b"}) == [(1,)]
        insert.execute_later(connection, {"name": "d", "created_at": at, "created_by": "x"})
        # a statement through SQLAlchemy also runs after what was queued
        count = connection.execute(sa.select(sa.func.count()).select_from(models)).scalar()
        assert count == 4
        insert.execute_later(connection, {"name": "e", "created_at": at, "created_by": "x"})
    # the last one was sent with the COMMIT
    with engine.connect() as connection:
        names = connection.execute(sa.select(models.c.name).order_by(models.c.name)).scalars()
        assert list(names) == ["a", "b", "c", "d", "e"]


def test_a_soon_statement_sees_what_was_issued_before_it_and_rides_the_next_read(
    engine: sa.Engine,
) -> None:
    insert = PreparedStatement(models.insert())
    count = PreparedStatement(sa.select(sa.func.count()).select_from(models))
    at = datetime.now(UTC)
    with write_transaction(engine) as connection:
        insert.execute_later(connection, {"name": "a", "created_at": at, "created_by": "x"})
        soon = count.execute_soon(connection, {})
        insert.execute_later(connection, {"name": "b", "created_at": at, "created_by": "x"})
        # the statements run in the order issued: the count saw "a" only, whenever read
        assert _ALLOCATE_NUMBER.execute(connection, {"model_name": "b"}) == [(1,)]
        assert soon.rows() == [(1,)]
        # read before any other statement: it is sent then, on its own
        later = count.execute_soon(connection, {})
        assert later.rows() == [(2,)]
        assert later.rows() == [(2,)]  # read again: the same rows, nothing sent


def test_a_soon_statement_of_a_rolled_back_transaction_has_no_rows(engine: sa.Engine) -> None:
    count = PreparedStatement(sa.select(sa.func.count()).select_from(models))
    with pytest.raises(ZeroDivisionError), write_transaction(engine) as connection:
        soon = count.execute_soon(connection, {})
        1 / 0  # noqa: B018
    queued = engine.dialect.name == "postgresql" and engine.get_execution_options().get(
        DRIVER_CURSOR_OPTION, True
    )
    if not queued:  # SQLite, or the switch off: it ran at once
        assert soon.rows() == [(0,)]
    else:
        with pytest.raises(RuntimeError, match="ended before its rows were read"):
            soon.rows()


@pytest.mark.parametrize("failing", ["with-the-commit", "before-a-read"])
def test_a_queued_statements_error_is_sqlalchemys_and_nothing_is_written(
    engine: sa.Engine, failing: str
) -> None:
    insert = PreparedStatement(models.insert())
    row = {"name": "dup", "created_at": datetime.now(UTC), "created_by": "a"}
    with pytest.raises(sa.exc.IntegrityError) as caught, write_transaction(engine) as connection:
        insert.execute_later(connection, {**row, "name": "kept-only-if-committed"})
        insert.execute_later(connection, row)
        insert.execute_later(connection, row)  # violates the primary key
        insert.execute_later(connection, {**row, "name": "after-the-error"})
        if failing == "before-a-read":
            _ALLOCATE_NUMBER.execute(connection, {"model_name": "dup"})
            pytest.fail("the read ran after a failed statement")
    assert isinstance(caught.value.orig, engine.dialect.loaded_dbapi.IntegrityError)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(models)).scalar() == 0
    # the connection is usable again: the next transaction commits
    with write_transaction(engine) as connection:
        insert.execute_later(connection, {**row, "name": "next"})
    assert _model_row(engine, "next").created_by == "a"


def test_a_queued_conflict_in_a_registration_is_a_conflict_error_and_writes_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from registry_project.core.errors import ConflictError
    from registry_project.core.store.schema import audit_events

    registry = open_registry("postgres-local", tmp_path, request)
    registry.register_model("m", {"w": 1})
    engine = registry._engine
    with engine.connect() as connection:
        events = connection.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar()
    # The next version's number is allocated as 1 again: its queued INSERT collides.
    with engine.begin() as connection:
        connection.execute(models.update().values(last_version=0))
    with pytest.raises(ConflictError, match="nothing was written"):
        registry.register_model("m", {"w": 2}, metrics={"auc": 0.5})
    with engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(model_versions)).scalar() == 1
        )
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar()
            == events
        )
    assert [v.version for v in registry.versions("m")] == [1]


def test_statements_outside_begin_behave_as_through_sqlalchemy(engine: sa.Engine) -> None:
    """A connection used without `begin()`: SQLAlchemy begins a transaction on its first
    statement (autobegin) and rolls it back at close unless committed. The fast path does
    the same on PostgreSQL, where the driver is in autocommit mode and BEGIN is queued: a
    queued INSERT is sent and kept by `commit()`, dropped without it, and a streamed
    SELECT (a server-side cursor there) runs. (SQLite's fast path keeps its driver's
    autocommit, so an uncommitted statement there is not part of this contract.)"""
    at = datetime(2026, 7, 1, tzinfo=UTC)
    insert = PreparedStatement(models.insert())
    names = PreparedStatement(sa.select(models.c.name).order_by(models.c.name))
    with engine.connect() as connection:
        insert.execute_later(connection, {"name": "kept", "created_at": at, "created_by": "a"})
        connection.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            insert.execute_later(
                connection, {"name": "dropped", "created_at": at, "created_by": "a"}
            )
    with engine.connect() as connection:
        streamed = [row[0] for rows in names.stream(connection, 1) for row in rows]
    assert streamed == ["kept"]
