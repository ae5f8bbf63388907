"""Training runs: the run, its inputs, code and environment, step metrics and artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry_project.core.entities.vocabulary import EMPTY_MAPPING, InputRole, RunStatus


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
    # Migration 0004: the experiment the run is grouped under (default: its name) and its
    # tags. None only on a record built before the run was stored.
    experiment: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAPPING)


@dataclass(frozen=True)
class MetricStep:
    """One point of a run's step metric (`ModelRegistry.metric_history(run, key)`)."""

    step: int
    value: float
    logged_at: datetime


@dataclass(frozen=True)
class MetricSteps:
    """A run's step metric in step order: a sequence of `MetricStep`, and a DataFrame."""

    run_id: str
    key: str
    steps: tuple[MetricStep, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Any:
        return iter(self.steps)

    def __getitem__(self, index: int) -> MetricStep:
        return self.steps[index]

    def to_frame(self) -> Any:
        """Columns `step`, `value`, `logged_at`, one row per point in step order."""
        import pandas as pd  # imported on use: see core/datasets.py

        return pd.DataFrame(
            {
                "step": [p.step for p in self.steps],
                "value": [p.value for p in self.steps],
                "logged_at": [p.logged_at for p in self.steps],
            }
        )


@dataclass(frozen=True)
class RunArtifact:
    """A file a run logged, stored content-addressed (`ActiveRun.log_artifact`). A model
    logged with `ActiveRun.log_model` has its flavor and class, so that
    `register_model(name, run=..., artifact=...)` can register it later."""

    run_id: str
    name: str
    digest: str
    size_bytes: int
    media_type: str
    logged_at: datetime
    logged_by: str
    flavor: str | None = None
    python_class: str | None = None
