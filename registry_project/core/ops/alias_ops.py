"""Aliases: `set_alias` (compare-and-swap like promotion), `remove_alias`, the aliases of
a model or version, and each alias's history. An alias names one version of its model; a
version may hold several. Setting a protected alias passes the same approval check as a
protected stage (`governance_ops.check_alias_entry`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core.entities import AliasChange, AuditAction, ModelAlias, ModelVersion
from registry_project.core.errors import (
    AliasConflictError,
    ConflictError,
    InvalidInputError,
    ModelNotFoundError,
)
from registry_project.core.ops import governance_ops, version_ops
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import aliases as alias_store
from registry_project.core.store import audit
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import validate_name, validate_reason
from registry_project.core.version_refs import validate_alias

# `expected_current` not given: no compare-and-swap.
UNSET: Any = object()


def _expected_id(w: Writer, name: str, expected_current: Any) -> Any:
    if expected_current is UNSET or expected_current is None:
        return expected_current
    expected = version_ops.get(w, expected_current)
    if expected.model_name != name:
        raise InvalidInputError(f"expected_current {expected.ref} is not a version of {name!r}")
    return expected.id


def _check_expected(
    connection: Connection, name: str, alias: str, current: ModelAlias | None, expected_id: Any
) -> None:
    if expected_id is UNSET:
        return
    current_id = current.version_id if current is not None else None
    if expected_id == current_id:
        return
    expected = version_store.fetch_by_id(connection, expected_id) if expected_id else None
    seen = expected.ref if expected is not None else "no version (alias unset)"
    now_at = f"{name}/{current.version}" if current is not None else "unset"
    raise AliasConflictError(
        f"alias {name}@{alias} changed: you expected {seen}, it is now {now_at}. Nothing "
        "was changed; re-read the alias and decide again."
    )


def _write(w: Writer, name: str, alias: str, work: Any) -> None:
    try:
        w.write(work)
    except ConflictError as exc:
        if isinstance(exc, AliasConflictError):
            raise
        # The primary key refused a second row for the alias: set at the same moment.
        raise AliasConflictError(
            f"alias {name}@{alias} was set by someone else at the same time; nothing was "
            "changed. Re-read the alias and retry."
        ) from exc


def set_alias(
    w: Writer,
    name: str,
    alias: str,
    version: VersionRef,
    *,
    actor: str | None,
    reason: str | None,
    expected_current: Any,
) -> ModelAlias:
    validate_name(name, "model name")
    validate_alias(alias)
    why = validate_reason(reason, action=f"setting alias {name}@{alias}")
    who = w.actor(actor)
    target = version_ops.get(w, version)
    if target.model_name != name:
        raise InvalidInputError(
            f"{target.ref} is not a version of {name!r}; an alias names a version of its own model"
        )
    expected_id = _expected_id(w, name, expected_current)
    at = now()

    def work(connection: Connection) -> None:
        version_store.lock_model(connection, name)
        current = alias_store.fetch_alias(connection, name, alias)
        _check_expected(connection, name, alias, current, expected_id)
        committed = version_store.fetch_by_id(connection, target.id)
        assert committed is not None
        governance_ops.check_alias_entry(connection, committed, alias)
        version_ops.refuse_retired(connection, committed, f"point {name}@{alias} at")
        alias_store.put_alias(
            connection, name, alias, target.id, actor=who, at=at, exists=current is not None
        )
        _record(connection, AuditAction.SET_ALIAS, name, alias, current, target, who, why, at)

    _write(w, name, alias, work)
    return ModelAlias(name, alias, target.id, target.version, at, who)


def remove_alias(
    w: Writer,
    name: str,
    alias: str,
    *,
    actor: str | None,
    reason: str | None,
    expected_current: Any,
) -> None:
    validate_name(name, "model name")
    validate_alias(alias)
    why = validate_reason(reason, action=f"removing alias {name}@{alias}")
    who = w.actor(actor)
    expected_id = _expected_id(w, name, expected_current)
    at = now()

    def work(connection: Connection) -> None:
        if not version_store.lock_model(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}")
        current = alias_store.fetch_alias(connection, name, alias)
        _check_expected(connection, name, alias, current, expected_id)
        if current is None:
            raise InvalidInputError(f"model {name!r} has no alias {alias!r}; nothing to remove")
        alias_store.delete_alias(connection, name, alias)
        _record(connection, AuditAction.REMOVE_ALIAS, name, alias, current, None, who, why, at)

    _write(w, name, alias, work)


def _record(
    connection: Connection,
    action: AuditAction,
    name: str,
    alias: str,
    current: ModelAlias | None,
    target: ModelVersion | None,
    actor: str,
    reason: str | None,
    at: Any,
) -> None:
    alias_store.record_change(
        connection,
        name,
        alias,
        from_version=current.version if current is not None else None,
        to_version=target.version if target is not None else None,
        actor=actor,
        reason=reason,
        at=at,
    )
    audit.append_event(
        connection,
        EventDraft(
            actor=actor,
            action=action,
            subject_type="model",
            subject_id=name,
            model_name=name,
            before=(
                {"alias": alias, "version": current.version, "version_id": current.version_id}
                if current is not None
                else None
            ),
            after=(
                {"alias": alias, "version": target.version, "version_id": target.id}
                if target is not None
                else None
            ),
            reason=reason,
        ),
    )


def aliases(w: Writer, name: str) -> list[ModelAlias]:
    validate_name(name, "model name")
    with w.read() as connection:
        if not version_store.model_exists(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}")
        return alias_store.aliases_of_model(connection, name)


def version_aliases(w: Writer, version: VersionRef) -> list[str]:
    target = version_ops.get(w, version)
    with w.read() as connection:
        return alias_store.aliases_of_version(connection, target.id)


def alias_history(w: Writer, name: str, alias: str | None) -> list[AliasChange]:
    validate_name(name, "model name")
    if alias is not None:
        validate_alias(alias)
    with w.read() as connection:
        if not version_store.model_exists(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}")
        return alias_store.changes(connection, name, alias)
