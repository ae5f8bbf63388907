"""What the registry says about models and their versions: a registration's outcome, a
model and its overview (its key metric), metric records, stage history, approvals,
lineage. The version record itself is in version_records.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from registry_project.core.entities.version_records import ModelVersion, key_metric

if TYPE_CHECKING:
    from registry_project.core.entities.dataset_records import LineageDataset
    from registry_project.core.entities.run_records import (
        CodeVersion,
        EnvironmentInfo,
        TrainingRun,
    )
    from registry_project.core.entities.vocabulary import Stage


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
class Lineage:
    version: ModelVersion
    run: TrainingRun | None
    datasets: tuple[LineageDataset, ...]
    code: CodeVersion | None
    environment: EnvironmentInfo | None
    dagster_run_id: str | None
    transitions: tuple[StageTransition, ...] = ()
