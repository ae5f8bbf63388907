"""The audit log as the facade answers it: filtered reads, counts, the chain's check."""

from __future__ import annotations

from datetime import datetime

from registry_project.core.entities import AuditEvent, VerifyReport
from registry_project.core.errors import InvalidInputError
from registry_project.core.ops.writer import Writer
from registry_project.core.store import audit
from registry_project.core.store.chain_scan import scan_chain
from registry_project.core.validation import (
    validate_filter_text,
    validate_limit,
    validate_name,
    validate_since,
)


def event_filter(
    model: str | None,
    dataset: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    after_seq: int | None = None,
) -> audit.EventFilter:
    if model is not None:
        validate_name(model, "model name")
    if dataset is not None:
        validate_name(dataset, "dataset name")
    return audit.EventFilter(
        model,
        dataset,
        validate_filter_text(actor, "actor"),
        validate_filter_text(action, "action"),
        validate_since(since),
        _validate_after_seq(after_seq),
    )


def _validate_after_seq(after_seq: int | None) -> int | None:
    """A follower's cursor: an audit event's seq (bool is not a sequence number)."""
    if after_seq is not None and (type(after_seq) is not int or after_seq < 0):
        raise InvalidInputError(
            f"after_seq must be a non-negative integer (an audit event's seq), got {after_seq!r}"[
                :200
            ]
        )
    return after_seq


def events(
    w: Writer, where: audit.EventFilter, *, limit: int | None, newest_first: bool
) -> list[AuditEvent]:
    limit = validate_limit(limit)
    with w.read() as connection:
        return audit.query_events(connection, where, limit=limit, newest_first=newest_first)


def count(w: Writer, where: audit.EventFilter) -> int:
    with w.read() as connection:
        return audit.count_events(connection, where)


def verify_chain(w: Writer) -> VerifyReport:
    # One snapshot: the events, then the head they must end at.
    with w.read(snapshot=True) as connection:
        scan = scan_chain(connection)
    return VerifyReport(0, scan.checked, tuple(scan.problems))
