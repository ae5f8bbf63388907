"""Protection rules: `protect` stores a model's rule (audited), `protection` reads it, and
`check_entry` is the one check every path that moves a version into a protected stage or
alias makes, inside its own transaction (the counting rule itself is `stages.check_approvals`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core import stages
from registry_project.core.entities import (
    Approval,
    AuditAction,
    ModelVersion,
    ProtectionRule,
    Stage,
)
from registry_project.core.errors import InvalidInputError, ModelNotFoundError
from registry_project.core.ops import version_ops
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.ops.writer import Writer, now
from registry_project.core.policy import PromotionPolicy
from registry_project.core.store import audit
from registry_project.core.store import protection as protection_store
from registry_project.core.store import stage_history as history_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import parse_stage, validate_name, validate_reason
from registry_project.core.version_refs import validate_alias

# More would be a typo, not a review process.
MAX_MIN_APPROVALS = 10
# Versions start in experiment and leave through archived: only these can be guarded.
PROTECTABLE_STAGES = (Stage.STAGING, Stage.PRODUCTION)


def _validate_rule(
    name: str,
    require_approval: object,
    min_approvals: object,
    protected_stages: Iterable[Stage | str],
    protected_aliases: Iterable[str],
) -> ProtectionRule:
    if not isinstance(require_approval, bool):
        raise InvalidInputError("require_approval must be True or False")
    if (
        isinstance(min_approvals, bool)
        or not isinstance(min_approvals, int)
        or not 1 <= min_approvals <= MAX_MIN_APPROVALS
    ):
        raise InvalidInputError(
            f"min_approvals must be a whole number from 1 to {MAX_MIN_APPROVALS}, "
            f"got {min_approvals!r}"
        )
    if isinstance(protected_stages, str) or isinstance(protected_aliases, str):
        raise InvalidInputError("protected_stages and protected_aliases are lists of names")
    chosen: list[Stage] = []
    for given in protected_stages:
        stage = parse_stage(given)
        if stage not in PROTECTABLE_STAGES:
            raise InvalidInputError(
                f"stage {stage.value!r} cannot be protected: only "
                f"{', '.join(s.value for s in PROTECTABLE_STAGES)} are entered by a decision"
            )
        if stage not in chosen:
            chosen.append(stage)
    aliases: list[str] = []
    for alias in protected_aliases:
        if validate_alias(alias) not in aliases:
            aliases.append(alias)
    return ProtectionRule(
        model_name=name,
        require_approval=require_approval,
        min_approvals=min_approvals,
        protected_stages=tuple(sorted(chosen, key=list(Stage).index)),
        protected_aliases=tuple(sorted(aliases)),
    )


def rule_payload(rule: ProtectionRule) -> dict[str, Any]:
    """The rule as the audit event records it."""
    return {
        "require_approval": rule.require_approval,
        "min_approvals": rule.min_approvals,
        "protected_stages": [s.value for s in rule.protected_stages],
        "protected_aliases": list(rule.protected_aliases),
    }


def protect(
    w: Writer,
    name: str,
    *,
    require_approval: bool,
    min_approvals: int,
    protected_stages: Iterable[Stage | str],
    protected_aliases: Iterable[str],
    actor: str | None,
    reason: str | None,
) -> ProtectionRule:
    validate_name(name, "model name")
    rule = _validate_rule(
        name, require_approval, min_approvals, protected_stages, protected_aliases
    )
    why = validate_reason(reason, required=True, action=f"changing the protection of {name!r}")
    who = w.actor(actor)
    stored = replace(rule, updated_at=now(), updated_by=who, reason=why)

    def work(connection: Connection) -> None:
        if not version_store.lock_model(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}; register a version first")
        before = protection_store.fetch_rule(connection, name)
        protection_store.save_rule(connection, stored)
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.PROTECT,
                subject_type="model",
                subject_id=name,
                model_name=name,
                before=rule_payload(before) if before.stored else None,
                after=rule_payload(stored),
                reason=why,
            ),
        )

    w.write(work)
    return stored


def protection(w: Writer, name: str) -> ProtectionRule:
    validate_name(name, "model name")
    with w.read() as connection:
        if not version_store.model_exists(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}")
        return protection_store.fetch_rule(connection, name)


def check_stage_entry(
    connection: Connection,
    version: ModelVersion,
    stage: Stage,
    policy: PromotionPolicy | None = None,
) -> None:
    """Inside the stage change's transaction (model row locked): refuse moving `version`
    into `stage` unless its model's stored rule is satisfied. A `policy` that requires
    approval asks for at least one (the same count, never a second rule)."""
    rule = protection_store.fetch_rule(connection, version.model_name)
    needed = rule.approvals_needed_for_stage(stage)
    if policy is not None and policy.require_approval and stage is Stage.PRODUCTION:
        needed = max(needed, 1)
    if needed:
        stages.check_approvals(
            version.ref,
            version.created_by,
            history_store.approvers(connection, version.id),
            needed=needed,
            into=stage.value,
        )


def check_alias_entry(connection: Connection, version: ModelVersion, alias: str) -> None:
    """Inside the alias change's transaction: refuse pointing a protected alias at an
    unapproved version."""
    rule = protection_store.fetch_rule(connection, version.model_name)
    needed = rule.approvals_needed_for_alias(alias)
    if needed:
        stages.check_approvals(
            version.ref,
            version.created_by,
            history_store.approvers(connection, version.id),
            needed=needed,
            into=f"alias {alias!r}",
        )


def approvals_needed(w: Writer, version: ModelVersion, stage: Stage) -> int:
    """How many independent approvals `version` needs to enter `stage` (0: none), for
    callers that decide before they write (the Dagster promotion sensor)."""
    with w.read() as connection:
        return protection_store.fetch_rule(
            connection, version.model_name
        ).approvals_needed_for_stage(stage)


def approval_records(w: Writer, version: VersionRef) -> list[Approval]:
    """Who approved a version, when and why, oldest first."""
    target = version_ops.get(w, version)
    with w.read() as connection:
        return history_store.approval_records(connection, target.id)
