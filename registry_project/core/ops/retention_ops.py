"""Retention: `set_retention` stores a dataset's or a model's policy (audited, like a
protection rule), `plan` says what each policy keeps and deletes and why, `apply` deletes
what is due: expired snapshots through `dataset_ops.delete` (the forced deletion's
guardrails: tombstone, dependents marked, one audit event each) and retired artifacts.

A version's artifact is retired in two steps, like a dataset's bytes: under the model row
lock that every promotion, transition, alias change and approval takes, the version is
checked again (what the plan saw may have changed: a promotion racing the sweep) and,
still unprotected, gets its tombstone and audit event; then the bytes are deleted under
the deletion protocol (`Writer.delete_unreferenced`), which keeps any digest another
live row still points at.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from registry_project.core import display
from registry_project.core.entities import (
    ArtifactRetirement,
    AuditAction,
    DatasetSnapshot,
    ModelVersion,
    RetentionItem,
    RetentionPolicy,
    RetentionReport,
    RetentionSubject,
    Stage,
)
from registry_project.core.errors import InvalidInputError, ModelNotFoundError
from registry_project.core.ops import dataset_ops, version_ops
from registry_project.core.ops.dataset_ops import DatasetRef
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import aliases as alias_store
from registry_project.core.store import audit
from registry_project.core.store import dataset_snapshots as dataset_store
from registry_project.core.store import dependents as dependents_store
from registry_project.core.store import retention as retention_store
from registry_project.core.store import stage_history as history_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import validate_name, validate_reason

# A hundred years: anything longer is a typo for "for ever" (no policy).
MAX_DAYS = 36500
MAX_KEEP_LAST = 10000
# A version that left production this recently may be rolled back to: its bytes stay.
DEFAULT_ROLLBACK_DAYS = 30
# Stages whose versions a policy never retires: they are served, or about to be.
LIVE_STAGES = (Stage.PRODUCTION, Stage.STAGING)


def _whole(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(
            f"{what} must be a whole number from {low} to {high}, got {value!r}"
        )
    return value


def _subject(dataset: str | None, model: str | None) -> tuple[RetentionSubject, str]:
    if (dataset is None) == (model is None):
        raise InvalidInputError(
            "name exactly one of dataset= (a dataset name) or model= (a model name)"
        )
    if dataset is not None:
        return RetentionSubject.DATASET, validate_name(dataset, "dataset name")
    assert model is not None
    return RetentionSubject.MODEL, validate_name(model, "model name")


def _payload(policy: RetentionPolicy) -> dict[str, object]:
    return {
        "keep_days": policy.keep_days,
        "keep_last": policy.keep_last,
        "rollback_days": policy.rollback_days,
        "rule": policy.rule,
    }


def set_retention(
    w: Writer,
    *,
    dataset: str | None,
    model: str | None,
    keep_days: int | None,
    keep_last: int,
    rollback_days: int | None,
    actor: str | None,
    reason: str | None,
) -> RetentionPolicy:
    subject, name = _subject(dataset, model)
    if keep_days is not None:
        keep_days = _whole(keep_days, "keep_days", 1, MAX_DAYS)
    keep_last = _whole(keep_last, "keep_last", 0, MAX_KEEP_LAST)
    if subject is RetentionSubject.MODEL:
        if keep_days is None:
            raise InvalidInputError(
                "a model's retention needs keep_days: how old an experiment or archived "
                "version's artifact may get before it is retired"
            )
        rollback_days = _whole(
            DEFAULT_ROLLBACK_DAYS if rollback_days is None else rollback_days,
            "rollback_days",
            0,
            MAX_DAYS,
        )
    elif rollback_days is not None:
        raise InvalidInputError("rollback_days applies to a model's retention, not a dataset's")
    why = validate_reason(reason, required=True, action=f"setting the retention of {name!r}")
    who = w.actor(actor)
    policy = RetentionPolicy(subject, name, keep_days, keep_last, rollback_days, now(), who, why)

    def work(connection: Connection) -> None:
        if subject is RetentionSubject.MODEL and not version_store.lock_model(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}; register a version first")
        before = retention_store.fetch_policy(connection, subject, name)
        retention_store.save_policy(connection, policy)
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.SET_RETENTION,
                subject_type=f"{subject.value}_retention",
                subject_id=name,
                model_name=name if subject is RetentionSubject.MODEL else None,
                dataset_name=name if subject is RetentionSubject.DATASET else None,
                before=_payload(before) if before is not None else None,
                after=_payload(policy),
                reason=why,
            ),
        )

    w.write(work)
    return policy


def policy_of(w: Writer, *, dataset: str | None, model: str | None) -> RetentionPolicy | None:
    subject, name = _subject(dataset, model)
    with w.read() as connection:
        return retention_store.fetch_policy(connection, subject, name)


def policies(w: Writer) -> list[RetentionPolicy]:
    with w.read() as connection:
        return retention_store.list_policies(connection)


def when(value: datetime | None) -> str:
    return f"{display.when(value, seconds=False)} UTC"


# --- what each policy decides ----------------------------------------------------------


def _dataset_items(
    connection: Connection, policy: RetentionPolicy, at: datetime
) -> list[RetentionItem]:
    """Every live snapshot of the policy's dataset name, newest first, with its verdict."""
    live = dataset_store.list_datasets(connection, policy.name, include_deleted=False)
    items = []
    for index, snapshot in enumerate(live):
        items.append(_dataset_item(connection, policy, snapshot, index, at))
    return items


def _dataset_item(
    connection: Connection,
    policy: RetentionPolicy,
    snapshot: DatasetSnapshot,
    index: int,
    at: datetime,
) -> RetentionItem:
    by_age = (
        snapshot.created_at + timedelta(days=policy.keep_days)
        if policy.keep_days is not None
        else None
    )
    expires = min((d for d in (snapshot.expires_at, by_age) if d is not None), default=None)
    if snapshot.expires_at is not None and snapshot.expires_at <= at:
        due, why = True, f"its expires_at ({when(snapshot.expires_at)}) has passed"
    elif index < policy.keep_last:
        due, why = False, f"kept: one of the newest {policy.keep_last} snapshots"
        expires = snapshot.expires_at
    elif by_age is not None and by_age <= at:
        due = True
        why = f"older than {policy.keep_days} days (taken {when(snapshot.created_at)})"
    else:
        due = False
        why = f"kept until {when(expires)}" if expires is not None else "kept: no expiry"
    users = dependents_store.dependents_of(connection, snapshot.id) if due else []
    return RetentionItem(
        kind="dataset",
        subject_id=snapshot.id,
        name=snapshot.name,
        label=f"{snapshot.name} ({snapshot.id})",
        rule=policy.rule,
        due=due,
        why=why,
        expires_at=expires,
        dependents=tuple(f"{d.model_name}/{d.version}" for d in users),
    )


def _keep_reason(
    connection: Connection,
    version: ModelVersion,
    policy: RetentionPolicy,
    newest: frozenset[int],
    at: datetime,
) -> tuple[str | None, datetime | None]:
    """What keeps `version`'s artifact (None: nothing, it is due) and, when only its age
    does, when it becomes due. Run again under the model lock before retiring."""
    if version.stage in LIVE_STAGES:
        return f"kept: in {version.stage.value}", None
    aliases = alias_store.aliases_of_version(connection, version.id)
    if aliases:
        return f"kept: holds alias {', '.join(sorted(aliases))}", None
    approvers = history_store.approvers(connection, version.id)
    if approvers:
        return f"kept: approved by {', '.join(sorted(approvers))}", None
    left = retention_store.left_production_at(connection, version.id)
    window = timedelta(days=policy.rollback_days or 0)
    if left is not None and left + window > at:
        return (
            f"kept: left production on {when(left)}, within the "
            f"{policy.rollback_days}-day rollback window",
            None,
        )
    if version.version in newest:
        return f"kept: one of the newest {policy.keep_last} versions", None
    assert policy.keep_days is not None  # a model's policy always has one
    due_at = version.created_at + timedelta(days=policy.keep_days)
    if due_at > at:
        return f"kept until {when(due_at)}", due_at
    return None, None


def _model_versions(
    connection: Connection, policy: RetentionPolicy
) -> tuple[list[ModelVersion], frozenset[int]]:
    rows = retention_store.versions_newest_first(connection, policy.name)
    found = version_store.to_versions(connection, rows)
    return found, frozenset(v.version for v in found[: policy.keep_last])


def _artifact_item(
    connection: Connection,
    policy: RetentionPolicy,
    version: ModelVersion,
    newest: frozenset[int],
    at: datetime,
) -> RetentionItem:
    kept, due_at = _keep_reason(connection, version, policy, newest, at)
    why = kept or (
        f"{version.stage.value}, older than {policy.keep_days} days "
        f"(registered {when(version.created_at)})"
    )
    return RetentionItem(
        kind="artifact",
        subject_id=version.id,
        name=version.model_name,
        label=version.ref,
        rule=policy.rule,
        due=kept is None,
        why=why,
        expires_at=due_at,
    )


def _model_items(
    connection: Connection, policy: RetentionPolicy, at: datetime
) -> list[RetentionItem]:
    found, newest = _model_versions(connection, policy)
    retired = retention_store.retired_ids(connection, [v.id for v in found])
    return [_artifact_item(connection, policy, v, newest, at) for v in found if v.id not in retired]


def plan(w: Writer) -> list[RetentionItem]:
    """Every item some policy governs, with its verdict; the due ones first."""
    at = now()
    items: list[RetentionItem] = []
    with w.read() as connection:
        for policy in retention_store.list_policies(connection):
            if policy.subject is RetentionSubject.DATASET:
                items += _dataset_items(connection, policy, at)
            else:
                items += _model_items(connection, policy, at)
    return sorted(items, key=lambda item: not item.due)


def for_version(w: Writer, reference: VersionRef) -> RetentionItem | None:
    """What retention decides about one version's artifact (None: its model has no
    policy). A retired artifact's item says when and by which rule."""
    version = version_ops.get(w, reference)
    with w.read() as connection:
        retired = retention_store.fetch_retirement(connection, version.id)
        if retired is not None:
            return RetentionItem(
                kind="artifact",
                subject_id=version.id,
                name=version.model_name,
                label=version.ref,
                rule=retired.rule,
                due=False,
                why=f"retired on {when(retired.retired_at)} by {retired.retired_by}",
            )
        policy = retention_store.fetch_policy(
            connection, RetentionSubject.MODEL, version.model_name
        )
        if policy is None:
            return None
        _, newest = _model_versions(connection, policy)
        return _artifact_item(connection, policy, version, newest, now())


def for_dataset(w: Writer, dataset: DatasetRef) -> RetentionItem | None:
    """What retention decides about one snapshot (None: its name has no policy, or it is
    deleted already)."""
    snapshot = dataset_ops.get(w, dataset)
    if snapshot.deleted:
        return None
    with w.read() as connection:
        policy = retention_store.fetch_policy(connection, RetentionSubject.DATASET, snapshot.name)
        if policy is None:
            return None
        for item in _dataset_items(connection, policy, now()):
            if item.subject_id == snapshot.id:
                return item
    return None


def retirement(w: Writer, reference: VersionRef) -> ArtifactRetirement | None:
    version = version_ops.get(w, reference)
    with w.read() as connection:
        return retention_store.fetch_retirement(connection, version.id)


# --- enforcement -----------------------------------------------------------------------


def apply(w: Writer, *, dry_run: bool, actor: str | None) -> RetentionReport:
    if not isinstance(dry_run, bool):
        raise InvalidInputError("dry_run must be True or False")
    who = w.actor(actor)
    due = tuple(item for item in plan(w) if item.due)
    if dry_run:
        return RetentionReport(True, due)
    done: list[RetentionItem] = []
    skipped: list[RetentionItem] = []
    deleted_blobs = 0
    for item in due:
        if item.kind == "dataset":
            ok = _delete_snapshot(w, item, who)
        else:
            digest = _retire(w, item, who)
            ok = digest is not None
            if digest is not None:
                # The tombstone is committed first: if this fails, the bytes are an
                # unreferenced blob that gc removes, never a record pointing at nothing.
                deleted_blobs += len(
                    w.write(lambda connection, d=digest: w.delete_unreferenced(connection, [d]))
                )
        (done if ok else skipped).append(item)
    return RetentionReport(False, due, tuple(done), tuple(skipped), deleted_blobs)


def _delete_snapshot(w: Writer, item: RetentionItem, who: str) -> bool:
    reason = f"retention policy ({item.rule}): {item.why}"
    try:
        dataset_ops.delete(w, item.subject_id, actor=who, reason=reason, force=True)
    except InvalidInputError:  # deleted meanwhile by someone else: nothing left to do
        return False
    return True


def _retire(w: Writer, item: RetentionItem, who: str) -> str | None:
    """Retire one version's artifact if, under the model lock, nothing protects it now;
    the digest whose bytes may go, or None when it was kept."""

    def work(connection: Connection) -> str | None:
        version_store.lock_model(connection, item.name)
        if retention_store.fetch_retirement(connection, item.subject_id) is not None:
            return None
        policy = retention_store.fetch_policy(connection, RetentionSubject.MODEL, item.name)
        version = version_store.fetch_by_id(connection, item.subject_id)
        if policy is None or version is None:
            return None
        at = now()
        _, newest = _model_versions(connection, policy)
        kept, _ = _keep_reason(connection, version, policy, newest, at)
        if kept is not None:  # promoted, aliased or approved since the plan: keep it
            return None
        why = (
            f"{version.stage.value}, older than {policy.keep_days} days "
            f"(registered {when(version.created_at)})"
        )
        retention_store.insert_retirement(
            connection,
            ArtifactRetirement(
                version.id,
                version.model_name,
                version.version,
                version.artifact_digest,
                at,
                who,
                policy.rule,
                why,
            ),
        )
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.RETIRE_ARTIFACT,
                subject_type="model_version",
                subject_id=version.id,
                model_name=version.model_name,
                before={"version": version.version, "artifact_digest": version.artifact_digest},
                after={"retired": True, "rule": policy.rule},
                reason=f"retention policy ({policy.rule}): {why}",
            ),
        )
        return version.artifact_digest

    return w.write(work)
