"""Hash a stream's chunks on a worker thread, so the producer's own reads overlap the SHA-256.

Moving a large blob costs a read (or a serialiser's work), a SHA-256 pass and a write.
SHA-256 is the slowest of the three (~1.6 GB/s on one core with SHA-NI, against several
GB/s for a copy out of the page cache), so the thread that hashes should do nothing else:
with the hash on the producer's thread, every read or `save` call waited for it, and a
verified read ran at the speed of read + hash, not of the hash. hashlib releases the GIL
while it hashes a buffer larger than 2047 bytes, so this thread runs on its own core
beside the producer and the `BackgroundSink` writer.

Invariants it keeps: chunks are hashed in the order they were handed over, into the one
hash object the caller gave (which may already hold a prefix hashed in the caller's
thread; the caller must not touch it again until `finish` returned); at most
`QUEUE_DEPTH` chunks wait, so a fast producer cannot pile up a blob in memory; the caller
must not change a chunk's bytes after handing it over (what is hashed is what the sink
writes: both get the same immutable chunk); an error in the worker is never lost (it is
raised by the next `update` or by `finish`), and a failed worker never blocks the producer.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Final

# Chunks in flight: bounds the memory held ahead of the hashing thread. The chunks are
# the ones the sink's queue holds too, so both together hold about this many.
QUEUE_DEPTH: Final = 8
_DONE: Final = None


class BackgroundHasher:
    """Feeds chunks into `digest` (a hashlib object) in order, on its own thread."""

    def __init__(self, digest: Any) -> None:
        self._digest = digest
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="registry-blob-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        update = self._digest.update
        while (chunk := self._queue.get()) is not _DONE:
            if self._error is not None:
                continue  # keep draining so the producer's put() never blocks forever
            try:
                update(chunk)
            except BaseException as exc:  # reported to the producer, never lost
                self._error = exc

    def update(self, chunk: bytes | memoryview) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def finish(self) -> Any:
        """Wait until every chunk is hashed; the hash object, or the worker's first error."""
        self.abandon()
        if self._error is not None:
            raise self._error
        return self._digest

    def abandon(self) -> None:
        """Stop the worker after what is queued (the error path: never raises)."""
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()
