"""Content-addressed blob store: the SHA-256 of the bytes is their name.

Writes hash while they stream and become visible atomically (temp file + rename locally,
spool-then-upload on S3), so a reader never sees a partial blob under a real name, and
identical bytes are stored once. Reads hash while they stream into a temporary spool and
are checked before the caller sees a single byte, so corrupt data is never deserialised.
Nothing holds a whole blob in memory: data moves in `CHUNK_SIZE` pieces and spools roll
over to disk past `SPOOL_MAX_IN_MEMORY`.

Layout (both backends): `<root>/blobs/sha256/ab/cd/<digest>`.

Deletion under concurrent writes (gc, delete_dataset) follows one protocol, described in
`ModelRegistry._delete_unreferenced`: a write always (re)stores its own bytes, so an
existing copy is refreshed (new modification time) and healed if it was corrupt, and it
confirms the copy with `confirm_stored` inside the transaction that commits its row.
"""

from __future__ import annotations

import abc
import concurrent.futures
import contextlib
import functools
import hashlib
import io
import os
import re
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import urlparse
from urllib.request import url2pathname

from registry_project.core.background_sink import BackgroundSink
from registry_project.core.errors import (
    BlobNotFoundError,
    ConfigurationError,
    IntegrityCheckError,
    InvalidInputError,
    RegistryError,
    StorageError,
)

CHUNK_SIZE = 1024 * 1024
# Past this many bytes, a write or read hands its I/O to a worker thread and keeps hashing
# (see background_sink); below it a thread costs more than it saves.
PIPELINE_THRESHOLD = 8 * 1024 * 1024
# A local blob being written is flushed to disk every this many bytes, so the final fsync
# has little left to do and the page cache never holds gigabytes of one blob's dirty pages.
SYNC_EVERY = 64 * 1024 * 1024
SPOOL_MAX_IN_MEMORY = 16 * 1024 * 1024
S3_MULTIPART_THRESHOLD = 16 * 1024 * 1024
S3_PART_SIZE = 8 * 1024 * 1024
S3_MAX_CONCURRENCY = 4
S3_ENDPOINT_ENV = "REGISTRY_S3_ENDPOINT_URL"

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
_FANOUT_RE = re.compile(r"[0-9a-f]{2}")
# botocore's own (permissive) bucket check: legacy us-east-1 names may hold capitals or "_".
_BUCKET_RE = re.compile(r"[A-Za-z0-9.\-_]{1,255}")
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED_CODES = frozenset(
    {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
)

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class BlobInfo:
    """What a finished write produced: the blob's name (lowercase hex SHA-256) and size."""

    digest: str
    size: int


@dataclass(frozen=True)
class StoredBlob:
    """A blob as listed by the store: what gc needs to judge it (age protects fresh writes)."""

    digest: str
    size: int
    modified_at: datetime


def check_digest(digest: object) -> str:
    """Refuse anything but 64 lowercase hex characters, so no digest can escape the layout."""
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise InvalidInputError(
            f"invalid blob digest {digest!r}: expected 64 lowercase hexadecimal characters "
            "(a SHA-256 as recorded by the registry)"
        )
    return digest


def relative_key(digest: str) -> str:
    """Where a blob lives below the root; two fan-out levels keep directories small."""
    return f"blobs/sha256/{digest[:2]}/{digest[2:4]}/{digest}"


# --- writing ---------------------------------------------------------------------------


class BlobWriter:
    """A write-only, non-seekable binary stream that hashes what passes through it.

    It implements the part of the io protocol that pickle, joblib and pyarrow use. A
    serialiser may `close()` it (pyarrow does); that only stops further writes, because
    the store, not the serialiser, decides when the blob is finished. `info` is set once
    the blob is durable, i.e. after the `with store.writer()` block exits normally; with
    `writer(defer_durability=True)` it is set at that exit while the store makes the bytes
    durable in the background, and `wait_durable()` blocks until it has.
    """

    mode = "wb"

    def __init__(
        self,
        sink: IO[bytes],
        on_bytes: ProgressCallback | None,
        sync_every: int | None = None,
    ) -> None:
        self._sink = sink
        self._sync_every = sync_every
        self._background: BackgroundSink | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._on_bytes = on_bytes
        self._closed = False
        self._durable: concurrent.futures.Future[None] | None = None
        self.info: BlobInfo | None = None

    def wait_durable(self) -> None:
        """Return once the blob is durable under its digest; raise `StorageError` if storing
        it failed. A record may point at the blob only after this returned."""
        if self._durable is not None:
            self._durable.result()

    def write(self, data: Any) -> int:
        if self._closed:
            raise ValueError("write to a closed blob writer")
        with memoryview(data) as raw, raw.cast("B") as view:
            count = len(view)
            if self._background is None and self._size + count > PIPELINE_THRESHOLD:
                self._background = BackgroundSink(self._sink, self._sync_every)
            try:
                if self._background is not None:
                    self._hand_over(data, view)
                else:
                    self._sink.write(view)
            except OSError as exc:
                raise _temporary_write_error(exc) from exc
            self._hash.update(view)
        self._size += count
        if self._on_bytes is not None:
            self._on_bytes(count)
        return count

    def _hand_over(self, data: Any, view: memoryview) -> None:
        """Queue `view` for the worker in CHUNK_SIZE pieces, so the queue bounds memory
        however large one write is (pickle hands over whole array buffers)."""
        # The worker writes later, so it needs bytes that cannot change meanwhile: a
        # serialiser may reuse its buffer. `bytes` are immutable and are not copied.
        assert self._background is not None
        immutable = memoryview(data) if type(data) is bytes else None
        for start in range(0, len(view), CHUNK_SIZE):
            end = start + CHUNK_SIZE
            if immutable is not None:
                self._background.write(immutable[start:end])
            else:
                self._background.write(view[start:end].tobytes())

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self._closed and self._background is None:
            self._sink.flush()  # with a worker writing, the store flushes at the end

    def tell(self) -> int:
        return self._size

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise io.UnsupportedOperation("a blob writer has no file descriptor")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def _seal(self) -> BlobInfo:
        """Stop accepting bytes and report what was written (not yet durable). Never raises:
        it also runs when the block failed; `_check_written` reports a failed write."""
        self._closed = True
        if self._background is not None:
            self._background.abandon()
        return BlobInfo(self._hash.hexdigest(), self._size)

    def _check_written(self) -> None:
        """Raise if the worker thread failed to write some of the bytes."""
        if self._background is not None:
            try:
                self._background.close()
            except OSError as exc:
                raise _temporary_write_error(exc) from exc


def _temporary_write_error(exc: OSError) -> StorageError:
    return StorageError(
        f"writing a blob to temporary storage failed: {exc}. Free some disk space or fix "
        "permissions, then retry."
    )


def _hash_stream(
    source: IO[bytes], sink: IO[bytes] | None, on_bytes: ProgressCallback | None
) -> BlobInfo:
    """Copy `source` to `sink` (or nowhere) chunk by chunk, hashing on the way; past
    `PIPELINE_THRESHOLD` a worker thread writes while this one reads and hashes."""
    digest = hashlib.sha256()
    size = 0
    background: BackgroundSink | None = None
    try:
        while chunk := source.read(CHUNK_SIZE):
            size += len(chunk)
            if sink is not None:
                if background is None and size > PIPELINE_THRESHOLD:
                    background = BackgroundSink(sink)
                if background is not None:
                    background.write(bytes(chunk))  # no-op copy for bytes; not for a view
                else:
                    sink.write(chunk)
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
        if background is not None:
            background.close()
    finally:
        if background is not None:
            background.abandon()
    return BlobInfo(digest.hexdigest(), size)


def _integrity_error(expected: str, actual: str, where: str) -> IntegrityCheckError:
    return IntegrityCheckError(
        f"blob {expected} in {where} is corrupt: its bytes hash to {actual}. It was not "
        "deserialised; run `registry verify` and restore the blob from a backup."
    )


def _finished(writer: BlobWriter) -> BlobInfo:
    if writer.info is None:  # only if a subclass forgot to set it; never silently
        raise StorageError("the blob store finished a write without recording it")
    return writer.info


def _run_or_submit(
    step: Callable[[], None], in_background: bool
) -> concurrent.futures.Future[None] | None:
    """Run the step that makes a blob durable now, or hand it to the background pool."""
    if in_background:
        try:
            return _background_pool().submit(step)
        except RuntimeError:  # the interpreter is shutting down: no new threads
            pass
    step()
    return None


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _background_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=2, thread_name_prefix="registry-blob-durability"
            )
        return _pool


def _forget_pool_after_fork() -> None:
    # A forked child has none of the parent's threads; a fresh pool starts its own.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


# --- the interface ---------------------------------------------------------------------


class BlobStore(abc.ABC):
    """Where artifact and dataset bytes live, named by their SHA-256."""

    root_uri: str
    # Flush a large blob to disk every this many bytes while it is written (local disks).
    _sync_every: int | None = None

    @contextlib.contextmanager
    def writer(
        self, on_bytes: ProgressCallback | None = None, *, defer_durability: bool = False
    ) -> Iterator[BlobWriter]:
        """Yield a hashing writer; on clean exit the blob is durable and `writer.info` set.

        With `defer_durability`, the final step (fsync and rename, or the upload) runs on a
        background thread so the caller can prepare its metadata meanwhile; it must call
        `writer.wait_durable()` before committing anything that points at the blob.

        An exception inside the block stores nothing, removes the temporary data and
        propagates, so a failed serialisation never leaves a half-written blob behind.
        """
        temp_path, temp = self._open_temporary()
        handed_over = False
        try:
            with temp:
                writer = BlobWriter(temp, on_bytes, sync_every=self._sync_every)
                try:
                    yield writer
                finally:
                    info = writer._seal()
                writer._check_written()
                finish = self._durability_step(temp, temp_path, info.digest)
            handed_over = True  # from here on `finish` removes the temporary file
            writer._durable = _run_or_submit(finish, defer_durability)
            writer.info = info
        finally:
            if not handed_over:
                temp_path.unlink(missing_ok=True)

    @abc.abstractmethod
    def _open_temporary(self) -> tuple[Path, IO[bytes]]:
        """A new temporary file for a blob being written (path, open binary file)."""

    @abc.abstractmethod
    def _durability_step(self, temp: IO[bytes], path: Path, digest: str) -> Callable[[], None]:
        """Called with the written temporary file still open: the step that stores it
        durably under `digest`. The step owns `path` from then on and removes it."""

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store a small in-memory value (large ones should stream through `writer`)."""
        with self.writer() as writer:
            writer.write(data)
        return _finished(writer)

    def put_file(
        self, path: str | os.PathLike[str], on_bytes: ProgressCallback | None = None
    ) -> BlobInfo:
        """Store a file's bytes, streamed in chunks so its size does not matter."""
        with open(path, "rb") as source, self.writer(on_bytes) as writer:
            while chunk := source.read(CHUNK_SIZE):
                writer.write(chunk)
        return _finished(writer)

    @contextlib.contextmanager
    def open_verified(
        self, digest: str, on_bytes: ProgressCallback | None = None
    ) -> Iterator[BinaryIO]:
        """A seekable copy of the blob, yielded only after its SHA-256 matched `digest`.

        The copy is a spool that rolls over to a temporary file past
        `SPOOL_MAX_IN_MEMORY`, and is removed when the block exits.
        """
        check_digest(digest)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_IN_MEMORY) as spool:
            actual = self._copy_into(digest, spool, on_bytes)
            if actual.digest != digest:
                raise _integrity_error(digest, actual.digest, self.root_uri)
            spool.seek(0)
            yield spool  # type: ignore[misc]

    def download_verified(
        self,
        digest: str,
        destination: str | os.PathLike[str],
        on_bytes: ProgressCallback | None = None,
    ) -> BlobInfo:
        """Write the blob to `destination`, which appears only once the bytes matched
        `digest` (streamed once, straight into a temp file beside it, then renamed)."""
        check_digest(digest)
        target = Path(destination)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            with open(partial, "wb") as sink:
                actual = self._copy_into(digest, sink, on_bytes)
            if actual.digest != digest:
                raise _integrity_error(digest, actual.digest, self.root_uri)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return actual

    def read_bytes(self, digest: str) -> bytes:
        """The verified bytes of a small blob."""
        with self.open_verified(digest) as stream:
            return stream.read()

    def check(self, digest: str) -> str | None:
        """None when the blob is intact, else "missing" or "corrupt" (re-hashed, streamed)."""
        check_digest(digest)
        try:
            actual = self._copy_into(digest, None, None)
        except BlobNotFoundError:
            return "missing"
        return None if actual.digest == digest else "corrupt"

    def iter_digests(self) -> Iterator[str]:
        """Every stored blob's digest (what `gc` compares against the metadata)."""
        for blob in self.iter_blobs():
            yield blob.digest

    @abc.abstractmethod
    def _copy_into(
        self, digest: str, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
    ) -> BlobInfo:
        """Stream the stored bytes into `sink` (or nowhere), hashing them."""

    @abc.abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether a blob is stored under `digest` (its content is not checked)."""

    @abc.abstractmethod
    def size(self, digest: str) -> int:
        """The stored size in bytes; BlobNotFoundError when missing."""

    @abc.abstractmethod
    def delete(self, digest: str) -> bool:
        """Remove a blob; True if something was deleted."""

    def delete_many(self, digests: Sequence[str]) -> list[str]:
        """Remove several blobs; those that were deleted (S3: one request per 1000)."""
        return [digest for digest in digests if self.delete(digest)]

    @abc.abstractmethod
    def confirm_stored(self, blob: BlobInfo) -> bool:
        """Whether the bytes a write just stored are still there (called inside the
        transaction that commits the row pointing at them; see the deletion protocol)."""

    @abc.abstractmethod
    def stored_before(self, digest: str, cutoff: datetime) -> bool:
        """Whether the blob exists and was last written before `cutoff` (what gc deletes)."""

    @abc.abstractmethod
    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every stored blob with its size and modification time."""

    @abc.abstractmethod
    def cleanup_temporary(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Remove leftovers of interrupted writes older than `older_than`; returns how many.

        The age threshold protects writes that are still in progress.
        """

    @abc.abstractmethod
    def uri_for(self, digest: str) -> str:
        """Where the blob lives, for people and for lineage records."""


# --- local directory -------------------------------------------------------------------


class LocalBlobStore(BlobStore):
    """Blobs under `<root>/blobs/sha256/ab/cd/<digest>`, written via `<root>/tmp/*.part`.

    The temp directory sits on the same file system as the blobs, so the final rename is
    atomic: a blob is either absent or complete.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.root_uri = str(self.root)
        self._tmp = self.root / "tmp"
        self._base = self.root / "blobs" / "sha256"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            self._base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the artifact root {self.root}: {exc}. Choose a writable "
                "directory (REGISTRY_ARTIFACT_ROOT) or fix its permissions."
            ) from exc

    def _path(self, digest: str) -> Path:
        return self.root / relative_key(check_digest(digest))

    _sync_every = SYNC_EVERY

    def _open_temporary(self) -> tuple[Path, IO[bytes]]:
        temp = self._tmp / f"{uuid.uuid4().hex}.part"
        return temp, open(temp, "xb")  # closed by BlobStore.writer

    def _durability_step(self, temp: IO[bytes], path: Path, digest: str) -> Callable[[], None]:
        temp.flush()
        # A duplicate descriptor outlives the file object: fsync works on it later.
        descriptor = os.dup(temp.fileno())
        return functools.partial(self._make_durable, descriptor, path, digest)

    def _make_durable(self, descriptor: int, temp: Path, digest: str) -> None:
        """fsync the finished temp file, then rename it into place (and drop it if not)."""
        try:
            try:
                os.fsync(descriptor)
            except OSError as exc:
                raise StorageError(
                    f"could not flush blob {digest} to disk under {self.root}: {exc}. Check "
                    "the disk, then retry."
                ) from exc
            finally:
                os.close(descriptor)
            self._commit(temp, digest)
        finally:
            temp.unlink(missing_ok=True)

    def _commit(self, temp: Path, digest: str) -> None:
        """Rename the finished temp file into place, also over identical bytes already there.

        Replacing (not reusing) an existing copy costs one rename, since the bytes are
        already on disk: it heals a copy that was corrupted in place (truncated, flipped
        bytes) with bytes this write has just hashed, and it gives the blob a fresh
        modification time, so gc's age check sees a write in flight. Identical bytes are
        still stored once: the old file goes away with the rename.
        """
        final = self._path(digest)
        try:
            os.utime(temp)  # written a while ago if serialising was slow: now is its age
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, final)
        except OSError as exc:
            raise StorageError(
                f"could not store blob {digest} under {self.root}: {exc}. Check free space "
                "and permissions, then retry."
            ) from exc
        _fsync_directory(final.parent)

    def _copy_into(
        self, digest: str, sink: IO[bytes] | None, on_bytes: ProgressCallback | None
    ) -> BlobInfo:
        path = self._path(digest)
        try:
            with open(path, "rb") as source:
                return _hash_stream(source, sink, on_bytes)
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc
        except OSError as exc:  # permissions, a directory in the way, I/O errors
            raise StorageError(f"could not read blob {path}: {exc}") from exc

    def _missing(self, digest: str) -> BlobNotFoundError:
        return BlobNotFoundError(
            f"blob {digest} is missing from {self.root}; run `registry verify` to find "
            "every affected record"
        )

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def size(self, digest: str) -> int:
        path = self._path(digest)
        try:
            return path.stat().st_size
        except FileNotFoundError as exc:
            raise self._missing(digest) from exc

    def delete(self, digest: str) -> bool:
        try:
            self._path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def confirm_stored(self, blob: BlobInfo) -> bool:
        # A stat, cheap enough for every write: the copy this write renamed into place may
        # have been deleted since (see the deletion protocol).
        try:
            found = self._path(blob.digest).stat()
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode) and found.st_size == blob.size

    def stored_before(self, digest: str, cutoff: datetime) -> bool:
        try:
            found = self._path(digest).stat()
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode) and found.st_mtime <= cutoff.timestamp()

    def iter_blobs(self) -> Iterator[StoredBlob]:
        # Directory by directory, so a huge store is never listed into memory at once.
        for first in _sorted_entries(self._base):
            if not (first.is_dir() and _FANOUT_RE.fullmatch(first.name)):
                continue
            for second in _sorted_entries(Path(first.path)):
                if not (second.is_dir() and _FANOUT_RE.fullmatch(second.name)):
                    continue
                for entry in _sorted_entries(Path(second.path)):
                    blob = _stored_blob(entry, first.name + second.name)
                    if blob is not None:
                        yield blob

    def cleanup_temporary(self, older_than: timedelta = timedelta(hours=1)) -> int:
        return _remove_stale_parts(self._tmp, datetime.now(UTC) - older_than)

    def uri_for(self, digest: str) -> str:
        return str(self._path(digest))


def _remove_stale_parts(directory: Path, cutoff: datetime) -> int:
    """Delete `*.part` files in `directory` last modified before `cutoff`; how many."""
    removed = 0
    for path in directory.glob("*.part"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime <= cutoff.timestamp():
                path.unlink()
                removed += 1
    return removed


def _sorted_entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except FileNotFoundError:
        return []


def _stored_blob(entry: os.DirEntry[str], fanout: str) -> StoredBlob | None:
    """A listing entry as a blob, or None for strays (temp names, misplaced files)."""
    name = entry.name
    if not (_DIGEST_RE.fullmatch(name) and name[:4] == fanout):
        return None
    try:
        if not entry.is_file():
            return None
        stat = entry.stat()
    except FileNotFoundError:  # deleted while we were listing
        return None
    return StoredBlob(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))


def _fsync_directory(path: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- S3 --------------------------------------------------------------------------------

# A spool file being uploaded is not written to; the upload touches it this often, so
# gc's grace period (an hour by default) never mistakes a long upload for a dead one.
SPOOL_TOUCH_SECONDS = 60.0
SPOOL_DIR_ENV = "REGISTRY_SPOOL_DIR"


def _spool_dir_for(root_uri: str) -> Path:
    """One local spool directory per S3 artifact root, so gc can find what a killed writer
    left there: `$REGISTRY_SPOOL_DIR` (default: the system temp dir)/registry-spool/<hash>."""
    base = os.environ.get(SPOOL_DIR_ENV) or tempfile.gettempdir()
    name = hashlib.sha256(root_uri.encode("utf-8")).hexdigest()[:16]
    return Path(base) / "registry-spool" / name


class _SpoolToucher:
    """boto3 upload progress callback: refresh the spool file's age now and then."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._last = time.monotonic()
        self._lock = threading.Lock()  # boto3 calls back from several transfer threads

    def __call__(self, _transferred: int) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < SPOOL_TOUCH_SECONDS:
                return
            self._last = now
        with contextlib.suppress(OSError):
            os.utime(self._path)


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
        self.spool_dir = _spool_dir_for(self.root_uri)
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
        try:
            self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, spool_path = tempfile.mkstemp(suffix=".part", dir=self.spool_dir)
        except OSError as exc:
            raise _temporary_write_error(exc) from exc
        return Path(spool_path), open(fd, "wb")  # closed by BlobStore.writer

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
                Callback=_SpoolToucher(spool_path),
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
                return _hash_stream(body, sink, on_bytes)
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
        if not _DIGEST_RE.fullmatch(name) or key != self._under_prefix(relative_key(name)):
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
        aborted = _remove_stale_parts(self.spool_dir, cutoff)
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


# --- opening ---------------------------------------------------------------------------


def open_blob_store(
    artifact_root: str | os.PathLike[str], *, s3_endpoint_url: str | None = None
) -> BlobStore:
    """`s3://bucket/prefix` -> S3; a path or `file://` URL -> local directory (created).

    The S3 endpoint is `s3_endpoint_url`, else `$REGISTRY_S3_ENDPOINT_URL`, else whatever
    boto3's default chain says (AWS_ENDPOINT_URL, config files, AWS itself).
    """
    root = _root_string(artifact_root)
    scheme, separator, rest = root.partition("://")
    if not separator:
        return LocalBlobStore(Path(root))
    scheme = scheme.lower()
    if scheme == "s3":
        bucket, prefix = _parse_s3_root(root, rest)
        endpoint = s3_endpoint_url or os.environ.get(S3_ENDPOINT_ENV) or None
        return S3BlobStore(bucket, prefix, endpoint)
    if scheme == "file":
        return LocalBlobStore(_file_url_path(root))
    raise ConfigurationError(
        f"artifact root {root!r}: scheme {scheme!r} is not supported. Use a directory, a "
        "file:// URL or s3://bucket/prefix."
    )


def _root_string(artifact_root: object) -> str:
    if isinstance(artifact_root, os.PathLike):
        artifact_root = os.fspath(artifact_root)
    if not isinstance(artifact_root, str) or not artifact_root.strip():
        raise ConfigurationError(
            f"artifact root {artifact_root!r} is empty: pass a directory or "
            "s3://bucket/prefix, or set REGISTRY_ARTIFACT_ROOT"
        )
    return artifact_root.strip()


def _parse_s3_root(root: str, rest: str) -> tuple[str, str]:
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigurationError(
            f"artifact root {root!r} names no bucket; use s3://bucket or s3://bucket/prefix"
        )
    if not _BUCKET_RE.fullmatch(bucket):
        raise ConfigurationError(f"artifact root {root!r}: {bucket!r} is not a valid bucket name")
    return bucket, prefix


def _file_url_path(root: str) -> Path:
    parsed = urlparse(root)
    if parsed.netloc not in ("", "localhost"):
        raise ConfigurationError(
            f"artifact root {root!r} points at host {parsed.netloc!r}; file:// URLs must be "
            "local (file:///absolute/path). Mount remote storage or use s3://."
        )
    if not parsed.path:
        raise ConfigurationError(f"artifact root {root!r} has no path; use file:///absolute/path")
    return Path(url2pathname(parsed.path))
