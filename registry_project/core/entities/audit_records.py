"""The audit log and the proofs built on it: audit events, verify and gc reports, model
card texts, reproductions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry_project.core.entities.vocabulary import EMPTY_MAPPING, ReproductionOutcome


@dataclass(frozen=True)
class ModelCardText:
    """The free text of a model's card, set by its owners (audited)."""

    model_name: str
    intended_use: str | None
    limitations: str | None
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class Reproduction:
    """One attempt to rebuild a version from its record, and what came out."""

    version_id: str
    at: datetime
    actor: str
    outcome: ReproductionOutcome
    detail: str
    artifact_digest: str | None = None
    environment_differences: tuple[str, ...] = ()
    metric_differences: Mapping[str, float] = field(default_factory=lambda: EMPTY_MAPPING)

    @property
    def reproduced(self) -> bool:
        return self.outcome in (ReproductionOutcome.IDENTICAL, ReproductionOutcome.WITHIN_TOLERANCE)


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    id: str
    at: datetime
    actor: str
    action: str  # an AuditAction's value
    subject_type: str
    subject_id: str
    model_name: str | None
    dataset_name: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyProblem:
    kind: str  # "blob_missing", "blob_corrupt", "audit_tampered", "audit_gap", ...
    subject: str
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    blobs_checked: int
    events_checked: int
    problems: tuple[VerifyProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class GcReport:
    dry_run: bool
    orphan_digests: tuple[str, ...]
    bytes_reclaimable: int
    temp_files_removed: int = 0

    @property
    def deleted(self) -> tuple[str, ...]:
        return () if self.dry_run else self.orphan_digests
