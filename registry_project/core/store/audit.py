"""The append-only, hash-chained audit log.

Each event's hash covers its own fields and the previous event's hash, so editing,
inserting or deleting any past event breaks the chain from that point on. The tip of the
chain is mirrored in `audit_head`, which every appender locks: that serialises appends
(the chain is a total order) and lets `the chain check (chain_scan.py) notice a deleted last event.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from registry_project.core.entities import AuditAction, AuditEvent, VerifyProblem
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.rows import event_from_values
from registry_project.core.store.schema import audit_events, audit_head
from registry_project.core.validation import canonical_json


@dataclass(frozen=True)
class EventDraft:
    """What a write wants to record; `append_event` gives it its place in the chain."""

    actor: str
    action: AuditAction
    subject_type: str
    subject_id: str
    model_name: str | None = None
    dataset_name: str | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str | None = None


# Every write appends an event: these run on the driver's cursor (see prepared.py).
_LOCK_HEAD = PreparedStatement(
    sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
)
_INSERT_EVENT = PreparedStatement(audit_events.insert())
_advance_head = (
    audit_head.update()
    .where(audit_head.c.id == 1)
    .values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)
_ADVANCE_HEAD = PreparedStatement(_advance_head)
# PostgreSQL: the event and the head in one statement (a data-modifying WITH runs whether
# or not the statement reads it), one statement fewer for the driver and the server on
# every append; SQLite has no INSERT inside WITH.
_APPEND_AND_ADVANCE = PreparedStatement(
    _advance_head.add_cte(
        audit_events.insert()
        .values({c.name: sa.bindparam(c.name, type_=c.type) for c in audit_events.columns})
        .cte("appended")
    )
)


_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def timestamp_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def timestamp_from_text(text: str) -> datetime:
    """The inverse of the hashed timestamp text, so an event exported as text (an evidence
    pack) hashes exactly as it did in the database."""
    return datetime.strptime(text, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def compute_hash(
    *,
    seq: int,
    event_id: str,
    at: datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    model_name: str | None,
    dataset_name: str | None,
    before_json: str | None,
    after_json: str | None,
    reason: str | None,
    prev_hash: str,
) -> str:
    fields = (
        seq,
        event_id,
        at,
        actor,
        action,
        subject_type,
        subject_id,
        model_name,
        dataset_name,
        before_json,
        after_json,
        reason,
        prev_hash,
    )
    at_text = timestamp_text(at)
    try:
        body = hashed_text(fields, at_text)
    except TypeError:  # a value of a type the registry never writes: JSON's own text of it
        body = json.dumps(
            [*fields[:2], at_text, *fields[3:]], separators=(",", ":"), ensure_ascii=False
        )
    return text_hash(body)


# What `json.dumps(..., ensure_ascii=False)` encodes a str with (the C encoder); it raises
# TypeError for anything that is not a str.
_quote = json.encoder.encode_basestring


def hashed_text(fields: Sequence[Any], at_text: str) -> str:
    """The text an event's hash covers: `json.dumps` of its `HASHED_FIELDS` (the time as
    `at_text`, whatever `fields[2]` holds), `separators=(",", ":")`, `ensure_ascii=False`,
    built directly, byte for byte the same. A list and a `json.dumps` call cost several
    times the hash, and `verify()` recomputes this for every event, from the driver's rows
    (chain_scan.py). Raises TypeError unless `seq` is an int and the others are str, or
    None in the columns that allow it."""
    seq = fields[0]
    if type(seq) is not int:  # not a bool either, which json.dumps writes as `true`
        raise TypeError(seq)
    quote = _quote
    model_name, dataset_name, before_json, after_json, reason = fields[7:12]
    return (
        f"[{seq},{quote(fields[1])},{quote(at_text)},{quote(fields[3])},"
        f"{quote(fields[4])},{quote(fields[5])},{quote(fields[6])},"
        f"{'null' if model_name is None else quote(model_name)},"
        f"{'null' if dataset_name is None else quote(dataset_name)},"
        f"{'null' if before_json is None else quote(before_json)},"
        f"{'null' if after_json is None else quote(after_json)},"
        f"{'null' if reason is None else quote(reason)},{quote(fields[12])}]"
    )


def text_hash(body: str) -> str:
    """The hash of an event's hashed text."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _payload(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else canonical_json(dict(value))


def lock_head(connection: Connection) -> None:
    """Take the lock every appender takes (the head row on PostgreSQL; SQLite's write
    transaction already excludes every other writer): until this transaction ends, no
    other write can commit."""
    _LOCK_HEAD.execute(connection)


def append_event(connection: Connection, draft: EventDraft) -> AuditEvent:
    """Append one event inside the caller's write transaction."""
    [(head_seq, head_hash)] = _LOCK_HEAD.execute(connection)
    # Microsecond precision is what both SQLite and PostgreSQL store, so the hash survives
    # the round trip.
    at = datetime.now(UTC)
    values = {
        "seq": head_seq + 1,
        "event_id": str(uuid.uuid4()),
        "at": at,
        "actor": draft.actor,
        "action": draft.action.value,  # plain text: stored and hashed as such
        "subject_type": draft.subject_type,
        "subject_id": draft.subject_id,
        "model_name": draft.model_name,
        "dataset_name": draft.dataset_name,
        "before_json": _payload(draft.before),
        "after_json": _payload(draft.after),
        "reason": draft.reason,
        "prev_hash": head_hash,
    }
    values["hash"] = compute_hash(**values)
    head = {"new_seq": values["seq"], "new_hash": values["hash"]}
    if connection.dialect.name == "postgresql":
        _APPEND_AND_ADVANCE.execute_later(connection, {**values, **head})
    else:
        _INSERT_EVENT.execute_later(connection, values)
        _ADVANCE_HEAD.execute_later(connection, head)
    return event_from_values(values)


def event_from_row(row: Row[Any]) -> AuditEvent:
    return event_from_values(row._mapping)


@dataclass(frozen=True)
class EventFilter:
    """Which audit events to read or count; None means "any"."""

    model_name: str | None = None
    dataset_name: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    after_seq: int | None = None  # only events appended after this one (a reader's cursor)

    def apply(self, query: sa.Select[Any]) -> sa.Select[Any]:
        if self.model_name is not None:
            query = query.where(audit_events.c.model_name == self.model_name)
        if self.dataset_name is not None:
            query = query.where(audit_events.c.dataset_name == self.dataset_name)
        if self.actor is not None:
            query = query.where(audit_events.c.actor == self.actor)
        if self.action is not None:
            query = query.where(audit_events.c.action == self.action)
        if self.since is not None:
            query = query.where(audit_events.c.at >= self.since)
        if self.after_seq is not None:
            query = query.where(audit_events.c.seq > self.after_seq)
        return query


def query_events(
    connection: Connection,
    where: EventFilter,
    *,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[AuditEvent]:
    order = audit_events.c.seq.desc() if newest_first else audit_events.c.seq.asc()
    query = where.apply(sa.select(audit_events)).order_by(order)
    if limit is not None:
        query = query.limit(limit)
    return [event_from_row(row) for row in connection.execute(query)]


def count_events(connection: Connection, where: EventFilter) -> int:
    query = where.apply(sa.select(sa.func.count()).select_from(audit_events))
    return int(connection.execute(query).scalar_one())


# The hashed fields of an event, in the order `compute_hash` takes them.
HASHED_FIELDS = (
    "seq",
    "event_id",
    "at",
    "actor",
    "action",
    "subject_type",
    "subject_id",
    "model_name",
    "dataset_name",
    "before_json",
    "after_json",
    "reason",
    "prev_hash",
)


def stored_events(connection: Connection, first_seq: int) -> list[dict[str, Any]]:
    """The events from `first_seq` to the tip exactly as stored (payloads as their JSON
    text, the time as its hashed text), for exporting a checkable segment of the chain."""
    rows = connection.execute(
        sa.select(audit_events).where(audit_events.c.seq >= first_seq).order_by(audit_events.c.seq)
    )
    exported = []
    for row in rows:
        values = {name: row._mapping[name] for name in HASHED_FIELDS}
        values["at"] = timestamp_text(values["at"])
        values["hash"] = row.hash
        exported.append(values)
    return exported


def read_head(connection: Connection) -> tuple[int, str]:
    """The chain tip (sequence number and hash), what an anchor records."""
    row = connection.execute(sa.select(audit_head).where(audit_head.c.id == 1)).one()
    return int(row.seq), str(row.hash)


def first_seq_about(connection: Connection, subject_ids: Sequence[str]) -> int | None:
    """The sequence number of the oldest event about any of these subjects."""
    if not subject_ids:
        return None
    query = sa.select(sa.func.min(audit_events.c.seq)).where(
        audit_events.c.subject_id.in_(list(subject_ids))
    )
    value = connection.execute(query).scalar_one()
    return None if value is None else int(value)


def check_anchors(
    connection: Connection, anchors: Sequence[tuple[int, str]]
) -> list[VerifyProblem]:
    """Compare the chain with audit heads published outside this database (an evidence
    pack, Dagster's event log). A whole-chain rewrite, every event re-hashed consistently,
    passes the chain check; it cannot also keep the hash someone else recorded."""
    problems = []
    head_seq, _ = read_head(connection)
    for seq, expected in anchors:
        stored = connection.execute(
            sa.select(audit_events.c.hash).where(audit_events.c.seq == seq)
        ).scalar_one_or_none()
        if stored is None:
            detail = (
                f"an anchor records event #{seq} but the log ends at #{head_seq}: "
                "the newest events were removed"
                if seq > head_seq
                else f"an anchor records event #{seq}, which is missing from the log"
            )
            problems.append(VerifyProblem("audit_rewritten", f"event #{seq}", detail))
        elif stored != expected:
            problems.append(
                VerifyProblem(
                    "audit_rewritten",
                    f"event #{seq}",
                    f"its hash {stored[:12]}… differs from the anchor {expected[:12]}… "
                    "recorded outside the registry: the history up to it was rewritten",
                )
            )
    return problems
