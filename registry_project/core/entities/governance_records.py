"""Governance: protection rules, aliases and their history, tags."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry_project.core.entities.vocabulary import Stage


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
