"""`S3BlobStore`: blobs in an S3 bucket (AWS, or any S3-compatible endpoint).

Its one job is the S3 backend's primitives, and turning boto3's failures into registry
errors. Invariants it keeps:

- **Atomic writes.** The key is the digest, known only once every byte was hashed, so a
  write streams into a local spool file (`spool.py`) and uploads it at the end; S3 makes
  an object visible only once its upload (multipart for large blobs) completed, so a
  reader never sees a partial blob under a real key. The upload is the durability step:
  it finishes before the row pointing at the blob commits.
- **A write always (re)stores its own bytes.** An existing object of the right size is
  copied onto itself (server side: a fresh LastModified for gc's age check, no bytes
  travel); one of the wrong size is corrupt and is overwritten with the bytes just hashed.
- **Verified reads.** A GET is hashed while it streams (`hash_stream`); `interface.py`
  compares the digest before anyone sees the bytes.
- **Deletion.** `confirm_stored` is one HEAD, asked inside the write's transaction;
  `delete_many` is one request per 1000 keys; `cleanup_temporary` also aborts multipart
  uploads a killed writer left (invisible, but billed).
- **Credentials** come from boto3's default chain only; they are never stored or logged,
  and error messages carry S3's error text, which does not contain them. boto3 is imported
  lazily: local use needs none.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from registry_project.core.blobs.interface import BlobStore
from registry_project.core.blobs.layout import (
    DIGEST_RE,
    BlobInfo,
    ProgressCallback,
    StoredBlob,
    check_digest,
    relative_key,
    remove_stale_parts,
)
from registry_project.core.blobs.spool import SpoolToucher, open_spool_file, spool_dir_for
from registry_project.core.blobs.streaming import hash_stream
from registry_project.core.errors import (
    BlobNotFoundError,
    ConfigurationError,
    RegistryError,
    StorageError,
)

S3_MULTIPART_THRESHOLD = 16 * 1024 * 1024
S3_PART_SIZE = 8 * 1024 * 1024
S3_MAX_CONCURRENCY = 4
S3_ENDPOINT_ENV = "REGISTRY_S3_ENDPOINT_URL"

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED_CODES = frozenset(
    {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
)


@functools.cache
def _s3_error_types() -> tuple[type[Exception], ...]:
    """What boto3 raises for a failed request (imported lazily: local use needs no boto3)."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, Boto3Error)


def _error_code(exc: BaseException) -> str:
    """The S3 error code, also through boto3's S3UploadFailedError (which chains it)."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return ""


class S3BlobStore(BlobStore):
    """Blobs under `s3://bucket/prefix/blobs/sha256/ab/cd/<digest>`.

    The key is the digest, known only once all bytes are seen, so a writer spools to a
    private local temp file while hashing and uploads at the end (multipart for large
    blobs). The spool files live in one directory per artifact root (`spool_dir`), so gc
    finds and removes those a killed writer left behind. Credentials come from boto3's
    default chain only; they are never stored or logged, and error messages carry S3's
    error text, which does not contain them.
    """

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.root_uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.spool_dir = spool_dir_for(self.root_uri)
        self._transfer = TransferConfig(
            multipart_threshold=S3_MULTIPART_THRESHOLD,
            multipart_chunksize=S3_PART_SIZE,
            max_concurrency=S3_MAX_CONCURRENCY,
        )
        try:
            # A private session: boto3's default session is not safe to share across
            # threads while clients are being created.
            session = boto3.session.Session()
            self._client: Any = session.client("s3", endpoint_url=endpoint_url)
        except _s3_error_types() as exc:
            raise ConfigurationError(
                f"cannot configure an S3 client for {self.root_uri}: {exc}. Check AWS_PROFILE, "
                "AWS_DEFAULT_REGION and the endpoint URL."
            ) from exc

    # keys and errors

    def _key(self, digest: str) -> str:
        return self._under_prefix(relative_key(check_digest(digest)))

    def _under_prefix(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _where(self) -> str:
        if self.endpoint_url:
            return f"{self.root_uri} (endpoint {self.endpoint_url})"
        return self.root_uri

    def _translate(self, exc: Exception, digest: str | None) -> RegistryError:
        """One clear registry error for a boto3/botocore failure."""
        from botocore.exceptions import EndpointConnectionError, NoCredentialsError

        code = _error_code(exc)
        if code in _NOT_FOUND_CODES and digest is not None:
            return BlobNotFoundError(
                f"blob {digest} is missing from {self.root_uri}; run `registry verify` to find "
                "every affected record"
            )
        if code == "NoSuchBucket":
            return ConfigurationError(
                f"S3 bucket {self.bucket!r} does not exist; create it or fix the artifact root "
                f"({self.root_uri})"
            )
        if code in _DENIED_CODES:
            return StorageError(
                f"S3 refused access to {self._where()} ({code}). Check the credentials boto3 "
                "finds (environment, ~/.aws, instance role) and the bucket policy."
            )
        if isinstance(exc, NoCredentialsError):
            return StorageError(
                f"no AWS credentials found for {self.root_uri}. Configure boto3's default "
                "chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or a role)."
            )
        if isinstance(exc, EndpointConnectionError):
            return StorageError(
                f"cannot reach S3 at {self._where()}: {exc}. Check the endpoint URL "
                f"({S3_ENDPOINT_ENV} / AWS_ENDPOINT_URL) and the network, then retry."
            )
        return StorageError(f"S3 request to {self._where()} failed: {exc}. Retry, or check access.")

    @contextlib.contextmanager
    def _s3_errors(self, digest: str | None = None) -> Iterator[None]:
        try:
            yield
        except _s3_error_types() as exc:
            raise self._translate(exc, digest) from exc

    # writing

    def _open_temporary(self) -> tuple[Path, IO[bytes]]:
        # The blob is spooled to local disk, then uploaded in parts from there.
        return open_spool_file(self.spool_dir)  # closed by BlobStore.writer

    def _durability_step(self, temp: IO[bytes], path: Path, digest: str) -> Callable[[], None]:
        return functools.partial(self._upload_then_drop_spool, str(path), digest)

    def _upload_then_drop_spool(self, spool_path: str, digest: str) -> None:
        try:
            self._store_or_refresh(spool_path, digest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool_path)

    def _store_or_refresh(self, spool_path: str, digest: str) -> None:
        """Upload the spool, or refresh identical bytes already stored.

        An existing object of the right size is copied onto itself (server side, no bytes
        travel), which gives it a new LastModified, so gc's age check sees this write; one
        of the wrong size is corrupt and is overwritten with the bytes just hashed.
        """
        size = os.path.getsize(spool_path)
        try:
            stored_size: int | None = self.size(digest)
        except BlobNotFoundError:
            stored_size = None
        if stored_size == size:
            try:
                self._refresh(digest)
                return
            except BlobNotFoundError:
                pass  # deleted since we looked: upload our own copy
        with self._s3_errors():
            # upload_file (not upload_fileobj) reads each part lazily from disk, so a big
            # blob is never buffered in memory part by part.
            self._client.upload_file(
                spool_path,
                self.bucket,
                self._key(digest),
                Config=self._transfer,
                Callback=SpoolToucher(spool_path),
            )

    def _refresh(self, digest: str) -> None:
        key = self._key(digest)
        with self._s3_errors(digest):
            # S3 refuses a copy onto itself that changes nothing; new metadata is a change.
            self._client.copy(
                {"Bucket": self.bucket, "Key": key},
                self.bucket,
                key,
                ExtraArgs={
                    "MetadataDirective": "REPLACE",
                    "Metadata": {"registry-refreshed-at": datetime.now(UTC).isoformat()},
                },
                Config=self._transfer,
            )

    # reading

    def _copy_into(
        self, digest: str, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
    ) -> BlobInfo:
        key = self._key(digest)
        with self._s3_errors(digest):
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                return hash_stream(body, sink, on_bytes)
            finally:
                body.close()

    def _head(self, digest: str) -> dict[str, Any]:
        key = self._key(digest)
        with self._s3_errors(digest):
            return dict(self._client.head_object(Bucket=self.bucket, Key=key))

    def exists(self, digest: str) -> bool:
        try:
            self._head(digest)
        except BlobNotFoundError:
            return False
        return True

    def size(self, digest: str) -> int:
        return int(self._head(digest)["ContentLength"])

    def delete(self, digest: str) -> bool:
        # S3's delete is silent about absent keys; ask first so the answer means something.
        if not self.exists(digest):
            return False
        with self._s3_errors(digest):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(digest))
        return True

    def delete_many(self, digests: Sequence[str]) -> list[str]:
        # gc deletes while it holds the audit head: one request per batch, not two per blob.
        deleted: list[str] = []
        for start in range(0, len(digests), 1000):
            batch = digests[start : start + 1000]
            with self._s3_errors():
                response = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self._key(d)} for d in batch], "Quiet": False},
                )
            if response.get("Errors"):
                error = response["Errors"][0]
                raise StorageError(
                    f"S3 refused to delete {error.get('Key')} from {self._where()}: "
                    f"{error.get('Code')} {error.get('Message')}. Retry gc, or check access."
                )
            gone = {item["Key"] for item in response.get("Deleted", [])}
            deleted += [d for d in batch if self._key(d) in gone]
        return deleted

    def confirm_stored(self, blob: BlobInfo) -> bool:
        # One HEAD request, made while the write holds the audit head: only an answer
        # given under that lock is ordered against a deletion (see the protocol). Age
        # alone would not do: LastModified has a resolution of a second, comes from S3's
        # clock, and a grace period of zero protects nothing.
        try:
            return self.size(blob.digest) == blob.size
        except BlobNotFoundError:
            return False

    def stored_before(self, digest: str, cutoff: datetime) -> bool:
        try:
            modified: datetime = self._head(digest)["LastModified"]
        except BlobNotFoundError:
            return False
        return modified <= cutoff

    def _blobs_prefix(self) -> str:
        return self._under_prefix("blobs/sha256/")

    def iter_blobs(self) -> Iterator[StoredBlob]:
        paginator = self._client.get_paginator("list_objects_v2")
        with self._s3_errors():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._blobs_prefix()):
                for item in page.get("Contents", []):
                    blob = self._listed_blob(item)
                    if blob is not None:
                        yield blob

    def _listed_blob(self, item: Any) -> StoredBlob | None:
        key: str = item["Key"]
        name = key.rsplit("/", 1)[-1]
        if not DIGEST_RE.fullmatch(name) or key != self._under_prefix(relative_key(name)):
            return None  # a stray object, not one of ours
        return StoredBlob(name, int(item["Size"]), item["LastModified"])

    def cleanup_temporary(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Remove spool files and abort multipart uploads a killed writer left behind.

        Incomplete uploads are invisible in listings but S3 bills their parts. A live
        writer's spool file is written to, or touched while it uploads, at least every
        `SPOOL_TOUCH_SECONDS`, so one idle for longer than `older_than` is dead.
        """
        from botocore.exceptions import ClientError

        cutoff = datetime.now(UTC) - older_than
        aborted = remove_stale_parts(self.spool_dir, cutoff)
        paginator = self._client.get_paginator("list_multipart_uploads")
        with self._s3_errors():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._blobs_prefix()):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] > cutoff:
                        continue
                    try:
                        self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    except ClientError as exc:
                        if _error_code(exc) != "NoSuchUpload":  # someone else finished it
                            raise
                        continue
                    aborted += 1
        return aborted

    def uri_for(self, digest: str) -> str:
        return f"s3://{self.bucket}/{self._key(digest)}"
