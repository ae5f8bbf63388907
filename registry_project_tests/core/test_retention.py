"""Retention (issue 21): policies stored and audited, expired snapshots deleted with the
forced deletion's guardrails, artifacts of unprotected old versions retired (their records
kept), and what a policy protects never touched. On every backend combination.

Age is real: rows are backdated in the database (their creation time, a stage change's
time), never the clock of the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from registry_project import ModelRegistry
from registry_project.core.entities import AuditAction, RetentionSubject, Stage
from registry_project.core.errors import (
    ArtifactRetiredError,
    InvalidInputError,
    ModelNotFoundError,
)
from registry_project.core.store.schema import datasets, model_versions, stage_transitions

OLD = timedelta(days=100)


def backdate_version(registry: ModelRegistry, version_id: str, age: timedelta = OLD) -> None:
    with registry.engine.begin() as connection:
        connection.execute(
            model_versions.update()
            .where(model_versions.c.id == version_id)
            .values(created_at=datetime.now(UTC) - age)
        )


def backdate_snapshot(registry: ModelRegistry, snapshot_id: str, age: timedelta = OLD) -> None:
    with registry.engine.begin() as connection:
        connection.execute(
            datasets.update()
            .where(datasets.c.id == snapshot_id)
            .values(created_at=datetime.now(UTC) - age)
        )


def backdate_leaving_production(registry: ModelRegistry, version_id: str, age: timedelta) -> None:
    with registry.engine.begin() as connection:
        connection.execute(
            stage_transitions.update()
            .where(
                stage_transitions.c.version_id == version_id,
                stage_transitions.c.from_stage == Stage.PRODUCTION.value,
            )
            .values(at=datetime.now(UTC) - age)
        )


def frame(seed: int) -> pd.DataFrame:
    return pd.DataFrame({"seed": [seed] * 20, "x": list(range(20))})


# --- policies ---------------------------------------------------------------------------


def test_policies_are_stored_audited_and_validated(sqlite_registry: ModelRegistry) -> None:
    reg = sqlite_registry
    policy = reg.set_retention(dataset="customers", keep_days=30, actor="dpo", reason="GDPR")
    assert reg.retention(dataset="customers") == policy
    assert policy.subject is RetentionSubject.DATASET and policy.keep_days == 30
    assert "dataset customers: keep 30 days or until expires_at" in policy.rule
    changed = reg.set_retention(
        dataset="customers", keep_days=7, keep_last=2, actor="dpo", reason="shorter"
    )
    assert reg.retention(dataset="customers") == changed
    events = [e for e in reg.audit_log() if e.action == AuditAction.SET_RETENTION]
    assert len(events) == 2
    assert events[-1].before["keep_days"] == 30 and events[-1].after["keep_days"] == 7
    assert events[-1].reason == "shorter" and events[-1].actor == "dpo"

    with pytest.raises(ModelNotFoundError, match="register a version first"):
        reg.set_retention(model="churn", keep_days=30, reason="x")
    reg.register_model("churn", {"w": 1})
    model_policy = reg.set_retention(model="churn", keep_days=90, keep_last=3, reason="cost")
    assert model_policy.rollback_days == 30  # the default window
    assert reg.retention(model="churn") == model_policy
    assert reg.retention(model="other") is None
    assert [p.name for p in reg.retention_policies()] == ["customers", "churn"]

    refused = [
        ({"keep_days": 30, "reason": "x"}, "exactly one of dataset="),
        ({"dataset": "a", "model": "churn", "keep_days": 30, "reason": "x"}, "exactly one"),
        ({"model": "churn", "reason": "x"}, "needs keep_days"),
        ({"dataset": "a", "keep_days": 0, "reason": "x"}, "keep_days must be a whole number"),
        ({"dataset": "a", "keep_days": True, "reason": "x"}, "keep_days must be"),
        ({"dataset": "a", "keep_last": -1, "reason": "x"}, "keep_last must be"),
        ({"dataset": "a", "rollback_days": 3, "reason": "x"}, "rollback_days applies to a model"),
        ({"dataset": "a", "keep_days": 3}, "needs a reason"),
        ({"dataset": "../etc", "keep_days": 3, "reason": "x"}, "invalid dataset name"),
    ]
    before = reg.audit_count()
    for kwargs, message in refused:
        with pytest.raises(InvalidInputError, match=message):
            reg.set_retention(**kwargs)
    assert reg.audit_count() == before  # nothing written


# --- datasets ---------------------------------------------------------------------------


def test_expired_snapshots_are_deleted_with_tombstones_and_dependents_marked(
    registry: ModelRegistry,
) -> None:
    reg = registry
    past = datetime.now(UTC) - timedelta(days=1)
    future = datetime.now(UTC) + timedelta(days=10)
    used = reg.snapshot_dataset("customers", frame(1), expires_at=past)
    unused = reg.snapshot_dataset("customers", frame(2), expires_at=past)
    old = reg.snapshot_dataset("customers", frame(3))
    backdate_snapshot(reg, old.id)
    fresh = reg.snapshot_dataset("customers", frame(4), expires_at=future)
    newest_old = reg.snapshot_dataset("customers", frame(5))
    backdate_snapshot(reg, newest_old.id, timedelta(days=50))
    other = reg.snapshot_dataset("orders", frame(6), expires_at=past)  # no policy: kept
    with reg.start_run("training", inputs=[used]) as run:
        pass
    dependent = reg.register_model("churn", {"w": 1}, run=run)
    reg.set_retention(dataset="customers", keep_days=30, actor="dpo", reason="GDPR art. 5")

    plan = reg.apply_retention(dry_run=True)
    listed = {item.subject_id for item in plan.due}
    assert listed == {used.id, unused.id, old.id, newest_old.id}
    assert plan.done == () and reg.datasets("customers", include_deleted=False)[0].id
    by_id = {item.subject_id: item for item in plan.due}
    assert by_id[used.id].dependents == ("churn/1",)
    assert "expires_at" in by_id[used.id].why and "older than 30 days" in by_id[old.id].why
    assert len(reg.datasets("customers", include_deleted=False)) == 5  # the dry run did nothing

    events_before = reg.audit_count()
    report = reg.apply_retention(actor="retention-bot")
    assert {item.subject_id for item in report.done} == listed  # exactly what the dry run said
    assert reg.audit_count() == events_before + len(listed)  # one event each
    for snapshot_id in listed:
        tombstone = reg.get_dataset(snapshot_id)
        assert tombstone.deleted and tombstone.deleted_by == "retention-bot"
        assert "retention policy (dataset customers: keep 30 days" in tombstone.deletion_reason
    assert "expires_at" in reg.get_dataset(used.id).deletion_reason
    assert reg.get_version(dependent.id).trained_on_deleted_data
    deletions = [e for e in reg.audit_log() if e.action == AuditAction.DELETE_DATASET]
    assert next(e for e in deletions if e.subject_id == used.id).after["forced"] is True
    for kept in (fresh, other):
        assert not reg.get_dataset(kept.id).deleted
        assert reg.load_dataset(kept).shape == (20, 2)
    assert reg.dataset_retention(fresh).why.startswith("kept until")
    assert reg.dataset_retention(other) is None  # no policy for orders
    assert reg.apply_retention(dry_run=True).due == ()  # nothing left to do
    assert reg.verify().ok
    assert reg.gc(dry_run=True, grace_period=timedelta(0)).orphan_digests == ()


def test_keep_last_keeps_the_newest_snapshots_but_not_past_their_expiry(
    sqlite_registry: ModelRegistry,
) -> None:
    reg = sqlite_registry
    past = datetime.now(UTC) - timedelta(hours=1)
    a = reg.snapshot_dataset("events", frame(1))
    b = reg.snapshot_dataset("events", frame(2))
    c = reg.snapshot_dataset("events", frame(3), expires_at=past)
    for snapshot in (a, b, c):
        backdate_snapshot(reg, snapshot.id)
    backdate_snapshot(reg, a.id, OLD + timedelta(days=1))  # a is the oldest
    reg.set_retention(dataset="events", keep_days=10, keep_last=2, reason="keep two")
    due = {item.subject_id for item in reg.apply_retention(dry_run=True).due}
    # c is among the newest two, but its expiry is a deadline; a is neither newest nor young.
    assert due == {a.id, c.id}
    assert "one of the newest 2" in reg.dataset_retention(b).why


# --- models -----------------------------------------------------------------------------


def test_model_retention_retires_only_unprotected_old_artifacts(registry: ModelRegistry) -> None:
    reg = registry
    objects = {n: {"weights": [n] * 50} for n in range(1, 10)}
    v = {n: reg.register_model("churn", objects[n], metrics={"auc": n / 10}) for n in objects}
    reg.promote(v[1], actor="alice", reason="first")
    reg.promote(v[6], actor="alice", reason="better")  # v1 archived
    reg.promote(v[2], actor="alice", reason="best")  # v6 archived, just now
    backdate_leaving_production(reg, v[1].id, timedelta(days=60))  # out of the window
    reg.transition(v[3], "staging", actor="alice")
    reg.set_alias("churn", "champion", v[4], actor="alice")
    reg.approve(v[5], actor="bob", reason="reviewed")
    twin = reg.register_model("twin", objects[7])  # the same bytes as churn/7, no policy
    for n in objects:
        if n != 8:  # churn/8 stays young
            backdate_version(reg, v[n].id)
    reg.set_retention(model="churn", keep_days=30, keep_last=1, actor="owner", reason="cost")

    plan = reg.apply_retention(dry_run=True)
    assert {item.label for item in plan.due} == {"churn/1", "churn/7"}
    whys = {item.label: item.why for item in reg.retention_plan()}
    assert whys["churn/2"] == "kept: in production"
    assert whys["churn/3"] == "kept: in staging"
    assert whys["churn/4"] == "kept: holds alias champion"
    assert whys["churn/5"] == "kept: approved by bob"
    assert "rollback window" in whys["churn/6"]
    assert whys["churn/8"].startswith("kept until")
    assert whys["churn/9"] == "kept: one of the newest 1 versions"

    report = reg.apply_retention(actor="retention-bot")
    assert {item.label for item in report.done} == {"churn/1", "churn/7"}
    assert report.deleted_blobs == 1  # churn/7's bytes are twin/1's too: kept
    # The records stay: metrics, history; only the bytes went.
    retired = reg.get_version(v[1].id)
    assert retired.metrics["auc"] == pytest.approx(0.1) and retired.stage is Stage.ARCHIVED
    assert [t.to_stage for t in reg.history(v[1])][-2:] == [Stage.PRODUCTION, Stage.ARCHIVED]
    assert reg.blobs.check(v[1].artifact_digest) == "missing"
    tombstone = reg.retirement(v[1])
    assert tombstone is not None and tombstone.retired_by == "retention-bot"
    assert tombstone.rule.startswith("model churn: artifacts of experiment/archived versions")
    with pytest.raises(ArtifactRetiredError, match=r"retired by retention policy \(model churn"):
        reg.load_model("churn/1")
    with pytest.raises(ArtifactRetiredError, match="retention-bot"):
        reg.export_artifact("churn/7", Path(reg.config.artifact_root).parent / "out.bin")
    assert reg.load_model(twin) == objects[7]  # the shared bytes survived
    for n in (2, 3, 4, 5, 6, 8, 9):
        assert reg.load_model(v[n].id) == objects[n]
    events = [e for e in reg.audit_log() if e.action == AuditAction.RETIRE_ARTIFACT]
    assert sorted(e.after["rule"] == tombstone.rule for e in events) == [True, True]
    assert reg.version_retention(v[1]).why.startswith("retired on")

    # A retired version cannot be served again, by any path.
    with pytest.raises(ArtifactRetiredError, match="cannot promote churn/7"):
        reg.promote(v[7], actor="alice", reason="again")
    with pytest.raises(ArtifactRetiredError, match="cannot move to staging churn/7"):
        reg.transition(v[7], "staging", actor="alice")
    with pytest.raises(ArtifactRetiredError, match="at churn/7"):
        reg.set_alias("churn", "shadow", v[7], actor="alice")
    assert reg.production_version("churn").id == v[2].id
    # Registering the same bytes again makes a new version with bytes, not the retired one.
    again = reg.register_or_reuse("churn", objects[1])
    assert not again.reused and reg.load_model(again.version) == objects[1]

    # gc and verify agree: nothing missing, nothing orphaned, the chain intact.
    assert reg.verify().ok, reg.verify().problems
    assert reg.gc(dry_run=True, grace_period=timedelta(0)).orphan_digests == ()
    # churn/10 is now the newest: churn/9 is no longer kept by keep_last.
    assert [item.label for item in reg.apply_retention(dry_run=True).due] == ["churn/9"]
