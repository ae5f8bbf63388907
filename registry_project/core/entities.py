"""The registry's records, as frozen dataclasses.

Nothing crosses a layer as a dict: the store returns these, the facade returns these, and
the CLI / Dagster layer format these. Mappings inside them are read-only proxies so that a
frozen record really is immutable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen_mapping(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy of `values`, so frozen records cannot be mutated through a dict."""
    return MappingProxyType(dict(values or {}))


class Stage(enum.StrEnum):
    """Life-cycle stage of a model version."""

    EXPERIMENT = "experiment"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


class AuditAction(enum.StrEnum):
    """What an audit event records: every write the registry makes is one of these.

    `AuditEvent.action` holds the value (text, as stored and hashed)."""

    REGISTER_MODEL = "register_model"
    LOG_METRICS = "log_metrics"
    TRANSITION = "transition"
    PROMOTE = "promote"
    # Promote and rollback archive the version they replace: a second event.
    PROMOTE_ARCHIVE_PREVIOUS = "promote:archive_previous"
    ROLLBACK = "rollback"
    ROLLBACK_ARCHIVE_PREVIOUS = "rollback:archive_previous"
    APPROVE = "approve"
    SNAPSHOT_DATASET = "snapshot_dataset"
    REFERENCE_DATASET = "reference_dataset"
    DELETE_DATASET = "delete_dataset"
    START_RUN = "start_run"
    END_RUN = "end_run"
    GC = "gc"
    EXPORT_EVIDENCE = "export_evidence"
    SET_CARD_TEXT = "set_card_text"
    REPRODUCE = "reproduce"
    # Governance (migration 0005): protection rules, aliases and tags.
    PROTECT = "protect"
    SET_ALIAS = "set_alias"
    REMOVE_ALIAS = "remove_alias"
    SET_TAG = "set_tag"
    REMOVE_TAG = "remove_tag"
    # Interoperability (migration 0007): one event per item imported from MLflow.
    IMPORT = "import"

    @property
    def archiving_previous(self) -> AuditAction:
        """The event for the production version that a promote or rollback replaces."""
        return AuditAction(f"{self.value}:archive_previous")


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class DatasetKind(enum.StrEnum):
    SNAPSHOT = "snapshot"  # bytes copied into the blob store
    REFERENCE = "reference"  # pinned external data, not copied


class InputRole(enum.StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"
    TEST = "test"


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
class CodeVersion:
    """The source code a run was executed from."""

    commit: str | None = None
    dirty: bool | None = None
    remote: str | None = None
    branch: str | None = None


@dataclass(frozen=True)
class EnvironmentFile:
    """A file that describes the software environment (Dockerfile, requirements, ...)."""

    path: str
    digest: str
    size_bytes: int


@dataclass(frozen=True)
class EnvironmentInfo:
    python_version: str
    platform: str
    packages_digest: str | None = None  # blob with one `name==version` line per distribution
    package_count: int = 0
    files: tuple[EnvironmentFile, ...] = ()


@dataclass(frozen=True)
class RunInput:
    dataset_id: str
    role: InputRole


@dataclass(frozen=True)
class TrainingRun:
    id: str
    name: str
    status: RunStatus
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    inputs: tuple[RunInput, ...]
    started_at: datetime
    ended_at: datetime | None
    created_by: str
    code: CodeVersion
    environment: EnvironmentInfo | None
    error: str | None = None
    dagster_run_id: str | None = None
    asset_key: str | None = None


@dataclass(frozen=True)
class ModelVersion:
    id: str
    model_name: str
    version: int
    stage: Stage
    flavor: str
    python_class: str
    artifact_digest: str
    artifact_size: int
    created_at: datetime
    created_by: str
    stage_changed_at: datetime
    run_id: str | None = None
    metrics: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    signature: tuple[Column, ...] | None = None
    description: str | None = None
    trained_on_deleted_data: bool = False
    dagster_run_id: str | None = None
    asset_key: str | None = None

    @property
    def ref(self) -> str:
        """The human reference `name/N`."""
        return f"{self.model_name}/{self.version}"


@dataclass(frozen=True)
class Registration:
    """What `ModelRegistry.register_or_reuse` did: `version` is the new version, or, when
    `reused`, the existing one with the same artifact digest, params and inputs."""

    version: ModelVersion
    reused: bool


@dataclass(frozen=True)
class Model:
    name: str
    created_at: datetime
    created_by: str
    latest_version: int
    production_version: int | None
    description: str | None = None


@dataclass(frozen=True)
class ModelSummary:
    """One model as a listing shows it (`ModelRegistry.model_summaries`)."""

    model: Model
    production: ModelVersion | None
    latest: ModelVersion | None
    last_changed: datetime  # the newest registration or stage change

    @property
    def shown(self) -> ModelVersion | None:
        """The version the model is summed up by: production, else the latest."""
        return self.production or self.latest

    def key_metric(self, wanted: str | None = None) -> str | None:
        """The metric the model is summed up by (`key_metric` of the shown version)."""
        return key_metric(self.shown, wanted)


def key_metric(version: ModelVersion | None, wanted: str | None = None) -> str | None:
    """The metric a version (and its model, in listings) is summed up by: `wanted` if the
    version has it, else (none wanted) the alphabetically first of its metrics."""
    if version is None or not version.metrics:
        return None
    if wanted is not None:
        return wanted if wanted in version.metrics else None
    return min(version.metrics)


@dataclass(frozen=True)
class MetricRecord:
    """One metric value logged on a model version, for the training data or a dataset."""

    key: str
    value: float
    dataset_id: str | None
    logged_at: datetime
    logged_by: str


@dataclass(frozen=True)
class StageTransition:
    version_id: str
    model_name: str
    version: int
    from_stage: Stage | None
    to_stage: Stage
    actor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class Approval:
    version_id: str
    actor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class Dependent:
    """A model version that depends on a dataset snapshot, and how."""

    version_id: str
    model_name: str
    version: int
    stage: Stage
    relation: str  # "trained" (run input, with its role) or "evaluated"
    role: str | None = None


@dataclass(frozen=True)
class LineageDataset:
    snapshot: DatasetSnapshot
    relation: str  # "trained" or "evaluated"
    role: str | None

    @property
    def deleted(self) -> bool:
        return self.snapshot.deleted


@dataclass(frozen=True)
class Lineage:
    version: ModelVersion
    run: TrainingRun | None
    datasets: tuple[LineageDataset, ...]
    code: CodeVersion | None
    environment: EnvironmentInfo | None
    dagster_run_id: str | None
    transitions: tuple[StageTransition, ...] = ()


@dataclass(frozen=True)
class ModelCardText:
    """The free text of a model's card, set by its owners (audited)."""

    model_name: str
    intended_use: str | None
    limitations: str | None
    updated_at: datetime
    updated_by: str


class ReproductionOutcome(enum.StrEnum):
    IDENTICAL = "identical"  # the retrained artifact has the recorded digest
    WITHIN_TOLERANCE = "within_tolerance"  # other bytes, metrics within the tolerance
    DIFFERENT = "different"  # metrics outside the tolerance
    REFUSED = "refused"  # the record cannot be rebuilt (deleted data, unknown commit, ...)


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
    metric_differences: Mapping[str, float] = field(default_factory=lambda: _EMPTY)

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


class ColumnKind(enum.StrEnum):
    """What a column of a `Comparison` shows."""

    VERSION = "version"  # one of the compared versions
    PRODUCTION = "production"  # the production version, for reference
    DELTA = "delta"  # a compared version's metrics minus production's


@dataclass(frozen=True)
class ComparedColumn:
    label: str  # "v5", "production (v3)", "Δ v5": the DataFrame's column label
    version: int  # the version the column shows (a delta column: the compared version)
    kind: ColumnKind


@dataclass(frozen=True)
class Comparison:
    """Versions of one model side by side (`ModelRegistry.comparison`): rows `stage`,
    `created_at`, ..., `param.<name>`, `metric.<name>`; one column per compared version,
    then production's, then each version's metric deltas to production."""

    model_name: str
    rows: tuple[str, ...]
    columns: tuple[ComparedColumn, ...]
    # column label -> row -> value; a delta column holds only the metric rows
    cells: Mapping[str, Mapping[str, Any]]
    # params, metrics, code and flavor whose value is not the same in every version
    # column (production included; deltas are not versions)
    differing: tuple[str, ...]

    def value(self, row: str, label: str) -> Any:
        """One cell; None where the column has no value for the row."""
        return self.cells[label].get(row)

    def to_frame(self) -> Any:
        """The comparison as a pandas DataFrame: rows as index, column labels as columns
        (what `ModelRegistry.compare` returns)."""
        import pandas as pd  # imported on use: see core/datasets.py

        frame = pd.DataFrame({label: dict(column) for label, column in self.cells.items()})
        return frame.reindex(list(self.rows))


# --- governance (migration 0005) -------------------------------------------------------


@dataclass(frozen=True)
class ProtectionRule:
    """What a model's versions need before they enter a protected stage or alias: with
    `require_approval`, approvals by `min_approvals` distinct people other than the
    version's registrant. A model without a stored rule has `ProtectionRule.none(name)`."""

    model_name: str
    require_approval: bool = False
    min_approvals: int = 1
    protected_stages: tuple[Stage, ...] = (Stage.PRODUCTION,)
    protected_aliases: tuple[str, ...] = ()
    updated_at: datetime | None = None
    updated_by: str | None = None
    reason: str | None = None

    @classmethod
    def none(cls, model_name: str) -> ProtectionRule:
        return cls(model_name, require_approval=False, protected_stages=())

    @property
    def stored(self) -> bool:
        return self.updated_at is not None

    def approvals_needed_for_stage(self, stage: Stage) -> int:
        return self.min_approvals if self.require_approval and stage in self.protected_stages else 0

    def approvals_needed_for_alias(self, alias: str) -> int:
        return (
            self.min_approvals if self.require_approval and alias in self.protected_aliases else 0
        )


@dataclass(frozen=True)
class ModelAlias:
    """A named pointer `model@alias` to one version (a version may hold several)."""

    model_name: str
    alias: str
    version_id: str
    version: int
    set_at: datetime
    set_by: str


@dataclass(frozen=True)
class AliasChange:
    """One change of an alias: from one version (None: newly set) to another (None:
    removed)."""

    model_name: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class Tag:
    """A label on a model (`version` None) or on one version, set after registration."""

    model_name: str
    version: int | None
    key: str
    value: str
    set_at: datetime
    set_by: str
