"""Audit log, tamper detection, blob corruption, verify() and gc() (every backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry
from registry_project.core import errors
from registry_project.core.store import schema
from registry_project_tests.corruption import damage_blob, flip_a_byte


def _corrupt_blob(registry: ModelRegistry, digest: str) -> None:
    damage_blob(registry, digest, flip_a_byte)


def test_every_write_is_audited_with_actor_reason_before_and_after(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_ACTOR", "env-actor")
    snap = registry.snapshot_dataset("train", pd.DataFrame({"a": [1, 2]}))
    with registry.start_run("train", inputs=[snap]) as run:
        mv = registry.register_model("churn", 1, run=run, metrics={"auc": 0.7})
    registry.log_metrics(mv, {"auc": 0.75}, actor="evaluator")
    registry.promote(mv, actor="alice", reason="first model")
    actions = [e.action for e in registry.audit_log()]
    assert actions == [
        "snapshot_dataset",
        "start_run",
        "register_model",
        "end_run",
        "log_metrics",
        "promote",
    ]
    events = registry.audit_log(model="churn")
    assert [e.action for e in events] == ["register_model", "log_metrics", "promote"]
    register, metrics, promote = events
    assert register.actor == "env-actor"
    assert metrics.actor == "evaluator" and metrics.before == {"auc": 0.7}
    assert promote.actor == "alice" and promote.reason == "first model"
    assert promote.before == {"stage": "experiment", "version": 1}
    assert promote.after == {"stage": "production", "version": 1}
    newest = registry.audit_log(newest_first=True, limit=2)
    assert [e.action for e in newest] == ["promote", "log_metrics"]
    assert [e.seq for e in registry.audit_log(newest_first=True)] == sorted(
        (e.seq for e in registry.audit_log()), reverse=True
    )
    assert registry.audit_log(limit=1)[0].action == "snapshot_dataset"
    assert registry.audit_count() == 6 and registry.audit_count(model="churn") == 3
    assert registry.audit_count(actor="alice", action="promote") == 1
    for bad in (0, -1, True, 1.5):
        with pytest.raises(errors.InvalidInputError, match="limit must be a positive integer"):
            registry.audit_log(limit=bad)  # type: ignore[arg-type]
    assert registry.audit_log(since=datetime.now(UTC) + timedelta(minutes=1)) == []
    seqs = [e.seq for e in registry.audit_log()]
    assert seqs == list(range(1, len(seqs) + 1))


def test_actor_defaults_to_the_os_user(sqlite_registry: ModelRegistry) -> None:
    import getpass

    mv = sqlite_registry.register_model("churn", 1)
    assert mv.created_by == getpass.getuser()


def test_verify_is_clean_on_an_untouched_registry(registry: ModelRegistry) -> None:
    registry.snapshot_dataset("train", pd.DataFrame({"a": [1]}))
    registry.register_model("churn", {"w": 1})
    report = registry.verify()
    assert report.ok, report.problems
    assert report.blobs_checked >= 2 and report.events_checked >= 2


def test_edited_audit_event_is_detected(registry: ModelRegistry) -> None:
    mv = registry.register_model("churn", 1)
    registry.promote(mv, actor="alice", reason="real reason")
    with registry.engine.begin() as connection:
        connection.execute(
            schema.audit_events.update()
            .where(schema.audit_events.c.action == "promote")
            .values(actor="mallory")
        )
    report = registry.verify()
    assert not report.ok
    assert any(p.kind == "audit_tampered" for p in report.problems)


@pytest.mark.parametrize("which", ["middle", "last"])
def test_deleted_audit_event_is_detected(registry: ModelRegistry, which: str) -> None:
    for i in range(3):
        registry.register_model("churn", i)
    with registry.engine.begin() as connection:
        seqs = [row[0] for row in connection.execute(sa.select(schema.audit_events.c.seq))]
        victim = seqs[1] if which == "middle" else seqs[-1]
        connection.execute(schema.audit_events.delete().where(schema.audit_events.c.seq == victim))
    report = registry.verify()
    assert not report.ok
    assert any(p.kind in ("audit_gap", "audit_chain_broken") for p in report.problems)


def test_corrupt_model_blob_is_refused_before_deserialising(registry: ModelRegistry) -> None:
    mv = registry.register_model("churn", {"weights": list(range(1000))})
    _corrupt_blob(registry, mv.artifact_digest)
    with pytest.raises(errors.IntegrityCheckError, match=mv.artifact_digest):
        registry.load_model(mv)
    report = registry.verify()
    assert [(p.kind, p.subject) for p in report.problems] == [("blob_corrupt", mv.artifact_digest)]


def test_corrupt_dataset_blob_is_refused(registry: ModelRegistry) -> None:
    snap = registry.snapshot_dataset("train", pd.DataFrame({"a": list(range(1000))}))
    _corrupt_blob(registry, snap.digest)
    with pytest.raises(errors.IntegrityCheckError):
        registry.load_dataset(snap)
    assert any(p.subject == snap.digest for p in registry.verify().problems)


def test_missing_blob_is_reported(registry: ModelRegistry) -> None:
    mv = registry.register_model("churn", 1)
    registry.blobs.delete(mv.artifact_digest)
    with pytest.raises(errors.BlobNotFoundError):
        registry.load_model(mv)
    assert [p.kind for p in registry.verify().problems] == ["blob_missing"]


def test_gc_lists_then_deletes_only_unreferenced_blobs(registry: ModelRegistry) -> None:
    kept = registry.register_model("churn", {"w": 1})
    orphan = registry.blobs.put_bytes(b"nobody points at me")
    young = registry.gc(dry_run=True)
    assert orphan.digest not in young.orphan_digests  # inside the grace period
    report = registry.gc(dry_run=True, grace_period=timedelta(0))
    assert report.orphan_digests == (orphan.digest,)
    assert registry.blobs.exists(orphan.digest)
    done = registry.gc(dry_run=False, grace_period=timedelta(0), actor="ops")
    assert done.deleted == (orphan.digest,)
    assert not registry.blobs.exists(orphan.digest)
    assert registry.blobs.exists(kept.artifact_digest)
    assert registry.load_model(kept) == {"w": 1}
    assert registry.audit_log(action="gc")[-1].actor == "ops"
    assert registry.verify().ok


def test_allow_pickle_false_refuses_pickle_flavors(
    tmp_path: Path, sqlite_registry: ModelRegistry
) -> None:
    mv = sqlite_registry.register_model("churn", {"w": 1})
    strict = ModelRegistry.open(
        sqlite_registry.config.database_url,
        sqlite_registry.config.artifact_root,
        allow_pickle=False,
    )
    try:
        with pytest.raises(errors.UnsafeFlavorError, match="allow_pickle"):
            strict.load_model(mv.id)
        with pytest.raises(errors.UnsafeFlavorError):
            strict.register_model("churn", {"w": 2})
        assert len(strict.versions("churn")) == 1
    finally:
        strict.close()
