"""A model's version, and the metric it is summed up by (`key_metric`).

Alone in its module: a listing of versions (`registry versions`) builds these records
only, and every frozen dataclass a module defines is ~2 ms of importing it on a slow
machine (issue #18). What else is said of models and versions is in model_records.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry_project.core.entities.vocabulary import EMPTY_MAPPING, Stage

if TYPE_CHECKING:
    # Named in an annotation only: importing it creates the dataset records' dataclasses,
    # which a listing of versions never builds (issue #18).
    from registry_project.core.entities.dataset_records import Column


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


def key_metric(version: ModelVersion | None, wanted: str | None = None) -> str | None:
    """The metric a version (and its model, in listings) is summed up by: `wanted` if the
    version has it, else (none wanted) the alphabetically first of its metrics."""
    if version is None or not version.metrics:
        return None
    if wanted is not None:
        return wanted if wanted in version.metrics else None
    return min(version.metrics)


# The records that lived here before model_records.py, still found here on first use
# (PEP 562): a pickle written before the move (a Dagster output, say) names this module.
_MOVED = (
    "Approval",
    "Lineage",
    "MetricRecord",
    "Model",
    "ModelSummary",
    "Registration",
    "StageTransition",
)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(
            importlib.import_module("registry_project.core.entities.model_records"), name
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
