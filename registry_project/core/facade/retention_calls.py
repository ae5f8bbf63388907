"""Retention: the calls of ops/retention_ops.py (policies, their verdicts, the sweep).

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.

ops/retention_ops.py is imported in the calls that use it, not with this module:
a command that opens the registry for something else (`registry versions`) does not
pay for loading it (issue #18).
"""

from __future__ import annotations

from registry_project.core.entities import (
    ArtifactRetirement,
    RetentionItem,
    RetentionPolicy,
    RetentionReport,
)
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops.dataset_ops import DatasetRef
from registry_project.core.ops.version_ops import VersionRef


class RetentionCalls(FacadeBase):
    """Retention policies and their enforcement."""

    def set_retention(
        self,
        *,
        dataset: str | None = None,
        model: str | None = None,
        keep_days: int | None = None,
        keep_last: int = 0,
        rollback_days: int | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> RetentionPolicy:
        """Store the retention policy of a dataset name or a model (audited; a reason is
        required). `apply_retention` enforces it.

        A dataset's snapshot is deleted once older than `keep_days` (None: only its own
        `expires_at` counts), unless among the newest `keep_last`, and always once its
        `expires_at` has passed; one with dependents is deleted like a forced deletion.
        A model's experiment and archived versions older than `keep_days` lose their
        artifact bytes (the record stays), except the newest `keep_last`, and never one in
        staging or production, holding an alias, approved, or out of production for less
        than `rollback_days` (default 30).

        Example: `reg.set_retention(dataset="customers", keep_days=30, actor="dpo",
        reason="GDPR art. 5")`"""
        from registry_project.core.ops import retention_ops

        return retention_ops.set_retention(
            self._w,
            dataset=dataset,
            model=model,
            keep_days=keep_days,
            keep_last=keep_last,
            rollback_days=rollback_days,
            actor=actor,
            reason=reason,
        )

    def retention(
        self, *, dataset: str | None = None, model: str | None = None
    ) -> RetentionPolicy | None:
        """The stored retention policy of a dataset name or a model (None: kept for ever)."""
        from registry_project.core.ops import retention_ops

        return retention_ops.policy_of(self._w, dataset=dataset, model=model)

    def retention_policies(self) -> list[RetentionPolicy]:
        """Every stored retention policy, datasets first."""
        from registry_project.core.ops import retention_ops

        return retention_ops.policies(self._w)

    def retention_plan(self) -> list[RetentionItem]:
        """Every snapshot and artifact a policy governs, with its verdict (`due`) and why;
        the due ones first."""
        from registry_project.core.ops import retention_ops

        return retention_ops.plan(self._w)

    def apply_retention(
        self, *, dry_run: bool = False, actor: str | None = None
    ) -> RetentionReport:
        """Delete what the retention policies say is due: expired snapshots (tombstones,
        dependents marked trained_on_deleted_data, the reason naming the policy and the
        expiry) and the artifact bytes of retired versions (each re-checked under the
        model's lock, so a version promoted, aliased or approved meanwhile keeps them).
        `dry_run=True` lists what a real run would delete and changes nothing."""
        from registry_project.core.ops import retention_ops

        return retention_ops.apply(self._w, dry_run=dry_run, actor=actor)

    def version_retention(self, version: VersionRef) -> RetentionItem | None:
        """What retention decides about one version's artifact (None: no policy)."""
        from registry_project.core.ops import retention_ops

        return retention_ops.for_version(self._w, version)

    def dataset_retention(self, dataset: DatasetRef) -> RetentionItem | None:
        """What retention decides about one live snapshot (None: no policy)."""
        from registry_project.core.ops import retention_ops

        return retention_ops.for_dataset(self._w, dataset)

    def retirement(self, version: VersionRef) -> ArtifactRetirement | None:
        """The tombstone of a version's artifact, if a retention policy retired it."""
        from registry_project.core.ops import retention_ops

        return retention_ops.retirement(self._w, version)
