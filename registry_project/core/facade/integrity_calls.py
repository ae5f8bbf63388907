"""Verification and garbage collection: the calls of ops/integrity_ops.py.

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from registry_project.core.entities import GcReport, VerifyReport
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops import integrity_ops
from registry_project.core.ops.integrity_ops import GC_GRACE_PERIOD


class IntegrityCalls(FacadeBase):
    """Re-hashing what the metadata references, and collecting unreferenced blobs."""

    def verify(
        self,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        anchors: Sequence[tuple[int, str]] = (),
    ) -> VerifyReport:
        """Re-hash every blob the metadata references, check the audit hash chain, and
        cross-check each version's and dataset's row against what its audit events
        recorded. Every problem is listed; an unreadable blob does not stop the check.

        `anchors` are audit heads `(seq, hash)` recorded outside this database (an
        evidence pack's, Dagster's): a history rewritten whole no longer matches them.
        Example: `reg.verify(anchors=[(42, "9f86d08...")])`."""
        return integrity_ops.verify(self._w, on_progress, anchors=anchors)

    def gc(
        self,
        *,
        dry_run: bool = True,
        grace_period: timedelta = GC_GRACE_PERIOD,
        actor: str | None = None,
    ) -> GcReport:
        """Find (and unless `dry_run`, delete) blobs no row references.

        Blobs younger than `grace_period` are kept: they may belong to a registration whose
        row is being written right now. Leftover temp files and incomplete S3 multipart
        uploads older than the grace period are cleaned up too.
        """
        return integrity_ops.gc(self._w, dry_run=dry_run, grace_period=grace_period, actor=actor)
