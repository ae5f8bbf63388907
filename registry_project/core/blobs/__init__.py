"""Content-addressed blob store: the SHA-256 of the bytes is their name.

Writes hash while they stream and become visible atomically (temp file + rename locally,
spool-then-upload on S3), so a reader never sees a partial blob under a real name, and
identical bytes are stored once. Reads hash while they stream into a temporary spool and
are checked before the caller sees a single byte, so corrupt data is never deserialised.
Nothing holds a whole blob in memory: data moves in `CHUNK_SIZE` pieces and spools roll
over to disk past `SPOOL_MAX_IN_MEMORY`. No lock is held while bytes travel.

Layout (both backends): `<root>/blobs/sha256/ab/cd/<digest>`.

One job per module; every public name is re-exported here, so callers import from
`registry_project.core.blobs` and never need to know which module holds what:

- `layout`: digests, where a blob lives, `BlobInfo` / `StoredBlob`, stale `*.part` files
- `interface`: `BlobStore`, the contract and the write and verified-read recipes
- `streaming`: `BlobWriter` and `hash_stream`, hashing bytes as they move
- `background_hash`: the worker thread that hashes while the caller copies or serialises
- `background_sink`: the worker thread that overlaps disk I/O with hashing
- `durability`: the pool that runs a deferred write's fsync + rename or upload
- `local`: `LocalBlobStore` and `check_blobs` (verify's worker processes run it);
  `s3`: `S3BlobStore`; `spool`: the S3 writer's local spool
- `roots`: `open_blob_store`, parsing `REGISTRY_ARTIFACT_ROOT`

Deletion under concurrent writes (gc, delete_dataset) follows one protocol, described where the
registry deletes blobs (`delete_unreferenced`): a write always (re)stores its own bytes, so an
existing copy is refreshed (new modification time) and healed if it was corrupt, and it
confirms the copy with `confirm_stored` inside the transaction that commits its row.
"""

from registry_project.core.blobs.interface import SPOOL_MAX_IN_MEMORY, BlobStore
from registry_project.core.blobs.layout import (
    BlobInfo,
    ProgressCallback,
    StoredBlob,
    check_digest,
    relative_key,
)
from registry_project.core.blobs.local import SYNC_EVERY, LocalBlobStore, check_blobs
from registry_project.core.blobs.roots import open_blob_store
from registry_project.core.blobs.s3 import (
    S3_ENDPOINT_ENV,
    S3_MAX_CONCURRENCY,
    S3_MULTIPART_THRESHOLD,
    S3_PART_SIZE,
    S3BlobStore,
)
from registry_project.core.blobs.spool import SPOOL_DIR_ENV, SPOOL_TOUCH_SECONDS
from registry_project.core.blobs.streaming import CHUNK_SIZE, PIPELINE_THRESHOLD, BlobWriter

__all__ = [
    "CHUNK_SIZE",
    "PIPELINE_THRESHOLD",
    "S3_ENDPOINT_ENV",
    "S3_MAX_CONCURRENCY",
    "S3_MULTIPART_THRESHOLD",
    "S3_PART_SIZE",
    "SPOOL_DIR_ENV",
    "SPOOL_MAX_IN_MEMORY",
    "SPOOL_TOUCH_SECONDS",
    "SYNC_EVERY",
    "BlobInfo",
    "BlobStore",
    "BlobWriter",
    "LocalBlobStore",
    "ProgressCallback",
    "S3BlobStore",
    "StoredBlob",
    "check_blobs",
    "check_digest",
    "open_blob_store",
    "relative_key",
]
