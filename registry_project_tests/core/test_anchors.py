"""Anchors: a history rewritten whole (every event re-hashed consistently) passes the chain
check, and is caught against an audit head recorded outside the database."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project.core import errors
from registry_project.core.store import audit, schema


def _fill(reg: ModelRegistry) -> None:
    first = reg.register_model("churn", [1], actor="carol")
    reg.promote(first, actor="ci", reason="first")
    second = reg.register_model("churn", [2], actor="carol")
    reg.approve(second, actor="bob", reason="reviewed")
    reg.promote(second, actor="ci", reason="better")


def _rewrite_history(reg: ModelRegistry, new_reason: str) -> None:
    """What someone with write access to the database could do: change an old event and
    re-hash it and every event after it, so the chain is consistent again."""
    events = schema.audit_events
    with reg.engine.begin() as connection:
        rows = [
            dict(r._mapping) for r in connection.execute(sa.select(events).order_by(events.c.seq))
        ]
        prev = schema.GENESIS_HASH
        for row in rows:
            if row["action"] == "approve":
                row["reason"] = new_reason
            row["prev_hash"] = prev
            row.pop("hash")
            row["hash"] = audit.compute_hash(**row)
            connection.execute(
                events.update()
                .where(events.c.seq == row["seq"])
                .values(reason=row["reason"], prev_hash=row["prev_hash"], hash=row["hash"])
            )
            prev = row["hash"]
        connection.execute(schema.audit_head.update().values(hash=prev))


def test_a_whole_chain_rewrite_is_caught_against_an_anchor(registry: ModelRegistry) -> None:
    _fill(registry)
    anchor = registry.audit_head()
    assert anchor == (registry.audit_count(), registry.audit_log()[-1].hash)
    assert registry.verify(anchors=[anchor]).ok
    _rewrite_history(registry, "nobody reviewed it")
    assert registry.audit_log(action="approve")[0].reason == "nobody reviewed it"
    assert registry.verify().ok  # the chain alone cannot tell
    report = registry.verify(anchors=[anchor])
    [problem] = report.problems
    assert problem.kind == "audit_rewritten" and problem.subject == f"event #{anchor[0]}"
    assert "recorded outside the registry" in problem.detail


def test_an_anchor_past_the_end_reports_removed_events(sqlite_registry: ModelRegistry) -> None:
    _fill(sqlite_registry)
    seq, digest = sqlite_registry.audit_head()
    [problem] = sqlite_registry.verify(anchors=[(seq + 3, digest)]).problems
    assert problem.kind == "audit_rewritten"
    assert f"records event #{seq + 3} but the log ends at #{seq}" in problem.detail


def test_an_evidence_packs_head_is_an_anchor(
    sqlite_registry: ModelRegistry, tmp_path: Path
) -> None:
    _fill(sqlite_registry)
    pack = tmp_path / "pack.zip"
    sqlite_registry.export_evidence("churn/2", pack)
    with zipfile.ZipFile(pack) as opened:
        head = json.loads(opened.read("manifest.json"))["audit_head"]
    anchor = (head["seq"], head["hash"])
    assert sqlite_registry.verify(anchors=[anchor]).ok
    _rewrite_history(sqlite_registry, "rubber stamp")
    assert not sqlite_registry.verify(anchors=[anchor]).ok
    # And the other way round: a pack checked against an anchor it does not match.
    rewritten = (anchor[0], sqlite_registry.audit_head()[1])
    [problem] = ModelRegistry.verify_evidence(pack, anchors=[rewritten]).problems
    assert problem.kind == "audit_rewritten"


def test_registry_verify_takes_anchors(sqlite_registry: ModelRegistry, tmp_path: Path) -> None:
    _fill(sqlite_registry)
    seq, digest = sqlite_registry.audit_head()
    base = ["--database-url", f"sqlite:///{tmp_path / 'registry.db'}"]
    base += ["--artifact-root", str(tmp_path / "artifacts")]
    runner = CliRunner()
    ok = runner.invoke(cli, [*base, "verify", "--anchor", f"{seq}:{digest}"])
    assert ok.exit_code == 0, ok.output
    _rewrite_history(sqlite_registry, "rubber stamp")
    caught = runner.invoke(cli, [*base, "verify", "--anchor", f"{seq}:{digest}"])
    assert caught.exit_code == 1 and "audit_rewritten" in caught.output
    bad = runner.invoke(cli, [*base, "verify", "--anchor", "12:nothex"])
    assert bad.exit_code == 2 and "64 hex digits" in bad.output


def test_malformed_anchors_are_refused(sqlite_registry: ModelRegistry) -> None:
    for anchor in [(0, "a" * 64), ("3", "a" * 64), (3, "xyz"), (3,)]:
        with pytest.raises(errors.InvalidInputError, match="anchor"):
            sqlite_registry.verify(anchors=[anchor])  # type: ignore[list-item]
