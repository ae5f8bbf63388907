"""Stages and approvals: the calls of ops/stage_ops.py (the rules live in core/stages.py).

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.
"""

from __future__ import annotations

from typing import Any

from registry_project.core.entities import ModelVersion, Stage, StageTransition
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops import stage_ops
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.policy import PromotionPolicy

_UNSET: Any = stage_ops.UNSET


class StageCalls(FacadeBase):
    """Moving versions between stages, approvals and stage history."""

    def transition(
        self,
        version: VersionRef,
        stage: Stage | str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Move a version between stages: experiment -> staging -> production -> archived,
        experiment|staging -> archived. Into production archives the current production
        version (like `promote`); leaving production needs a reason; archived versions
        return only through `promote` or `rollback`."""
        return stage_ops.transition(self._w, version, stage, actor=actor, reason=reason)

    def promote(
        self,
        version: VersionRef,
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_current: VersionRef | None = _UNSET,
        policy: PromotionPolicy | None = None,
    ) -> ModelVersion:
        """Make `version` the production version, atomically archiving the previous one.

        `expected_current` makes it a compare-and-swap: pass the production version you
        based the decision on (or None for "no production yet"); if production changed
        meanwhile, `PromotionConflictError` is raised and nothing changes. With a `policy`
        that requires approval, the version must have been approved by someone other than
        its registrant.
        """
        return stage_ops.promote(
            self._w,
            version,
            actor=actor,
            reason=reason,
            expected_current=expected_current,
            policy=policy,
        )

    def rollback(
        self, name: str, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        """Re-promote the version that was in production before the current one."""
        return stage_ops.rollback(self._w, name, actor=actor, reason=reason)

    def approve(
        self, version: VersionRef, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        """Record a four-eyes approval: by anyone but the version's registrant."""
        return stage_ops.approve(self._w, version, actor=actor, reason=reason)

    def history(self, version: VersionRef) -> list[StageTransition]:
        """The stage transitions of one version, oldest first."""
        return stage_ops.history(self._w, version)

    def approvals(self, version: VersionRef) -> list[str]:
        """Who approved a version, in the order they did."""
        return stage_ops.approvals(self._w, version)
