"""A file's bytes checked against its SHA-256, with the standard library alone.

Its one job is `check_file` (what `LocalBlobStore.check` runs) and `check_files`, the
same over many files in one call, which is what verify()'s worker processes run
(`ops/blob_checks.py`). It imports nothing of the registry but `errors`, so a worker
process that unpickles `check_files` starts in milliseconds, not the tenth of a second
the blob store package (boto3, urllib) would cost each one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from registry_project.core.errors import StorageError

# The reads after the first, the size the blob store streams in (streaming.CHUNK_SIZE).
_READ_SIZE = 1024 * 1024
# The first read: one read for the small blobs most registries hold, without the cost of
# allocating a whole `_READ_SIZE` buffer for each.
_FIRST_READ = 64 * 1024


def check_file(path: str, digest: str) -> str | None:
    """None when the bytes at `path` hash to `digest`, else "missing" or "corrupt";
    StorageError when the file is there but cannot be read."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return "missing"
    except OSError as exc:  # permissions, I/O errors
        raise StorageError(f"could not read blob {path}: {exc}") from exc
    try:
        actual = hashlib.sha256(os.read(descriptor, _FIRST_READ))
        while chunk := os.read(descriptor, _READ_SIZE):
            actual.update(chunk)
    except OSError as exc:  # a directory in the way opens, then fails to read
        named = OSError(exc.errno, exc.strerror, path)  # worded as open() words it
        raise StorageError(f"could not read blob {path}: {named}") from exc
    finally:
        os.close(descriptor)
    return None if actual.hexdigest() == digest else "corrupt"


def check_files(paths: Sequence[str], digests: Sequence[str]) -> list[tuple[str, str] | None]:
    """`check_file` of each (path, digest): None for an intact file, else (outcome, the
    StorageError's text, or "" for missing and corrupt). Only problems cross back to the
    parent process, so the answer for a batch of intact files is a list of Nones."""
    results: list[tuple[str, str] | None] = []
    for path, digest in zip(paths, digests, strict=True):
        try:
            outcome = check_file(path, digest)
        except StorageError as exc:
            results.append(("unreadable", str(exc)))
        else:
            results.append(None if outcome is None else (outcome, ""))
    return results
