"""`LocalBlobStore`: blobs in a directory on a local (or mounted) file system.

Its one job is the local backend's primitives. Invariants it keeps:

- **Atomic rename.** A blob is written to `<root>/tmp/<uuid>.part`, on the same file
  system as `<root>/blobs/`, and renamed into place with `os.replace`: a blob is either
  absent or complete, never partial under its real name.
- **fsync before rename, directory fsync after.** The kernel is asked to start writing the
  temp file out every `SYNC_EVERY` bytes while it is written (only to shorten the last
  step), and the file is fsynced before the rename; the directory is fsynced after it,
  so a crash cannot lose a blob a committed row points at.
- **A write always (re)stores its own bytes.** Renaming over an identical existing copy
  heals one corrupted in place and refreshes its modification time, which gc's age check
  (`stored_before`) reads, so a write in flight never loses its blob to gc.
- Reads are hashed while they stream (`hash_stream`); `interface.py` compares the digest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, BinaryIO

from registry_project.core.blobs.interface import (
    SPOOL_MAX_IN_MEMORY,
    BlobStore,
    _integrity_error,
)
from registry_project.core.blobs.layout import (
    DIGEST_RE,
    FANOUT_RE,
    PART_SUFFIX,
    BlobInfo,
    ProgressCallback,
    StoredBlob,
    check_digest,
    relative_key,
    remove_stale_parts,
)
from registry_project.core.blobs.streaming import CHUNK_SIZE, hash_stream
from registry_project.core.errors import (
    BlobNotFoundError,
    ConfigurationError,
    IntegrityCheckError,
    RegistryError,
    StorageError,
)

# verify()'s first read of a blob: one read for the small ones, without the cost of
# allocating a whole CHUNK_SIZE buffer for each.
_FIRST_READ = 64 * 1024
# How a blob is opened to be checked (O_BINARY exists on Windows only).
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)

# A local blob being written has its writeback started every this many bytes, and is
# fdatasynced every few of those (background_sink), so the disk writes while the blob is
# still hashed, the final fsync has little left to do and the page cache never holds
# gigabytes of one blob's dirty pages. Measured on W5 (256 MiB, writeback calls alone):
# 8 MiB beat 4, 16 and 64 MiB (16: -14%, 64: -19%).
SYNC_EVERY = 8 * 1024 * 1024


class LocalBlobStore(BlobStore):
    """Blobs under `<root>/blobs/sha256/ab/cd/<digest>`, written via `<root>/tmp/*.part`.

    The temp directory sits on the same file system as the blobs, so the final rename is
    atomic: a blob is either absent or complete.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.root_uri = str(self.root)
        self._tmp = self.root / "tmp"
        self._base = self.root / "blobs" / "sha256"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            self._base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the artifact root {self.root}: {exc}. Choose a writable "
                "directory (REGISTRY_ARTIFACT_ROOT) or fix its permissions."
            ) from exc

    def _path(self, digest: str) -> Path:
        return self.root / relative_key(check_digest(digest))

    _sync_every = SYNC_EVERY
    # Its fsyncs take well under a millisecond each on an SSD (three of them), a few on a
    # disk: short enough to wait for inside a transaction.
    defer_max_bytes = 1024 * 1024

    def _open_temporary(self) -> tuple[Path, IO[bytes]]:
        temp = self._tmp / f"{uuid.uuid4().hex}{PART_SUFFIX}"
        return temp, open(temp, "xb")  # closed by BlobStore.writer

    def _durability_step(self, temp: IO[bytes], path: Path, digest: str) -> Callable[[], None]:
        temp.flush()
        # A duplicate descriptor outlives the file object: fsync works on it later.
        descriptor = os.dup(temp.fileno())
        return functools.partial(self._make_durable, descriptor, path, digest)

    def _make_durable(self, descriptor: int, temp: Path, digest: str) -> None:
        """fsync the finished temp file, then rename it into place (and drop it if not)."""
        try:
            try:
                os.fsync(descriptor)
            except OSError as exc:
                raise StorageError(
                    f"could not flush blob {digest} to disk under {self.root}: {exc}. Check "
                    "the disk, then retry."
                ) from exc
            finally:
                os.close(descriptor)
            self._commit(temp, digest)
        finally:
            temp.unlink(missing_ok=True)

    def _commit(self, temp: Path, digest: str) -> None:
        """Rename the finished temp file into place, also over identical bytes already there.

        Replacing (not reusing) an existing copy costs one rename, since the bytes are
        already on disk: it heals a copy that was corrupted in place (truncated, flipped
        bytes) with bytes this write has just hashed, and it gives the blob a fresh
        modification time, so gc's age check sees a write in flight. Identical bytes are
        still stored once: the old file goes away with the rename.
        """
        final = self._path(digest)
        try:
            os.utime(temp)  # written a while ago if serialising was slow: now is its age
            first_level_made = _make_fan_out(final.parent)
            os.replace(temp, final)
        except OSError as exc:
            raise StorageError(
                f"could not store blob {digest} under {self.root}: {exc}. Check free space "
                "and permissions, then retry."
            ) from exc
        # The rename's entry, then the entry of the directory it is in: a fan-out directory
        # made just now, here or by a concurrent writer that has not synced it yet, survives
        # a power loss only once its parent is synced too (POSIX; ext4's journal usually
        # covers it, other file systems need not). Syncing a clean directory is cheap.
        _fsync_directory(final.parent)
        _fsync_directory(final.parent.parent)
        if first_level_made:
            _fsync_directory(self._base)

    def _copy_into(
        self, digest: str, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
    ) -> BlobInfo:
        with self._open_blob(digest) as source:
            return _hash_open_blob(source, sink, on_bytes)

    def _open_blob(self, digest: str) -> IO[bytes]:
        """The blob's file, open for reading; `BlobNotFoundError` if it is missing."""
        path = self._path(digest)
        try:
            return open(path, "rb")
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc
        except OSError as exc:  # permissions, a directory in the way
            raise StorageError(f"could not read blob {path}: {exc}") from exc

    @contextlib.contextmanager
    def _open_in_place(
        self, digest: str, on_bytes: ProgressCallback | None
    ) -> Iterator[BinaryIO | None]:
        """The blob's own file, hashed whole, for a reader that does not run its bytes as
        code (`open_verified(in_place=True)`); None for a blob small enough that its copy
        is an in-memory spool. Past that size a copy would write the whole blob once more
        (and take as much free disk) before the reader could start.

        Handing the file over is safe because this store never writes into a blob's file:
        a write renames a new file over it and gc unlinks it, and either way this
        descriptor keeps the bytes it hashed. Anything else writing into the file itself
        moves its size, modification or change time (`_written_into`), compared before
        the hash and after the reader is done: the read is then refused."""
        with self._open_blob(digest) as source:
            before = _file_state(source)
            if before.st_size <= SPOOL_MAX_IN_MEMORY:
                yield None
                return
            actual = _hash_open_blob(source, None, on_bytes)
            source.seek(0)
            if actual.digest != digest:
                raise _integrity_error(digest, actual.digest, self.root_uri)
            yield source  # type: ignore[misc]
            if _written_into(before, _file_state(source)):
                raise IntegrityCheckError(
                    f"blob {digest} in {self.root_uri} was written to while it was read "
                    "(after its hash matched); what was read from it was discarded. Find "
                    "what writes into the registry's blob directory, then run `registry "
                    "verify`."
                )

    def check(self, digest: str) -> str | None:
        """As `BlobStore.check`, the same answers, with less Python per blob: verify()
        re-hashes every referenced blob, and for a store of small blobs building a Path
        and a streaming copy cost more than reading and hashing the bytes."""
        return _check_file(_blob_path(self.root_uri, digest), digest)

    def _missing(self, digest: str) -> BlobNotFoundError:
        return BlobNotFoundError(
            f"blob {digest} is missing from {self.root}; run `registry verify` to find "
            "every affected record"
        )

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def size(self, digest: str) -> int:
        path = self._path(digest)
        try:
            return path.stat().st_size
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc

    def delete(self, digest: str) -> bool:
        try:
            self._path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def confirm_stored(self, blob: BlobInfo) -> bool:
        # A stat, cheap enough for every write: the copy this write renamed into place may
        # have been deleted since (see the deletion protocol).
        try:
            found = self._path(blob.digest).stat()
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode) and found.st_size == blob.size

    def stored_before(self, digest: str, cutoff: datetime) -> bool:
        try:
            found = self._path(digest).stat()
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode) and found.st_mtime <= cutoff.timestamp()

    def iter_blobs(self) -> Iterator[StoredBlob]:
        # Directory by directory, so a huge store is never listed into memory at once.
        for first in _sorted_entries(self._base):
            if not (first.is_dir() and FANOUT_RE.fullmatch(first.name)):
                continue
            for second in _sorted_entries(Path(first.path)):
                if not (second.is_dir() and FANOUT_RE.fullmatch(second.name)):
                    continue
                for entry in _sorted_entries(Path(second.path)):
                    blob = _stored_blob(entry, first.name + second.name)
                    if blob is not None:
                        yield blob

    def cleanup_temporary(self, older_than: timedelta = timedelta(hours=1)) -> int:
        return remove_stale_parts(self._tmp, datetime.now(UTC) - older_than)

    def uri_for(self, digest: str) -> str:
        return str(self._path(digest))


def _sorted_entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except FileNotFoundError:
        return []


def _stored_blob(entry: os.DirEntry[str], fanout: str) -> StoredBlob | None:
    """A listing entry as a blob, or None for strays (temp names, misplaced files)."""
    name = entry.name
    if not (DIGEST_RE.fullmatch(name) and name[:4] == fanout):
        return None
    try:
        if not entry.is_file():
            return None
        stat = entry.stat()
    except FileNotFoundError:  # deleted while we were listing
        return None
    return StoredBlob(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))


def _read_sequentially(descriptor: int) -> None:
    """Tell the kernel the blob is read front to back once, so a read from disk (not the
    page cache) gets its larger read-ahead; only advice, harmless where unsupported."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(descriptor, 0, 0, os.POSIX_FADV_SEQUENTIAL)


def _hash_open_blob(
    source: IO[bytes], sink: IO[bytes] | None, on_bytes: ProgressCallback | None
) -> BlobInfo:
    """Hash an open blob front to back (copying it into `sink` if given); an I/O error
    is a `StorageError` naming the file."""
    try:
        _read_sequentially(source.fileno())
        return hash_stream(source, sink, on_bytes)
    except OSError as exc:
        raise StorageError(f"could not read blob {source.name}: {exc}") from exc


def _file_state(file: IO[bytes]) -> os.stat_result:
    return os.fstat(file.fileno())


def _written_into(before: os.stat_result, after: os.stat_result) -> bool:
    """Whether an open file's bytes may have changed between two fstats: its size or
    modification time moved, or its change time did (a write whose modification time was
    set back) while its link count did not. Losing a link also moves the change time, and
    this store's own writes and gc unlink a blob that is being read (a rename over it, a
    deletion) without touching its bytes."""
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        return True
    return before.st_ctime_ns != after.st_ctime_ns and before.st_nlink == after.st_nlink


def _make_fan_out(leaf: Path) -> bool:
    """Create a blob's two fan-out directories if missing; whether the first level (the
    one directly under `blobs/sha256`) was created here."""
    try:
        leaf.mkdir()
    except FileExistsError:
        return False
    except FileNotFoundError:
        try:
            leaf.parent.mkdir()
            made = True
        except FileExistsError:
            made = False
        leaf.mkdir(exist_ok=True)
        return made
    return False


def _fsync_directory(path: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_blobs(root_uri: str, digests: Sequence[str]) -> list[tuple[str, str] | None]:
    """`LocalBlobStore(root_uri).check` of each digest, in one call: what verify()'s worker
    processes run (ops/blob_checks.py), with no store object to send them. None for an
    intact blob, else (outcome, the error's text, "" for missing and corrupt): only
    problems cross back, so a batch of intact blobs answers with a list of Nones."""
    results: list[tuple[str, str] | None] = []
    append = results.append
    for digest in digests:
        try:
            outcome = _check_file(_blob_path(root_uri, digest), digest)
        except RegistryError as exc:  # an invalid digest, a directory in its place, I/O
            append(("unreadable", str(exc)))
        else:
            append(None if outcome is None else (outcome, ""))
    return results


_HEX_DIGITS = "0123456789abcdef"


def _blob_path(root_uri: str, digest: str) -> str:
    """`uri_for` as text, without building a Path (verify() asks for every blob). A digest
    of 64 characters that are all lowercase hex digits is what `check_digest` accepts; the
    test on them (`strip` leaves nothing) costs a fraction of its regex, which still judges
    (and words the refusal of) anything else."""
    if type(digest) is not str or len(digest) != 64 or digest.strip(_HEX_DIGITS):
        check_digest(digest)
    return f"{root_uri}/{relative_key(digest)}"


def _check_file(path: str, digest: str) -> str | None:
    """None when the bytes at `path` hash to `digest`, else "missing" or "corrupt";
    StorageError when the file is there but cannot be read."""
    try:
        descriptor = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:  # permissions, I/O errors
        raise StorageError(f"could not read blob {path}: {exc}") from exc
    try:
        actual = hashlib.sha256(os.read(descriptor, _FIRST_READ))
        while chunk := os.read(descriptor, CHUNK_SIZE):
            actual.update(chunk)
    except OSError as exc:  # a directory in the way opens, then fails to read
        named = OSError(exc.errno, exc.strerror, path)  # worded as open() words it
        raise StorageError(f"could not read blob {path}: {named}") from exc
    finally:
        os.close(descriptor)
    return None if actual.hexdigest() == digest else "corrupt"
