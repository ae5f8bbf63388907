"""Parsing of version references: a UUID, `name/7`, `name@production`, `name@latest` or
`name@champion` (an alias set with `set_alias`), and which names an alias may take."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from registry_project.core.entities import Stage
from registry_project.core.errors import InvalidReferenceError
from registry_project.core.validation import NAME_PATTERN, validate_name

LATEST = "latest"
MAX_VERSION_NUMBER = 2**31 - 1
_ALIAS_RE = re.compile(NAME_PATTERN)  # the version column is a 32-bit integer on every backend
_HELP = (
    "use a version UUID, 'name/7' (version number), 'name@production' (or @staging, "
    "@experiment, @archived: the newest in that stage), 'name@latest' or 'name@ALIAS' "
    "(an alias set with `registry alias set`)"
)
# Names that keep their meaning after '@' and so can never be aliases.
RESERVED_ALIASES = frozenset({LATEST, *(stage.value for stage in Stage)})


@dataclass(frozen=True)
class ById:
    version_id: str


@dataclass(frozen=True)
class ByNumber:
    model_name: str
    version: int


@dataclass(frozen=True)
class ByAlias:
    model_name: str
    alias: str  # a Stage value or "latest"


@dataclass(frozen=True)
class ByNamedAlias:
    """`name@champion`: the version an alias set with `set_alias` points at."""

    model_name: str
    alias: str


VersionReference = ById | ByNumber | ByAlias | ByNamedAlias


def validate_alias(alias: object) -> str:
    """An alias name: the model-name pattern, and not a stage or 'latest' (those keep their
    meaning in references, whatever the case)."""
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias):
        shown = repr(alias)[:70]
        raise InvalidReferenceError(
            f"invalid alias {shown}: use 1-128 characters from letters, digits, '.', '_' and "
            f"'-', starting with a letter or digit (pattern {NAME_PATTERN})"
        )
    if alias.lower() in RESERVED_ALIASES:
        raise InvalidReferenceError(
            f"{alias!r} cannot be an alias: {', '.join(sorted(RESERVED_ALIASES))} keep their "
            "meaning in references (a stage, or the newest version); choose another name"
        )
    return alias


def parse_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        return None


def parse_reference(reference: object) -> VersionReference:
    if not isinstance(reference, str) or not reference:
        raise InvalidReferenceError(f"invalid version reference {reference!r}: {_HELP}")
    if len(reference) > 300:
        raise InvalidReferenceError(f"version reference is too long: {_HELP}")
    if (version_id := parse_uuid(reference)) is not None and "/" not in reference:
        return ById(version_id)
    if "/" in reference:
        name, _, number = reference.partition("/")
        _check_name(name, reference)
        if (
            not number.isdigit()
            or not number.isascii()
            or not 1 <= int(number) <= MAX_VERSION_NUMBER
        ):
            raise InvalidReferenceError(
                f"invalid version number in {reference!r}: versions are 1, 2, 3 ...; {_HELP}"
            )
        return ByNumber(name, int(number))
    if "@" in reference:
        name, _, alias = reference.partition("@")
        _check_name(name, reference)
        if alias.lower() in RESERVED_ALIASES:
            return ByAlias(name, alias.lower())
        try:
            return ByNamedAlias(name, validate_alias(alias))
        except InvalidReferenceError as exc:
            raise InvalidReferenceError(f"invalid alias in {reference!r}: {exc}") from exc
    raise InvalidReferenceError(f"invalid version reference {reference!r}: {_HELP}")


def _check_name(name: str, reference: str) -> None:
    try:
        validate_name(name, "model name")
    except Exception as exc:
        raise InvalidReferenceError(
            f"invalid model name in reference {reference!r} (pattern {NAME_PATTERN}); {_HELP}"
        ) from exc
