"""Write a stream's chunks on a worker thread, so hashing and disk I/O overlap.

Moving a large artifact costs a SHA-256 pass and a write; done one after the other in one
thread they add up, while hashlib and file writes both release the GIL and can run on
two cores at once. The caller hashes and hands each chunk over; the worker writes it and,
if asked, flushes to disk every `sync_every` bytes, so a 1 GiB blob reaches the disk while
it is still being hashed instead of all at once in the final fsync.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import IO, Final

_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has only fsync

# Chunks in flight: bounds the memory a fast producer can pile up ahead of a slow disk.
QUEUE_DEPTH: Final = 4
_DONE: Final = None


class BackgroundSink:
    """Writes chunks to `sink` in order, on its own thread (the caller must not change a
    chunk's bytes after handing it over).

    `write` raises the first error the worker met (later chunks are dropped, so the
    producer is never blocked on a dead worker); `close` drains the queue, stops the
    thread and raises that error if there was one. `abandon` stops it without raising.
    """

    def __init__(self, sink: IO[bytes], sync_every: int | None = None) -> None:
        self._sink = sink
        self._sync_every = sync_every
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="registry-background-sink", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        unsynced = 0
        while (chunk := self._queue.get()) is not _DONE:
            if self._error is not None:
                continue  # keep draining so the producer's put() never blocks forever
            try:
                self._sink.write(chunk)
                unsynced += len(chunk)
                if self._sync_every is not None and unsynced >= self._sync_every:
                    self._sink.flush()
                    _fdatasync(self._sink.fileno())
                    unsynced = 0
            except BaseException as exc:  # reported to the producer, never lost
                self._error = exc

    def write(self, chunk: bytes | memoryview) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def close(self) -> None:
        """Wait until every chunk is written; raise the worker's error, if any."""
        self.abandon()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        """Stop the worker after what is queued (used on the error path: never raises)."""
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()
