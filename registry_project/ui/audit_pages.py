"""The pages of what the registry keeps about its data and its own writes: `/datasets`
(snapshots, references, tombstones and their dependents) and `/audit` (the audit log,
filtered, with the hash chain's check)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from registry_project.core.entities import AuditAction, AuditEvent, VerifyReport
from registry_project.core.registry import ModelRegistry
from registry_project.ui.pages import Pages, Settings, dataset_anchor
from registry_project.ui.query import model_path, query_flag, query_int, query_value, url

# The actions the core writes to the audit log, offered as suggestions in the filter.
AUDIT_ACTIONS = tuple(action.value for action in AuditAction)


@dataclass
class _VerifyCache:
    report: VerifyReport | None = None
    checked_at: datetime | None = None
    checked_monotonic: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class AuditPages(Pages):
    """`/datasets`, `/audit`."""

    def __init__(
        self, registry: ModelRegistry, templates: Jinja2Templates, settings: Settings
    ) -> None:
        super().__init__(registry, templates, settings)
        self._verify = _VerifyCache()

    def datasets(self, request: Request) -> Response:
        name = query_value(request, "name")
        snapshots = self.registry.datasets(name)
        now = datetime.now(UTC)
        # One plan for the page: each live snapshot's verdict under its name's policy.
        verdicts = {item.subject_id: item for item in self.registry.retention_plan()}
        rows = [
            {
                "snapshot": snap,
                "dependents": self.registry.dependents(snap),
                "expired": snap.expires_at is not None and snap.expires_at <= now,
                "retention": verdicts.get(snap.id),
            }
            for snap in snapshots
        ]
        names = sorted({snap.name for snap in snapshots}) if name is None else [name]
        return self.render(
            request,
            "datasets.html",
            title="Datasets",
            rows=rows,
            name=name,
            names=names,
            live=sum(1 for s in snapshots if not s.deleted),
            version_href=lambda d: model_path(d.model_name, "versions", d.version),
        )

    def audit(self, request: Request) -> Response:
        model = query_value(request, "model")
        actor = query_value(request, "actor")
        action = query_value(request, "action")
        limit = query_int(request, "limit", default=200, low=1, high=100_000)
        refresh = query_flag(request, "verify")
        # Only the page's rows are read: the log grows with every write.
        filters = {"model": model, "actor": actor, "action": action}
        events = self.registry.audit_log(**filters, newest_first=True, limit=limit)
        report, checked_at = self._verification(refresh)
        return self.render(
            request,
            "audit.html",
            title="Audit log",
            events=events,
            total=self.registry.audit_count(**filters),
            model=model,
            actor=actor,
            action=action,
            limit=limit,
            models=[m.name for m in self.registry.models()],
            actions=AUDIT_ACTIONS,
            report=report,
            checked_at=checked_at,
            verify_href=url("/audit", model=model, actor=actor, action=action, verify=1),
            subject_href=audit_subject_href,
        )

    def _verification(self, refresh: bool) -> tuple[VerifyReport, datetime]:
        """The audit chain's check, never the blobs': re-hashing every blob on a request
        would let any visitor keep the registry's disks and CPU busy (`registry verify`
        does that). One result is shared for `verify_max_age` seconds; "Check again"
        renews it, but not more often than every `verify_min_interval` seconds."""
        cache = self._verify
        with cache.lock:
            age = time.monotonic() - cache.checked_monotonic
            expired = cache.report is None or age > self.settings.verify_max_age
            if expired or (refresh and age >= self.settings.verify_min_interval):
                cache.report = self.registry.verify_audit_chain()
                cache.checked_at = datetime.now(UTC)
                cache.checked_monotonic = time.monotonic()
            assert cache.checked_at is not None
            return cache.report, cache.checked_at


def audit_subject_href(event: AuditEvent) -> str | None:
    if event.subject_type == "model_version":
        return f"/versions/{quote(event.subject_id, safe='')}"
    if event.subject_type == "dataset":
        return dataset_anchor(event.subject_id)
    return None
