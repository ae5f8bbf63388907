"""The content-addressed blob store on local disk and on S3 (moto over HTTP)."""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from registry_project.core import errors
from registry_project.core.blobs import BlobStore, LocalBlobStore, S3BlobStore, open_blob_store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return open_blob_store(str(tmp_path / "artifacts"))
    endpoint = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_bucket")
    return open_blob_store(f"s3://{bucket}/prefix", s3_endpoint_url=endpoint)


def test_identical_bytes_are_stored_once(store: BlobStore) -> None:
    first = store.put_bytes(b"hello")
    second = store.put_bytes(b"hello")
    assert first == second
    assert first.digest == hashlib.sha256(b"hello").hexdigest() and first.size == 5
    assert list(store.iter_digests()) == [first.digest]
    assert store.read_bytes(first.digest) == b"hello"
    assert store.size(first.digest) == 5


def test_writer_aborted_by_an_exception_stores_nothing(store: BlobStore) -> None:
    with pytest.raises(RuntimeError), store.writer() as writer:
        writer.write(b"partial")
        raise RuntimeError("serialiser crashed")
    assert list(store.iter_digests()) == []
    if isinstance(store, LocalBlobStore):
        assert list((store.root / "tmp").iterdir()) == []


def test_large_blob_streams_without_holding_it_in_memory(store: BlobStore) -> None:
    chunk = os.urandom(1024 * 1024)
    expected = hashlib.sha256()
    tracemalloc.start()
    with store.writer() as writer:
        for _ in range(48):
            writer.write(chunk)
            expected.update(chunk)
    assert writer.info is not None and writer.info.digest == expected.hexdigest()
    actual = hashlib.sha256()
    with store.open_verified(writer.info.digest) as stream:
        assert getattr(stream, "_rolled", True), "a 48 MiB spool must roll over to disk"
        while data := stream.read(1024 * 1024):
            actual.update(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert actual.hexdigest() == writer.info.digest
    assert writer.info.size == 48 * 1024 * 1024
    if isinstance(store, LocalBlobStore):
        # (moto's S3 server runs in this process and keeps objects in memory, so the
        # measurement is only meaningful for the local store.)
        assert peak < 40 * 1024 * 1024, f"peak Python allocations {peak} bytes"


def _flip_a_byte(store: BlobStore, digest: str) -> None:
    if isinstance(store, S3BlobStore):
        client = boto3.client("s3", endpoint_url=store.endpoint_url)
        key = store.uri_for(digest).split("/", 3)[3]
        data = bytearray(client.get_object(Bucket=store.bucket, Key=key)["Body"].read())
        data[0] ^= 1
        client.put_object(Bucket=store.bucket, Key=key, Body=bytes(data))
    else:
        path = Path(store.uri_for(digest))
        data = bytearray(path.read_bytes())
        data[0] ^= 1
        path.write_bytes(bytes(data))


def test_corruption_and_absence_are_detected(store: BlobStore) -> None:
    info = store.put_bytes(b"important model bytes")
    assert store.check(info.digest) is None
    _flip_a_byte(store, info.digest)
    with (
        pytest.raises(errors.IntegrityCheckError, match=info.digest),
        store.open_verified(info.digest),
    ):
        pytest.fail("corrupt bytes must never be handed out")
    assert store.check(info.digest) == "corrupt"
    assert store.delete(info.digest) is True
    assert store.delete(info.digest) is False
    assert store.check(info.digest) == "missing"
    with pytest.raises(errors.BlobNotFoundError):
        store.read_bytes(info.digest)


@pytest.mark.parametrize("digest", ["../../etc/passwd", "A" * 64, "abc", "", "g" * 64])
def test_invalid_digests_are_refused(store: BlobStore, digest: str) -> None:
    with pytest.raises(errors.InvalidInputError):
        store.exists(digest)
    with pytest.raises(errors.InvalidInputError):
        store.read_bytes(digest)


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
    upload = client.create_multipart_upload(Bucket=s3_bucket, Key="p/blobs/sha256/aa/bb/x")
    client.upload_part(
        Bucket=s3_bucket,
        Key="p/blobs/sha256/aa/bb/x",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"x" * 1024,
    )
    assert store.cleanup_temporary(timedelta(0)) == 1
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


@pytest.mark.parametrize("root", ["", "gs://bucket/x", "s3://", "   "])
def test_bad_roots_are_configuration_errors(root: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        open_blob_store(root)


def test_missing_s3_bucket_is_a_clear_error(s3_server: str) -> None:
    store = open_blob_store("s3://no-such-bucket/x", s3_endpoint_url=s3_server)
    with pytest.raises(errors.ConfigurationError, match="does not exist"):
        store.put_bytes(b"x")
