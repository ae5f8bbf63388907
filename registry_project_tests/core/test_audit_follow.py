"""Following the audit log from a cursor, and stage changes that say which Dagster run made
them (how the Dagster layer tells its own changes from changes made outside it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_project import ModelRegistry
from registry_project.core.errors import InvalidInputError


@pytest.fixture
def registry(tmp_path: Path):
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as opened:
        yield opened


def test_after_seq_reads_only_what_came_later(registry: ModelRegistry) -> None:
    registry.register_model("churn", {"v": 1})
    cursor = registry.audit_log(newest_first=True, limit=1)[0].seq
    registry.register_model("churn", {"v": 2})
    registry.promote("churn/2", actor="alice", reason="better")
    later = registry.audit_log(after_seq=cursor)
    assert [e.action for e in later] == ["register_model", "promote"]
    assert all(e.seq > cursor for e in later)
    assert registry.audit_log(after_seq=later[-1].seq) == []
    for bad in (-1, "3", True, 1.5):
        with pytest.raises(InvalidInputError, match="after_seq must be a non-negative integer"):
            registry.audit_log(after_seq=bad)  # type: ignore[arg-type]


def test_stage_changes_record_the_dagster_run_that_made_them(registry: ModelRegistry) -> None:
    registry.register_model("churn", {"v": 1})
    registry.register_model("churn", {"v": 2})
    in_dagster = registry.bound(dagster_run_id="run-123", asset_key="churn/churn_production")
    in_dagster.promote("churn/1", actor="dagster:churn/production", reason="first")
    registry.promote("churn/2", actor="alice", reason="by hand")
    first, second = registry.audit_log(action="promote")
    assert first.after is not None and second.after is not None
    assert first.after["dagster_run_id"] == "run-123"
    assert first.after["asset_key"] == "churn/churn_production"
    assert "dagster_run_id" not in second.after and "asset_key" not in second.after
    assert registry.verify().ok
