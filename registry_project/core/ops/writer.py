"""`Writer`: what every concern module shares - the engine, the blob store, a bound view's
Dagster defaults - and the transaction steps of the write recipe (docs/ARCHITECTURE.md).

The write recipe's retry loop, the bytes-vanished protocol and how database errors reach
the caller exist here once; the concern modules (`dataset_ops`, `run_ops`, ...) call them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from registry_project.core.blobs import BlobInfo, BlobStore
from registry_project.core.config import resolve_actor
from registry_project.core.errors import (
    ConflictError,
    IntegrityCheckError,
    PermissionDeniedError,
    RegistryError,
    StorageError,
)
from registry_project.core.secrets import mask_credentials
from registry_project.core.store import audit
from registry_project.core.store.engine import (
    read_transaction,
    snapshot_transaction,
    write_transaction,
)
from registry_project.core.store.referenced_blobs import referenced_among
from registry_project.core.validation import validate_dagster_context

T = TypeVar("T")
WRITE_RETRIES = 5
# How often a write stores its bytes again when a concurrent deletion removed them before
# its row committed (each time is a real race with gc or delete_dataset: rare).
STORE_ATTEMPTS = 3


class StoredBytesVanished(ConflictError):
    """The bytes a write stored were deleted before the row pointing at them committed."""


def now() -> datetime:
    return datetime.now(UTC)


def is_retriable(exc: sa.exc.DBAPIError) -> bool:
    """Lock contention the database resolved by failing one side: safe to run again."""
    code = getattr(exc.orig, "sqlstate", None)
    if code in ("40001", "40P01"):  # serialization failure, deadlock detected
        return True
    return "database is locked" in str(exc.orig)


def storage_error(exc: sa.exc.DBAPIError) -> RegistryError:
    detail = mask_credentials(str(exc.orig))
    if getattr(exc.orig, "sqlstate", None) == "42501":  # insufficient_privilege
        first = detail.splitlines()[0] if detail else "permission denied"
        return PermissionDeniedError(
            f"the database refused this for the connected role, nothing was written: "
            f"{first}. Ask an administrator for the role this needs "
            "(registry db roles: reader, writer, approver, admin)."
        )
    if isinstance(exc, sa.exc.IntegrityError):
        return ConflictError(
            f"a concurrent change collided with this one and nothing was written "
            f"({detail}). Re-read the registry and retry."
        )
    return StorageError(
        f"registry database error, nothing was written: {detail}. If the server was "
        "restarted or the connection dropped, retry the call."
    )


class Writer:
    """One registry's (or bound view's) engine, blob store and defaults, and its
    transactions. The concern modules take it as their first argument."""

    __slots__ = (
        "allow_pickle",
        "blobs",
        "default_asset_key",
        "default_dagster_run_id",
        "engine",
        "identity",
        "stored_capture",
    )

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        *,
        allow_pickle: bool,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> None:
        self.engine = engine
        self.blobs = blobs
        self.allow_pickle = allow_pickle
        # Recorded on every write that does not name its own (see `ModelRegistry.bound`).
        self.default_dagster_run_id = dagster_run_id
        self.default_asset_key = asset_key
        # PostgreSQL identity mode (store/roles.py): the connection's role, which every
        # write records as its actor whatever the caller claims; None elsewhere.
        self.identity: str | None = None
        # The last environment capture whose blobs a committed run row keeps (run_ops).
        self.stored_capture: (
            tuple[Any, str, tuple[tuple[str, str, int], ...], tuple[BlobInfo, ...]] | None
        ) = None

    @property
    def overlaps_blob_durability(self) -> bool:
        """Whether a write makes its small blob durable (fsync, rename) in the background
        while its transaction runs, waiting for it before the row's audit event.

        On PostgreSQL the transaction's statements are round trips to the server while the
        blob's fsyncs run on this machine: overlapping them saves ~0.4 ms a registration
        (benchmarks W1, 4.6 -> 4.2 ms). On SQLite the blob's fsyncs and the database's
        commit go through one file system journal, and overlapping them only moved the
        wait and added thread handoffs (2.70 -> 2.82 ms): there the blob is durable before
        the transaction starts."""
        return self.engine.dialect.name != "sqlite"

    def actor(self, claimed: str | None) -> str:
        """Who a write records: the database role in identity mode (the database checks
        it), else the caller's `actor=`, REGISTRY_ACTOR or the OS user."""
        if self.identity is not None:
            return self.identity
        return resolve_actor(claimed)

    def dagster_context(
        self, dagster_run_id: str | None, asset_key: str | None
    ) -> tuple[str | None, str | None]:
        """This call's Dagster run id and asset key, else the bound view's, validated."""
        return validate_dagster_context(
            self.default_dagster_run_id if dagster_run_id is None else dagster_run_id,
            self.default_asset_key if asset_key is None else asset_key,
        )

    def dagster_origin(self) -> dict[str, str]:
        """The Dagster run (and asset) making a change, recorded on its stage-change audit
        event so that Dagster can tell its own changes from changes made outside it
        (orchestration/registry_sync)."""
        origin = {}
        if self.default_dagster_run_id:
            origin["dagster_run_id"] = self.default_dagster_run_id
        if self.default_asset_key:
            origin["asset_key"] = self.default_asset_key
        return origin

    def write(self, work: Callable[[Connection], T], *, sync_later: bool = False) -> T:
        """Run `work` in one write transaction, retrying when the database resolved lock
        contention by failing us (deadlock, serialization failure, busy SQLite).

        `sync_later`: the commit is made durable by the next synced one, not on its own
        (SQLite; see `engine.write_transaction` for when that is allowed)."""
        reconnected = False
        for attempt in range(WRITE_RETRIES):
            in_work = True
            try:
                with write_transaction(self.engine, sync_later=sync_later) as connection:
                    result = work(connection)
                    in_work = False
                return result
            except sa.exc.DBAPIError as exc:
                if (
                    exc.connection_invalidated
                    and in_work
                    and not reconnected
                    and attempt < WRITE_RETRIES - 1
                ):
                    # The connection died (a server restart, a terminated backend) before
                    # COMMIT was sent, so nothing was committed: run again once, on a fresh
                    # connection (the pool discarded the dead ones). A connection lost
                    # during COMMIT is not retried: the commit may have happened. On
                    # PostgreSQL the statements queued last travel with the COMMIT
                    # (store/prepared.py), so their failure arrives after `in_work`.
                    reconnected = True
                    continue
                if isinstance(exc, sa.exc.IntegrityError) or not is_retriable(exc):
                    raise storage_error(exc) from exc
                if attempt == WRITE_RETRIES - 1:
                    raise ConflictError(
                        "the registry database stayed busy; nothing was written. Retry."
                    ) from exc
        raise AssertionError("unreachable")

    def write_stored(
        self,
        work: Callable[[Connection], T],
        store_again: Callable[[], None],
        *,
        sync_later: bool = False,
    ) -> T:
        """`write` for work that commits rows pointing at bytes it stored and confirms them
        (`confirm_stored`): if a concurrent deletion removed the bytes first, nothing was
        committed; `store_again` stores them anew and the work runs again."""
        for attempt in range(STORE_ATTEMPTS):
            try:
                return self.write(work, sync_later=sync_later)
            except StoredBytesVanished:
                if attempt == STORE_ATTEMPTS - 1:
                    raise
                store_again()
        raise AssertionError("unreachable")

    def confirm_stored(self, blobs: Sequence[BlobInfo]) -> None:
        """Inside a write transaction, once the audit head is locked (after append_event):
        the bytes its rows point at are still stored. See `delete_unreferenced`."""
        for blob in blobs:
            if not self.blobs.confirm_stored(blob):
                raise StoredBytesVanished(
                    f"blob {blob.digest} was deleted (gc or delete_dataset) while this write "
                    "was in flight, three times in a row; nothing was written. Retry."
                )

    def require_blobs(
        self, digests: Sequence[str], what: str, *, sizes: Mapping[str, int] | None = None
    ) -> None:
        """Refuse to record a row over bytes another process claims to have stored, unless
        they are there, intact (re-hashed) and of the stated size."""
        for digest in digests:
            problem = self.blobs.check(digest)
            if problem is None and sizes and digest in sizes:
                actual = self.blobs.size(digest)
                if actual != sizes[digest]:
                    problem = f"{actual} bytes, not the {sizes[digest]} reported"
            if problem is not None:
                raise IntegrityCheckError(
                    f"{what} (sha256 {digest}) is {problem} in {self.blobs.root_uri}: the "
                    "process that reported it must write it there first (store_model / "
                    "store_software with this registry's artifact root); nothing was recorded"
                )

    def delete_unreferenced(self, connection: Connection, digests: Sequence[str]) -> list[str]:
        """Delete those of `digests` no committed row refers to; the deleted ones.

        Runs in a write transaction. The protocol that keeps the bytes of a write that is
        in flight while gc or delete_dataset deletes the same digest:

        1. A write stores its bytes before its transaction, holding no lock. On local disk
           it renames its own fsynced copy into place, also over identical bytes already
           there (a fresh modification time; a corrupt copy is healed). On S3 it uploads,
           or copies onto itself an existing object of the right size that the registry's
           own upload wrote under that digest (a fresh LastModified, no bytes travel).
        2. Its transaction appends an audit event, which locks the audit head (on SQLite
           the whole write transaction holds the database's write lock), and then
           confirms that the bytes are still stored (`BlobStore.confirm_stored`: a stat
           locally, a HEAD request on S3). If they are gone, it rolls back and stores
           them again (`write_stored`).
        3. A deletion takes that same lock first (here), re-reads which digests committed
           rows reference, and deletes only the others before it commits.

        The lock orders any deletion D against any write W of the same digest: if W
        commits first, D's re-read sees W's row and keeps the bytes; if D holds the lock
        first, W's confirmation runs after the deletion and sees it. No row can commit
        pointing at deleted bytes, whatever the timing. gc also deletes only blobs older
        than its grace period, checked again just before this step (`stored_before`), so
        a write normally never has to store its bytes twice. Nothing here depends on
        clocks or timing: a grace period of zero still never leaves a row without bytes.
        """
        audit.lock_head(connection)
        keep = referenced_among(connection, digests)
        return self.blobs.delete_many([digest for digest in digests if digest not in keep])

    @contextlib.contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction; `snapshot=True`: one whose statements all see the same
        state of the database on PostgreSQL too (`engine.snapshot_transaction`)."""
        opened = snapshot_transaction if snapshot else read_transaction
        try:
            with opened(self.engine) as connection:
                yield connection
        except sa.exc.DBAPIError as exc:
            raise storage_error(exc) from exc
