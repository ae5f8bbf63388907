"""The worker threads that hash and write large blobs while the caller reads them."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from registry_project.core.blobs import background_hash, background_sink
from registry_project.core.blobs.background_hash import BackgroundHasher
from registry_project.core.blobs.background_sink import QUEUE_DEPTH, BackgroundSink


def test_chunks_are_written_in_order_and_synced_on_the_way(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    chunks = [os.urandom(1000 + n) for n in range(50)]
    with open(path, "wb") as sink:
        background = BackgroundSink(sink, sync_every=10_000)
        for chunk in chunks:
            background.write(chunk)
        background.close()
    assert path.read_bytes() == b"".join(chunks)


def test_a_failed_write_reaches_the_producer_who_is_never_blocked(tmp_path: Path) -> None:
    sink = open(tmp_path / "out.bin", "wb")  # noqa: SIM115 - closed under the worker below
    background = BackgroundSink(sink)
    sink.close()  # the worker's next write fails, as on a vanished disk
    # Far more chunks than the queue holds: after the failure the worker keeps draining,
    # so put() never waits on a dead consumer (this loop would hang otherwise). The error
    # surfaces on a later write or, at the latest, on close.
    with pytest.raises(ValueError, match="closed file"):
        for _ in range(QUEUE_DEPTH * 10):
            background.write(b"x" * 1024)
        background.close()
    background.abandon()  # idempotent, never raises


def test_a_slow_disk_flush_does_not_stop_the_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The periodic writeback call runs on its own thread: while one is stuck, chunks keep
    # being written (with the flush on the writer thread, the queue filled and the
    # producer blocked here until the disk caught up).
    flushing, release = threading.Event(), threading.Event()
    synced: list[int] = []

    def slow_fdatasync(descriptor: int) -> None:
        flushing.set()
        release.wait(timeout=30)
        synced.append(descriptor)

    # Both kinds of periodic call (requests merged while one runs may become a flush).
    monkeypatch.setattr(background_sink, "_start_writeback", slow_fdatasync)
    monkeypatch.setattr(background_sink, "_fdatasync", slow_fdatasync)
    path = tmp_path / "out.bin"
    chunks = [os.urandom(1000) for _ in range(QUEUE_DEPTH * 20)]
    with open(path, "wb") as sink:
        background = BackgroundSink(sink, sync_every=1000)
        producer = threading.Thread(target=lambda: [background.write(c) for c in chunks])
        producer.start()
        assert flushing.wait(timeout=10)
        producer.join(timeout=10)
        assert not producer.is_alive(), "the producer waited for the disk flush"
        release.set()
        background.close()
    assert path.read_bytes() == b"".join(chunks)
    assert synced  # flushed on the way, not only at the end


def test_a_failed_disk_flush_reaches_the_producer(tmp_path: Path) -> None:
    # sync_file_range (ESPIPE) and fdatasync (EINVAL) refuse a pipe, as a bad disk would.
    read_end, write_end = os.pipe()
    try:
        with open(write_end, "wb") as sink:
            background = BackgroundSink(sink, sync_every=100)
            with pytest.raises(OSError):
                for _ in range(20):  # 2 KB: stays within the pipe's buffer
                    background.write(b"x" * 100)
                    time.sleep(0.01)
                background.close()
            background.abandon()
    finally:
        os.close(read_end)


def test_every_few_writeback_calls_one_is_a_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writeback alone let a disk's (or a VM host's) write cache fill with the whole blob,
    # and the final fsync waited for all of it: every FLUSH_EVERY-th call empties it.
    calls: list[str] = []
    monkeypatch.setattr(background_sink, "_start_writeback", lambda fd: calls.append("w"))
    monkeypatch.setattr(background_sink, "_fdatasync", lambda fd: calls.append("f"))
    with open(tmp_path / "out.bin", "wb") as sink:
        background = BackgroundSink(sink, sync_every=1000)
        for written in range(1, background_sink.FLUSH_EVERY * 3 + 1):
            background.write(b"x" * 1000)  # one request each
            deadline = time.monotonic() + 10
            while len(calls) < written and time.monotonic() < deadline:
                time.sleep(0.001)  # one request at a time: none is merged into another
        background.close()
    assert calls == (["w"] * (background_sink.FLUSH_EVERY - 1) + ["f"]) * 3


@pytest.mark.skipif(sys.platform != "linux", reason="sync_file_range is Linux's")
def test_writeback_is_started_without_a_disk_cache_flush_on_linux(tmp_path: Path) -> None:
    # Most periodic calls only start writeback (the store's fsync makes the blob durable):
    # an fdatasync flushes the disk's cache and leaves the disk idle while it waits.
    assert background_sink._writeback_function() is not background_sink._fdatasync
    with open(tmp_path / "out.bin", "wb") as sink:
        sink.write(b"x" * 100_000)
        sink.flush()
        background_sink._start_writeback(sink.fileno())


def test_chunks_are_hashed_in_order_after_what_the_caller_hashed() -> None:
    chunks = [os.urandom(3000 + n) for n in range(background_hash.QUEUE_DEPTH * 5)]
    digest = hashlib.sha256(b"prefix hashed by the caller")
    hasher = BackgroundHasher(digest)
    for chunk in chunks:
        hasher.update(memoryview(chunk))
    assert hasher.finish() is digest
    expected = hashlib.sha256(b"prefix hashed by the caller" + b"".join(chunks))
    assert digest.hexdigest() == expected.hexdigest()
    hasher.abandon()  # idempotent once finished


def test_a_failed_hash_reaches_the_producer_who_is_never_blocked() -> None:
    class Failing:
        def update(self, chunk: bytes) -> None:
            raise MemoryError("no room to hash")

    hasher = BackgroundHasher(Failing())
    # Far more chunks than the queue holds: after the failure the worker keeps draining,
    # so put() never waits on a dead consumer; the error surfaces on a later update or,
    # at the latest, on finish.
    with pytest.raises(MemoryError, match="no room"):
        for _ in range(background_hash.QUEUE_DEPTH * 10):
            hasher.update(b"x" * 4096)
        hasher.finish()
    hasher.abandon()  # never raises
