"""The vocabularies every record uses: stages, audit actions, run statuses, dataset kinds,
input roles, comparison column kinds, reproduction outcomes; and `frozen_mapping`, which
keeps a frozen record's mappings read-only."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


def frozen_mapping(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy of `values`, so frozen records cannot be mutated through a dict."""
    return MappingProxyType(dict(values or {}))


EMPTY_MAPPING: Mapping[str, Any] = MappingProxyType({})
# A model card field left out of `set_model_card_text`: keep the current text (None clears
# it). Here, not in model_card.py, so that the facade's signature and the CLI can name it
# without importing the model card's store code (issue #18); model_card re-exports it.
KEEP: Any = object()


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
    LOG_RUN_ARTIFACT = "log_run_artifact"
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
    # Retention (migration 0006): a policy set, an artifact's bytes retired by one.
    SET_RETENTION = "set_retention"
    RETIRE_ARTIFACT = "retire_artifact"
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


class ColumnKind(enum.StrEnum):
    """What a column of a `Comparison` shows."""

    VERSION = "version"  # one of the compared versions
    PRODUCTION = "production"  # the production version, for reference
    DELTA = "delta"  # a compared version's metrics minus production's


class ReproductionOutcome(enum.StrEnum):
    IDENTICAL = "identical"  # the retrained artifact has the recorded digest
    WITHIN_TOLERANCE = "within_tolerance"  # other bytes, metrics within the tolerance
    DIFFERENT = "different"  # metrics outside the tolerance
    REFUSED = "refused"  # the record cannot be rebuilt (deleted data, unknown commit, ...)


class RetentionSubject(enum.StrEnum):
    """What a retention policy governs: the snapshots of a dataset name, or the artifact
    bytes of a model's versions."""

    DATASET = "dataset"
    MODEL = "model"
