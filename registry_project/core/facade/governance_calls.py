"""Governance: the calls of ops/governance_ops.py (protection rules), ops/alias_ops.py
(aliases) and ops/tag_ops.py (tags).

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.

ops/tag_ops.py is imported in the calls that use it, not with this module:
a command that opens the registry for something else (`registry versions`) does not
pay for loading it (issue #18).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from registry_project.core.entities import (
    AliasChange,
    Approval,
    ModelAlias,
    ProtectionRule,
    Stage,
    Tag,
)
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops import alias_ops, governance_ops
from registry_project.core.ops.version_ops import VersionRef

if TYPE_CHECKING:
    from registry_project.core.ops.tag_ops import TagSubject

_UNSET: Any = alias_ops.UNSET


class GovernanceCalls(FacadeBase):
    """Protection rules, aliases and tags."""

    def protect(
        self,
        name: str,
        *,
        require_approval: bool = True,
        min_approvals: int = 1,
        protected_stages: Iterable[Stage | str] = (Stage.PRODUCTION,),
        protected_aliases: Iterable[str] = (),
        actor: str | None = None,
        reason: str | None = None,
    ) -> ProtectionRule:
        """Store model `name`'s protection rule (audited; a reason is required). With
        `require_approval`, a version enters a protected stage (production by default; also
        staging) or a protected alias only with `min_approvals` approvals by distinct people
        other than its registrant, whichever path moves it: `promote`, `transition`,
        `rollback`, the Dagster promotion sensor and production asset, `set_alias`.
        `require_approval=False` lifts the rule.

        Example: `reg.protect("churn", min_approvals=2, actor="admin", reason="SOX")`"""
        return governance_ops.protect(
            self._w,
            name,
            require_approval=require_approval,
            min_approvals=min_approvals,
            protected_stages=protected_stages,
            protected_aliases=protected_aliases,
            actor=actor,
            reason=reason,
        )

    def protection(self, name: str) -> ProtectionRule:
        """Model `name`'s protection rule (`rule.stored` is False when none was ever set)."""
        return governance_ops.protection(self._w, name)

    def approval_records(self, version: VersionRef) -> list[Approval]:
        """Who approved a version, when and why, oldest first (`approvals` gives the names)."""
        return governance_ops.approval_records(self._w, version)

    def set_alias(
        self,
        name: str,
        alias: str,
        version: VersionRef,
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_current: VersionRef | None = _UNSET,
    ) -> ModelAlias:
        """Point `name@alias` at `version` (a version of `name`); audited, with history.

        `expected_current` makes it a compare-and-swap like `promote`: the version the
        alias points at now, or None for "not set yet"; if it changed meanwhile,
        `AliasConflictError` is raised and nothing changes. Stage names and `latest` cannot
        be aliases. Example: `reg.set_alias("churn", "champion", "churn/7", reason="A/B won")`
        """
        return alias_ops.set_alias(
            self._w,
            name,
            alias,
            version,
            actor=actor,
            reason=reason,
            expected_current=expected_current,
        )

    def remove_alias(
        self,
        name: str,
        alias: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_current: VersionRef | None = _UNSET,
    ) -> None:
        """Remove `name@alias` (audited, kept in its history); `expected_current` as in
        `set_alias`."""
        alias_ops.remove_alias(
            self._w, name, alias, actor=actor, reason=reason, expected_current=expected_current
        )

    def aliases(self, name: str) -> list[ModelAlias]:
        """Model `name`'s aliases, by alias name."""
        return alias_ops.aliases(self._w, name)

    def version_aliases(self, version: VersionRef) -> list[str]:
        """The aliases that point at `version`."""
        return alias_ops.version_aliases(self._w, version)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasChange]:
        """Every change of model `name`'s aliases (or of one alias), oldest first."""
        return alias_ops.alias_history(self._w, name, alias)

    def set_tag(
        self, subject: TagSubject, key: str, value: str, *, actor: str | None = None
    ) -> Tag:
        """Label a model (`"churn"`) or a version (`"churn/7"`, `"churn@champion"`, a
        `ModelVersion`) with `key=value`; audited. Example: `reg.set_tag("churn/7", "team",
        "risk")`"""
        from registry_project.core.ops import tag_ops

        return tag_ops.set_tag(self._w, subject, key, value, actor=actor)

    def remove_tag(self, subject: TagSubject, key: str, *, actor: str | None = None) -> None:
        """Remove a model's or version's tag `key`; audited."""
        from registry_project.core.ops import tag_ops

        tag_ops.remove_tag(self._w, subject, key, actor=actor)

    def tags(self, subject: TagSubject) -> list[Tag]:
        """The tags of a model (a bare name) or of one version, by key."""
        from registry_project.core.ops import tag_ops

        return tag_ops.tags(self._w, subject)
