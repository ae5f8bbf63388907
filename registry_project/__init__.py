"""registry_project: a model registry that lives inside Dagster.

The public API (see DESIGN.md)::

    from registry_project import ModelRegistry, Stage, PromotionPolicy, RegistryError

The names are resolved on first use (PEP 562 `__getattr__`), not when the package is
imported: `import registry_project.cli` must not pay for SQLAlchemy and the whole core
just to print `registry --help`. `from registry_project import ModelRegistry` works as
before; type checkers and IDEs read the `TYPE_CHECKING` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_project.core.lazy_names import lazy_names

if TYPE_CHECKING:
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

# Each public name and the module that defines it (keep in step with the imports above).
_PUBLIC = {
    "AuditEvent": "registry_project.core.entities",
    "DatasetSnapshot": "registry_project.core.entities",
    "GuardMetric": "registry_project.core.policy",
    "Lineage": "registry_project.core.entities",
    "ModelRegistry": "registry_project.core.registry",
    "ModelVersion": "registry_project.core.entities",
    "PromotionPolicy": "registry_project.core.policy",
    "Registration": "registry_project.core.entities",
    "RegistryError": "registry_project.core.errors",
    "Stage": "registry_project.core.entities",
    "TrainingRun": "registry_project.core.entities",
}

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


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC, globals(), __all__)
