"""Retention: a stored policy, an artifact's tombstone when a policy retired its bytes, the
plan's items and a sweep's report (migration 0006)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_project.core.entities.vocabulary import RetentionSubject


@dataclass(frozen=True)
class RetentionPolicy:
    """How long a dataset's snapshots or a model's artifacts are kept (migration 0006).

    A dataset's snapshot is due once older than `keep_days` (unless among the newest
    `keep_last`) or once its own `expires_at` has passed (always: an expiry is a deadline).
    A model version's artifact is due once older than `keep_days`, unless it is among the
    newest `keep_last`, is in staging or production, holds an alias, has approvals or left
    production less than `rollback_days` ago."""

    subject: RetentionSubject
    name: str
    keep_days: int | None
    keep_last: int
    rollback_days: int | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    reason: str | None = None

    @property
    def rule(self) -> str:
        """The policy in one line, as audit events, tombstones and pages name it."""
        if self.subject is RetentionSubject.DATASET:
            kept = f"keep {self.keep_days} days" if self.keep_days is not None else "keep"
            text = f"dataset {self.name}: {kept} or until expires_at"
        else:
            text = (
                f"model {self.name}: artifacts of experiment/archived versions kept "
                f"{self.keep_days} days"
            )
        if self.keep_last:
            text += f", the newest {self.keep_last} always kept"
        if self.rollback_days is not None:
            text += f", rollback window {self.rollback_days} days"
        return text


@dataclass(frozen=True)
class ArtifactRetirement:
    """The tombstone of a version's artifact bytes, retired by a retention policy: the
    version's record (metrics, lineage, history) stays."""

    version_id: str
    model_name: str
    version: int
    digest: str
    retired_at: datetime
    retired_by: str
    rule: str
    reason: str


@dataclass(frozen=True)
class RetentionItem:
    """One thing a retention policy decides about: a dataset snapshot or a version's
    artifact. `due` says whether the sweep deletes it; `why` says why (or what keeps it);
    `expires_at` is when it becomes due, if ever by time alone."""

    kind: str  # "dataset" or "artifact"
    subject_id: str  # the snapshot id or the version id
    name: str  # the dataset or model name
    label: str  # "customers (<id>)" or "churn/3"
    rule: str
    due: bool
    why: str
    expires_at: datetime | None = None
    dependents: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetentionReport:
    """What `apply_retention` found due and, unless `dry_run`, did; `skipped` are items
    found due whose protection appeared before the sweep reached them (re-checked under
    the deletion's locks)."""

    dry_run: bool
    due: tuple[RetentionItem, ...]
    done: tuple[RetentionItem, ...] = ()
    skipped: tuple[RetentionItem, ...] = ()
    deleted_blobs: int = 0
