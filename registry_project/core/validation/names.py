"""Validation of names and free text: model and dataset names, the actor, reasons,
descriptions, filters, the Dagster context; and text made storable on every backend."""

from __future__ import annotations

import re
import unicodedata

from registry_project.core.errors import InvalidInputError, InvalidNameError
from registry_project.core.validation.limits import (
    INVISIBLE_CATEGORIES,
    MAX_ACTOR_LENGTH,
    MAX_ASSET_KEY_LENGTH,
    MAX_DAGSTER_RUN_ID_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    MAX_REASON_LENGTH,
)

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_NAME_RE = re.compile(NAME_PATTERN)


def validate_name(name: object, what: str = "name") -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 60 else repr(name[:60])
        raise InvalidNameError(
            f"invalid {what} {shown}: use 1-128 characters from letters, digits, '.', '_' "
            f"and '-', starting with a letter or digit (pattern {NAME_PATTERN})"
        )
    return name


def check_storable_text(value: str, what: str) -> str:
    """Refuse text that one of the two backends cannot store, so SQLite and PostgreSQL hold
    the same data: a NUL character (PostgreSQL refuses it in text) and a lone surrogate
    (not valid Unicode, so it cannot be encoded as UTF-8; a command-line argument that was
    not UTF-8 arrives as one)."""
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character (\\x00); remove it")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid Unicode (a lone surrogate at position {exc.start}, for "
            "instance from bytes that were not UTF-8); pass UTF-8 text"
        ) from None
    return value


def storable_text(value: str | None) -> str | None:
    """Text the registry records itself (a failed run's traceback), made storable on every
    backend by escaping what `check_storable_text` refuses, instead of refusing it."""
    if value is None:
        return None
    escaped = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.replace("\x00", "\\x00")


def validate_text(
    value: object, what: str, *, max_length: int, optional: bool = True
) -> str | None:
    """Free text stored as given (descriptions, pins): a string, at most `max_length`
    characters, storable on every backend."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > max_length:
        raise InvalidInputError(f"{what} is {len(value)} characters; at most {max_length}")
    return check_storable_text(value, what)


def validate_reason(reason: object, *, required: bool = False, action: str = "this") -> str | None:
    """One rule for every write that takes a reason: a reason that is given must say
    something (empty or whitespace-only is refused, never stored as "no reason"); None is
    refused only where a reason is `required`. The messages name no Python keyword, so the
    CLI (`--reason`) and the API can show them as they are."""
    if reason is None:
        if required:
            raise InvalidInputError(f"{action} needs a reason: say why you do it")
        return None
    if not isinstance(reason, str):
        raise InvalidInputError(f"reason must be a string, got {type(reason).__name__}")
    if not reason.strip():
        raise InvalidInputError(
            f"the reason for {action} is empty; say why you do it (it goes into the audit log)"
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInputError(f"reason is {len(reason)} characters; at most {MAX_REASON_LENGTH}")
    return check_storable_text(reason, "reason")


def validate_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR_LENGTH:
        raise InvalidInputError(
            f"actor must be a non-empty string of at most {MAX_ACTOR_LENGTH} characters, "
            f"got {actor!r}"
        )
    check_storable_text(actor, "actor")
    # An audit trail must not be forgeable by an actor name that starts a new log line or
    # reverses the text after it (U+202E), so every invisible character is refused.
    if any(unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in actor):
        raise InvalidInputError(
            f"actor {actor!r} contains control characters (or invisible format or "
            "line-separator ones); use a plain name"
        )
    return actor


def validate_description(description: object) -> str | None:
    """A version's description: text of at most MAX_DESCRIPTION_LENGTH characters, or None."""
    return validate_text(description, "description", max_length=MAX_DESCRIPTION_LENGTH)


def validate_filter_text(value: object, what: str) -> str | None:
    """A text filter (actor, action): compared with stored text, so it must be storable."""
    return validate_text(value, what, max_length=MAX_REASON_LENGTH)


def validate_dagster_context(
    dagster_run_id: object, asset_key: object
) -> tuple[str | None, str | None]:
    """The Dagster run id and asset key a write records: strings of bounded length."""
    run_id = validate_text(dagster_run_id, "dagster_run_id", max_length=MAX_DAGSTER_RUN_ID_LENGTH)
    key = validate_text(asset_key, "asset_key", max_length=MAX_ASSET_KEY_LENGTH)
    if key is not None and not key.strip():
        raise InvalidInputError("asset_key is empty; give the asset key as 'a/b' or leave it out")
    return run_id, key
