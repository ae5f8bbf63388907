"""Names and places: what a blob is called, where it lives below a root, what a store reports.

Its one job is the vocabulary every backend shares, so that local disk and S3 agree byte
for byte on where a blob is:

- A blob's name is the lowercase hex SHA-256 of its bytes; `check_digest` refuses anything
  else before a path or key is built, so no digest can escape the layout (`../`, `/`).
- Both backends store a blob at `<root>/blobs/sha256/ab/cd/<digest>` (`relative_key`).
- A write in progress lives in a `*.part` file (`PART_SUFFIX`) outside that tree, never
  under a real name; `remove_stale_parts` deletes only those idle past a cutoff, so a
  write still in flight keeps its file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from registry_project.core.errors import InvalidInputError

DIGEST_RE = re.compile(r"[0-9a-f]{64}")
FANOUT_RE = re.compile(r"[0-9a-f]{2}")
# The suffix of a temporary file holding a blob being written (local tmp/, the S3 spool).
PART_SUFFIX = ".part"

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class BlobInfo:
    """What a finished write produced: the blob's name (lowercase hex SHA-256) and size."""

    digest: str
    size: int


@dataclass(frozen=True)
class StoredBlob:
    """A blob as listed by the store: what gc needs to judge it (age protects fresh writes)."""

    digest: str
    size: int
    modified_at: datetime


def check_digest(digest: object) -> str:
    """Refuse anything but 64 lowercase hex characters, so no digest can escape the layout."""
    if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
        raise InvalidInputError(
            f"invalid blob digest {digest!r}: expected 64 lowercase hexadecimal characters "
            "(a SHA-256 as recorded by the registry)"
        )
    return digest


def relative_key(digest: str) -> str:
    """Where a blob lives below the root; two fan-out levels keep directories small."""
    return f"blobs/sha256/{digest[:2]}/{digest[2:4]}/{digest}"


def remove_stale_parts(directory: Path, cutoff: datetime) -> int:
    """Delete `*.part` files in `directory` last modified before `cutoff`; how many."""
    removed = 0
    for path in directory.glob(f"*{PART_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime <= cutoff.timestamp():
                path.unlink()
                removed += 1
    return removed
