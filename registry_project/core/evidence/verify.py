"""Verifying an evidence pack offline, with nothing but the zip and this package (no
registry, no database): the files against the manifest, the audit chain segment re-hashed
and linked, the record against the events about the version, the card rendered again from
the record, the head against given anchors."""

from __future__ import annotations

import itertools
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_project.core.anchors import validate_anchors
from registry_project.core.entities import AuditAction, VerifyProblem
from registry_project.core.errors import InvalidInputError
from registry_project.core.evidence.pack import CARD, CHAIN, MANIFEST, PACK_FORMAT, RECORD, sha256
from registry_project.core.model_card import render_card
from registry_project.core.store import audit

# The stage moves of a version as the audit log records them (register_model is the first).
_STAGE_ACTIONS = {
    AuditAction.TRANSITION.value,
    AuditAction.PROMOTE.value,
    AuditAction.PROMOTE_ARCHIVE_PREVIOUS.value,
    AuditAction.ROLLBACK.value,
    AuditAction.ROLLBACK_ARCHIVE_PREVIOUS.value,
}


@dataclass(frozen=True)
class EvidenceReport:
    """What `verify_pack` found: ok only when no problem was found."""

    version: str
    audit_head: tuple[int, str] | None
    events_checked: int
    problems: tuple[VerifyProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class _Checker:
    def __init__(self) -> None:
        self.problems: list[VerifyProblem] = []

    def problem(self, kind: str, subject: str, detail: str) -> None:
        self.problems.append(VerifyProblem(kind, subject, detail))


def _read_pack(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as pack:
            return {name: pack.read(name) for name in pack.namelist()}
    except FileNotFoundError as exc:
        raise InvalidInputError(f"no evidence pack at {path}") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInputError(
            f"{path} is not a readable evidence pack (zip): {exc}. Ask for the pack again."
        ) from exc


def _load_json(files: Mapping[str, bytes], name: str, checker: _Checker) -> Any:
    if name not in files:
        checker.problem("pack_file_missing", name, f"{name} is missing from the pack")
        return None
    try:
        return json.loads(files[name])
    except ValueError as exc:
        checker.problem("pack_file_unreadable", name, f"{name} is not valid JSON: {exc}")
        return None


def _check_files(files: Mapping[str, bytes], manifest: Mapping[str, Any], c: _Checker) -> None:
    for name, digest in manifest.get("files", {}).items():
        if name not in files:
            c.problem("pack_file_missing", name, f"{name} is listed in the manifest but missing")
        elif sha256(files[name]) != digest:
            c.problem("pack_file_edited", name, f"{name} does not match its digest in the manifest")


def _entry_label(entry: Mapping[str, Any]) -> str:
    if "action" in entry:
        return f"audit event #{entry['seq']} ({entry['action']})"
    return f"audit event #{entry.get('seq')}"


def _check_chain(
    chain: Mapping[str, Any], head: tuple[int, str], c: _Checker
) -> list[dict[str, Any]]:
    """Order, completeness, links and content of the segment; returns its whole events."""
    entries = list(chain.get("events", []))
    seqs = [entry.get("seq") for entry in entries]
    if not entries or not all(isinstance(s, int) for s in seqs):
        c.problem("audit_segment_unreadable", CHAIN, "the audit segment has no numbered events")
        return []
    for before, after in itertools.pairwise(entries):
        if after["seq"] < before["seq"]:
            c.problem(
                "audit_reordered",
                f"audit event #{after['seq']}",
                f"{_entry_label(after)} is placed after #{before['seq']}: entries were reordered",
            )
    ordered = sorted(entries, key=lambda entry: entry["seq"])
    first, last = int(chain.get("first_seq", ordered[0]["seq"])), head[0]
    present = {entry["seq"] for entry in ordered}
    for seq in range(first, last + 1):
        if seq not in present:
            c.problem("audit_removed", f"audit event #{seq}", f"audit event #{seq} was removed")
    for before, after in itertools.pairwise(ordered):
        if after["seq"] == before["seq"] + 1 and after.get("prev_hash") != before.get("hash"):
            c.problem(
                "audit_chain_broken",
                f"audit event #{after['seq']}",
                f"{_entry_label(after)} does not link to the hash of #{before['seq']}",
            )
    whole = []
    for entry in ordered:
        if "action" not in entry:
            continue
        try:
            values = {name: entry[name] for name in audit.HASHED_FIELDS}
            values["at"] = audit.timestamp_from_text(values["at"])
            recomputed = audit.compute_hash(**values)
        except (KeyError, TypeError, ValueError):
            recomputed = None
        if recomputed != entry.get("hash"):
            c.problem(
                "audit_edited",
                f"audit event #{entry['seq']}",
                f"{_entry_label(entry)} does not match its hash: it was edited",
            )
        whole.append(entry)
    tip = ordered[-1]
    if tip["seq"] == last and tip.get("hash") != head[1]:
        c.problem(
            "audit_head_mismatch",
            f"audit event #{last}",
            f"the segment ends at a hash other than the pack's audit head {head[1][:12]}",
        )
    return whole


def _payload(entry: Mapping[str, Any], field: str) -> dict[str, Any]:
    text = entry.get(field)
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _check_record(
    record: Mapping[str, Any], events: Sequence[Mapping[str, Any]], c: _Checker
) -> None:
    """The record's history and approvals, one for one, against the events about it."""
    mine = [e for e in events if e.get("subject_id") == record.get("version_id")]
    moves: list[tuple[Any, ...]] = []
    approvals: list[tuple[Any, ...]] = []
    for event in mine:
        after = _payload(event, "after_json")
        if event["action"] == AuditAction.REGISTER_MODEL.value:
            moves.append((event["seq"], None, "experiment", event["actor"], None))
            if after.get("digest") != record.get("artifact_digest"):
                c.problem(
                    "record_edited",
                    "artifact_digest",
                    f"the record's artifact digest differs from audit event #{event['seq']}",
                )
        elif event["action"] in _STAGE_ACTIONS:
            before = _payload(event, "before_json")
            moves.append(
                (
                    event["seq"],
                    before.get("stage"),
                    after.get("stage"),
                    event["actor"],
                    event["reason"],
                )
            )
        elif event["action"] == AuditAction.APPROVE.value:
            approvals.append((event["seq"], event["actor"], event["reason"]))
    history = list(record.get("stage_history", []))
    for index in range(max(len(history), len(moves))):
        label = f"stage history entry {index + 1}"
        if index >= len(moves):
            c.problem("record_edited", label, f"{label} has no audit event behind it")
            continue
        seq, *expected = moves[index]
        if index >= len(history):
            c.problem(
                "record_removed", f"audit event #{seq}", f"{label} was removed from the history"
            )
            continue
        entry = history[index]
        shown = [entry.get("from"), entry.get("to"), entry.get("actor"), entry.get("reason")]
        for name, got, want in zip(("from", "to", "actor", "reason"), shown, expected, strict=True):
            if got != want:
                c.problem(
                    "record_edited",
                    label,
                    f"{label} ({entry.get('from')} -> {entry.get('to')}): its {name} {got!r} "
                    f"differs from audit event #{seq}'s {want!r}",
                )
    texts = [
        e
        for e in events
        if e["action"] == AuditAction.SET_CARD_TEXT.value
        and e.get("subject_id") == record.get("model")
    ]
    stated = record.get("card_text")
    if (_payload(texts[-1], "after_json") if texts else None) != stated:
        c.problem(
            "record_edited",
            "card_text",
            "the record's intended use and limitations differ from "
            + (
                f"audit event #{texts[-1]['seq']}" if texts else "the audit log (no event set them)"
            ),
        )
    recorded = list(record.get("approvals", []))
    for index in range(max(len(recorded), len(approvals))):
        label = f"approval {index + 1}"
        if index >= len(approvals):
            c.problem("record_edited", label, f"{label} has no audit event behind it")
        elif index >= len(recorded):
            c.problem(
                "record_removed", label, f"{label} (audit event #{approvals[index][0]}) was removed"
            )
        elif (recorded[index].get("actor"), recorded[index].get("reason")) != approvals[index][1:]:
            c.problem(
                "record_edited", label, f"{label} differs from audit event #{approvals[index][0]}"
            )


def _check_export_event(
    files: Mapping[str, bytes],
    events: Sequence[Mapping[str, Any]],
    head: tuple[int, str],
    c: _Checker,
) -> None:
    export = next((e for e in events if e["seq"] == head[0]), None)
    if export is None or export.get("action") != AuditAction.EXPORT_EVIDENCE.value:
        c.problem("audit_removed", f"audit event #{head[0]}", "the pack's export event is missing")
        return
    after = _payload(export, "after_json")
    for name, key in ((CARD, "card_sha256"), (RECORD, "record_sha256")):
        if name in files and sha256(files[name]) != after.get(key):
            c.problem(
                "pack_file_edited",
                name,
                f"{name} is not the file audit event #{head[0]} recorded at export",
            )


def _check_card(files: Mapping[str, bytes], record: Mapping[str, Any], c: _Checker) -> None:
    if CARD not in files:
        c.problem("pack_file_missing", CARD, f"{CARD} is missing from the pack")
        return
    try:
        expected = render_card(record).splitlines()
    except (KeyError, TypeError, ValueError, AttributeError):
        c.problem("record_unreadable", RECORD, "the record cannot be rendered as a model card")
        return
    got = files[CARD].decode("utf-8", errors="replace").splitlines()
    if got != expected:
        line = next(
            (i for i, (a, b) in enumerate(zip(got, expected, strict=False), 1) if a != b),
            min(len(got), len(expected)) + 1,
        )
        c.problem(
            "card_edited", CARD, f"{CARD} differs from the card its record renders (line {line})"
        )


def verify_pack(path: str | Path, *, anchors: Sequence[tuple[int, str]] = ()) -> EvidenceReport:
    """Check an evidence pack offline: no registry, no database. Every edited, removed or
    reordered entry is reported; an anchor (seq, hash) the segment covers must match it."""
    anchors = validate_anchors(anchors)
    files = _read_pack(Path(path))
    c = _Checker()
    manifest = _load_json(files, MANIFEST, c) or {}
    if manifest and manifest.get("format") != PACK_FORMAT:
        raise InvalidInputError(
            f"{path} is an evidence pack of format {manifest.get('format')!r}; this version "
            f"reads format {PACK_FORMAT}: verify it with the registry_project that wrote it"
        )
    try:
        head = (int(manifest["audit_head"]["seq"]), str(manifest["audit_head"]["hash"]))
    except (KeyError, TypeError, ValueError):
        head = None
        c.problem("pack_file_edited", MANIFEST, "the manifest has no readable audit head")
    _check_files(files, manifest, c)
    record = _load_json(files, RECORD, c)
    chain = _load_json(files, CHAIN, c)
    events: list[dict[str, Any]] = []
    if isinstance(chain, dict) and head is not None:
        events = _check_chain(chain, head, c)
        _check_export_event(files, events, head, c)
        hashes = {e.get("seq"): e.get("hash") for e in chain.get("events", [])}
        for seq, expected in anchors:
            if seq in hashes and hashes[seq] != expected:
                c.problem(
                    "audit_rewritten",
                    f"audit event #{seq}",
                    f"the pack's audit event #{seq} differs from the anchor {expected[:12]}: "
                    "the history was rewritten",
                )
    if isinstance(record, dict):
        _check_record(record, events, c)
        _check_card(files, record, c)
    return EvidenceReport(
        version=str(manifest.get("version", "?")),
        audit_head=head,
        events_checked=len(events),
        problems=tuple(c.problems),
    )
