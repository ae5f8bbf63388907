"""verify() reads one snapshot: writes committing while it reads are not reported as
tampering (a version row without its event, or an event without its row), on SQLite and
on PostgreSQL, whose default isolation takes a new snapshot for every statement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from registry_project import ModelRegistry
from registry_project.core.ops import audit_ops, integrity_ops
from registry_project.core.store.engine import SNAPSHOT_SQL
from registry_project_tests.conftest import open_registry


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def two_registries(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[ModelRegistry, ModelRegistry]:
    """A registry, and a second one on the same database and artifact root (another
    engine, so other connections: another process, as far as the database can tell)."""
    first = open_registry(request.param, tmp_path, request)
    url = first.engine.url.render_as_string(hide_password=False)
    second = ModelRegistry.open(url, str(tmp_path / "artifacts"))
    request.addfinalizer(second.close)
    return first, second


def test_registrations_committed_while_verify_reads_are_not_reported(
    two_registries: tuple[ModelRegistry, ModelRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, other = two_registries
    for i in range(3):
        registry.register_model("churn", i, metrics={"auc": 0.5 + i / 10})
    real_scan = integrity_ops.scan_chain
    committed: list[int] = []

    def scan_after_a_registration(connection: Any, *args: Any, **kwargs: Any) -> Any:
        # verify() has read the version rows; another writer registers (and dataset
        # snapshots) before it reads the chain, each committed at once.
        version = other.register_model("churn", 99, metrics={"auc": 0.9})
        other.promote(version, actor="alice", reason="meanwhile")
        committed.append(version.version)
        return real_scan(connection, *args, **kwargs)

    monkeypatch.setattr(integrity_ops, "scan_chain", scan_after_a_registration)
    report = registry.verify()
    assert committed == [4]
    assert report.problems == ()
    assert report.events_checked == 3  # the three registrations of the snapshot verify read
    # The writes were real: the next verify reads them, and they are consistent.
    monkeypatch.setattr(integrity_ops, "scan_chain", real_scan)
    again = registry.verify()
    assert again.problems == ()
    assert again.events_checked > 3


def test_the_audit_chain_check_reads_one_snapshot(
    two_registries: tuple[ModelRegistry, ModelRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify_audit_chain reads the events and then the head: an append between the two
    must not look like a head past the last event."""
    registry, other = two_registries
    registry.register_model("churn", 1)
    real_scan = audit_ops.scan_chain
    statements: list[str] = []

    def scan_then_append(connection: Any, *args: Any, **kwargs: Any) -> Any:
        connection.exec_driver_sql("SELECT count(*) FROM models").all()  # its snapshot
        statements.append(connection.dialect.name)
        other.register_model("churn", 2)
        return real_scan(connection, *args, **kwargs)

    monkeypatch.setattr(audit_ops, "scan_chain", scan_then_append)
    report = registry.verify_audit_chain()
    assert statements and report.problems == ()
    assert report.events_checked == 1


def test_the_snapshot_statement_is_postgresql_s_repeatable_read_read_only() -> None:
    # A READ ONLY transaction at REPEATABLE READ never fails with a serialization error,
    # so verify() needs no retry loop for it.
    assert SNAPSHOT_SQL == "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
