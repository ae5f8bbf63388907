"""Models and their versions: a version, a registration's outcome, model overviews and
their key metric, metric records, stage history, approvals, lineage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from registry_project.core.entities.vocabulary import EMPTY_MAPPING, Stage

if TYPE_CHECKING:
    # Named in annotations only: importing them creates the run and dataset records'
    # dataclasses, which a listing of versions never builds (issue #18).
    from registry_project.core.entities.dataset_records import Column, LineageDataset
    from registry_project.core.entities.run_records import CodeVersion, EnvironmentInfo, TrainingRun


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
    metrics: Mapping[str, float] = field(default_factory=lambda: EMPTY_MAPPING)
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
class Lineage:
    version: ModelVersion
    run: TrainingRun | None
    datasets: tuple[LineageDataset, ...]
    code: CodeVersion | None
    environment: EnvironmentInfo | None
    dagster_run_id: str | None
    transitions: tuple[StageTransition, ...] = ()
