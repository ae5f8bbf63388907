"""registry_project: a model registry that lives inside Dagster.

The public API (see DESIGN.md)::

    from registry_project import ModelRegistry, Stage, PromotionPolicy, RegistryError
"""

from registry_project.core.entities import (
    AuditEvent,
    DatasetSnapshot,
    Lineage,
    ModelVersion,
    Registration,
    Stage,
    TrainingRun,
)
from registry_project.core.errors import RegistryError
from registry_project.core.policy import GuardMetric, PromotionPolicy
from registry_project.core.registry import ModelRegistry

__all__ = [
    "AuditEvent",
    "DatasetSnapshot",
    "GuardMetric",
    "Lineage",
    "ModelRegistry",
    "ModelVersion",
    "PromotionPolicy",
    "Registration",
    "RegistryError",
    "Stage",
    "TrainingRun",
]
