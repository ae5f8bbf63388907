"""Large local blobs read in place: hashed whole, handed over without a copy, refused if the
file is written into while it is read (`open_verified(in_place=True)`, issue #18 W5).

Only for readers that run no code from the bytes: a dataset's parquet and flavors that are
not pickle-based. A pickle-based flavor still loads from a verified copy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pytest

from registry_project import ModelRegistry
from registry_project.core import errors, flavors
from registry_project.core.blobs import SPOOL_MAX_IN_MEMORY, LocalBlobStore, open_blob_store

LARGE = SPOOL_MAX_IN_MEMORY + 3 * 1024 * 1024 + 17  # past the in-memory spool


def _large_blob(store: LocalBlobStore) -> tuple[str, bytes]:
    data = os.urandom(LARGE)
    return store.put_bytes(data).digest, data


def test_a_large_local_blob_is_the_stored_file_itself(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "artifacts"))
    assert isinstance(store, LocalBlobStore)
    digest, data = _large_blob(store)
    seen: list[int] = []
    with store.open_verified(digest, seen.append, in_place=True) as stream:
        assert Path(stream.name) == store._path(digest)  # no copy was written
        assert stream.read() == data
    assert sum(seen) == LARGE  # the hash pass reported its progress
    with store.open_verified(digest) as copy:  # without in_place: the copy, as before
        assert getattr(copy, "name", None) != str(store._path(digest))
        assert copy.read() == data


def test_a_small_blob_in_place_is_still_an_in_memory_copy(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "artifacts"))
    digest = store.put_bytes(b"small").digest
    with store.open_verified(digest, in_place=True) as stream:
        assert not isinstance(getattr(stream, "name", None), str)
        assert stream.read() == b"small"


def test_a_corrupt_large_blob_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "artifacts"))
    digest, _ = _large_blob(store)
    path = store._path(digest)
    with open(path, "r+b") as blob:  # one byte flipped (a fixed one might already be there)
        blob.seek(LARGE - 5)
        byte = blob.read(1)[0]
        blob.seek(LARGE - 5)
        blob.write(bytes([byte ^ 0xFF]))
    reached = False
    with (
        pytest.raises(errors.IntegrityCheckError, match="corrupt"),
        store.open_verified(digest, in_place=True),
    ):
        reached = True
    assert not reached


_WRITE_INTO = """
import sys
with open(sys.argv[1], "r+b") as blob:
    blob.seek(int(sys.argv[2]))
    blob.write(b"evil")
"""


def test_a_blob_written_into_by_another_process_while_read_is_refused(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "artifacts"))
    digest, _ = _large_blob(store)
    path = store._path(digest)
    with (
        pytest.raises(errors.IntegrityCheckError, match="written to while it was read"),
        store.open_verified(digest, in_place=True) as stream,
    ):
        stream.read(1024)
        subprocess.run([sys.executable, "-c", _WRITE_INTO, str(path), "4096"], check=True)
        stream.read()


def test_the_stores_own_rewrite_and_gc_during_a_read_are_no_error(tmp_path: Path) -> None:
    """A write of the same bytes renames a new file over the blob, and a deletion unlinks
    it: the descriptor being read keeps the bytes that were hashed."""
    store = open_blob_store(str(tmp_path / "artifacts"))
    assert isinstance(store, LocalBlobStore)
    digest, data = _large_blob(store)
    with store.open_verified(digest, in_place=True) as stream:
        head = stream.read(1024)
        assert store.put_bytes(data).digest == digest  # renamed over the file being read
        rest = stream.read()
    assert head + rest == data
    with store.open_verified(digest, in_place=True) as stream:
        assert store.delete(digest)
        assert stream.read() == data


def test_s3_ignores_in_place_and_copies(s3_server: str, s3_bucket: str) -> None:
    store = open_blob_store(f"s3://{s3_bucket}/p", s3_endpoint_url=s3_server)
    data = os.urandom(LARGE)
    digest = store.put_bytes(data).digest
    with store.open_verified(digest, in_place=True) as stream:
        assert stream.read() == data


class _StreamName(flavors.Flavor):
    """Loads as the name of the stream it was given (a test of which stream that is)."""

    name = "test-stream-name"
    pickle_based = False

    def can_handle(self, obj: object) -> bool:
        return False

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        fileobj.write(obj)  # type: ignore[arg-type]

    def load(self, fileobj: BinaryIO) -> object:
        return getattr(fileobj, "name", None)


class _PickledStreamName(_StreamName):
    name = "test-pickled-stream-name"
    pickle_based = True


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    flavors.register_flavor(_StreamName(), replace=True)
    flavors.register_flavor(_PickledStreamName(), replace=True)
    opened = ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "artifacts"))
    yield opened
    opened.close()


def test_load_model_reads_in_place_unless_the_flavor_is_pickle_based(
    registry: ModelRegistry,
) -> None:
    data = os.urandom(LARGE)
    plain = registry.register_model("plain", data, flavor=_StreamName())
    pickled = registry.register_model("pickled", data, flavor=_PickledStreamName())
    blob_path = str(registry.blobs._path(plain.artifact_digest))  # type: ignore[attr-defined]
    assert registry.load_model(plain) == blob_path
    assert registry.load_model(pickled) != blob_path  # a pickle loads from its copy


def test_a_large_dataset_loads_in_place_and_whole(registry: ModelRegistry) -> None:
    random = np.random.default_rng(7)  # incompressible: past the spool as parquet too
    frame = pd.DataFrame({"x": random.random(2_500_000), "n": random.integers(0, 10, 2_500_000)})
    snap = registry.snapshot_dataset("big", frame)
    assert snap.size_bytes > SPOOL_MAX_IN_MEMORY  # the in-place path, not the spool
    pd.testing.assert_frame_equal(registry.load_dataset(snap), frame)
