"""Content-addressed blob store: the SHA-256 of the bytes is their name.

Writes hash while they stream and become visible atomically (temp file + rename locally,
upload-then-exists on S3), so a reader never sees a partial blob under a real name. Reads
hash while they stream into a temporary spool and are checked before the caller sees a
single byte, so corrupt data is never deserialised. Nothing holds a whole blob in memory.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

from registry_project.core.errors import (
    BlobNotFoundError,
    ConfigurationError,
    IntegrityCheckError,
    InvalidInputError,
    StorageError,
)

CHUNK_SIZE = 1024 * 1024
SPOOL_MAX_IN_MEMORY = 16 * 1024 * 1024
S3_ENDPOINT_ENV = "REGISTRY_S3_ENDPOINT_URL"
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int


@dataclass(frozen=True)
class StoredBlob:
    """A blob as listed by the store: what gc needs to judge it."""

    digest: str
    size: int
    modified_at: datetime


def check_digest(digest: object) -> str:
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise InvalidInputError(
            f"invalid blob digest {digest!r}: expected 64 lowercase hexadecimal characters"
        )
    return digest


def relative_key(digest: str) -> str:
    return f"blobs/sha256/{digest[:2]}/{digest[2:4]}/{digest}"


class BlobWriter:
    """A write-only, non-seekable binary stream that hashes what passes through it."""

    def __init__(self, sink: BinaryIO, on_bytes: ProgressCallback | None) -> None:
        self._sink = sink
        self._hash = hashlib.sha256()
        self._size = 0
        self._on_bytes = on_bytes
        self.info: BlobInfo | None = None

    # The parts of the io protocol that pickle, joblib and pyarrow use.
    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._sink.write(view)
        self._size += len(view)
        if self._on_bytes is not None:
            self._on_bytes(len(view))
        return len(view)

    def flush(self) -> None:
        self._sink.flush()

    def tell(self) -> int:
        return self._size

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self.info is not None

    def close(self) -> None:  # the store, not the serialiser, decides when it is done
        pass

    def _finish(self) -> BlobInfo:
        return BlobInfo(self._hash.hexdigest(), self._size)


def _hash_stream(
    source: BinaryIO, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
) -> BlobInfo:
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
        if on_bytes is not None:
            on_bytes(len(chunk))
    return BlobInfo(digest.hexdigest(), size)


class BlobStore(abc.ABC):
    root_uri: str

    @abc.abstractmethod
    def writer(
        self, on_bytes: ProgressCallback | None = None
    ) -> contextlib.AbstractContextManager[BlobWriter]:
        """Yield a hashing writer; on clean exit the blob is durable and `writer.info` set.
        An exception inside the block stores nothing."""

    def put_bytes(self, data: bytes) -> BlobInfo:
        with self.writer() as writer:
            writer.write(data)
        assert writer.info is not None
        return writer.info

    def put_file(
        self, path: str | os.PathLike[str], on_bytes: ProgressCallback | None = None
    ) -> BlobInfo:
        with open(path, "rb") as source, self.writer(on_bytes) as writer:
            while chunk := source.read(CHUNK_SIZE):
                writer.write(chunk)
        assert writer.info is not None
        return writer.info

    @contextlib.contextmanager
    def open_verified(
        self, digest: str, on_bytes: ProgressCallback | None = None
    ) -> Iterator[BinaryIO]:
        """A seekable copy of the blob, yielded only after its SHA-256 matched `digest`."""
        check_digest(digest)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_IN_MEMORY) as spool:
            actual = self._copy_into(digest, spool, on_bytes)
            if actual.digest != digest:
                raise IntegrityCheckError(
                    f"blob {digest} is corrupt: its bytes hash to {actual.digest}. It was not "
                    "deserialised; run `registry verify` and restore it from a backup."
                )
            spool.seek(0)
            yield spool  # type: ignore[misc]

    def read_bytes(self, digest: str) -> bytes:
        with self.open_verified(digest) as stream:
            return stream.read()

    def check(self, digest: str) -> str | None:
        """None when the blob is intact, else "missing" or "corrupt"."""
        check_digest(digest)
        try:
            actual = self._copy_into(digest, None, None)
        except BlobNotFoundError:
            return "missing"
        return None if actual.digest == digest else "corrupt"

    def iter_digests(self) -> Iterator[str]:
        for blob in self.iter_blobs():
            yield blob.digest

    @abc.abstractmethod
    def _copy_into(
        self, digest: str, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
    ) -> BlobInfo:
        """Stream the stored bytes into `sink` (or nowhere), hashing them."""

    @abc.abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abc.abstractmethod
    def size(self, digest: str) -> int: ...

    @abc.abstractmethod
    def delete(self, digest: str) -> bool: ...

    @abc.abstractmethod
    def iter_blobs(self) -> Iterator[StoredBlob]: ...

    @abc.abstractmethod
    def cleanup_temporary(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Remove leftovers of interrupted writes older than `older_than`; returns how many."""

    @abc.abstractmethod
    def uri_for(self, digest: str) -> str: ...


class LocalBlobStore(BlobStore):
    """Blobs under `<root>/blobs/sha256/ab/cd/<digest>`, written via `<root>/tmp/`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root_uri = str(self.root)
        self._tmp = self.root / "tmp"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            (self.root / "blobs").mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the artifact root {self.root}: {exc}") from exc

    def _path(self, digest: str) -> Path:
        return self.root / relative_key(check_digest(digest))

    @contextlib.contextmanager
    def writer(self, on_bytes: ProgressCallback | None = None) -> Iterator[BlobWriter]:
        temp = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            with open(temp, "wb") as sink:
                writer = BlobWriter(sink, on_bytes)  # type: ignore[arg-type]
                yield writer
                sink.flush()
                os.fsync(sink.fileno())
            info = writer._finish()
            final = self._path(info.digest)
            if final.exists():
                temp.unlink()  # identical bytes are stored once
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, final)
                _fsync_directory(final.parent)
            writer.info = info
        finally:
            temp.unlink(missing_ok=True)

    def _copy_into(
        self, digest: str, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
    ) -> BlobInfo:
        try:
            with open(self._path(digest), "rb") as source:
                return _hash_stream(source, sink, on_bytes)
        except FileNotFoundError as exc:
            raise BlobNotFoundError(
                f"blob {digest} is missing from {self.root}; run `registry verify`"
            ) from exc

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self._path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {digest} is missing from {self.root}") from exc

    def delete(self, digest: str) -> bool:
        path = self._path(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def iter_blobs(self) -> Iterator[StoredBlob]:
        base = self.root / "blobs" / "sha256"
        if not base.is_dir():
            return
        for path in sorted(base.glob("??/??/*")):
            if _DIGEST_RE.fullmatch(path.name):
                stat = path.stat()
                yield StoredBlob(
                    path.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)
                )

    def cleanup_temporary(self, older_than: timedelta = timedelta(hours=1)) -> int:
        cutoff = datetime.now(UTC).timestamp() - older_than.total_seconds()
        removed = 0
        for path in self._tmp.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def uri_for(self, digest: str) -> str:
        return str(self._path(digest))


def _fsync_directory(path: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class S3BlobStore(BlobStore):
    """Blobs under `s3://bucket/prefix/blobs/sha256/ab/cd/<digest>`.

    Credentials come from boto3's default chain only; they are never stored or logged.
    """

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.root_uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = boto3.client("s3", endpoint_url=endpoint_url)
        self._transfer = TransferConfig(
            multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024
        )

    def _key(self, digest: str) -> str:
        key = relative_key(check_digest(digest))
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, exc: Exception, digest: str | None = None) -> Exception:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound") and digest is not None:
                return BlobNotFoundError(
                    f"blob {digest} is missing from {self.root_uri}; run `registry verify`"
                )
            if code == "NoSuchBucket":
                return ConfigurationError(
                    f"S3 bucket {self.bucket!r} does not exist; create it or fix the artifact root"
                )
        return StorageError(f"S3 request to {self.root_uri} failed: {exc}. Retry, or check access.")

    @contextlib.contextmanager
    def writer(self, on_bytes: ProgressCallback | None = None) -> Iterator[BlobWriter]:
        # The key is the digest, known only at the end: spool to local disk, then upload.
        with tempfile.NamedTemporaryFile(prefix="registry-", suffix=".part") as spool:
            writer = BlobWriter(spool, on_bytes)  # type: ignore[arg-type]
            yield writer
            spool.flush()
            info = writer._finish()
            if not self.exists(info.digest):
                spool.seek(0)
                try:
                    self._client.upload_fileobj(
                        spool, self.bucket, self._key(info.digest), Config=self._transfer
                    )
                except Exception as exc:
                    raise self._error(exc) from exc
            writer.info = info

    def _copy_into(
        self, digest: str, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
    ) -> BlobInfo:
        key = self._key(digest)
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except Exception as exc:
            raise self._error(exc, digest) from exc
        try:
            return _hash_stream(body, sink, on_bytes)
        finally:
            body.close()

    def exists(self, digest: str) -> bool:
        key = self._key(digest)
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            error = self._error(exc, digest)
            if isinstance(error, BlobNotFoundError):
                return False
            raise error from exc
        return True

    def size(self, digest: str) -> int:
        key = self._key(digest)
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise self._error(exc, digest) from exc
        return int(head["ContentLength"])

    def delete(self, digest: str) -> bool:
        if not self.exists(digest):
            return False
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(digest))
        except Exception as exc:
            raise self._error(exc, digest) from exc
        return True

    def iter_blobs(self) -> Iterator[StoredBlob]:
        prefix = f"{self.prefix}/blobs/sha256/" if self.prefix else "blobs/sha256/"
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if _DIGEST_RE.fullmatch(name):
                        yield StoredBlob(name, int(item["Size"]), item["LastModified"])
        except Exception as exc:
            raise self._error(exc) from exc

    def cleanup_temporary(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Abort multipart uploads a killed writer left behind (they cost storage)."""
        cutoff = datetime.now(UTC) - older_than
        aborted = 0
        try:
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] <= cutoff:
                        self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        except Exception as exc:
            raise self._error(exc) from exc
        return aborted

    def uri_for(self, digest: str) -> str:
        return f"s3://{self.bucket}/{self._key(digest)}"


def open_blob_store(artifact_root: str, *, s3_endpoint_url: str | None = None) -> BlobStore:
    """`s3://bucket/prefix` -> S3; a path or `file://` URL -> local directory."""
    if not isinstance(artifact_root, str) or not artifact_root.strip():
        raise ConfigurationError(
            "artifact root is empty: pass a directory or s3://bucket/prefix, or set "
            "REGISTRY_ARTIFACT_ROOT"
        )
    if artifact_root.startswith("s3://"):
        bucket, _, prefix = artifact_root[len("s3://") :].partition("/")
        if not bucket:
            raise ConfigurationError(f"artifact root {artifact_root!r} names no bucket")
        endpoint = s3_endpoint_url or os.environ.get(S3_ENDPOINT_ENV) or None
        return S3BlobStore(bucket, prefix, endpoint)
    if artifact_root.startswith("file://"):
        return LocalBlobStore(Path(artifact_root[len("file://") :]))
    if "://" in artifact_root:
        scheme = artifact_root.split("://", 1)[0]
        raise ConfigurationError(
            f"artifact root scheme {scheme!r} is not supported; use a directory or s3://"
        )
    return LocalBlobStore(Path(artifact_root).expanduser())
