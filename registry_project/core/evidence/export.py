"""Writing a version's evidence pack: its card, the record the card is rendered from and
the audit chain segment about it, in one zip, after appending the export's own audit event
(see the package's docstring for what a pack proves)."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry_project.core.config import resolve_actor
from registry_project.core.entities import AuditAction
from registry_project.core.errors import InvalidInputError
from registry_project.core.evidence.pack import (
    CARD,
    CHAIN,
    MANIFEST,
    PACK_FORMAT,
    RECORD,
    json_bytes,
    sha256,
)
from registry_project.core.model_card import build_record, render_card
from registry_project.core.store import audit
from registry_project.core.store.audit import EventDraft
from registry_project.core.transactions import Transactions

if TYPE_CHECKING:
    from registry_project.core.registry import ModelRegistry, VersionRef


def _subject_ids(record: Mapping[str, Any]) -> list[str]:
    # The model's name is the subject of its card-text events.
    ids = [record["version_id"], record["model"]] + [d["id"] for d in record["datasets"]]
    if record["run"] is not None:
        ids.append(record["run"]["id"])
    return ids


def export_pack(
    registry: ModelRegistry,
    tx: Transactions,
    reference: VersionRef,
    destination: str | Path,
    *,
    actor: str | None = None,
) -> tuple[int, str]:
    """Write the evidence pack of a version to `destination`; returns the audit head it
    ends at. The zip appears only once complete (written to a temporary name first)."""
    who = resolve_actor(actor)
    target = Path(destination)
    if target.is_dir():
        raise InvalidInputError(f"{target} is a directory: give the path of the zip to write")
    if not target.parent.is_dir():
        raise InvalidInputError(f"cannot write {target}: directory {target.parent} does not exist")
    record = build_record(registry, tx, reference)
    record_bytes = json_bytes(record)
    card_bytes = render_card(record).encode()
    subjects = _subject_ids(record)
    ref = f"{record['model']}/{record['version']}"

    def work(connection: Any) -> list[dict[str, Any]]:
        event = audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.EXPORT_EVIDENCE,
                subject_type="model_version",
                subject_id=record["version_id"],
                model_name=record["model"],
                after={
                    "version": record["version"],
                    "record_sha256": sha256(record_bytes),
                    "card_sha256": sha256(card_bytes),
                },
            ),
        )
        first = audit.first_seq_about(connection, subjects) or event.seq
        # Read inside the appending transaction: the head is locked, so the segment ends
        # exactly at the export event.
        return audit.stored_events(connection, first)

    events = tx.write(work)
    wanted = set(subjects)
    chain = {
        "first_seq": events[0]["seq"],
        "events": [
            event
            if event["subject_id"] in wanted
            else {"seq": event["seq"], "prev_hash": event["prev_hash"], "hash": event["hash"]}
            for event in events
        ],
    }
    chain_bytes = json_bytes(chain)
    head = (events[-1]["seq"], events[-1]["hash"])
    manifest = {
        "format": PACK_FORMAT,
        "version": ref,
        "version_id": record["version_id"],
        "exported_by": who,
        "exported_at": events[-1]["at"],
        "audit_head": {"seq": head[0], "hash": head[1]},
        "files": {
            CARD: sha256(card_bytes),
            RECORD: sha256(record_bytes),
            CHAIN: sha256(chain_bytes),
        },
    }
    partial = target.with_name(f".{target.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as pack:
            pack.writestr(MANIFEST, json_bytes(manifest))
            pack.writestr(CARD, card_bytes)
            pack.writestr(RECORD, record_bytes)
            pack.writestr(CHAIN, chain_bytes)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return head
