"""The registry's records, as frozen dataclasses.

Nothing crosses a layer as a dict: the store returns these, the facade returns these, and
the CLI / Dagster layer format these. Mappings inside them are read-only proxies so that a
frozen record really is immutable.

One module per kind of record (below); every name is re-exported here, so callers import
from `registry_project.core.entities`:

- `vocabulary`: stages, audit actions, run statuses and the other vocabularies
- `dataset_records`: snapshots, references, tombstones, their dependents
- `run_records`: training runs, their inputs, code, environment, step metrics, artifacts
- `version_records`: models, versions, registrations, summaries, stage history, lineage
- `comparisons`: versions and runs side by side
- `audit_records`: audit events, verify and gc reports, card texts, reproductions
- `governance_records`: protection rules, aliases, tags
- `retention_records`: retention policies, retired artifacts, a sweep's plan and report
"""

from registry_project.core.entities.audit_records import (
    AuditEvent,
    GcReport,
    ModelCardText,
    Reproduction,
    VerifyProblem,
    VerifyReport,
)
from registry_project.core.entities.comparisons import (
    ComparedColumn,
    Comparison,
    RunComparison,
)
from registry_project.core.entities.dataset_records import (
    Column,
    DatasetSnapshot,
    Dependent,
    LineageDataset,
)
from registry_project.core.entities.governance_records import (
    AliasChange,
    ModelAlias,
    ProtectionRule,
    Tag,
)
from registry_project.core.entities.retention_records import (
    ArtifactRetirement,
    RetentionItem,
    RetentionPolicy,
    RetentionReport,
)
from registry_project.core.entities.run_records import (
    CodeVersion,
    EnvironmentFile,
    EnvironmentInfo,
    MetricStep,
    MetricSteps,
    RunArtifact,
    RunInput,
    TrainingRun,
)
from registry_project.core.entities.version_records import (
    Approval,
    Lineage,
    MetricRecord,
    Model,
    ModelSummary,
    ModelVersion,
    Registration,
    StageTransition,
    key_metric,
)
from registry_project.core.entities.vocabulary import (
    AuditAction,
    ColumnKind,
    DatasetKind,
    InputRole,
    ReproductionOutcome,
    RetentionSubject,
    RunStatus,
    Stage,
    frozen_mapping,
)

__all__ = [
    "AliasChange",
    "Approval",
    "ArtifactRetirement",
    "AuditAction",
    "AuditEvent",
    "CodeVersion",
    "Column",
    "ColumnKind",
    "ComparedColumn",
    "Comparison",
    "DatasetKind",
    "DatasetSnapshot",
    "Dependent",
    "EnvironmentFile",
    "EnvironmentInfo",
    "GcReport",
    "InputRole",
    "Lineage",
    "LineageDataset",
    "MetricRecord",
    "MetricStep",
    "MetricSteps",
    "Model",
    "ModelAlias",
    "ModelCardText",
    "ModelSummary",
    "ModelVersion",
    "ProtectionRule",
    "Registration",
    "Reproduction",
    "ReproductionOutcome",
    "RetentionItem",
    "RetentionPolicy",
    "RetentionReport",
    "RetentionSubject",
    "RunArtifact",
    "RunComparison",
    "RunInput",
    "RunStatus",
    "Stage",
    "StageTransition",
    "Tag",
    "TrainingRun",
    "VerifyProblem",
    "VerifyReport",
    "frozen_mapping",
    "key_metric",
]
