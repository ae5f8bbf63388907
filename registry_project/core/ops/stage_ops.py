"""Stages and approvals: transition, promote (compare-and-swap), rollback, approve, and
the history they leave. The rules themselves live in core/stages.py; each move into a
stage checks the model's stored protection rule (`governance_ops.check_stage_entry`) in
its own transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core import stages
from registry_project.core.entities import AuditAction, ModelVersion, Stage, StageTransition
from registry_project.core.errors import (
    ConflictError,
    InvalidTransitionError,
    ModelNotFoundError,
    PromotionConflictError,
)
from registry_project.core.ops import governance_ops, version_ops
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.ops.writer import Writer, now
from registry_project.core.policy import PromotionPolicy
from registry_project.core.store import audit
from registry_project.core.store import stage_history as history_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import parse_stage, validate_name, validate_reason

# `expected_current` not given: promote whatever production is now.
UNSET: Any = object()


def transition(
    w: Writer,
    version: VersionRef,
    stage: Stage | str,
    *,
    actor: str | None,
    reason: str | None,
) -> ModelVersion:
    target_stage = parse_stage(stage)
    target = version_ops.get(w, version)
    if target_stage is Stage.PRODUCTION:
        return promote(w, target, actor=actor, reason=reason, expected_current=UNSET, policy=None)
    leaving_production = target.stage is Stage.PRODUCTION
    why = validate_reason(
        reason,
        required=stages.needs_reason(target.stage, target_stage),
        action=(
            f"taking {target.ref} out of production"
            if leaving_production
            else f"moving {target.ref} to {target_stage.value}"
        ),
    )
    who = w.actor(actor)

    def work(connection: Connection) -> None:
        version_store.lock_model(connection, target.model_name)
        current = version_store.fetch_by_id(connection, target.id)
        assert current is not None
        stages.check_transition(target.ref, current.stage, target_stage)
        if target_stage is Stage.STAGING:  # a version without bytes cannot be served
            version_ops.refuse_retired(connection, current, "move to staging")
        governance_ops.check_stage_entry(connection, current, target_stage)
        _apply_stage(
            connection, current, target_stage, who, why, AuditAction.TRANSITION, w.dagster_origin()
        )

    w.write(work)
    return version_ops.get(w, target.id)


def _apply_stage(
    connection: Connection,
    version: ModelVersion,
    new: Stage,
    actor: str,
    reason: str | None,
    action: AuditAction,
    origin: Mapping[str, str],
) -> None:
    """Move `version` (as committed, locked) from its stage to `new`: the row, its history
    and the audit event, which names the Dagster run and asset making the change (`origin`,
    `Writer.dagster_origin`) so that Dagster tells its own changes from outside ones."""
    at = now()
    current = version.stage
    version_store.set_stage(connection, version.id, new, at)
    history_store.record_transition(
        connection,
        version_id=version.id,
        model_name=version.model_name,
        version=version.version,
        from_stage=current,
        to_stage=new,
        actor=actor,
        reason=reason,
        at=at,
    )
    audit.append_event(
        connection,
        EventDraft(
            actor=actor,
            action=action,
            subject_type="model_version",
            subject_id=version.id,
            model_name=version.model_name,
            before={"stage": current.value, "version": version.version},
            after={"stage": new.value, "version": version.version, **origin},
            reason=reason,
        ),
    )


def promote(
    w: Writer,
    version: VersionRef,
    *,
    actor: str | None,
    reason: str | None,
    expected_current: VersionRef | None,
    policy: PromotionPolicy | None,
) -> ModelVersion:
    target = version_ops.get(w, version)
    expected_id = UNSET
    if expected_current is None:
        expected_id = None
    elif expected_current is not UNSET:
        expected_id = version_ops.get(w, expected_current).id
    archived = target.stage is Stage.ARCHIVED
    why = validate_reason(
        reason,
        required=stages.needs_reason(target.stage, Stage.PRODUCTION),
        action=(
            f"returning archived {target.ref} to production"
            if archived
            else f"promoting {target.ref}"
        ),
    )
    who = w.actor(actor)
    return _promote(w, target, who, why, expected_id, AuditAction.PROMOTE, policy)


def _promote(
    w: Writer,
    target: ModelVersion,
    actor: str,
    reason: str | None,
    expected_id: Any,
    action: AuditAction,
    policy: PromotionPolicy | None,
) -> ModelVersion:
    origin = w.dagster_origin()

    def work(connection: Connection) -> None:
        version_store.lock_model(connection, target.model_name)
        committed = version_store.fetch_by_id(connection, target.id)
        assert committed is not None
        current_production = version_store.fetch_production(connection, target.model_name)
        current_id = current_production.id if current_production is not None else None
        if expected_id is not UNSET and expected_id != current_id:
            expected = version_store.fetch_by_id(connection, expected_id) if expected_id else None
            seen = expected.ref if expected is not None else "no production version"
            now_in = (
                f"{target.model_name}/{current_production.version}"
                if current_production is not None
                else "none"
            )
            raise PromotionConflictError(
                f"production of {target.model_name!r} changed: you expected {seen}, it is "
                f"now {now_in}. Nothing was changed; re-read production and decide again."
            )
        stages.check_promotion(target.ref, committed.stage)
        # Under the model lock the retention sweep also takes: a version it retired
        # cannot be promoted, one promoted first is never retired (retention_ops).
        version_ops.refuse_retired(connection, committed, "promote")
        # The model's stored protection rule, for promote, transition and rollback alike.
        governance_ops.check_stage_entry(connection, committed, Stage.PRODUCTION, policy)
        if current_production is not None:
            _apply_stage(
                connection,
                current_production,
                Stage.ARCHIVED,
                actor,
                reason or f"replaced by {target.ref}",
                action.archiving_previous,
                origin,
            )
        _apply_stage(connection, committed, Stage.PRODUCTION, actor, reason, action, origin)

    try:
        w.write(work)
    except ConflictError as exc:
        if isinstance(exc, PromotionConflictError):
            raise
        # The partial unique index refused a second production version: someone else
        # promoted at the same moment.
        raise PromotionConflictError(
            f"another promotion of {target.model_name!r} happened at the same time; nothing "
            "was changed. Re-read production and retry."
        ) from exc
    return version_ops.get(w, target.id)


def rollback(w: Writer, name: str, *, actor: str | None, reason: str | None) -> ModelVersion:
    validate_name(name, "model name")
    why = validate_reason(reason, required=True, action="a rollback")
    who = w.actor(actor)
    with w.read() as connection:
        if not version_store.model_exists(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}")
        current = version_store.fetch_production(connection, name)
        previous_id = history_store.previous_production_id(
            connection, name, current.id if current is not None else None
        )
    if previous_id is None:
        raise InvalidTransitionError(
            f"model {name!r} has no earlier production version to roll back to"
        )
    previous = version_ops.get(w, previous_id)
    current_id = current.id if current is not None else None
    return _promote(w, previous, who, why, current_id, AuditAction.ROLLBACK, None)


def approve(
    w: Writer, version: VersionRef, *, actor: str | None, reason: str | None
) -> ModelVersion:
    who = w.actor(actor)
    why = validate_reason(reason, action="an approval")
    target = version_ops.get(w, version)
    stages.check_approver(target.ref, target.created_by, who, target.stage)

    def work(connection: Connection) -> None:
        # The model lock orders an approval against the retention sweep, which never
        # retires an approved version (retention_ops re-checks under the same lock).
        version_store.lock_model(connection, target.model_name)
        if history_store.insert_approval(connection, target.id, who, why, now()):
            audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.APPROVE,
                    subject_type="model_version",
                    subject_id=target.id,
                    model_name=target.model_name,
                    after={"version": target.version, "approved_by": who},
                    reason=why,
                ),
            )

    w.write(work)
    return target


def history(w: Writer, version: VersionRef) -> list[StageTransition]:
    target = version_ops.get(w, version)
    with w.read() as connection:
        return history_store.transitions(connection, version_id=target.id)


def approvals(w: Writer, version: VersionRef) -> list[str]:
    target = version_ops.get(w, version)
    with w.read() as connection:
        return history_store.approvers(connection, target.id)
