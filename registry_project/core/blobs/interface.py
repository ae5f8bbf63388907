"""`BlobStore`, the interface: what every backend offers, and the write and read recipes.

Its one job is the contract the registry relies on, written once for both backends, which
supply only the primitives (a temporary file, the durability step, a raw copy, listing,
deleting). Invariants it keeps:

- **Atomic writes.** `writer()` streams into a temporary file, never under the blob's
  name; only the backend's durability step (fsync + rename, or upload) publishes it, after
  the last byte was hashed. A block that raises stores nothing and removes the temporary
  file, so a failed serialisation never leaves a half-written blob behind.
- **Durable before recorded.** `writer.info` is set only once the bytes are durable, or,
  with `defer_durability` and a blob of at most `defer_max_bytes`, once the durability
  step is running; the caller then calls `writer.wait_durable()` before committing a row
  that points at the blob.
- **Verified reads.** `open_verified` and `download_verified` hash the bytes while they
  stream into a spool or a temp file and hand them over (or rename the file into place)
  only if the digest matched: corrupt bytes are never deserialised, and no file ever
  appears under the target name with wrong content. A large local blob read `in_place`
  (never by a pickle) is hashed whole first, then handed over itself, and refused after
  the read if the file changed meanwhile.
- **No lock while bytes travel.** Nothing here takes a database or process lock; the
  registry's transaction starts after the stream ends.
- **Bounded memory.** Reads spool to disk past `SPOOL_MAX_IN_MEMORY`.

Deletion under concurrent writes (gc, delete_dataset) follows one protocol, described where the
registry deletes blobs (`delete_unreferenced`): a write always (re)stores its own bytes, so an
existing copy is refreshed (new modification time) and healed if it was corrupt, and it
confirms the copy with `confirm_stored` inside the transaction that commits its row;
gc deletes a batch (`delete_many`) of blobs still `stored_before` its cutoff only while it
holds the lock those transactions take.
"""

from __future__ import annotations

import abc
import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, BinaryIO

from registry_project.core.blobs.durability import run_or_submit
from registry_project.core.blobs.layout import BlobInfo, ProgressCallback, StoredBlob, check_digest
from registry_project.core.blobs.streaming import CHUNK_SIZE, BlobWriter
from registry_project.core.errors import BlobNotFoundError, IntegrityCheckError, StorageError

SPOOL_MAX_IN_MEMORY = 16 * 1024 * 1024


class BlobStore(abc.ABC):
    """Where artifact and dataset bytes live, named by their SHA-256."""

    root_uri: str
    # Flush a large blob to disk every this many bytes while it is written (local disks).
    _sync_every: int | None = None
    # The largest blob whose durability step `writer(defer_durability=True)` may run in
    # the background: its caller waits for it inside a database transaction, so only a
    # step that is short for certain may be deferred. 0: never (an upload's time depends
    # on the network, not on the size).
    defer_max_bytes: int = 0

    @contextlib.contextmanager
    def writer(
        self, on_bytes: ProgressCallback | None = None, *, defer_durability: bool = False
    ) -> Iterator[BlobWriter]:
        """Yield a hashing writer; on clean exit the blob is durable and `writer.info` set.

        With `defer_durability`, the final step of a blob of at most `defer_max_bytes`
        (fsync and rename) runs on a background thread so the caller can prepare its
        metadata meanwhile; it must call `writer.wait_durable()` before committing anything
        that points at the blob. A larger blob is made durable before the block exits.

        An exception inside the block stores nothing, removes the temporary data and
        propagates, so a failed serialisation never leaves a half-written blob behind.
        """
        temp_path, temp = self._open_temporary()
        handed_over = False
        try:
            with temp:
                writer = BlobWriter(temp, on_bytes, sync_every=self._sync_every)
                try:
                    yield writer
                finally:
                    info = writer._seal()
                writer._check_written()
                finish = self._durability_step(temp, temp_path, info.digest)
            handed_over = True  # from here on `finish` removes the temporary file
            in_background = defer_durability and info.size <= self.defer_max_bytes
            writer._durable = run_or_submit(finish, in_background)
            writer.info = info
        finally:
            if not handed_over:
                temp_path.unlink(missing_ok=True)

    @abc.abstractmethod
    def _open_temporary(self) -> tuple[Path, IO[bytes]]:
        """A new temporary file for a blob being written (path, open binary file)."""

    @abc.abstractmethod
    def _durability_step(self, temp: IO[bytes], path: Path, digest: str) -> Callable[[], None]:
        """Called with the written temporary file still open: the step that stores it
        durably under `digest`. The step owns `path` from then on and removes it."""

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store a small in-memory value (large ones should stream through `writer`)."""
        with self.writer() as writer:
            writer.write(data)
        return _finished(writer)

    def put_file(
        self, path: str | os.PathLike[str], on_bytes: ProgressCallback | None = None
    ) -> BlobInfo:
        """Store a file's bytes, streamed in chunks so its size does not matter."""
        with open(path, "rb") as source, self.writer(on_bytes) as writer:
            while chunk := source.read(CHUNK_SIZE):
                writer.write(chunk)
        return _finished(writer)

    @contextlib.contextmanager
    def open_verified(
        self, digest: str, on_bytes: ProgressCallback | None = None, *, in_place: bool = False
    ) -> Iterator[BinaryIO]:
        """A seekable copy of the blob, yielded only after its SHA-256 matched `digest`.

        The copy is a spool that rolls over to a temporary file past
        `SPOOL_MAX_IN_MEMORY`, and is removed when the block exits.

        `in_place=True`, for a reader that does not run the bytes as code (a dataset's
        parquet, a flavor that is not pickle-based): a backend that can hand over the
        stored file itself does so for a blob past `SPOOL_MAX_IN_MEMORY`, after hashing it
        whole, instead of writing a copy of it first (`_open_in_place`). Pickle-based
        flavors always get the copy: a pickle runs code while it loads, before anything
        could tell that its bytes changed since they were hashed.
        """
        check_digest(digest)
        if in_place:
            with self._open_in_place(digest, on_bytes) as stored:
                if stored is not None:
                    yield stored
                    return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_IN_MEMORY) as spool:
            actual = self._copy_into(digest, spool, on_bytes)
            if actual.digest != digest:
                raise _integrity_error(digest, actual.digest, self.root_uri)
            spool.seek(0)
            yield spool  # type: ignore[misc]

    @contextlib.contextmanager
    def _open_in_place(
        self, digest: str, on_bytes: ProgressCallback | None
    ) -> Iterator[BinaryIO | None]:
        """The stored blob itself, open and verified (see `open_verified`), or None where
        this backend makes a copy instead (the default: S3, whose objects are downloaded)."""
        yield None

    def download_verified(
        self,
        digest: str,
        destination: str | os.PathLike[str],
        on_bytes: ProgressCallback | None = None,
    ) -> BlobInfo:
        """Write the blob to `destination`, which appears only once the bytes matched
        `digest` (streamed once, straight into a temp file beside it, then renamed)."""
        check_digest(digest)
        target = Path(destination)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            with open(partial, "wb") as sink:
                actual = self._copy_into(digest, sink, on_bytes)
            if actual.digest != digest:
                raise _integrity_error(digest, actual.digest, self.root_uri)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return actual

    def read_bytes(self, digest: str) -> bytes:
        """The verified bytes of a small blob."""
        with self.open_verified(digest) as stream:
            return stream.read()

    def check(self, digest: str) -> str | None:
        """None when the blob is intact, else "missing" or "corrupt" (re-hashed, streamed)."""
        check_digest(digest)
        try:
            actual = self._copy_into(digest, None, None)
        except BlobNotFoundError:
            return "missing"
        return None if actual.digest == digest else "corrupt"

    def iter_digests(self) -> Iterator[str]:
        """Every stored blob's digest (what `gc` compares against the metadata)."""
        for blob in self.iter_blobs():
            yield blob.digest

    @abc.abstractmethod
    def _copy_into(
        self, digest: str, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
    ) -> BlobInfo:
        """Stream the stored bytes into `sink` (or nowhere), hashing them."""

    @abc.abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether a blob is stored under `digest` (its content is not checked)."""

    @abc.abstractmethod
    def size(self, digest: str) -> int:
        """The stored size in bytes; BlobNotFoundError when missing."""

    @abc.abstractmethod
    def delete(self, digest: str) -> bool:
        """Remove a blob; True if something was deleted."""

    def delete_many(self, digests: Sequence[str]) -> list[str]:
        """Remove several blobs; those that were deleted (S3: one request per 1000)."""
        return [digest for digest in digests if self.delete(digest)]

    @abc.abstractmethod
    def confirm_stored(self, blob: BlobInfo) -> bool:
        """Whether the bytes a write just stored are still there (called inside the
        transaction that commits the row pointing at them; see the deletion protocol)."""

    @abc.abstractmethod
    def stored_before(self, digest: str, cutoff: datetime) -> bool:
        """Whether the blob exists and was last written before `cutoff` (what gc deletes)."""

    @abc.abstractmethod
    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every stored blob with its size and modification time."""

    @abc.abstractmethod
    def cleanup_temporary(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Remove leftovers of interrupted writes older than `older_than`; returns how many.

        The age threshold protects writes that are still in progress.
        """

    @abc.abstractmethod
    def uri_for(self, digest: str) -> str:
        """Where the blob lives, for people and for lineage records."""


def _integrity_error(expected: str, actual: str, where: str) -> IntegrityCheckError:
    return IntegrityCheckError(
        f"blob {expected} in {where} is corrupt: its bytes hash to {actual}. It was not "
        "deserialised; run `registry verify` and restore the blob from a backup."
    )


def _finished(writer: BlobWriter) -> BlobInfo:
    if writer.info is None:  # only if a subclass forgot to set it; never silently
        raise StorageError("the blob store finished a write without recording it")
    return writer.info
