"""Integrity: `verify` (every referenced blob re-hashed, the audit chain, rows against their
events) and `gc` (unreferenced blobs older than the grace period, under the deletion
protocol of `Writer.delete_unreferenced`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from registry_project.core import anchors as anchor_checks
from registry_project.core.entities import AuditAction, GcReport, VerifyProblem, VerifyReport
from registry_project.core.ops.blob_checks import BlobChecks
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import audit
from registry_project.core.store.audit import EventDraft
from registry_project.core.store.chain_scan import scan_chain
from registry_project.core.store.consistency import (
    REPLAYED,
    audit_mismatches,
    digests_with_bytes,
    version_rows,
)
from registry_project.core.store.referenced_blobs import referenced_digests
from registry_project.core.validation import validate_grace_period

GC_GRACE_PERIOD = timedelta(hours=1)
# gc deletes in batches, each in one short transaction (see `Writer.delete_unreferenced`).
GC_BATCH = 200


def verify(
    w: Writer,
    on_progress: Callable[[int, int], None] | None,
    *,
    anchors: Sequence[tuple[int, str]] = (),
) -> VerifyReport:
    checked_anchors = anchor_checks.validate_anchors(anchors)
    problems: list[VerifyProblem] = []
    # One snapshot: a registration committing meanwhile must not make its version row
    # and its event look like one without the other.
    with w.read(snapshot=True) as connection:
        # Each blob once, however many rows point at it; hashed on the pool while this
        # thread checks the chain and the rows. The version rows are read once, for
        # their digests and for the replay.
        versions = version_rows(connection)
        digests = sorted(
            referenced_digests(connection, versions=digests_with_bytes(connection, versions))
        )
        blobs = BlobChecks(w.blobs, digests)
        try:
            scan = scan_chain(connection, REPLAYED)
            problems.extend(scan.problems)
            problems.extend(audit_mismatches(connection, scan.kept, versions))
            problems.extend(audit.check_anchors(connection, checked_anchors))
        except BaseException:
            blobs.cancel()
            raise
    problems.extend(blobs.results(on_progress))
    return VerifyReport(len(digests), scan.checked, tuple(problems))


def gc(w: Writer, *, dry_run: bool, grace_period: timedelta, actor: str | None) -> GcReport:
    who = w.actor(actor)
    grace_period = validate_grace_period(grace_period)
    with w.read() as connection:
        referenced = referenced_digests(connection)
    cutoff = now() - grace_period
    orphans: list[str] = []
    reclaimable = 0
    for info in w.blobs.iter_blobs():
        if info.digest in referenced or info.modified_at > cutoff:
            continue
        orphans.append(info.digest)
        reclaimable += info.size
    if dry_run:
        return GcReport(True, tuple(orphans), reclaimable)
    deleted: list[str] = []
    for start in range(0, len(orphans), GC_BATCH):
        # Still old? A write may have refreshed one since the listing (on S3 this asks
        # once per blob, so it happens before the lock is taken).
        batch = [d for d in orphans[start : start + GC_BATCH] if w.blobs.stored_before(d, cutoff)]
        if batch:
            deleted += w.write(
                lambda connection, batch=batch: w.delete_unreferenced(connection, batch)
            )
    temp_removed = w.blobs.cleanup_temporary(grace_period)
    w.write(
        lambda connection: audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.GC,
                subject_type="blob_store",
                subject_id=w.blobs.root_uri,
                after={
                    "deleted_blobs": len(deleted),
                    "bytes": reclaimable,
                    "temp_files": temp_removed,
                },
            ),
        )
    )
    return GcReport(False, tuple(deleted), reclaimable, temp_removed)
