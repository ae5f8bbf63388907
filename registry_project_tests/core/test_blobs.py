"""The content-addressed blob store on local disk and on S3 (moto over real HTTP)."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import socket
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import joblib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from registry_project.core import errors
from registry_project.core.blobs import (
    CHUNK_SIZE,
    PIPELINE_THRESHOLD,
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    open_blob_store,
)
from registry_project_tests.core.s3_server import FAKE_CREDENTIALS

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return open_blob_store(str(tmp_path / "artifacts"))
    endpoint = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return open_blob_store(f"s3://{bucket}/prefix", s3_endpoint_url=endpoint)


def _client(store: S3BlobStore) -> Any:
    return boto3.client("s3", endpoint_url=store.endpoint_url)


def _key(store: S3BlobStore, digest: str) -> str:
    return store.uri_for(digest).removeprefix(f"s3://{store.bucket}/")


def _stored_objects(store: BlobStore) -> list[str]:
    """Everything the store has put anywhere (blobs and leftovers), as names."""
    if isinstance(store, S3BlobStore):
        listing = _client(store).list_objects_v2(Bucket=store.bucket)
        return [item["Key"] for item in listing.get("Contents", [])]
    assert isinstance(store, LocalBlobStore)
    return [str(p) for p in store.root.rglob("*") if p.is_file()]


def _flip_a_byte(store: BlobStore, digest: str, at: int = 0) -> None:
    if isinstance(store, S3BlobStore):
        client, key = _client(store), _key(store, digest)
        data = bytearray(client.get_object(Bucket=store.bucket, Key=key)["Body"].read())
        data[at] ^= 1
        client.put_object(Bucket=store.bucket, Key=key, Body=bytes(data))
    else:
        path = Path(store.uri_for(digest))
        data = bytearray(path.read_bytes())
        data[at] ^= 1
        path.write_bytes(bytes(data))


# --- writing ---------------------------------------------------------------------------


def test_identical_bytes_are_stored_once(store: BlobStore) -> None:
    uploads: list[str] = []
    if isinstance(store, S3BlobStore):  # the second write must not even upload
        store._client.meta.events.register(
            "before-call.s3.PutObject", lambda **kwargs: uploads.append("put")
        )
    first = store.put_bytes(b"hello")
    second = store.put_bytes(b"hello")
    assert first == second
    assert first.digest == hashlib.sha256(b"hello").hexdigest() and first.size == 5
    assert list(store.iter_digests()) == [first.digest]
    assert len(_stored_objects(store)) == 1
    assert store.read_bytes(first.digest) == b"hello"
    assert store.size(first.digest) == 5 and store.exists(first.digest)
    if isinstance(store, S3BlobStore):
        assert uploads == ["put"]


def test_layout_is_sha256_fanout(store: BlobStore) -> None:
    digest = store.put_bytes(b"layout").digest
    tail = f"blobs/sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    if isinstance(store, S3BlobStore):
        assert store.uri_for(digest) == f"s3://{store.bucket}/prefix/{tail}"
        assert store.root_uri == f"s3://{store.bucket}/prefix"
    else:
        assert store.uri_for(digest) == f"{store.root_uri}/{tail}"
        assert Path(store.uri_for(digest)).is_absolute()
    assert _stored_objects(store)[0].endswith(tail)


def test_concurrent_writers_of_the_same_bytes_store_one_blob(store: BlobStore) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        infos = set(pool.map(lambda _: store.put_bytes(b"same model" * 1000), range(16)))
    assert len(infos) == 1
    assert len(_stored_objects(store)) == 1


@pytest.mark.parametrize("size", [1000, LocalBlobStore.defer_max_bytes + 1])
def test_a_deferred_write_defers_only_a_small_blob(tmp_path: Path, size: int) -> None:
    # With defer_durability, a small blob's fsync and rename run in the background and
    # their failure is raised by wait_durable(); a larger one's run before the block exits
    # (a transaction waits for the background step, so it must be short). A file where
    # the blob's fan-out directory must go makes the rename fail for real.
    store = LocalBlobStore(tmp_path / "artifacts")
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    obstacle = store.root / "blobs" / "sha256" / digest[:2]
    obstacle.parent.mkdir(parents=True, exist_ok=True)
    obstacle.write_bytes(b"in the way")

    def write() -> Any:
        with store.writer(defer_durability=True) as writer:
            writer.write(data)
        return writer

    if size <= store.defer_max_bytes:
        writer = write()
        assert writer.info.digest == digest
        with pytest.raises(errors.StorageError, match=digest):
            writer.wait_durable()
    else:
        with pytest.raises(errors.StorageError, match=digest):
            write()
    assert list((store.root / "tmp").iterdir()) == []
    obstacle.unlink()
    writer = write()
    writer.wait_durable()
    assert store.read_bytes(digest) == data


def test_writer_aborted_by_an_exception_stores_nothing(
    store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_dir = tmp_path / "spool"  # where the S3 writer spools; must be left empty
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    with pytest.raises(RuntimeError, match="serialiser crashed"), store.writer() as writer:
        writer.write(b"partial")
        raise RuntimeError("serialiser crashed")
    assert writer.info is None and writer.closed
    assert list(store.iter_digests()) == []
    assert _stored_objects(store) == []
    assert list(spool_dir.iterdir()) == []


def test_writer_is_closed_after_the_block_and_temp_data_is_gone(
    store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    with store.writer() as writer:
        assert writer.writable() and not writer.seekable() and not writer.closed
        writer.write(b"abc")
        writer.write(memoryview(b"def"))
        writer.flush()
        assert writer.tell() == 6
    assert writer.closed and writer.info is not None and writer.info.size == 6
    with pytest.raises(ValueError):
        writer.write(b"too late")
    assert store.read_bytes(writer.info.digest) == b"abcdef"
    assert len(_stored_objects(store)) == 1
    assert list(spool_dir.iterdir()) == []


def test_serialisers_accept_the_writer(store: BlobStore) -> None:
    array = np.arange(200_000, dtype=np.float64)
    table = pa.table({"x": list(range(1000)), "y": ["a"] * 1000})

    with store.writer() as out:
        pickle.dump({"w": [1, 2, 3]}, out, protocol=5)
    assert out.info is not None
    with store.open_verified(out.info.digest) as stream:
        assert pickle.load(stream) == {"w": [1, 2, 3]}

    with store.writer() as out:
        joblib.dump({"a": array, "strided": array[::3]}, out)
    assert out.info is not None and out.info.size == out.tell()
    with store.open_verified(out.info.digest) as stream:
        loaded = joblib.load(stream)
    assert np.array_equal(loaded["a"], array) and np.array_equal(loaded["strided"], array[::3])

    with store.writer() as out:
        pq.write_table(table, out)
    assert out.info is not None
    with store.open_verified(out.info.digest) as stream:
        assert pq.read_table(stream).equals(table)


def test_put_file_streams_in_chunks_and_reports_progress(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(3 * MiB + 123))
    written: list[int] = []
    info = store.put_file(source, on_bytes=written.append)
    assert info.digest == hashlib.sha256(source.read_bytes()).hexdigest()
    assert sum(written) == info.size == 3 * MiB + 123
    assert max(written) <= CHUNK_SIZE and len(written) == 4
    read: list[int] = []
    with store.open_verified(info.digest, on_bytes=read.append) as stream:
        assert stream.read() == source.read_bytes()
    assert sum(read) == info.size and max(read) <= CHUNK_SIZE


def test_large_blob_streams_without_holding_it_in_memory(store: BlobStore) -> None:
    block = os.urandom(MiB)
    expected = hashlib.sha256()
    tracemalloc.start()
    try:
        with store.writer() as writer:
            for number in range(50):  # every chunk distinct, so order matters
                chunk = number.to_bytes(8, "big") + block[8:]
                writer.write(chunk)
                expected.update(chunk)
        assert writer.info is not None and writer.info.digest == expected.hexdigest()
        actual = hashlib.sha256()
        with store.open_verified(writer.info.digest) as stream:
            assert stream._rolled, "a 50 MiB spool must roll over to a file on disk"
            assert stream.tell() == 0
            while data := stream.read(MiB):
                actual.update(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert actual.hexdigest() == writer.info.digest
    assert writer.info.size == 50 * MiB == store.size(writer.info.digest)
    if isinstance(store, S3BlobStore):
        head = _client(store).head_object(Bucket=store.bucket, Key=_key(store, writer.info.digest))
        assert "-" in head["ETag"], "a 50 MiB blob should go up as a multipart upload"
    else:
        # (moto's S3 server runs in this process and keeps objects in memory, so the
        # measurement is only meaningful for the local store. The read spool may hold up to
        # 16 MiB before it rolls over to disk; the whole blob would be 50.)
        assert peak < 40 * MiB, f"peak Python allocations {peak} bytes"


def test_a_reused_serialiser_buffer_is_stored_as_it_was_when_written(store: BlobStore) -> None:
    # Past PIPELINE_THRESHOLD a worker thread writes while the caller hashes. Serialisers
    # refill one buffer between writes: what is stored must be each write's bytes at the
    # time of the call, not whatever the buffer holds when the worker gets to it.
    buffer = bytearray(MiB)
    expected = hashlib.sha256()
    with store.writer() as writer:
        for number in range(PIPELINE_THRESHOLD // MiB + 8):
            buffer[:] = number.to_bytes(1, "big") * MiB
            writer.write(buffer)
            expected.update(buffer)
    assert writer.info is not None and writer.info.digest == expected.hexdigest()
    assert store.check(writer.info.digest) is None  # re-read from storage and re-hashed


def test_one_huge_write_is_handed_over_in_bounded_pieces(tmp_path: Path) -> None:
    # pickle hands a whole array buffer to one write(); copying it at once would double
    # the memory a large model needs.
    data = bytearray(os.urandom(48 * MiB))
    store = LocalBlobStore(tmp_path)
    tracemalloc.start()
    try:
        with store.writer() as writer:
            writer.write(b"header")
            writer.write(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert writer.info is not None
    assert writer.info.digest == hashlib.sha256(b"header" + data).hexdigest()
    assert Path(store.uri_for(writer.info.digest)).read_bytes() == b"header" + data
    assert peak < 16 * MiB, f"peak Python allocations {peak} bytes for a 48 MiB write"


def test_a_large_download_is_written_whole_and_verified(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(PIPELINE_THRESHOLD + 5 * MiB + 7))
    info = store.put_file(source)
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    assert store.download_verified(info.digest, target) == info
    assert target.read_bytes() == source.read_bytes()


# --- integrity -------------------------------------------------------------------------


def test_a_flipped_byte_is_caught_before_anything_is_yielded(store: BlobStore) -> None:
    info = store.put_bytes(b"important model bytes")
    assert store.check(info.digest) is None
    _flip_a_byte(store, info.digest)
    with (
        pytest.raises(errors.IntegrityCheckError, match=info.digest) as caught,
        store.open_verified(info.digest),
    ):
        pytest.fail("corrupt bytes must never be handed out")
    assert "registry verify" in str(caught.value)
    with pytest.raises(errors.IntegrityCheckError):
        store.read_bytes(info.digest)
    assert store.check(info.digest) == "corrupt"


def test_a_flipped_byte_deep_in_a_large_blob_is_caught(store: BlobStore, tmp_path: Path) -> None:
    # Past PIPELINE_THRESHOLD the reading thread only reads: worker threads hash and write.
    # A byte flipped in that part must still fail every read, and leave no file behind.
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(PIPELINE_THRESHOLD + 4 * MiB))
    info = store.put_file(source)
    _flip_a_byte(store, info.digest, at=PIPELINE_THRESHOLD + 2 * MiB + 3)
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    with pytest.raises(errors.IntegrityCheckError, match=info.digest):
        store.download_verified(info.digest, target)
    assert list(target.parent.iterdir()) == []  # neither the target nor its partial file
    with (
        pytest.raises(errors.IntegrityCheckError, match=info.digest),
        store.open_verified(info.digest),
    ):
        pytest.fail("corrupt bytes must never be handed out")
    assert store.check(info.digest) == "corrupt"


def test_missing_blobs(store: BlobStore) -> None:
    info = store.put_bytes(b"soon gone")
    assert store.delete(info.digest) is True
    assert store.delete(info.digest) is False
    assert not store.exists(info.digest)
    assert store.check(info.digest) == "missing"
    assert list(store.iter_digests()) == []
    with pytest.raises(errors.BlobNotFoundError, match=info.digest):
        store.read_bytes(info.digest)
    with pytest.raises(errors.BlobNotFoundError), store.open_verified(info.digest):
        pytest.fail("nothing to yield")
    with pytest.raises(errors.BlobNotFoundError):
        store.size(info.digest)


def test_iter_digests_lists_every_blob_and_ignores_strays(store: BlobStore) -> None:
    digests = {store.put_bytes(f"blob {n}".encode()).digest for n in range(5)}
    misplaced = "0" * 64  # a valid name in the wrong fan-out directory
    if isinstance(store, S3BlobStore):
        client = _client(store)
        for key in ("prefix/blobs/sha256/ab/cd/junk", f"prefix/blobs/sha256/11/11/{misplaced}"):
            client.put_object(Bucket=store.bucket, Key=key, Body=b"?")
        client.put_object(Bucket=store.bucket, Key="elsewhere/" + next(iter(digests)), Body=b"?")
    else:
        assert isinstance(store, LocalBlobStore)
        stray_dir = store.root / "blobs" / "sha256" / "11" / "11"
        stray_dir.mkdir(parents=True)
        (stray_dir / "junk").write_bytes(b"?")
        (stray_dir / misplaced).write_bytes(b"?")
    listed = list(store.iter_digests())
    assert sorted(listed) == sorted(digests) and len(listed) == 5
    assert listed == sorted(listed)


@pytest.mark.parametrize(
    "digest",
    ["../etc", "../../etc/passwd", "A" * 64, "abc", "", "g" * 64, "a" * 63 + "/", "a" * 64 + "\n"],
)
def test_invalid_digests_are_refused_everywhere(store: BlobStore, digest: str) -> None:
    for method in (store.exists, store.size, store.delete, store.check, store.read_bytes):
        with pytest.raises(errors.InvalidInputError):
            method(digest)
    with pytest.raises(errors.InvalidInputError):
        store.uri_for(digest)
    with pytest.raises(errors.InvalidInputError), store.open_verified(digest):
        pytest.fail("nothing to yield")


# --- leftovers -------------------------------------------------------------------------


def test_local_cleanup_removes_old_temp_files(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path))
    assert isinstance(store, LocalBlobStore)
    stale = store.root / "tmp" / "dead.part"
    stale.write_bytes(b"half a model")
    fresh = store.root / "tmp" / "live.part"
    fresh.write_bytes(b"being written")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert store.cleanup_temporary(timedelta(hours=1)) == 1
    assert not stale.exists() and fresh.exists()


def test_s3_cleanup_aborts_incomplete_multipart_uploads(s3_server: str, s3_bucket: str) -> None:
    store = open_blob_store(f"s3://{s3_bucket}/p", s3_endpoint_url=s3_server)
    client = boto3.client("s3", endpoint_url=s3_server)
    mine = "p/blobs/sha256/aa/bb/" + "a" * 64
    other = "p2/blobs/sha256/aa/bb/" + "a" * 64  # shares the string prefix "p", not ours
    for key in (mine, other):
        upload = client.create_multipart_upload(Bucket=s3_bucket, Key=key)
        client.upload_part(
            Bucket=s3_bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"x" * 1024,
        )
    # moto reports every upload as initiated in 2010, so only the local test can show that
    # young temporaries survive; here the point is what is aborted and what is not.
    assert store.cleanup_temporary(timedelta(hours=1)) == 1
    assert store.cleanup_temporary(timedelta(0)) == 0
    remaining = client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert [upload["Key"] for upload in remaining] == [other]


# --- opening ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "root",
    [
        "",
        "   ",
        "gs://bucket/x",
        "hdfs://nn/x",
        "s3://",
        "s3:///prefix",
        "s3://bad bucket/x",
        "file://otherhost/x",
        "file://",
    ],
)
def test_bad_roots_are_configuration_errors(root: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        open_blob_store(root)


def test_a_file_in_the_way_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("not a directory")
    with pytest.raises(errors.ConfigurationError, match="occupied"):
        open_blob_store(str(tmp_path / "occupied"))


def test_local_roots_as_paths_and_file_urls(tmp_path: Path) -> None:
    by_path = open_blob_store(str(tmp_path / "a"))
    by_url = open_blob_store((tmp_path / "a").as_uri())
    assert isinstance(by_path, LocalBlobStore) and isinstance(by_url, LocalBlobStore)
    assert by_path.root_uri == by_url.root_uri == str(tmp_path / "a")
    digest = by_path.put_bytes(b"shared").digest
    assert by_url.read_bytes(digest) == b"shared"


def test_s3_endpoint_comes_from_the_environment(
    s3_server: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_S3_ENDPOINT_URL", s3_server)
    store = open_blob_store(f"s3://{s3_bucket}")
    assert isinstance(store, S3BlobStore) and store.endpoint_url == s3_server
    assert store.root_uri == f"s3://{s3_bucket}"
    digest = store.put_bytes(b"no prefix").digest
    assert store.uri_for(digest).startswith(f"s3://{s3_bucket}/blobs/sha256/")
    assert store.read_bytes(digest) == b"no prefix"


def test_missing_s3_bucket_is_a_clear_error(s3_server: str) -> None:
    store = open_blob_store("s3://no-such-bucket/x", s3_endpoint_url=s3_server)
    with pytest.raises(errors.ConfigurationError, match="does not exist"):
        store.put_bytes(b"x")


def test_unreachable_s3_is_a_storage_error_without_secrets(
    s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (`s3_server` provides the fake credentials, so boto3 really tries to connect.)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = open_blob_store("s3://bucket/x", s3_endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(errors.StorageError, match=f"127.0.0.1:{port}") as caught:
        store.put_bytes(b"x")
    message = str(caught.value)
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert FAKE_CREDENTIALS[name] not in message


def test_writer_has_the_rest_of_the_file_protocol(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path))
    with store.writer() as out:
        assert out.readable() is False and out.isatty() is False
        with pytest.raises(io.UnsupportedOperation):
            out.fileno()
        out.writelines([b"a", b"b"])
    assert out.info is not None and store.read_bytes(out.info.digest) == b"ab"


def test_a_new_fan_out_directory_is_synced_in_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a power loss would undo cannot be shown without one; what can be shown is that
    # every directory entry a stored blob depends on was synced before the store returned:
    # the blob's own entry, the fan-out directory's entry in its parent, and the first
    # level's entry under blobs/sha256 when it was made just now. The fsyncs really run;
    # the spy only records which directories they synced.
    store = LocalBlobStore(tmp_path)
    real_fsync = os.fsync
    synced: list[Path] = []

    def recording_fsync(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    info = store.put_bytes(b"the first blob of a fresh store")
    blob = tmp_path / "blobs" / "sha256" / info.digest[:2] / info.digest[2:4] / info.digest
    assert blob.read_bytes() == b"the first blob of a fresh store"
    base = tmp_path / "blobs" / "sha256"
    assert {blob.parent, blob.parent.parent, base} <= set(synced)

    synced.clear()
    again = store.put_bytes(b"the first blob of a fresh store")  # its directories exist now
    assert again.digest == info.digest
    assert {blob.parent, blob.parent.parent} <= set(synced) and base not in synced
