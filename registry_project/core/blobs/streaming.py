"""Hashing bytes while they stream: `BlobWriter` for writes, `hash_stream` for reads and copies.

Its one job is that every byte that moves is hashed on the way, in bounded memory:

- Data moves in `CHUNK_SIZE` pieces; nothing holds a whole blob. Past
  `PIPELINE_THRESHOLD` the I/O is handed to a `BackgroundSink` worker thread so hashing
  and disk I/O overlap, and its queue bounds how much is in flight.
- What is hashed is exactly what is written: a chunk handed to the worker is immutable
  (`bytes`, or a copy of a buffer the serialiser may refill).
- A failed write is never lost: the worker's error reaches the caller as a
  `StorageError` at the next write or when the writer is checked.
- The writer only produces a temporary file and a digest; the store (`interface.py`)
  decides when the blob is finished and durable. No lock of any kind is held here.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
from collections.abc import Iterable
from typing import IO, Any

from registry_project.core.blobs.background_hash import BackgroundHasher
from registry_project.core.blobs.background_sink import BackgroundSink
from registry_project.core.blobs.layout import BlobInfo, ProgressCallback
from registry_project.core.errors import StorageError

CHUNK_SIZE = 1024 * 1024
# Past this many bytes, a write or read hands its I/O to a worker thread and keeps hashing
# (see background_sink); below it a thread costs more than it saves.
PIPELINE_THRESHOLD = 8 * 1024 * 1024


class BlobWriter:
    """A write-only, non-seekable binary stream that hashes what passes through it.

    It implements the part of the io protocol that pickle, joblib and pyarrow use. A
    serialiser may `close()` it (pyarrow does); that only stops further writes, because
    the store, not the serialiser, decides when the blob is finished. `info` is set once
    the blob is durable, i.e. after the `with store.writer()` block exits normally; with
    `writer(defer_durability=True)` it is set at that exit while the store makes the bytes
    durable in the background, and `wait_durable()` blocks until it has.
    """

    mode = "wb"

    def __init__(
        self,
        sink: IO[bytes],
        on_bytes: ProgressCallback | None,
        sync_every: int | None = None,
    ) -> None:
        self._sink = sink
        self._sync_every = sync_every
        self._background: BackgroundSink | None = None
        self._hasher: BackgroundHasher | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._on_bytes = on_bytes
        self._closed = False
        self._durable: concurrent.futures.Future[None] | None = None
        self.info: BlobInfo | None = None

    def wait_durable(self) -> None:
        """Return once the blob is durable under its digest; raise `StorageError` if storing
        it failed. A record may point at the blob only after this returned."""
        if self._durable is not None:
            self._durable.result()

    def write(self, data: Any) -> int:
        if self._closed:
            raise ValueError("write to a closed blob writer")
        with memoryview(data) as raw, raw.cast("B") as view:
            count = len(view)
            if self._background is None and self._size + count > PIPELINE_THRESHOLD:
                # From here on this thread only hands chunks over: one worker hashes them
                # (continuing the hash of what came before), another writes them.
                self._background = BackgroundSink(self._sink, self._sync_every)
                self._hasher = BackgroundHasher(self._hash)
            try:
                if self._background is not None:
                    self._hand_over(data, view)
                else:
                    self._sink.write(view)
                    self._hash.update(view)
            except OSError as exc:
                raise temporary_write_error(exc) from exc
        self._size += count
        if self._on_bytes is not None:
            self._on_bytes(count)
        return count

    def _hand_over(self, data: Any, view: memoryview) -> None:
        """Queue `view` for the worker in CHUNK_SIZE pieces, so the queue bounds memory
        however large one write is (pickle hands over whole array buffers)."""
        # The workers hash and write later, so they need bytes that cannot change
        # meanwhile: a serialiser may reuse its buffer. `bytes` are immutable and are not
        # copied. Both workers get the same chunk, so what is hashed is what is written.
        assert self._background is not None and self._hasher is not None
        immutable = memoryview(data) if type(data) is bytes else None
        for start in range(0, len(view), CHUNK_SIZE):
            end = start + CHUNK_SIZE
            chunk = immutable[start:end] if immutable is not None else view[start:end].tobytes()
            self._background.write(chunk)
            self._hasher.update(chunk)

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self._closed and self._background is None:
            self._sink.flush()  # with a worker writing, the store flushes at the end

    def tell(self) -> int:
        return self._size

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation("a blob writer has no file descriptor")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def _seal(self) -> BlobInfo:
        """Stop accepting bytes and report what was written (not yet durable). Never raises:
        it also runs when the block failed; `_check_written` reports a failed write."""
        self._closed = True
        if self._background is not None:
            self._background.abandon()
        if self._hasher is not None:
            self._hasher.abandon()  # every chunk handed over is hashed before it returns
        return BlobInfo(self._hash.hexdigest(), self._size)

    def _check_written(self) -> None:
        """Raise if a worker thread failed to hash or write some of the bytes."""
        if self._hasher is not None:
            self._hasher.finish()  # raises the hashing thread's error, if it had one
        if self._background is not None:
            try:
                self._background.close()
            except OSError as exc:
                raise temporary_write_error(exc) from exc


def temporary_write_error(exc: OSError) -> StorageError:
    return StorageError(
        f"writing a blob to temporary storage failed: {exc}. Free some disk space or fix "
        "permissions, then retry."
    )


def hash_stream(
    source: IO[bytes], sink: IO[bytes] | None, on_bytes: ProgressCallback | None
) -> BlobInfo:
    """Copy `source` to `sink` (or nowhere) chunk by chunk, hashing on the way; past
    `PIPELINE_THRESHOLD` a copy's reading, hashing and writing run on three threads, so a
    verified copy runs at the speed of the hash alone.

    Without a sink the bytes are hashed here as they are read, as `hashlib` would: reading
    from the page cache costs a fraction of the hash, and handing each chunk to a worker
    on the other core cost more than it overlapped (benchmarks W5 "load", 256 MiB, on a
    2-core VM: 1213 MB/s with the worker, 1571 inline, hashlib's own loop 1571)."""
    digest = hashlib.sha256()
    size = 0
    hasher: BackgroundHasher | None = None
    background: BackgroundSink | None = None
    try:
        while chunk := source.read(CHUNK_SIZE):
            size += len(chunk)
            if hasher is None and sink is not None and size > PIPELINE_THRESHOLD:
                hasher = BackgroundHasher(digest)
                background = BackgroundSink(sink)
            if hasher is not None:
                chunk = bytes(chunk)  # immutable for the workers; no copy for bytes
                if background is not None:
                    background.write(chunk)
                hasher.update(chunk)
            else:
                if sink is not None:
                    sink.write(chunk)
                digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
        if background is not None:
            background.close()
        if hasher is not None:
            hasher.finish()
    finally:
        if background is not None:
            background.abandon()
        if hasher is not None:
            hasher.abandon()
    return BlobInfo(digest.hexdigest(), size)
