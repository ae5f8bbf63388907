"""The audit log: the calls of ops/audit_ops.py.

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.

ops/audit_ops.py is imported in the calls that use it, not with this module:
a command that opens the registry for something else (`registry versions`) does not
pay for loading it (issue #18).
"""

from __future__ import annotations

from datetime import datetime

from registry_project.core.entities import AuditEvent, VerifyReport
from registry_project.core.facade.base import FacadeBase


class AuditCalls(FacadeBase):
    """Reading the audit log and checking its hash chain."""

    def audit_log(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        after_seq: int | None = None,
    ) -> list[AuditEvent]:
        """Audit events, oldest first (or `newest_first`), filtered by model / dataset name,
        actor, action and time; `limit` keeps the first N in that order. `after_seq` reads
        only events appended after that sequence number: a follower's cursor.

        Example::

            reg.audit_log(model="churn", action="promote", newest_first=True, limit=10)
            reg.audit_log(after_seq=cursor, limit=500)  # what happened since cursor
        """
        from registry_project.core.ops import audit_ops

        where = audit_ops.event_filter(model, dataset, actor, action, since, after_seq)
        return audit_ops.events(self._w, where, limit=limit, newest_first=newest_first)

    def audit_count(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many audit events match the same filters as `audit_log` (without reading them)."""
        from registry_project.core.ops import audit_ops

        where = audit_ops.event_filter(model, dataset, actor, action, since)
        return audit_ops.count(self._w, where)

    def verify_audit_chain(self) -> VerifyReport:
        """Only the audit log's hash chain: reads the log once and no blob, so a page or a
        health check may run it on request. `verify()` also re-hashes every blob."""
        from registry_project.core.ops import audit_ops

        return audit_ops.verify_chain(self._w)
