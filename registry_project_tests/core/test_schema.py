"""Schema creation and migration policy, on SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from registry_project import ModelRegistry
from registry_project.core import errors
from registry_project.core.store import engine as engine_module
from registry_project.core.store import migrate, schema
from registry_project.core.store.engine import create_registry_engine
from registry_project_tests.backends import postgres_schema_url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        with postgres_schema_url() as url:
            yield url


def test_empty_database_is_created_at_head_and_matches_the_schema(database_url: str) -> None:
    ModelRegistry.open(database_url, "/tmp/unused-artifacts").close()
    engine = create_registry_engine(database_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), schema.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_older_schema_is_refused_with_the_upgrade_command(
    database_url: str, tmp_path: Path
) -> None:
    registry = ModelRegistry.open(database_url, str(tmp_path / "a"))
    registry.register_model("churn", 1)
    with registry.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    registry.close()
    with pytest.raises(errors.SchemaVersionError, match="registry db upgrade"):
        ModelRegistry.open(database_url, str(tmp_path / "a"))


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    registry = ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a"))
    with registry.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    registry.close()


def test_sqlite_syncs_every_commit(tmp_path: Path) -> None:
    """An acknowledged write survives a power loss: in WAL mode only synchronous=FULL (2)
    syncs the WAL at each commit; NORMAL (1) may lose the last commits. Every pooled
    connection is checked, not only the first."""
    registry = ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a"))
    with registry.engine.connect() as first, registry.engine.connect() as second:
        for connection in (first, second):
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    registry.close()


def test_only_the_run_start_commits_unsynced(tmp_path: Path) -> None:
    """The run start commits with synchronous=NORMAL (1), which the next synced commit
    makes durable (store/engine.write_transaction); the version and the run's end, and
    every write after them on the same pooled connection, commit with FULL (2). Read
    inside each transaction, just before its COMMIT."""
    registry = ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a"))
    registry.engine.dispose()  # every connection from here on is traced
    statements: list[str] = []
    levels: list[tuple[int, str]] = []

    @sa.event.listens_for(registry.engine, "connect")
    def _trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    @sa.event.listens_for(registry.engine, "commit")
    def _before_commit(connection: sa.Connection) -> None:
        driver = connection.connection.driver_connection
        assert driver is not None
        written = " ".join(s.split(None, 3)[2] for s in statements if s.startswith("INSERT"))
        statements.clear()
        [(level,)] = driver.execute("PRAGMA synchronous").fetchall()
        levels.append((level, written))

    for number in (1, 2):  # the second time on connections the first left in the pool
        with registry.start_run("train", params={"lr": 0.1}) as run:
            registry.register_model("churn", b"model", run=run, metrics={"auc": 0.9})
        registry.promote(f"churn/{number}", reason="test")
    registry.close()
    # The first table each write transaction inserts into: run start, version (the
    # model's row first, the first time), run end (its audit event), promotion.
    writes = [(level, written.split()[0]) for level, written in levels if written]
    assert [table for _, table in writes] == [
        *("runs", "models", "audit_events", "stage_transitions"),
        *("runs", "model_versions", "audit_events", "stage_transitions"),
    ], levels
    # Only the run starts commit unsynced; every other write, and the reads, synced.
    assert [level for level, table in writes if table == "runs"] == [1, 1], levels
    assert {level for level, written in levels if not written.startswith("runs ")} == {2}


def test_default_location_is_dot_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with ModelRegistry.open() as registry:
        registry.register_model("churn", 1)
    assert (tmp_path / ".registry" / "registry.db").exists()
    assert any((tmp_path / ".registry" / "artifacts").rglob("*"))


def test_environment_variables_choose_the_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("REGISTRY_ARTIFACT_ROOT", str(tmp_path / "env-artifacts"))
    with ModelRegistry.open() as registry:
        registry.register_model("churn", 1)
    assert (tmp_path / "env.db").exists()
    assert (tmp_path / "env-artifacts").exists()


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url", "oracle://a"])
def test_unsupported_database_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        ModelRegistry.open(url, "/tmp/unused")


def test_unreachable_postgres_is_a_storage_error() -> None:
    with pytest.raises(errors.StorageError, match="cannot reach"):
        ModelRegistry.open("postgresql://postgres@127.0.0.1:1/none", "/tmp/unused")


def test_database_filled_at_the_first_migration_keeps_every_record_on_upgrade(
    database_url: str, tmp_path: Path
) -> None:
    """Built at revision 0001 and used there, then `registry db upgrade`d to head."""
    import pandas as pd
    from click.testing import CliRunner

    from registry_project.cli import cli
    from registry_project.core.blobs import open_blob_store
    from registry_project.core.config import RegistryConfig

    root = str(tmp_path / "artifacts")
    engine = create_registry_engine(database_url)
    migrate.upgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    # The 0001-era registry: the same code paths, without the head-revision check, and only
    # calls that touch 0001's tables as they were: no run (today's runs have columns 0001
    # lacks, migration 0004) and no promotion (it reads the protection rules of 0005), so
    # the promotions follow the upgrade. test_migrations_with_data.py writes runs and
    # promotions at 0001 with the first release's own statements (fill_0001).
    old = ModelRegistry(engine, open_blob_store(root), config=RegistryConfig(database_url, root))
    snap = old.snapshot_dataset("customers", pd.DataFrame({"a": [1, 2, 3]}))
    first = old.register_model("churn", {"w": 1}, metrics={"auc": 0.8})
    second = old.register_model("churn", {"w": 2}, metrics={"auc": 0.9})
    events_before = [(e.seq, e.hash) for e in old.audit_log()]
    old.close()

    with pytest.raises(errors.SchemaVersionError):
        ModelRegistry.open(database_url, root)
    result = CliRunner().invoke(cli, ["--database-url", database_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "0001 -> " + migrate.head_revision() in result.output

    with ModelRegistry.open(database_url, root) as upgraded:
        assert [(e.seq, e.hash) for e in upgraded.audit_log()] == events_before
        upgraded.promote(first, actor="alice", reason="baseline")
        upgraded.promote(second, actor="bob", reason="better")
        assert {v.version: v.stage.value for v in upgraded.versions("churn")} == {
            1: "archived",
            2: "production",
        }
        assert upgraded.load_dataset(snap.id)["a"].tolist() == [1, 2, 3]
        assert upgraded.load_model("churn@production") == {"w": 2}
        assert upgraded.verify().ok
        assert {e.action for e in upgraded.audit_log(actor="bob")} == {
            "promote",
            "promote:archive_previous",
        }


def test_the_head_revision_in_the_code_is_the_newest_migration() -> None:
    # Opening a registry compares the database with HEAD_REVISION without loading Alembic;
    # a new migration must move it.
    assert migrate.head_revision() == migrate.migrations_head()


def test_a_database_with_several_recorded_revisions_is_refused(database_url: str) -> None:
    ModelRegistry.open(database_url, "/tmp/unused-artifacts").close()
    engine = create_registry_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
        with pytest.raises(errors.SchemaVersionError, match="several schema revisions"):
            ModelRegistry.open(database_url, "/tmp/unused-artifacts")
    finally:
        engine.dispose()


def test_every_write_commits_synchronously_on_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the run start is not relaxed as on SQLite (store/engine.
    write_transaction): a server crash would not take the acknowledged client with it. Every
    writing transaction - run start, version, run end, promotion, also on pooled
    connections reused - commits with synchronous_commit=on, read inside it before its
    COMMIT (the engine's commit listener, which sends COMMIT with what is queued, is
    wrapped to look first)."""
    seen: dict[int, str] = {}  # transaction id -> its synchronous_commit, in order
    send_commit = engine_module.commit_pending

    def looking(connection: sa.Connection) -> None:
        # Called by both hooks below; with REGISTRY_PREPARED_STATEMENTS=0 nothing is queued
        # and only the listener runs (SQLAlchemy sends the COMMIT after it). A transaction
        # that wrote has an id; each is recorded once.
        wrote = connection.exec_driver_sql("SELECT txid_current_if_assigned()").scalar()
        if wrote is not None and wrote not in seen:
            seen[wrote] = connection.exec_driver_sql("SHOW synchronous_commit").scalar()

    def looking_first(connection: sa.Connection) -> None:
        looking(connection)
        send_commit(connection)

    monkeypatch.setattr(engine_module, "commit_pending", looking_first)
    with postgres_schema_url() as url:
        registry = ModelRegistry.open(url, tempfile.mkdtemp())
        sa.event.listen(registry.engine, "commit", looking)
        seen.clear()  # opening wrote the schema
        try:
            for number in (1, 2):
                with registry.start_run("train", params={"lr": 0.1}) as run:
                    registry.register_model("churn", b"model", run=run, metrics={"auc": 0.9})
                registry.promote(f"churn/{number}", reason="test")
            assert registry.get_run(run.id).status.value == "finished"
        finally:
            registry.close()
    # Per round: run start, version, run end, promotion.
    assert list(seen.values()) == ["on"] * 8, seen


def test_the_one_production_index_is_partial_on_both_dialects() -> None:
    """`PartialIndex` gives PostgreSQL the WHERE clause when its options are first read,
    instead of importing its dialect with the schema: both compile the same DDL, and the
    keyword reads back as `sa.Index(postgresql_where=...)` would."""
    from sqlalchemy.dialects import postgresql, sqlite

    index = next(
        i for i in schema.model_versions.indexes if i.name == "uq_model_versions_one_production"
    )
    expected = (
        "CREATE UNIQUE INDEX uq_model_versions_one_production ON model_versions (model_name) "
        "WHERE stage = 'production'"
    )
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert str(sa.schema.CreateIndex(index).compile(dialect=dialect)).strip() == expected
    assert str(index.dialect_kwargs["postgresql_where"]) == "stage = 'production'"
    assert str(index.dialect_options["sqlite"]["where"]) == "stage = 'production'"


def test_the_dependents_key_covers_its_columns_on_postgresql(database_url: str) -> None:
    """`CoveringPrimaryKey`: PostgreSQL's key index carries version_id and stage (a listing
    is an index-only scan), in the schema's DDL and in the database migration 0010 made;
    SQLite's table is the key's B-tree (WITHOUT ROWID)."""
    from sqlalchemy.dialects import postgresql, sqlite

    table = schema.dataset_dependents
    key = "PRIMARY KEY (dataset_id, model_name, version, relation, role)"
    ddl = {
        name: str(sa.schema.CreateTable(table).compile(dialect=dialect))
        for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect()))
    }
    assert f"{key} INCLUDE (version_id, stage)" in ddl["postgresql"]
    assert key in ddl["sqlite"] and "INCLUDE" not in ddl["sqlite"]
    assert "WITHOUT ROWID" in ddl["sqlite"]
    ModelRegistry.open(database_url, "/tmp/unused-artifacts").close()
    engine = create_registry_engine(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                [(keys, columns)] = connection.execute(
                    sa.text(
                        "SELECT indnkeyatts, indnatts FROM pg_index "
                        "WHERE indexrelid = 'pk_dataset_dependents'::regclass"
                    )
                )
                assert (keys, columns) == (5, 7)
            else:
                [(created,)] = connection.execute(
                    sa.text("SELECT sql FROM sqlite_master WHERE name = 'dataset_dependents'")
                )
                assert "WITHOUT ROWID" in created
    finally:
        engine.dispose()


def test_the_schema_does_not_import_the_postgresql_dialect() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys; import registry_project.core.store.schema, "
        "registry_project.core.store.versions, registry_project.core.store.step_metrics, "
        "registry_project.core.store.filter_sql; "
        "print('sqlalchemy.dialects.postgresql' in sys.modules)"
    )
    root = str(Path(__file__).resolve().parents[2])  # this checkout, not an installed copy
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.split() == ["False"]
