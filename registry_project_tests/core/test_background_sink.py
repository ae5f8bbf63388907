"""The worker thread that writes large blobs while the caller hashes them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from registry_project.core.background_sink import QUEUE_DEPTH, BackgroundSink


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
