"""Parsing of version references: a UUID, `name/7`, `name@production` or `name@latest`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from registry_project.core.entities import Stage
from registry_project.core.errors import InvalidReferenceError
from registry_project.core.validation import NAME_PATTERN, validate_name

LATEST = "latest"
MAX_VERSION_NUMBER = 2**31 - 1  # the version column is a 32-bit integer on every backend
_HELP = (
    "use a version UUID, 'name/7' (version number), 'name@production' (or @staging, "
    "@experiment, @archived: the newest in that stage) or 'name@latest'"
)


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


VersionReference = ById | ByNumber | ByAlias


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
        alias = alias.lower()
        if alias != LATEST and alias not in {stage.value for stage in Stage}:
            raise InvalidReferenceError(f"unknown alias {alias!r} in {reference!r}; {_HELP}")
        return ByAlias(name, alias)
    raise InvalidReferenceError(f"invalid version reference {reference!r}: {_HELP}")


def _check_name(name: str, reference: str) -> None:
    try:
        validate_name(name, "model name")
    except Exception as exc:
        raise InvalidReferenceError(
            f"invalid model name in reference {reference!r} (pattern {NAME_PATTERN}); {_HELP}"
        ) from exc
