"""Tags: key/value labels on a model (`"churn"`) or on one version (`"churn/7"`, an alias,
a UUID, a `ModelVersion`), set and removed after registration, each change audited."""

from __future__ import annotations

import re

from sqlalchemy.engine import Connection

from registry_project.core.entities import AuditAction, ModelVersion, Tag
from registry_project.core.errors import InvalidInputError, ModelNotFoundError
from registry_project.core.ops import version_ops
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import audit
from registry_project.core.store import tags as tag_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import check_storable_text, validate_name
from registry_project.core.version_refs import parse_uuid

TAG_KEY_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}"
_TAG_KEY_RE = re.compile(TAG_KEY_PATTERN)
MAX_TAG_VALUE_LENGTH = 1000  # the column holds 1024

TagSubject = ModelVersion | str


def validate_tag_key(key: object) -> str:
    if not isinstance(key, str) or not _TAG_KEY_RE.fullmatch(key):
        raise InvalidInputError(
            f"invalid tag key {repr(key)[:70]}: use 1-128 letters, digits, '_', '.' and '-' "
            f"(pattern {TAG_KEY_PATTERN})"
        )
    return key


def validate_tag_value(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"a tag value is text, got {type(value).__name__}")
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInputError(
            f"tag value is {len(value)} characters; at most {MAX_TAG_VALUE_LENGTH}"
        )
    return check_storable_text(value, "tag value")


def _subject(w: Writer, subject: TagSubject) -> tuple[str, ModelVersion | None]:
    """A model name alone tags the model; any version reference tags that version."""
    if isinstance(subject, ModelVersion):
        return subject.model_name, version_ops.get(w, subject.id)
    bare = isinstance(subject, str) and "/" not in subject and "@" not in subject
    if bare and parse_uuid(subject) is None:
        return validate_name(subject, "model name"), None
    version = version_ops.get(w, subject)
    return version.model_name, version


def _label(name: str, version: ModelVersion | None) -> str:
    return version.ref if version is not None else name


def set_tag(w: Writer, subject: TagSubject, key: str, value: str, *, actor: str | None) -> Tag:
    validate_tag_key(key)
    validate_tag_value(value)
    who = w.actor(actor)
    name, version = _subject(w, subject)
    version_id = version.id if version is not None else None
    at = now()

    def work(connection: Connection) -> None:
        if not version_store.model_exists(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}")
        before = tag_store.fetch_value(connection, name, version_id, key)
        tag_store.put_tag(
            connection, name, version_id, key, value, actor=who, at=at, exists=before is not None
        )
        _event(connection, AuditAction.SET_TAG, name, version, key, before, value, who)

    w.write(work)
    return Tag(name, version.version if version else None, key, value, at, who)


def remove_tag(w: Writer, subject: TagSubject, key: str, *, actor: str | None) -> None:
    validate_tag_key(key)
    who = w.actor(actor)
    name, version = _subject(w, subject)
    version_id = version.id if version is not None else None

    def work(connection: Connection) -> None:
        if not version_store.model_exists(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}")
        before = tag_store.fetch_value(connection, name, version_id, key)
        if before is None:
            raise InvalidInputError(f"{_label(name, version)} has no tag {key!r}; nothing removed")
        tag_store.delete_tag(connection, name, version_id, key)
        _event(connection, AuditAction.REMOVE_TAG, name, version, key, before, None, who)

    w.write(work)


def _event(
    connection: Connection,
    action: AuditAction,
    name: str,
    version: ModelVersion | None,
    key: str,
    before: str | None,
    after: str | None,
    actor: str,
) -> None:
    where = {"version": version.version} if version is not None else {}
    audit.append_event(
        connection,
        EventDraft(
            actor=actor,
            action=action,
            subject_type="model_version" if version is not None else "model",
            subject_id=version.id if version is not None else name,
            model_name=name,
            before={"key": key, "value": before, **where} if before is not None else None,
            after={"key": key, "value": after, **where} if after is not None else None,
        ),
    )


def tags(w: Writer, subject: TagSubject) -> list[Tag]:
    """The tags of a model (a bare name) or of one version."""
    name, version = _subject(w, subject)
    with w.read() as connection:
        if version is not None:
            return tag_store.version_tags_of(connection, version.id)
        if not version_store.model_exists(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}")
        return tag_store.model_tags_of(connection, name)
