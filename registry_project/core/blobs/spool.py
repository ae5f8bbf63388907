"""The S3 writer's local spool: where a blob waits, on disk, until its digest (its key) is known.

Its one job is the spool directory and the files in it. Invariants it keeps:

- One spool directory per S3 artifact root (`spool_dir_for`), under `$REGISTRY_SPOOL_DIR`
  or the system temp dir, created private (mode 0700); each spool file is a private
  `mkstemp` file ending in `.part`, never visible in the bucket.
- A spool file is written to while the blob streams in, then touched at least every
  `SPOOL_TOUCH_SECONDS` while it uploads (`SpoolToucher`), so its age says whether its
  writer is alive: gc (`S3BlobStore.cleanup_temporary`) removes only files idle longer
  than its grace period, which a killed writer leaves behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from registry_project.core.blobs.layout import PART_SUFFIX
from registry_project.core.blobs.streaming import temporary_write_error

# A spool file being uploaded is not written to; the upload touches it this often, so
# gc's grace period (an hour by default) never mistakes a long upload for a dead one.
SPOOL_TOUCH_SECONDS = 60.0
SPOOL_DIR_ENV = "REGISTRY_SPOOL_DIR"


def spool_dir_for(root_uri: str) -> Path:
    """One local spool directory per S3 artifact root, so gc can find what a killed writer
    left there: `$REGISTRY_SPOOL_DIR` (default: the system temp dir)/registry-spool/<hash>."""
    base = os.environ.get(SPOOL_DIR_ENV) or tempfile.gettempdir()
    name = hashlib.sha256(root_uri.encode("utf-8")).hexdigest()[:16]
    return Path(base) / "registry-spool" / name


def open_spool_file(spool_dir: Path) -> tuple[Path, IO[bytes]]:
    """A new private spool file in `spool_dir` (created if needed): its path, open for
    writing. The caller closes the file and removes the path."""
    try:
        spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, spool_path = tempfile.mkstemp(suffix=PART_SUFFIX, dir=spool_dir)
    except OSError as exc:
        raise temporary_write_error(exc) from exc
    return Path(spool_path), open(fd, "wb")


class SpoolToucher:
    """boto3 upload progress callback: refresh the spool file's age now and then."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._last = time.monotonic()
        self._lock = threading.Lock()  # boto3 calls back from several transfer threads

    def __call__(self, _transferred: int) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < SPOOL_TOUCH_SECONDS:
                return
            self._last = now
        with contextlib.suppress(OSError):
            os.utime(self._path)
