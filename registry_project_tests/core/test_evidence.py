"""Evidence packs: exported from a real registry, verified offline, every single edit
named (a byte of the card, a reason in the history, a dropped or reordered audit event)."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from registry_project import ModelRegistry, Stage
from registry_project.core import errors
from registry_project.core.evidence import verify_pack


def _churn_version(reg: ModelRegistry) -> str:
    train = reg.snapshot_dataset("customers", pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]}))
    holdout = reg.snapshot_dataset("holdout", pd.DataFrame({"x": [4, 5], "y": [1, 0]}))
    with reg.start_run("churn-training", params={"C": 1.0}, inputs=[train]) as run:
        first = reg.register_model("churn", [1], run=run, metrics={"auc": 0.8}, actor="carol")
    reg.log_metrics(first, {"auc": 0.81}, dataset=holdout, actor="ci")
    reg.promote(first, actor="ci", reason="first model")
    # Unrelated events in between: carried as hashes only.
    reg.snapshot_dataset("other", pd.DataFrame({"z": [9]}))
    with reg.start_run("churn-training", params={"C": 0.5}, inputs=[train]) as run:
        second = reg.register_model("churn", [2], run=run, metrics={"auc": 0.9}, actor="carol")
    reg.log_metrics(second, {"auc": 0.93}, dataset=holdout, actor="ci")
    reg.transition(second, Stage.STAGING, actor="ci", reason="passed checks")
    reg.approve(second, actor="bob", reason="reviewed the card")
    reg.promote(second, actor="sensor:churn", reason="auc 0.93 > 0.81", expected_current=first)
    return second.ref


@pytest.fixture
def pack(sqlite_registry: ModelRegistry, tmp_path: Path) -> Path:
    ref = _churn_version(sqlite_registry)
    path = tmp_path / "pack.zip"
    head = sqlite_registry.export_evidence(ref, path, actor="auditor")
    assert head == (sqlite_registry.audit_count(), sqlite_registry.audit_log()[-1].hash)
    return path


def _rewrite(path: Path, name: str, change: Callable[[bytes], bytes]) -> Path:
    with zipfile.ZipFile(path) as original:
        files = {n: original.read(n) for n in original.namelist()}
    files[name] = change(files[name])
    edited = path.with_name("edited.zip")
    with zipfile.ZipFile(edited, "w") as out:
        for n, data in files.items():
            out.writestr(n, data)
    return edited


def _json_change(change: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        value = json.loads(data)
        change(value)
        return json.dumps(value, sort_keys=True, indent=2).encode() + b"\n"

    return apply


def _kinds(path: Path) -> dict[str, str]:
    report = verify_pack(path)
    assert not report.ok
    return {p.kind: f"{p.subject}: {p.detail}" for p in report.problems}


def test_a_pack_verifies_with_the_registry_database_deleted(
    sqlite_registry: ModelRegistry, pack: Path, tmp_path: Path
) -> None:
    card = sqlite_registry.model_card("churn/2")
    sqlite_registry.close()
    (tmp_path / "registry.db").unlink()
    shutil.rmtree(tmp_path / "artifacts")
    report = verify_pack(pack)
    assert report.ok, report.problems
    assert report.version == "churn/2"
    with zipfile.ZipFile(pack) as opened:
        assert set(opened.namelist()) == {
            "manifest.json",
            "card.md",
            "record.json",
            "audit_chain.json",
        }
        record = json.loads(opened.read("record.json"))
        chain = json.loads(opened.read("audit_chain.json"))
        packed_card = opened.read("card.md").decode()
    # The card in the pack is the registry's card (plus nothing the export changed).
    assert packed_card == card
    assert [t["reason"] for t in record["stage_history"]] == [
        None,
        "passed checks",
        "auc 0.93 > 0.81",
    ]
    assert [(a["actor"], a["reason"]) for a in record["approvals"]] == [
        ("bob", "reviewed the card")
    ]
    # Events about other subjects are hashes only; the version's own are whole.
    whole = [e for e in chain["events"] if "action" in e]
    assert any("action" not in e for e in chain["events"])
    assert {e["action"] for e in whole} >= {
        "register_model",
        "promote",
        "approve",
        "export_evidence",
    }
    assert report.events_checked == len(whole)


def test_one_byte_of_the_card_changed_is_detected(pack: Path) -> None:
    edited = _rewrite(pack, "card.md", lambda data: data.replace(b"0.93", b"0.98", 1))
    kinds = _kinds(edited)
    assert "card.md differs from the card its record renders" in kinds["card_edited"]
    assert "card.md" in kinds["pack_file_edited"]


def test_a_card_edit_with_a_recomputed_manifest_is_still_detected(pack: Path) -> None:
    edited = _rewrite(pack, "card.md", lambda data: data.replace(b"bob", b"eve", 1))

    def fix_manifest(manifest: dict) -> None:
        with zipfile.ZipFile(edited) as opened:
            manifest["files"]["card.md"] = hashlib.sha256(opened.read("card.md")).hexdigest()

    both = _rewrite(edited, "manifest.json", _json_change(fix_manifest))
    kinds = _kinds(both)
    assert "card_edited" in kinds
    assert "not the file audit event" in kinds["pack_file_edited"]


def test_a_reason_changed_in_the_history_is_named(pack: Path) -> None:
    def change(record: dict) -> None:
        record["stage_history"][2]["reason"] = "approved by the board"

    kinds = _kinds(_rewrite(pack, "record.json", _json_change(change)))
    assert kinds["record_edited"].startswith("stage history entry 3")
    assert "'approved by the board' differs from audit event" in kinds["record_edited"]


def test_a_reason_changed_in_an_audit_event_is_named(pack: Path) -> None:
    def change(chain: dict) -> None:
        promote = next(e for e in chain["events"] if e.get("reason") == "auc 0.93 > 0.81")
        promote["reason"] = "auc 0.99"

    kinds = _kinds(_rewrite(pack, "audit_chain.json", _json_change(change)))
    assert "(promote) does not match its hash" in kinds["audit_edited"]


def test_a_dropped_audit_event_is_named(pack: Path) -> None:
    dropped: list[int] = []

    def change(chain: dict) -> None:
        approve = next(e for e in chain["events"] if e.get("action") == "approve")
        dropped.append(approve["seq"])
        chain["events"].remove(approve)

    kinds = _kinds(_rewrite(pack, "audit_chain.json", _json_change(change)))
    assert (
        kinds["audit_removed"]
        == f"audit event #{dropped[0]}: audit event #{dropped[0]} was removed"
    )
    assert "approval 1" in kinds["record_edited"]


def test_reordered_audit_events_are_named(pack: Path) -> None:
    def change(chain: dict) -> None:
        events = chain["events"]
        events[1], events[2] = events[2], events[1]

    kinds = _kinds(_rewrite(pack, "audit_chain.json", _json_change(change)))
    assert "entries were reordered" in kinds["audit_reordered"]
    assert set(kinds) == {"audit_reordered", "pack_file_edited"}


def test_an_untouched_copy_verifies_and_garbage_is_refused(pack: Path, tmp_path: Path) -> None:
    assert verify_pack(_rewrite(pack, "card.md", lambda data: data)).ok
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(errors.InvalidInputError, match="not a readable evidence pack"):
        verify_pack(junk)


def test_card_text_is_set_by_owners_audited_and_shown(registry: ModelRegistry) -> None:
    ref = _churn_version(registry)
    with pytest.raises(errors.ModelNotFoundError, match="no model named 'fraud'"):
        registry.set_model_card_text("fraud", intended_use="x", actor="ana")
    with pytest.raises(errors.InvalidInputError, match="intended_use= or limitations="):
        registry.set_model_card_text("churn", actor="ana")
    registry.set_model_card_text("churn", intended_use="Rank retention offers", actor="ana")
    text = registry.set_model_card_text(
        "churn", limitations="Not for credit | pricing decisions", actor="ana", reason="legal"
    )
    assert (text.intended_use, text.limitations) == (
        "Rank retention offers",
        "Not for credit | pricing decisions",
    )
    card = registry.model_card(ref)
    assert "## Intended use\n\nRank retention offers\n" in card
    assert "## Limitations\n\nNot for credit | pricing decisions\n" in card
    [latest, first] = registry.audit_log(action="set_card_text", newest_first=True)
    assert (latest.actor, latest.reason) == ("ana", "legal")
    assert latest.before == {"intended_use": "Rank retention offers", "limitations": None}
    assert first.after == {"intended_use": "Rank retention offers", "limitations": None}
    assert registry.verify().ok
    registry.set_model_card_text("churn", intended_use=None, actor="ana")
    assert registry.model_card_text("churn").intended_use is None
    assert "## Intended use\n\n_not stated_\n" in registry.model_card(ref)


def test_edited_card_text_in_a_pack_is_detected(
    sqlite_registry: ModelRegistry, tmp_path: Path
) -> None:
    ref = _churn_version(sqlite_registry)
    sqlite_registry.set_model_card_text("churn", intended_use="Retention offers", actor="ana")
    path = tmp_path / "pack.zip"
    sqlite_registry.export_evidence(ref, path)
    assert verify_pack(path).ok

    def change(record: dict) -> None:
        record["card_text"]["intended_use"] = "Credit decisions"

    kinds = _kinds(_rewrite(path, "record.json", _json_change(change)))
    assert kinds["record_edited"].startswith("card_text: the record's intended use")
    assert "card_edited" in kinds
