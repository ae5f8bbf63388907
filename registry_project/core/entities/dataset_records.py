"""Datasets: a snapshot or reference (and its tombstone), its columns, and the versions
that depend on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_project.core.entities.vocabulary import DatasetKind, Stage


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class DatasetSnapshot:
    id: str
    name: str
    kind: DatasetKind
    digest: str | None
    uri: str
    size_bytes: int | None
    row_count: int | None
    columns: tuple[Column, ...]
    created_at: datetime
    created_by: str
    version_id: str | None = None
    etag: str | None = None
    expires_at: datetime | None = None
    dagster_run_id: str | None = None
    asset_key: str | None = None
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    deletion_reason: str | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class Dependent:
    """A model version that depends on a dataset snapshot, and how."""

    version_id: str
    model_name: str
    version: int
    stage: Stage
    relation: str  # "trained" (run input, with its role) or "evaluated"
    role: str | None = None

    @property
    def cursor(self) -> str:
        """Where the page after this dependent starts: `model/version/relation` (names
        cannot contain '/'), what `dependents(after=...)` and `--after` take."""
        return f"{self.model_name}/{self.version}/{self.relation}"


@dataclass(frozen=True)
class LineageDataset:
    snapshot: DatasetSnapshot
    relation: str  # "trained" or "evaluated"
    role: str | None

    @property
    def deleted(self) -> bool:
        return self.snapshot.deleted
