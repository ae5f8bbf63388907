"""Validation of what a dataset reference records: its URI (recorded, never opened),
its pins (version id, etag, digest) and its schema."""

from __future__ import annotations

import re
from collections.abc import Sequence

from registry_project.core.entities import Column
from registry_project.core.errors import InvalidInputError
from registry_project.core.validation.limits import MAX_NAME_TEXT, MAX_PIN_LENGTH, MAX_URI_LENGTH
from registry_project.core.validation.names import check_storable_text, validate_text

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")


def validate_digest(digest: object) -> str:
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise InvalidInputError(
            f"invalid digest {digest!r}: expected 64 lowercase hexadecimal characters (SHA-256)"
        )
    return digest


def validate_reference_uri(uri: object) -> str:
    """A URI pinned by a dataset reference: recorded, never opened by the registry."""
    if not isinstance(uri, str) or not uri.strip() or len(uri) > MAX_URI_LENGTH:
        raise InvalidInputError(
            f"uri must be a non-empty string of at most {MAX_URI_LENGTH} characters"
        )
    if any(ord(ch) < 32 for ch in uri):
        raise InvalidInputError("uri must not contain control characters")
    check_storable_text(uri, "uri")
    scheme, sep, rest = uri.partition("://")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) or not rest:
        raise InvalidInputError(
            f"uri {uri!r} must be absolute with a scheme, such as s3://bucket/key, "
            "gs://bucket/key, file:///abs/path or an iceberg:// / delta:// table"
        )
    if ".." in rest.split("/"):
        raise InvalidInputError(f"uri {uri!r} contains a '..' segment; give the resolved location")
    return uri


def validate_pins(
    uri: str, *, version_id: str | None, etag: str | None, digest: str | None
) -> None:
    """A dataset reference's pins: each given pin says something, and at least one is given."""
    for key, value in {"version_id": version_id, "etag": etag}.items():
        if validate_text(value, key, max_length=MAX_PIN_LENGTH) == "":
            raise InvalidInputError(f"{key} is empty; give the pin or leave it out")
    if digest is not None:
        validate_digest(digest)
    if version_id is None and etag is None and digest is None:
        raise InvalidInputError(
            f"reference to {uri!r} is not pinned: pass version_id= (S3 object version or "
            "table snapshot id), etag= or digest= so the exact data can be found again"
        )


def validate_columns(columns: object) -> tuple[Column, ...]:
    """A reference's schema: a sequence of `Column` objects (not bare names)."""
    if columns is None:
        return ()
    if isinstance(columns, str | bytes) or not isinstance(columns, Sequence):
        raise InvalidInputError(
            f"columns must be a list of Column(name, type), got {type(columns).__name__}"
        )
    for item in columns:
        if not isinstance(item, Column):
            raise InvalidInputError(
                f"columns must be Column(name, type) objects, got {type(item).__name__} {item!r}"[
                    :300
                ]
                + "; e.g. Column('age', 'int64')"
            )
        validate_text(item.name, "column name", max_length=MAX_NAME_TEXT, optional=False)
        validate_text(item.type, "column type", max_length=MAX_NAME_TEXT, optional=False)
    return tuple(columns)
