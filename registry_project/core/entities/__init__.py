"""The registry's records, as frozen dataclasses.

Nothing crosses a layer as a dict: the store returns these, the facade returns these, and
the CLI / Dagster layer format these. Mappings inside them are read-only proxies so that a
frozen record really is immutable.

One module per kind of record (below); every name is re-exported here, so callers import
from `registry_project.core.entities`:

- `vocabulary`: stages, audit actions, run statuses and the other vocabularies
- `dataset_records`: snapshots, references, tombstones, their dependents
- `run_records`: training runs, their inputs, code, environment, step metrics, artifacts
- `version_records`: a version, and the metric it is summed up by
- `model_records`: models, registrations, summaries, metric records, stage history,
  approvals, lineage
- `comparisons`: versions and runs side by side
- `audit_records`: audit events, verify and gc reports, card texts, reproductions
- `governance_records`: protection rules, aliases, tags
- `retention_records`: retention policies, retired artifacts, a sweep's plan and report

Resolved on first use (PEP 562), each name from its own module, as the top-level package
does: importing one record does not create every dataclass (they are most of the cost of
importing the core, and `registry --help` needs none of them; issue #18). Type checkers and
IDEs read the `TYPE_CHECKING` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_project.core.lazy_names import lazy_names

if TYPE_CHECKING:
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
    from registry_project.core.entities.model_records import (
        Approval,
        Lineage,
        MetricRecord,
        Model,
        ModelSummary,
        Registration,
        StageTransition,
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
    from registry_project.core.entities.version_records import ModelVersion, key_metric
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

_PUBLIC = {
    "AliasChange": "registry_project.core.entities.governance_records",
    "Approval": "registry_project.core.entities.model_records",
    "ArtifactRetirement": "registry_project.core.entities.retention_records",
    "AuditAction": "registry_project.core.entities.vocabulary",
    "AuditEvent": "registry_project.core.entities.audit_records",
    "CodeVersion": "registry_project.core.entities.run_records",
    "Column": "registry_project.core.entities.dataset_records",
    "ColumnKind": "registry_project.core.entities.vocabulary",
    "ComparedColumn": "registry_project.core.entities.comparisons",
    "Comparison": "registry_project.core.entities.comparisons",
    "DatasetKind": "registry_project.core.entities.vocabulary",
    "DatasetSnapshot": "registry_project.core.entities.dataset_records",
    "Dependent": "registry_project.core.entities.dataset_records",
    "EnvironmentFile": "registry_project.core.entities.run_records",
    "EnvironmentInfo": "registry_project.core.entities.run_records",
    "GcReport": "registry_project.core.entities.audit_records",
    "InputRole": "registry_project.core.entities.vocabulary",
    "Lineage": "registry_project.core.entities.model_records",
    "LineageDataset": "registry_project.core.entities.dataset_records",
    "MetricRecord": "registry_project.core.entities.model_records",
    "MetricStep": "registry_project.core.entities.run_records",
    "MetricSteps": "registry_project.core.entities.run_records",
    "Model": "registry_project.core.entities.model_records",
    "ModelAlias": "registry_project.core.entities.governance_records",
    "ModelCardText": "registry_project.core.entities.audit_records",
    "ModelSummary": "registry_project.core.entities.model_records",
    "ModelVersion": "registry_project.core.entities.version_records",
    "ProtectionRule": "registry_project.core.entities.governance_records",
    "Registration": "registry_project.core.entities.model_records",
    "Reproduction": "registry_project.core.entities.audit_records",
    "ReproductionOutcome": "registry_project.core.entities.vocabulary",
    "RetentionItem": "registry_project.core.entities.retention_records",
    "RetentionPolicy": "registry_project.core.entities.retention_records",
    "RetentionReport": "registry_project.core.entities.retention_records",
    "RetentionSubject": "registry_project.core.entities.vocabulary",
    "RunArtifact": "registry_project.core.entities.run_records",
    "RunComparison": "registry_project.core.entities.comparisons",
    "RunInput": "registry_project.core.entities.run_records",
    "RunStatus": "registry_project.core.entities.vocabulary",
    "Stage": "registry_project.core.entities.vocabulary",
    "StageTransition": "registry_project.core.entities.model_records",
    "Tag": "registry_project.core.entities.governance_records",
    "TrainingRun": "registry_project.core.entities.run_records",
    "VerifyProblem": "registry_project.core.entities.audit_records",
    "VerifyReport": "registry_project.core.entities.audit_records",
    "frozen_mapping": "registry_project.core.entities.vocabulary",
    "key_metric": "registry_project.core.entities.version_records",
}

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


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC, globals(), __all__)
