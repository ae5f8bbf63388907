"""Write a stream's chunks on a worker thread, so hashing and disk I/O overlap.

Moving a large artifact costs a SHA-256 pass and a write; done one after the other in one
thread they add up, while hashlib and file writes both release the GIL and can run on
two cores at once. The caller hashes and hands each chunk over; the worker writes it and,
if asked, has the kernel start writing what it wrote so far out to disk every `sync_every`
bytes, so a 1 GiB blob reaches the disk while it is still being hashed instead of all at
once in the final fsync. On Linux that is `sync_file_range(SYNC_FILE_RANGE_WRITE)`: it
queues the dirty pages for writeback without waiting for them or flushing the disk's
cache, so the disk keeps busy. Every `FLUSH_EVERY`-th of those calls is an fdatasync
instead, which also empties the disk's (or a VM host's) write cache: with writeback
started alone, that cache filled with the whole blob and the final fsync waited up to a
second for it at 1 GiB; with only an fdatasync every 64 MiB the disk sat idle during each
one. Elsewhere than Linux every call is an fdatasync. These calls run on a third thread:
done by the worker itself, each one that blocked stopped the writing (and, once the queue
filled, the hashing) until the disk caught up.

Invariants it keeps: chunks are written in the order they were handed over; at most
`QUEUE_DEPTH` chunks wait in the queue, so a fast producer cannot pile up a blob ahead of a
slow disk; the first error of the worker or the syncer is never lost (it reaches the
producer at its next `write` or at `close`), and a failed worker never blocks the producer.
The periodic syncs only shorten the final fsync, which the store still makes
(`local.py`) before the rename: they are not what makes a blob durable.
"""

from __future__ import annotations

import ctypes
import functools
import os
import queue
import threading
from collections.abc import Callable
from typing import IO, Final

_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has only fsync
_SYNC_FILE_RANGE_WRITE: Final = 2  # <linux/fs.h>

# Chunks in flight: bounds the memory a fast producer can pile up ahead of a slow disk.
# Deep enough (8 MiB of 1 MiB chunks) that a worker woken late on a busy machine still
# finds work queued instead of leaving the others waiting; shallower, it stalled them.
QUEUE_DEPTH: Final = 8
_DONE: Final = None
# Of the periodic writeback calls, every this many is an fdatasync (see above). Measured
# with sync_every = 8 MiB (W5, 256 MiB and 1 GiB): a flush every 32 MiB beat none and
# beat an fdatasync alone every 32 or 64 MiB, with the shortest and steadiest final fsync.
FLUSH_EVERY: Final = 4


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
        self._syncer = _Syncer(sink.fileno()) if sync_every is not None else None
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="registry-background-sink", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        unsynced = 0
        requests = 0
        while (chunk := self._queue.get()) is not _DONE:
            if self._error is not None:
                continue  # keep draining so the producer's put() never blocks forever
            try:
                self._sink.write(chunk)
                unsynced += len(chunk)
                if self._syncer is not None and unsynced >= (self._sync_every or 0):
                    self._sink.flush()  # into the kernel, where the syncer's call sees it
                    requests += 1
                    self._syncer.request(flush=requests % FLUSH_EVERY == 0)
                    unsynced = 0
            except BaseException as exc:  # reported to the producer, never lost
                self._error = exc

    def write(self, chunk: bytes | memoryview) -> None:
        error = self._first_error()
        if error is not None:
            raise error
        self._queue.put(chunk)

    def close(self) -> None:
        """Wait until every chunk is written; raise the first error, if any."""
        self.abandon()
        error = self._first_error()
        if error is not None:
            raise error

    def abandon(self) -> None:
        """Stop the worker after what is queued (used on the error path: never raises)."""
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()
        if self._syncer is not None:
            self._syncer.stop()

    def _first_error(self) -> BaseException | None:
        if self._error is not None:
            return self._error
        return self._syncer.error if self._syncer is not None else None


class _Syncer:
    """Starts writeback of a file descriptor's dirty pages on request (`_start_writeback`),
    or fdatasyncs it when asked to flush, on its own thread. Requests made while one runs
    are merged into one more call after it (which covers everything written; a flush if
    any of them asked for one)."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._requested = threading.Event()
        self._flush = False
        self._flush_lock = threading.Lock()  # a flush request is never lost in a merge
        self._stopping = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="registry-background-sync", daemon=True
        )
        self._thread.start()

    def request(self, *, flush: bool = False) -> None:
        if flush:
            with self._flush_lock:
                self._flush = True
        self._requested.set()

    def stop(self) -> None:
        """Let a running sync finish, then end the thread (the store fsyncs at the end)."""
        if self._thread.is_alive():
            self._stopping = True
            self._requested.set()
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._requested.wait()
            self._requested.clear()
            if self._stopping:
                return
            with self._flush_lock:
                flush, self._flush = self._flush, False
            if self.error is None:
                try:
                    if flush:
                        _fdatasync(self._descriptor)
                    else:
                        _start_writeback(self._descriptor)
                except BaseException as exc:  # reported through the sink, never lost
                    self.error = exc


def _start_writeback(descriptor: int) -> None:
    """Have the kernel start writing the file's dirty pages to disk (not a durability
    step: the store's fsync before the rename is)."""
    _writeback_function()(descriptor)


@functools.cache
def _writeback_function() -> Callable[[int], None]:
    """`sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)` where the C library has it
    (Linux; Python's os module does not wrap it), else `fdatasync`."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (AttributeError, OSError):  # not Linux, or no C library to look in
        return _fdatasync
    call.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    call.restype = ctypes.c_int

    def sync_file_range(descriptor: int) -> None:
        # ctypes releases the GIL for the call, as os.fdatasync does.
        if call(descriptor, 0, 0, _SYNC_FILE_RANGE_WRITE) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    return sync_file_range
