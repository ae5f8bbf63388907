"""ModelRegistry: the public Python API (see DESIGN.md; these names are a contract).

The facade validates every input first, writes bytes to the blob store second (a row never
points at a blob that is not durable yet), and writes metadata plus its audit event in one
database transaction last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from registry_project.core import anchors as anchor_checks
from registry_project.core import datasets as parquet
from registry_project.core import environment, evidence, flavors, stages
from registry_project.core import model_card as cards
from registry_project.core import reproduce as reproduction
from registry_project.core.active_run import ActiveRun
from registry_project.core.blobs import BlobInfo, BlobStore, open_blob_store
from registry_project.core.config import RegistryConfig, resolve_actor
from registry_project.core.entities import (
    AuditAction,
    AuditEvent,
    Column,
    DatasetKind,
    DatasetSnapshot,
    Dependent,
    GcReport,
    InputRole,
    Lineage,
    LineageDataset,
    MetricRecord,
    Model,
    ModelCardText,
    ModelVersion,
    Registration,
    Reproduction,
    RunStatus,
    Stage,
    StageTransition,
    TrainingRun,
    VerifyProblem,
    VerifyReport,
)
from registry_project.core.errors import (
    ConflictError,
    DatasetDeletedError,
    DatasetInUseError,
    DatasetNotFoundError,
    IntegrityCheckError,
    InvalidInputError,
    InvalidTransitionError,
    ModelNotFoundError,
    NotFoundError,
    PromotionConflictError,
    RegistryError,
    RunNotFoundError,
    StorageError,
    UnsafeFlavorError,
    VersionNotFoundError,
)
from registry_project.core.external import StoredArtifact, StoredSoftware
from registry_project.core.policy import PromotionPolicy
from registry_project.core.references import ByAlias, ById, ByNumber, parse_reference, parse_uuid
from registry_project.core.secrets import mask_credentials
from registry_project.core.store import audit, migrate
from registry_project.core.store import datasets as dataset_store
from registry_project.core.store import identity as identity_store
from registry_project.core.store import runs as run_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.store.consistency import audit_mismatches
from registry_project.core.store.engine import (
    create_registry_engine,
    read_transaction,
    sqlite_file,
    write_transaction,
)
from registry_project.core.store.references import referenced_among, referenced_digests
from registry_project.core.store.rows import columns_to_json, version_from_values
from registry_project.core.transactions import Transactions
from registry_project.core.validation import (
    MAX_DESCRIPTION_LENGTH,
    MAX_PIN_LENGTH,
    canonical_json,
    parse_order_by,
    storable_text,
    validate_columns,
    validate_dagster_context,
    validate_digest,
    validate_expiry,
    validate_filter_text,
    validate_grace_period,
    validate_limit,
    validate_metrics,
    validate_name,
    validate_params,
    validate_reason,
    validate_reference_uri,
    validate_row_count,
    validate_since,
    validate_text,
)

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
VersionRef = ModelVersion | str
DatasetRef = DatasetSnapshot | str
RunRef = ActiveRun | TrainingRun | str
InputsArg = (
    Sequence[DatasetSnapshot | tuple[DatasetSnapshot, str | InputRole]]
    | Mapping[str, DatasetSnapshot | Sequence[DatasetSnapshot]]
    | None
)

_UNSET: Any = object()
_WRITE_RETRIES = 5
GC_GRACE_PERIOD = timedelta(hours=1)
# gc deletes in batches, each in one short transaction (see `_delete_unreferenced`).
_GC_BATCH = 200
# How often a write stores its bytes again when a concurrent deletion removed them before
# its row committed (each time is a real race with gc or delete_dataset: rare).
_STORE_ATTEMPTS = 3


class _StoredBytesVanished(ConflictError):
    """The bytes a write stored were deleted before the row pointing at them committed."""


def _now() -> datetime:
    return datetime.now(UTC)


def _is_retriable(exc: sa.exc.DBAPIError) -> bool:
    """Lock contention the database resolved by failing one side: safe to run again."""
    code = getattr(exc.orig, "sqlstate", None)
    if code in ("40001", "40P01"):  # serialization failure, deadlock detected
        return True
    return "database is locked" in str(exc.orig)


class ModelRegistry:
    """A model registry over a SQL database (metadata) and a blob store (bytes).

    Example::

        reg = ModelRegistry.open()  # ./.registry/ unless REGISTRY_* says otherwise
        snap = reg.snapshot_dataset("customers", df)
        with reg.start_run("churn-training", params={"C": 1.0}, inputs=[snap]) as run:
            mv = reg.register_model("churn", model, run=run, metrics={"auc": 0.91})
        reg.promote(mv, actor="alice", reason="first model")
        model = reg.load_model("churn@production")
    """

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        *,
        config: RegistryConfig,
        allow_pickle: bool = True,
    ) -> None:
        self._engine = engine
        self._blobs = blobs
        self.config = config
        self.allow_pickle = allow_pickle
        self._owns_engine = True
        self._stored_capture: (
            tuple[Any, str, tuple[tuple[str, str, int], ...], tuple[BlobInfo, ...]] | None
        ) = None
        # Recorded on every write that does not name its own (see `bound`).
        self.default_dagster_run_id: str | None = None
        self.default_asset_key: str | None = None

    def bound(
        self, *, dagster_run_id: str | None = None, asset_key: str | None = None
    ) -> ModelRegistry:
        """A view of this registry whose writes record this Dagster run id and asset key
        unless a call passes its own. It shares the connection pool; closing it is a no-op.

        Example::

            reg.bound(dagster_run_id=context.run_id, asset_key="churn/candidate")
        """
        view = ModelRegistry(
            self._engine, self._blobs, config=self.config, allow_pickle=self.allow_pickle
        )
        view._owns_engine = False
        view.default_dagster_run_id, view.default_asset_key = validate_dagster_context(
            dagster_run_id, asset_key
        )
        return view

    def _dagster_context(
        self, dagster_run_id: str | None, asset_key: str | None
    ) -> tuple[str | None, str | None]:
        """This call's Dagster run id and asset key, else the bound view's, validated."""
        return validate_dagster_context(
            self.default_dagster_run_id if dagster_run_id is None else dagster_run_id,
            self.default_asset_key if asset_key is None else asset_key,
        )

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        artifact_root: str | None = None,
        *,
        allow_pickle: bool = True,
        s3_endpoint_url: str | None = None,
        create: bool = True,
    ) -> ModelRegistry:
        """Open (and on first use create) a registry.

        `database_url` defaults to REGISTRY_DATABASE_URL, else ./.registry/registry.db;
        `artifact_root` to REGISTRY_ARTIFACT_ROOT, else ./.registry/artifacts (a directory
        or `s3://bucket/prefix`). An empty database is created at the current schema; an
        older one must be upgraded with `registry db upgrade`.

        `allow_pickle=False` refuses to load pickle-based flavors (pickle, joblib): loading
        those runs code chosen by whoever wrote the artifact.

        `create=False` opens only an existing registry: where there is none (no SQLite
        file, or an empty database) it raises `RegistryNotFoundError` and creates nothing.
        """
        config = RegistryConfig.resolve(database_url, artifact_root)
        database_file = sqlite_file(config.database_url)
        if not create and database_file is not None and not database_file.is_file():
            raise migrate.registry_not_found(config.database_url)
        engine = create_registry_engine(config.database_url)
        try:
            migrate.ensure_schema(engine, create=create)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise StorageError(
                mask_credentials(
                    f"cannot reach the registry database ({engine.url.render_as_string()}): "
                    f"{exc.orig}. Check REGISTRY_DATABASE_URL and that the server is running."
                )
            ) from exc
        except BaseException:
            engine.dispose()
            raise
        blobs = open_blob_store(config.artifact_root, s3_endpoint_url=s3_endpoint_url)
        return cls(engine, blobs, config=config, allow_pickle=allow_pickle)

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    @property
    def engine(self) -> Engine:
        return self._engine

    # --- transactions --------------------------------------------------------------------

    def _write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one write transaction, retrying when the database resolved lock
        contention by failing us (deadlock, serialization failure, busy SQLite)."""
        for attempt in range(_WRITE_RETRIES):
            try:
                with write_transaction(self._engine) as connection:
                    return work(connection)
            except sa.exc.DBAPIError as exc:
                if isinstance(exc, sa.exc.IntegrityError) or not _is_retriable(exc):
                    raise self._storage_error(exc) from exc
                if attempt == _WRITE_RETRIES - 1:
                    raise ConflictError(
                        "the registry database stayed busy; nothing was written. Retry."
                    ) from exc
        raise AssertionError("unreachable")

    def _write_stored(self, work: Callable[[Connection], T], store_again: Callable[[], None]) -> T:
        """`_write` for work that commits rows pointing at bytes it stored and confirms them
        (`_confirm_stored`): if a concurrent deletion removed the bytes first, nothing was
        committed; `store_again` stores them anew and the work runs again."""
        for attempt in range(_STORE_ATTEMPTS):
            try:
                return self._write(work)
            except _StoredBytesVanished:
                if attempt == _STORE_ATTEMPTS - 1:
                    raise
                store_again()
        raise AssertionError("unreachable")

    def _confirm_stored(self, blobs: Sequence[BlobInfo]) -> None:
        """Inside a write transaction, once the audit head is locked (after append_event):
        the bytes its rows point at are still stored. See `_delete_unreferenced`."""
        for blob in blobs:
            if not self._blobs.confirm_stored(blob):
                raise _StoredBytesVanished(
                    f"blob {blob.digest} was deleted (gc or delete_dataset) while this write "
                    "was in flight, three times in a row; nothing was written. Retry."
                )

    def _delete_unreferenced(self, connection: Connection, digests: Sequence[str]) -> list[str]:
        """Delete those of `digests` no committed row refers to; the deleted ones.

        Runs in a write transaction. The protocol that keeps the bytes of a write that is
        in flight while gc or delete_dataset deletes the same digest:

        1. A write stores its bytes before its transaction, holding no lock. On local disk
           it renames its own fsynced copy into place, also over identical bytes already
           there (a fresh modification time; a corrupt copy is healed). On S3 it uploads,
           or copies an existing object of the right size onto itself (a fresh
           LastModified, no bytes travel).
        2. Its transaction appends an audit event, which locks the audit head (on SQLite
           the whole write transaction holds the database's write lock), and then
           confirms that the bytes are still stored (`BlobStore.confirm_stored`: a stat
           locally, a HEAD request on S3). If they are gone, it rolls back and stores
           them again (`_write_stored`).
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
        return self._blobs.delete_many([digest for digest in digests if digest not in keep])

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with read_transaction(self._engine) as connection:
                yield connection
        except sa.exc.DBAPIError as exc:
            raise self._storage_error(exc) from exc

    @staticmethod
    def _storage_error(exc: sa.exc.DBAPIError) -> RegistryError:
        detail = mask_credentials(str(exc.orig))
        if isinstance(exc, sa.exc.IntegrityError):
            return ConflictError(
                f"a concurrent change collided with this one and nothing was written "
                f"({detail}). Re-read the registry and retry."
            )
        return StorageError(
            f"registry database error, nothing was written: {detail}. If the server was "
            "restarted or the connection dropped, retry the call."
        )

    # --- datasets ------------------------------------------------------------------------

    def snapshot_dataset(
        self,
        name: str,
        data: Any,
        *,
        expires_at: datetime | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> DatasetSnapshot:
        """Store a DataFrame or Arrow table as a content-addressed parquet snapshot.

        The same content under the same name returns the existing snapshot.

        Example::

            snap = reg.snapshot_dataset("customers", df)
            snap.digest, snap.row_count, snap.columns
        """
        validate_name(name, "dataset name")
        expires = validate_expiry(expires_at)
        who = resolve_actor(actor)
        dagster_run_id, asset_key = self._dagster_context(dagster_run_id, asset_key)
        table = parquet.to_arrow(data)  # refuses unsupported types before any write
        blob, shape = self._store_table(table)

        def store_again() -> None:
            nonlocal blob, shape
            blob, shape = self._store_table(table)

        def work(connection: Connection) -> DatasetSnapshot:
            existing = dataset_store.find_live_snapshot(connection, name, blob.digest)
            if existing is not None:
                return existing
            at = _now()
            values = {
                "id": str(uuid.uuid4()),
                "name": name,
                "kind": DatasetKind.SNAPSHOT.value,
                "digest": blob.digest,
                "uri": self._blobs.uri_for(blob.digest),
                "size_bytes": blob.size,
                "row_count": shape.row_count,
                "columns_json": columns_to_json(shape.columns),
                "created_at": at,
                "created_by": who,
                "expires_at": expires,
                "dagster_run_id": dagster_run_id,
                "asset_key": asset_key,
            }
            dataset_store.insert_dataset(connection, values)
            audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.SNAPSHOT_DATASET,
                    subject_type="dataset",
                    subject_id=values["id"],
                    dataset_name=name,
                    after={
                        "digest": blob.digest,
                        "rows": shape.row_count,
                        "size_bytes": blob.size,
                        "dagster_run_id": dagster_run_id,
                    },
                ),
            )
            self._confirm_stored([blob])
            return dataset_store.fetch_dataset(connection, values["id"])  # type: ignore[return-value]

        return self._write_stored(work, store_again)

    def _store_table(self, table: Any) -> tuple[BlobInfo, parquet.TableShape]:
        with self._blobs.writer() as writer:
            shape = parquet.write_parquet(table, writer)
        assert writer.info is not None  # set when the block exits normally
        return writer.info, shape

    def reference_dataset(
        self,
        name: str,
        uri: str,
        *,
        version_id: str | None = None,
        etag: str | None = None,
        digest: str | None = None,
        row_count: int | None = None,
        columns: Sequence[Column] | None = None,
        expires_at: datetime | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> DatasetSnapshot:
        """Pin data too large to copy (an S3 object version, an ETag, a table snapshot id or
        a SHA-256 digest) without copying it. At least one pin is required.

        Example::

            ref = reg.reference_dataset("events", uri="s3://lake/events.parquet",
                                        version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
        """
        validate_name(name, "dataset name")
        validate_reference_uri(uri)
        expires = validate_expiry(expires_at)
        who = resolve_actor(actor)
        dagster_run_id, asset_key = self._dagster_context(dagster_run_id, asset_key)
        for key, value in {"version_id": version_id, "etag": etag}.items():
            if validate_text(value, key, max_length=MAX_PIN_LENGTH) == "":
                raise InvalidInputError(f"{key} is empty; give the pin or leave it out")
        if digest is not None:
            validate_digest(digest)
        if version_id is None and etag is None and digest is None:
            raise InvalidInputError(
                f"reference to {uri!r} is not pinned: pass version_id= (S3 object version or "
                "table snapshot id), etag= or digest= so the exact data can be found again"
            )
        row_count = validate_row_count(row_count)
        schema_columns = validate_columns(columns)
        at = _now()
        values = {
            "id": str(uuid.uuid4()),
            "name": name,
            "kind": DatasetKind.REFERENCE.value,
            "digest": digest,
            "uri": uri,
            "version_id": version_id,
            "etag": etag,
            "row_count": row_count,
            "columns_json": columns_to_json(schema_columns),
            "created_at": at,
            "created_by": who,
            "expires_at": expires,
            "dagster_run_id": dagster_run_id,
            "asset_key": asset_key,
        }

        def work(connection: Connection) -> DatasetSnapshot:
            dataset_store.insert_dataset(connection, values)
            audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.REFERENCE_DATASET,
                    subject_type="dataset",
                    subject_id=values["id"],
                    dataset_name=name,
                    after={"uri": uri, "version_id": version_id, "etag": etag, "digest": digest},
                ),
            )
            return dataset_store.fetch_dataset(connection, values["id"])  # type: ignore[return-value]

        return self._write(work)

    def get_dataset(self, dataset: DatasetRef) -> DatasetSnapshot:
        dataset_id = self._dataset_id(dataset)
        with self._read() as connection:
            found = dataset_store.fetch_dataset(connection, dataset_id)
        if found is None:
            raise DatasetNotFoundError(
                f"no dataset snapshot with id {dataset_id}; list them with `registry datasets`"
            )
        return found

    def datasets(
        self, name: str | None = None, *, include_deleted: bool = True
    ) -> list[DatasetSnapshot]:
        """Snapshots and references, newest first per name; tombstones included by default."""
        if name is not None:
            validate_name(name, "dataset name")
        with self._read() as connection:
            return dataset_store.list_datasets(connection, name, include_deleted=include_deleted)

    def load_dataset(self, dataset: DatasetRef, *, as_arrow: bool = False) -> Any:
        """The exact snapshotted data (digest verified before parsing), as a DataFrame, or a
        pyarrow Table with `as_arrow=True`."""
        snapshot = self.get_dataset(dataset)
        if snapshot.deleted:
            raise DatasetDeletedError(
                f"dataset {snapshot.name} ({snapshot.id}) was deleted on "
                f"{snapshot.deleted_at:%Y-%m-%d} by {snapshot.deleted_by}: "
                f"{snapshot.deletion_reason}. Only its tombstone remains."
            )
        if snapshot.kind is DatasetKind.REFERENCE or snapshot.digest is None:
            raise InvalidInputError(
                f"dataset {snapshot.name} ({snapshot.id}) is a reference to {snapshot.uri}; "
                "its bytes are not in the registry. Read it from that URI at the pinned version."
            )
        with self._blobs.open_verified(snapshot.digest) as stream:
            return parquet.read_parquet(stream, as_arrow=as_arrow)

    def dependents(self, dataset: DatasetRef) -> list[Dependent]:
        """Every model version trained (run input) or evaluated (metrics) on this dataset."""
        dataset_id = self.get_dataset(dataset).id
        with self._read() as connection:
            return version_store.dependents_of(connection, [dataset_id])

    def delete_dataset(
        self,
        dataset: DatasetRef,
        *,
        actor: str | None = None,
        reason: str,
        force: bool = False,
    ) -> DatasetSnapshot:
        """Delete a snapshot's bytes, keeping a tombstone (digest, schema, rows, who, when,
        why) so lineage still answers.

        Refused with `DatasetInUseError` while any model version depends on it, unless
        `force=True`; forcing marks those versions as trained on deleted data. If another
        live snapshot holds identical bytes, the bytes stay until that one is deleted too.
        """
        why = validate_reason(reason, required=True, action="deleting a dataset")
        who = resolve_actor(actor)
        snapshot = self.get_dataset(dataset)
        if snapshot.deleted:
            raise InvalidInputError(
                f"dataset {snapshot.name} ({snapshot.id}) is already deleted "
                f"(by {snapshot.deleted_by}: {snapshot.deletion_reason})"
            )

        def work(connection: Connection) -> tuple[DatasetSnapshot, bool]:
            # Locked first: a registration on a run trained on it (which share-locks it)
            # either committed before, and is among the dependents below, or waits and
            # then sees the tombstone (`runs.lock_run_inputs`).
            current = dataset_store.lock_dataset(connection, snapshot.id)
            if current is not None and current.deleted:
                raise InvalidInputError(
                    f"dataset {current.name} ({current.id}) is already deleted "
                    f"(by {current.deleted_by}: {current.deletion_reason})"
                )
            dependents = version_store.dependents_of(connection, [snapshot.id])
            if dependents and not force:
                listing = "; ".join(
                    f"{d.model_name}/{d.version} ({d.stage.value}, {d.relation})"
                    for d in dependents
                )
                raise DatasetInUseError(
                    f"dataset {snapshot.name} ({snapshot.id}) is used by {len(dependents)} "
                    f"model version(s): {listing}. Deleting it would leave them unreproducible: "
                    "pass force=True (CLI: --force) with a reason to delete it anyway; they "
                    "are then marked as trained on deleted data.",
                    tuple(dependents),
                )
            at = _now()
            dataset_store.mark_deleted(connection, snapshot.id, actor=who, reason=why, at=at)
            version_store.mark_trained_on_deleted(connection, {d.version_id for d in dependents})
            still_used = (
                snapshot.digest is not None
                and snapshot.kind is DatasetKind.SNAPSHOT
                and bool(dataset_store.live_ids_with_digest(connection, snapshot.digest))
            )
            audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.DELETE_DATASET,
                    subject_type="dataset",
                    subject_id=snapshot.id,
                    dataset_name=snapshot.name,
                    before={"digest": snapshot.digest, "rows": snapshot.row_count},
                    after={
                        "deleted": True,
                        "forced": bool(force and dependents),
                        "affected_versions": [f"{d.model_name}/{d.version}" for d in dependents],
                        "bytes_kept_for_identical_snapshots": still_used,
                    },
                    reason=why,
                ),
            )
            return dataset_store.fetch_dataset(connection, snapshot.id), still_used  # type: ignore[return-value]

        tombstone, still_used = self._write(work)
        # The tombstone is committed first: if deleting the bytes fails now, they are an
        # unreferenced blob that `gc` removes, never a record pointing at nothing. An
        # identical snapshot taken meanwhile keeps them (`_delete_unreferenced`).
        digest = snapshot.digest
        if snapshot.kind is DatasetKind.SNAPSHOT and digest and not still_used:
            self._write(lambda connection: self._delete_unreferenced(connection, [digest]))
        return tombstone

    # --- runs ----------------------------------------------------------------------------

    def start_run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        inputs: InputsArg = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
        capture_environment: bool = True,
        software: StoredSoftware | None = None,
        actor: str | None = None,
    ) -> ActiveRun:
        """Start a training run; use it as a context manager.

        `inputs` are the snapshots the run reads: a list (role "train"), `(snapshot, role)`
        pairs, or a mapping `{"train": snap, "test": holdout}`. The code version (git commit,
        dirty flag, remote) and the environment (Python, platform, installed packages,
        Dockerfile / requirements / pyproject at the project root) are captured, unless
        `software` brings them from where the run really executed (an external training
        process that stored its environment files as blobs; see `core.external`).

        Example::

            with reg.start_run("churn-training", params={"C": 1.0}, inputs=[snap]) as run:
                mv = reg.register_model("churn", model, run=run, metrics={"auc": 0.91})
        """
        validate_name(name, "run name")
        params_json = validate_params(params)
        who = resolve_actor(actor)
        dagster_run_id, asset_key = self._dagster_context(dagster_run_id, asset_key)
        pairs = self._normalise_inputs(inputs)
        values: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "name": name,
            "status": RunStatus.RUNNING.value,
            "params_json": params_json,
            "started_at": _now(),
            "created_by": who,
            "dagster_run_id": dagster_run_id,
            "asset_key": asset_key,
        }
        files: list[tuple[str, str, int]] = []
        stored: tuple[BlobInfo, ...] = ()
        captured: environment.CapturedEnvironment | None = None
        if software is not None:
            self._require_blobs(software.digests, "the run's environment files")
            values.update(_software_values(software))
            files = list(software.files)
        elif capture_environment:
            code, captured = environment.capture_software()
            values.update(
                code_commit=code.commit,
                code_dirty=code.dirty,
                code_remote=code.remote,
                code_branch=code.branch,
            )
            packages_digest, files, stored = self._store_environment(captured)
            values.update(
                python_version=captured.python_version,
                platform=captured.platform,
                packages_digest=packages_digest,
                package_count=len(captured.packages),
            )

        def store_again() -> None:
            nonlocal files, stored
            assert captured is not None  # only stored bytes can vanish
            self._stored_capture = None
            values["packages_digest"], files, stored = self._store_environment(captured)

        def work(connection: Connection) -> None:
            known = dataset_store.fetch_datasets(connection, [d for d, _ in pairs])
            missing = [d for d, _ in pairs if d not in known]
            if missing:
                raise DatasetNotFoundError(f"run inputs not in this registry: {missing}")
            run_store.insert_run(connection, values, pairs, files)
            audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.START_RUN,
                    subject_type="run",
                    subject_id=values["id"],
                    after={
                        "name": name,
                        "inputs": [f"{role}:{d}" for d, role in pairs],
                        "code_commit": values.get("code_commit"),
                        "dagster_run_id": dagster_run_id,
                    },
                ),
            )
            self._confirm_stored(stored)

        self._write_stored(work, store_again)
        if captured is not None:
            # Reused by the next run only now that a committed row keeps these blobs.
            self._stored_capture = (captured, values["packages_digest"], tuple(files), stored)
        return ActiveRun(self, values["id"], name)

    def _store_environment(
        self, captured: environment.CapturedEnvironment
    ) -> tuple[str, list[tuple[str, str, int]], tuple[BlobInfo, ...]]:
        """Store the package list and environment files as blobs (once per capture)."""
        if self._stored_capture is not None and self._stored_capture[0] is captured:
            _, digest, files, blobs = self._stored_capture
            return digest, list(files), blobs
        packages_blob = self._blobs.put_bytes(captured.packages_text())
        files = []
        blobs = [packages_blob]
        for relative, path in captured.files:
            try:  # index URLs in requirements files may carry tokens: stored without them
                stored = self._blobs.put_bytes(environment.read_environment_file(path))
            except OSError:  # deleted or unreadable since the capture: leave it out
                continue
            files.append((relative, stored.digest, stored.size))
            blobs.append(stored)
        return packages_blob.digest, files, tuple(blobs)

    @staticmethod
    def _normalise_inputs(inputs: InputsArg) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []

        def add(snapshot: object, role: object) -> None:
            if not isinstance(snapshot, DatasetSnapshot):
                raise InvalidInputError(
                    f"run inputs must be DatasetSnapshot objects (from snapshot_dataset or "
                    f"reference_dataset), got {type(snapshot).__name__}"
                )
            try:
                role_value = InputRole(role).value
            except ValueError as exc:
                raise InvalidInputError(
                    f"unknown input role {role!r}; use train, validation or test"
                ) from exc
            if (snapshot.id, role_value) not in pairs:
                pairs.append((snapshot.id, role_value))

        if inputs is None:
            return pairs
        if not isinstance(inputs, Mapping | Sequence):
            raise InvalidInputError(
                "inputs must be a list of snapshots, (snapshot, role) pairs or a mapping "
                f"of role to snapshots, got {type(inputs).__name__}"
            )
        if isinstance(inputs, Mapping):
            for role, value in inputs.items():
                for snapshot in value if isinstance(value, Sequence) else [value]:
                    add(snapshot, role)
            return pairs
        for item in inputs:
            if isinstance(item, tuple):
                add(*item)
            else:
                add(item, InputRole.TRAIN)
        return pairs

    def log_run_metrics(self, run: RunRef, metrics: Mapping[str, float]) -> None:
        clean = validate_metrics(metrics)
        run_id = self._run_id(run)

        def work(connection: Connection) -> None:
            if run_store.fetch_run(connection, run_id) is None:
                raise RunNotFoundError(f"no training run with id {run_id}")
            run_store.upsert_run_metrics(connection, run_id, clean, _now())

        self._write(work)

    def _finish_run(self, run_id: str, status: RunStatus, error: str | None) -> None:
        who = resolve_actor(None)

        def work(connection: Connection) -> None:
            run_store.finish_run(
                connection,
                run_id,
                status=status.value,
                ended_at=_now(),
                error=storable_text(error),
            )
            audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.END_RUN,
                    subject_type="run",
                    subject_id=run_id,
                    after={
                        "status": status.value,
                        "error": storable_text((error or "")[-500:]) or None,
                    },
                ),
            )

        self._write(work)

    def get_run(self, run: RunRef) -> TrainingRun:
        run_id = self._run_id(run)
        with self._read() as connection:
            found = run_store.fetch_run(connection, run_id)
        if found is None:
            raise RunNotFoundError(f"no training run with id {run_id}")
        return found

    # --- model versions ------------------------------------------------------------------

    def register_model(
        self,
        name: str,
        model: object,
        *,
        run: RunRef | None = None,
        metrics: Mapping[str, float] | None = None,
        flavor: str | flavors.Flavor | None = None,
        signature: Any = None,
        description: str | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
        reuse_identical: bool = False,
    ) -> ModelVersion:
        """Serialise `model` through a flavor and register it as the next version (stage
        EXPERIMENT), in one transaction.

        `flavor` defaults to joblib for scikit-learn objects and pickle otherwise;
        `signature` is a sample DataFrame / Arrow table whose columns describe the input.

        `reuse_identical=True` registers nothing when a version of this model already has
        the same artifact digest, run params and input data, and returns that version
        instead (see `register_or_reuse`, which also says whether it reused one). It is off
        by default: a direct call registers what it is given, as it always has; the
        Dagster training asset turns it on, so retraining on unchanged data adds no
        byte-identical versions.

        Example::

            mv = reg.register_model("churn", clf, run=run, metrics={"auc": 0.91},
                                    signature=X_train.head())
            mv.version, mv.id, mv.artifact_digest
        """
        return self._register(
            name,
            model,
            run=run,
            metrics=metrics,
            flavor=flavor,
            signature=signature,
            description=description,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
            reuse_identical=reuse_identical,
        ).version

    def register_or_reuse(
        self,
        name: str,
        model: object,
        *,
        run: RunRef | None = None,
        metrics: Mapping[str, float] | None = None,
        flavor: str | flavors.Flavor | None = None,
        signature: Any = None,
        description: str | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> Registration:
        """`register_model`, unless a version of `name` already has the same artifact
        digest, the same run params and the same input data (snapshots by digest,
        references by their pin): then nothing is written and that version is returned
        with `reused=True`. The run stays recorded as a tracked run; the version keeps
        pointing at the run that first produced it, and `metrics` are not logged on it.

        Safe under concurrency: the lookup and the insert run in one transaction holding
        the model's lock, so two identical registrations at once make one version.

        Example::

            done = reg.register_or_reuse("churn", clf, run=run)
            if done.reused:
                print(f"nothing new: {done.version.ref} has these bytes, params and data")
        """
        return self._register(
            name,
            model,
            run=run,
            metrics=metrics,
            flavor=flavor,
            signature=signature,
            description=description,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
            reuse_identical=True,
        )

    def _register(
        self,
        name: str,
        model: object,
        *,
        run: RunRef | None,
        metrics: Mapping[str, float] | None,
        flavor: str | flavors.Flavor | None,
        signature: Any,
        description: str | None,
        actor: str | None,
        dagster_run_id: str | None,
        asset_key: str | None,
        reuse_identical: bool,
    ) -> Registration:
        validate_name(name, "model name")
        clean_metrics = validate_metrics(metrics)
        who = resolve_actor(actor)
        dagster_run_id, asset_key = self._dagster_context(dagster_run_id, asset_key)
        validate_text(description, "description", max_length=MAX_DESCRIPTION_LENGTH)
        chosen = self._resolve_flavor(model, flavor)
        columns = None if signature is None else flavors.signature_from_sample(signature)
        run_id = self._run_id(run) if run is not None else None
        blob = self._store_model(chosen, model)
        return self._record_version(
            name,
            StoredArtifact(
                blob.digest, blob.size, chosen.name, flavors.python_class_of(model), columns
            ),
            run_id=run_id,
            metrics=clean_metrics,
            description=description,
            actor=who,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
            store_again=lambda: self._store_model(chosen, model),
            reuse_identical=reuse_identical,
        )

    def register_artifact(
        self,
        name: str,
        artifact: StoredArtifact,
        *,
        run: RunRef | None = None,
        metrics: Mapping[str, float] | None = None,
        description: str | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> ModelVersion:
        """Register a model whose artifact another process already wrote to this registry's
        blob store (`core.external.store_model`), as the next version (EXPERIMENT).

        The blob is re-hashed first: a missing, truncated or different blob is refused
        (`IntegrityCheckError`) and nothing is recorded.

        Example::

            artifact = StoredArtifact.from_json(reported["artifact"])
            mv = reg.register_artifact("churn", artifact, run=run, metrics={"auc": 0.91})
        """
        validate_name(name, "model name")
        clean_metrics = validate_metrics(metrics)
        if not isinstance(artifact, StoredArtifact):
            raise InvalidInputError(
                f"artifact must be a StoredArtifact, got {type(artifact).__name__}"
            )
        validate_text(description, "description", max_length=MAX_DESCRIPTION_LENGTH)
        dagster_run, asset = self._dagster_context(dagster_run_id, asset_key)
        self._resolve_flavor(None, artifact.flavor)  # known, and pickle allowed if pickled
        self._require_blobs(
            [artifact.digest], "the model artifact", sizes={artifact.digest: artifact.size}
        )
        return self._record_version(
            name,
            artifact,
            run_id=self._run_id(run) if run is not None else None,
            metrics=clean_metrics,
            description=description,
            actor=resolve_actor(actor),
            dagster_run_id=dagster_run,
            asset_key=asset,
        ).version

    def _require_blobs(
        self, digests: Sequence[str], what: str, *, sizes: Mapping[str, int] | None = None
    ) -> None:
        """Refuse to record a row over bytes another process claims to have stored, unless
        they are there, intact (re-hashed) and of the stated size."""
        for digest in digests:
            problem = self._blobs.check(digest)
            if problem is None and sizes and digest in sizes:
                actual = self._blobs.size(digest)
                if actual != sizes[digest]:
                    problem = f"{actual} bytes, not the {sizes[digest]} reported"
            if problem is not None:
                raise IntegrityCheckError(
                    f"{what} (sha256 {digest}) is {problem} in {self._blobs.root_uri}: the "
                    "process that reported it must write it there first (store_model / "
                    "store_software with this registry's artifact root); nothing was recorded"
                )

    def _record_version(
        self,
        name: str,
        artifact: StoredArtifact,
        *,
        run_id: str | None,
        metrics: dict[str, float],
        description: str | None,
        actor: str,
        dagster_run_id: str | None,
        asset_key: str | None,
        store_again: Callable[[], object] | None = None,
        reuse_identical: bool = False,
    ) -> Registration:
        """The version row, its metrics, first transition and audit event, in one transaction
        (or, with `reuse_identical`, the identical existing version and nothing written).

        The artifact's bytes are confirmed under the audit head lock (`_confirm_stored`); if
        a concurrent deletion removed them, `store_again` stores the same bytes anew and the
        transaction runs again. Bytes another process stored cannot be stored again here."""
        who, clean_metrics, columns = actor, metrics, artifact.signature
        blob = BlobInfo(artifact.digest, artifact.size)

        def again() -> None:
            if store_again is None:
                raise IntegrityCheckError(
                    f"the model artifact (sha256 {artifact.digest}) was deleted from "
                    f"{self._blobs.root_uri} while it was being registered; nothing was "
                    "recorded. Store it again and register it again."
                )
            store_again()

        def work(connection: Connection) -> Registration:
            at = _now()
            trained_on_deleted = False
            run_dagster_id = None
            if run_id is not None:
                # Before reading whether its data was deleted: see `lock_dataset`.
                run_store.lock_run_inputs(connection, run_id)
                summary = run_store.run_summary(connection, run_id)
                if summary is None:
                    raise RunNotFoundError(f"no training run with id {run_id}")
                run_dagster_id, trained_on_deleted = summary
            if reuse_identical:
                existing = self._identical_version(connection, name, blob.digest, run_id, who, at)
                if existing is not None:
                    # Nothing is written. The bytes were stored (and made durable) before
                    # this transaction, and a committed row, the existing version's,
                    # references them, so no gc or deletion removes them.
                    return Registration(existing, reused=True)
            number = version_store.allocate_version_number(connection, name)
            if number is None:  # the model's first version: create it, then count
                version_store.ensure_model(connection, name, who, at)
                number = version_store.allocate_version_number(connection, name)
                assert number is not None
            version_id = str(uuid.uuid4())
            values = {
                "id": version_id,
                "model_name": name,
                "version": number,
                "stage": Stage.EXPERIMENT.value,
                "flavor": artifact.flavor,
                "python_class": artifact.python_class,
                "artifact_digest": artifact.digest,
                "artifact_size": artifact.size,
                "signature_json": columns_to_json(columns) if columns is not None else None,
                "run_id": run_id,
                "created_at": at,
                "created_by": who,
                "stage_changed_at": at,
                "description": description,
                "trained_on_deleted_data": trained_on_deleted,
                "dagster_run_id": dagster_run_id or run_dagster_id,
                "asset_key": asset_key,
            }
            version_store.insert_version(connection, values)
            version_store.insert_new_version_metrics(
                connection,
                version_id=version_id,
                model_name=name,
                metrics=clean_metrics,
                actor=who,
                at=at,
            )
            version_store.record_transition(
                connection,
                version_id=version_id,
                model_name=name,
                version=number,
                from_stage=None,
                to_stage=Stage.EXPERIMENT,
                actor=who,
                reason=None,
                at=at,
            )
            audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.REGISTER_MODEL,
                    subject_type="model_version",
                    subject_id=version_id,
                    model_name=name,
                    after={
                        "version": number,
                        "digest": artifact.digest,
                        "flavor": artifact.flavor,
                        "run_id": run_id,
                        "metrics": clean_metrics,
                    },
                ),
            )
            self._confirm_stored([blob])
            return Registration(version_from_values(values, clean_metrics), reused=False)

        return self._write_stored(work, again)

    def _store_model(self, chosen: flavors.Flavor, model: object) -> BlobInfo:
        # Durable before the version's transaction starts (a row never commits ahead of its
        # bytes), and no database lock is held while they travel: an S3 upload can take
        # minutes, and every other write would wait behind it.
        with self._blobs.writer() as writer:
            chosen.save(model, writer)
        assert writer.info is not None  # set when the block exits normally
        return writer.info

    @staticmethod
    def _identical_version(
        connection: Connection,
        name: str,
        digest: str,
        run_id: str | None,
        actor: str,
        at: datetime,
    ) -> ModelVersion | None:
        """The version this registration would duplicate, looked up under the model's lock
        so that a concurrent identical registration waits for ours and then finds it.

        PostgreSQL: the model row is created if missing (an INSERT that conflicts with an
        uncommitted one waits for it) and locked FOR UPDATE; under READ COMMITTED the
        lookup after the lock sees what the other transaction committed. SQLite: the write
        transaction already holds the database's write lock (BEGIN IMMEDIATE).
        """
        version_store.ensure_model(connection, name, actor, at)
        version_store.lock_model(connection, name)
        found = identity_store.find_identical_version_id(connection, name, digest, run_id)
        if found is None:
            return None
        return version_store.fetch_version(connection, ById(found))

    def _resolve_flavor(self, model: object, flavor: str | flavors.Flavor | None) -> flavors.Flavor:
        if flavor is None:
            chosen = flavors.infer_flavor(model)
        elif isinstance(flavor, flavors.Flavor):
            chosen = flavor
        else:
            chosen = flavors.get_flavor(flavor)
        if chosen.pickle_based and not self.allow_pickle:
            raise UnsafeFlavorError(
                f"flavor {chosen.name!r} is pickle-based and this registry was opened with "
                "allow_pickle=False; register with a flavor that does not execute code on load"
            )
        return chosen

    def log_metrics(
        self,
        version: VersionRef,
        metrics: Mapping[str, float],
        *,
        dataset: DatasetRef | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Record evaluation metrics on a version, per dataset (e.g. the holdout snapshot).
        The newest value of each metric is what ordering and promotion read."""
        clean = validate_metrics(metrics)
        if not clean:
            raise InvalidInputError("log_metrics needs at least one metric")
        who = resolve_actor(actor)
        target = self.get_version(version)
        dataset_id = self.get_dataset(dataset).id if dataset is not None else None

        def work(connection: Connection) -> None:
            version_store.upsert_metrics(
                connection,
                version_id=target.id,
                model_name=target.model_name,
                metrics=clean,
                dataset_id=dataset_id,
                actor=who,
                at=_now(),
            )
            audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.LOG_METRICS,
                    subject_type="model_version",
                    subject_id=target.id,
                    model_name=target.model_name,
                    before={k: target.metrics[k] for k in clean if k in target.metrics},
                    after={"metrics": clean, "dataset_id": dataset_id},
                ),
            )

        self._write(work)
        return self.get_version(target.id)

    def metric_history(self, version: VersionRef) -> list[MetricRecord]:
        """Every metric logged on a version, by dataset (None = training)."""
        target = self.get_version(version)
        with self._read() as connection:
            return version_store.metric_records(connection, target.id)

    # --- lookups -------------------------------------------------------------------------

    def get_version(self, reference: VersionRef) -> ModelVersion:
        """A version by ModelVersion, UUID, `name/7`, `name@production` or `name@latest`."""
        if isinstance(reference, ModelVersion):
            reference = reference.id
        parsed = parse_reference(reference)
        with self._read() as connection:
            found = version_store.fetch_version(connection, parsed)
            if found is None:
                raise self._not_found(connection, parsed, reference)
            return found

    @staticmethod
    def _not_found(
        connection: Connection, parsed: ById | ByNumber | ByAlias, reference: str
    ) -> NotFoundError:
        """Why a reference matched nothing: the model, or only the version, is missing."""
        model_name = getattr(parsed, "model_name", None)
        if model_name is not None and not version_store.model_exists(connection, model_name):
            return ModelNotFoundError(
                f"no model named {model_name!r}; list models with `registry models`"
            )
        if isinstance(parsed, ByAlias):
            return VersionNotFoundError(
                f"model {parsed.model_name!r} has no version in {parsed.alias}; "
                f"see `registry versions {parsed.model_name}`"
            )
        return VersionNotFoundError(f"no model version {reference!r}")

    def production_version(self, name: str) -> ModelVersion | None:
        """The version of model `name` in production, or None (no such model, or none in
        production yet). Example: `reg.production_version("churn")`."""
        validate_name(name, "model name")
        with self._read() as connection:
            return version_store.fetch_version(connection, ByAlias(name, Stage.PRODUCTION.value))

    def versions(
        self,
        name: str,
        *,
        stage: Stage | str | None = None,
        order_by: str = "-version",
        limit: int | None = None,
    ) -> list[ModelVersion]:
        """Versions of a model, e.g. `versions("churn", order_by="-metrics.auc", limit=10)`.
        Versions lacking the ordering metric come last."""
        validate_name(name, "model name")
        order = parse_order_by(order_by)
        wanted_stage = self._parse_stage(stage) if stage is not None else None
        limit = validate_limit(limit)
        with self._read() as connection:
            if not version_store.model_exists(connection, name):
                raise ModelNotFoundError(
                    f"no model named {name!r}; list models with `registry models`"
                )
            rows = version_store.list_versions(
                connection, name, stage=wanted_stage, order=order, limit=limit
            )
            return version_store.to_versions(connection, rows)

    def models(self) -> list[Model]:
        with self._read() as connection:
            return version_store.list_models(connection)

    def history(self, version: VersionRef) -> list[StageTransition]:
        """The stage transitions of one version, oldest first."""
        target = self.get_version(version)
        with self._read() as connection:
            return version_store.transitions(connection, version_id=target.id)

    def approvals(self, version: VersionRef) -> list[str]:
        target = self.get_version(version)
        with self._read() as connection:
            return version_store.approvers(connection, target.id)

    def load_model(self, reference: VersionRef) -> object:
        """Deserialise a version's artifact, after verifying its SHA-256 digest."""
        target = self.get_version(reference)
        chosen = flavors.get_flavor(target.flavor)
        if chosen.pickle_based and not self.allow_pickle:
            raise UnsafeFlavorError(
                f"{target.ref} uses the pickle-based flavor {chosen.name!r}; loading it can run "
                "arbitrary code. This registry was opened with allow_pickle=False: open it "
                "with allow_pickle=True only if you trust everyone who can register models."
            )
        with self._blobs.open_verified(target.artifact_digest) as stream:
            return chosen.load(stream)

    def export_artifact(
        self,
        reference: VersionRef,
        destination: str | os.PathLike[str],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> ModelVersion:
        """Copy a version's artifact bytes to a file, verified, without deserialising them
        (for serving images or inspection). The file appears only once its digest matched.

        Example::

            reg.export_artifact("churn@production", "/srv/model.joblib")
        """
        target = self.get_version(reference)
        try:
            self._blobs.download_verified(target.artifact_digest, destination, on_bytes)
        except OSError as exc:
            raise InvalidInputError(f"cannot write {destination}: {exc.strerror or exc}") from exc
        return target

    def compare(self, name: str, versions: Sequence[int | str | ModelVersion]) -> pd.DataFrame:
        """Params and metrics of several versions side by side, with each metric's delta to
        the production version. Rows: `stage`, `param.<name>`, `metric.<name>`, ...;
        columns: `v5`, `v7`, ..., `production (v3)`, `Δ v5`, ..."""
        validate_name(name, "model name")
        if not versions:
            raise InvalidInputError("compare needs at least one version number")
        chosen = [self.get_version(self._version_ref(name, item)) for item in versions]
        for item in chosen:
            if item.model_name != name:
                raise InvalidInputError(f"{item.ref} is not a version of {name!r}")
        production = self.production_version(name)
        runs = {v.run_id: self.get_run(v.run_id) for v in chosen if v.run_id}
        if production is not None and production.run_id and production.run_id not in runs:
            runs[production.run_id] = self.get_run(production.run_id)
        columns: dict[str, ModelVersion] = {f"v{v.version}": v for v in chosen}
        if production is not None:
            columns[f"production (v{production.version})"] = production
        param_keys = sorted({k for r in runs.values() for k in r.params})
        metric_keys = sorted({k for v in columns.values() for k in v.metrics})
        table: dict[str, dict[str, Any]] = {}
        for label, version in columns.items():
            run = runs.get(version.run_id) if version.run_id else None
            column: dict[str, Any] = {
                "stage": version.stage.value,
                "created_at": version.created_at,
                "created_by": version.created_by,
                "flavor": version.flavor,
                "artifact_digest": version.artifact_digest[:12],
                "code_commit": (run.code.commit or "")[:12] if run else None,
            }
            for key in param_keys:
                value = run.params.get(key) if run else None
                column[f"param.{key}"] = (
                    canonical_json(value) if isinstance(value, dict | list) else value
                )
            for key in metric_keys:
                column[f"metric.{key}"] = version.metrics.get(key)
            table[label] = column
        if production is not None:
            for version in chosen:
                table[f"Δ v{version.version}"] = {
                    f"metric.{key}": _delta(version.metrics.get(key), production.metrics.get(key))
                    for key in metric_keys
                }
        import pandas as pd  # imported on use: see core/datasets.py

        frame = pd.DataFrame(table)
        return frame.reindex(list(table[next(iter(table))].keys()))

    @staticmethod
    def _version_ref(name: str, item: int | str | ModelVersion) -> VersionRef:
        if isinstance(item, ModelVersion):
            return item
        if isinstance(item, int) and not isinstance(item, bool):
            return f"{name}/{item}"
        if isinstance(item, str) and item.isdigit():
            return f"{name}/{item}"
        if isinstance(item, str):
            return item
        raise InvalidInputError(f"cannot compare {item!r}: give version numbers such as 5 or 7")

    def lineage(self, reference: VersionRef) -> Lineage:
        """Everything needed to recreate a version: datasets (with digests and whether they
        were deleted), the run, its code and environment, the Dagster run, stage history."""
        version = self.get_version(reference)
        with self._read() as connection:
            run = run_store.fetch_run(connection, version.run_id) if version.run_id else None
            trained = [
                (item.dataset_id, "trained", item.role.value)
                for item in (run.inputs if run else ())
            ]
            evaluated = [
                (dataset_id, "evaluated", None)
                for dataset_id in version_store.evaluated_dataset_ids(connection, version.id)
            ]
            found = dataset_store.fetch_datasets(connection, [d for d, _, _ in trained + evaluated])
            history = version_store.transitions(connection, version_id=version.id)
        lineage_datasets = tuple(
            LineageDataset(found[d], relation, role)
            for d, relation, role in trained + evaluated
            if d in found
        )
        return Lineage(
            version=version,
            run=run,
            datasets=lineage_datasets,
            code=run.code if run else None,
            environment=run.environment if run else None,
            dagster_run_id=version.dagster_run_id or (run.dagster_run_id if run else None),
            transitions=tuple(history),
        )

    # --- stages --------------------------------------------------------------------------

    @staticmethod
    def _parse_stage(stage: Stage | str) -> Stage:
        try:
            return Stage(stage.lower() if isinstance(stage, str) else stage)
        except ValueError as exc:
            raise InvalidInputError(
                f"unknown stage {stage!r}; use one of {', '.join(s.value for s in Stage)}"
            ) from exc

    def transition(
        self,
        version: VersionRef,
        stage: Stage | str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Move a version between stages: experiment -> staging -> production -> archived,
        experiment|staging -> archived. Into production archives the current production
        version (like `promote`); leaving production needs a reason; archived versions
        return only through `promote` or `rollback`."""
        target_stage = self._parse_stage(stage)
        target = self.get_version(version)
        if target_stage is Stage.PRODUCTION:
            return self.promote(target, actor=actor, reason=reason)
        leaving_production = target.stage is Stage.PRODUCTION
        why = validate_reason(
            reason,
            required=stages.needs_reason(target.stage, target_stage),
            action=(
                f"taking {target.ref} out of production"
                if leaving_production
                else f"moving {target.ref} to {target_stage.value}"
            ),
        )
        who = resolve_actor(actor)

        def work(connection: Connection) -> None:
            version_store.lock_model(connection, target.model_name)
            row = version_store.fetch_by_id(connection, target.id)
            assert row is not None
            current = Stage(row.stage)
            stages.check_transition(target.ref, current, target_stage)
            self._apply_stage(
                connection, row, current, target_stage, who, why, AuditAction.TRANSITION
            )

        self._write(work)
        return self.get_version(target.id)

    def _apply_stage(
        self,
        connection: Connection,
        row: Row[Any],
        current: Stage,
        new: Stage,
        actor: str,
        reason: str | None,
        action: AuditAction,
    ) -> None:
        at = _now()
        version_store.set_stage(connection, row.id, new, at)
        version_store.record_transition(
            connection,
            version_id=row.id,
            model_name=row.model_name,
            version=row.version,
            from_stage=current,
            to_stage=new,
            actor=actor,
            reason=reason,
            at=at,
        )
        audit.append_event(
            connection,
            EventDraft(
                actor=actor,
                action=action,
                subject_type="model_version",
                subject_id=row.id,
                model_name=row.model_name,
                before={"stage": current.value, "version": row.version},
                after={"stage": new.value, "version": row.version, **self._dagster_origin()},
                reason=reason,
            ),
        )

    def _dagster_origin(self) -> dict[str, str]:
        """The Dagster run (and asset) making a change, recorded on its audit event so that
        Dagster can tell its own changes from changes made outside it (registry_sync)."""
        origin = {}
        if self.default_dagster_run_id:
            origin["dagster_run_id"] = self.default_dagster_run_id
        if self.default_asset_key:
            origin["asset_key"] = self.default_asset_key
        return origin

    def promote(
        self,
        version: VersionRef,
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_current: VersionRef | None = _UNSET,
        policy: PromotionPolicy | None = None,
    ) -> ModelVersion:
        """Make `version` the production version, atomically archiving the previous one.

        `expected_current` makes it a compare-and-swap: pass the production version you
        based the decision on (or None for "no production yet"); if production changed
        meanwhile, `PromotionConflictError` is raised and nothing changes. With a `policy`
        that requires approval, the version must have been approved by someone other than
        its registrant.
        """
        target = self.get_version(version)
        expected_id = _UNSET
        if expected_current is None:
            expected_id = None
        elif expected_current is not _UNSET:
            expected_id = self.get_version(expected_current).id
        archived = target.stage is Stage.ARCHIVED
        why = validate_reason(
            reason,
            required=stages.needs_reason(target.stage, Stage.PRODUCTION),
            action=(
                f"returning archived {target.ref} to production"
                if archived
                else f"promoting {target.ref}"
            ),
        )
        who = resolve_actor(actor)
        return self._promote(target, who, why, expected_id, AuditAction.PROMOTE, policy)

    def _promote(
        self,
        target: ModelVersion,
        actor: str,
        reason: str | None,
        expected_id: Any,
        action: AuditAction,
        policy: PromotionPolicy | None,
    ) -> ModelVersion:
        def work(connection: Connection) -> None:
            version_store.lock_model(connection, target.model_name)
            row = version_store.fetch_by_id(connection, target.id)
            assert row is not None
            current_production = version_store.fetch_production(connection, target.model_name)
            current_id = current_production.id if current_production is not None else None
            if expected_id is not _UNSET and expected_id != current_id:
                expected_row = (
                    version_store.fetch_by_id(connection, expected_id) if expected_id else None
                )
                seen = (
                    f"{expected_row.model_name}/{expected_row.version}"
                    if expected_row is not None
                    else "no production version"
                )
                now = (
                    f"{target.model_name}/{current_production.version}"
                    if current_production is not None
                    else "none"
                )
                raise PromotionConflictError(
                    f"production of {target.model_name!r} changed: you expected {seen}, it is "
                    f"now {now}. Nothing was changed; re-read production and decide again."
                )
            stages.check_promotion(target.ref, Stage(row.stage))
            if policy is not None and policy.require_approval:
                stages.require_approval(
                    target.ref, row.created_by, version_store.approvers(connection, row.id)
                )
            if current_production is not None:
                self._apply_stage(
                    connection,
                    current_production,
                    Stage.PRODUCTION,
                    Stage.ARCHIVED,
                    actor,
                    reason or f"replaced by {target.ref}",
                    action.archiving_previous,
                )
            self._apply_stage(
                connection, row, Stage(row.stage), Stage.PRODUCTION, actor, reason, action
            )

        try:
            self._write(work)
        except ConflictError as exc:
            if isinstance(exc, PromotionConflictError):
                raise
            # The partial unique index refused a second production version: someone else
            # promoted at the same moment.
            raise PromotionConflictError(
                f"another promotion of {target.model_name!r} happened at the same time; nothing "
                "was changed. Re-read production and retry."
            ) from exc
        return self.get_version(target.id)

    def rollback(
        self, name: str, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        """Re-promote the version that was in production before the current one."""
        validate_name(name, "model name")
        why = validate_reason(reason, required=True, action="a rollback")
        who = resolve_actor(actor)
        with self._read() as connection:
            if not version_store.model_exists(connection, name):
                raise ModelNotFoundError(f"no model named {name!r}")
            current = version_store.fetch_production(connection, name)
            previous_id = version_store.previous_production_id(
                connection, name, current.id if current is not None else None
            )
        if previous_id is None:
            raise InvalidTransitionError(
                f"model {name!r} has no earlier production version to roll back to"
            )
        previous = self.get_version(previous_id)
        current_id = current.id if current is not None else None
        return self._promote(previous, who, why, current_id, AuditAction.ROLLBACK, None)

    def approve(
        self, version: VersionRef, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        """Record a four-eyes approval: by anyone but the version's registrant."""
        who = resolve_actor(actor)
        why = validate_reason(reason, action="an approval")
        target = self.get_version(version)
        stages.check_approver(target.ref, target.created_by, who, target.stage)

        def work(connection: Connection) -> None:
            if version_store.insert_approval(connection, target.id, who, why, _now()):
                audit.append_event(
                    connection,
                    EventDraft(
                        actor=who,
                        action=AuditAction.APPROVE,
                        subject_type="model_version",
                        subject_id=target.id,
                        model_name=target.model_name,
                        after={"version": target.version, "approved_by": who},
                        reason=why,
                    ),
                )

        self._write(work)
        return target

    # --- audit, integrity, gc ------------------------------------------------------------

    def audit_log(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        after_seq: int | None = None,
    ) -> list[AuditEvent]:
        """Audit events, oldest first (or `newest_first`), filtered by model / dataset name,
        actor, action and time; `limit` keeps the first N in that order. `after_seq` reads
        only events appended after that sequence number: a follower's cursor.

        Example::

            reg.audit_log(model="churn", action="promote", newest_first=True, limit=10)
            reg.audit_log(after_seq=cursor, limit=500)  # what happened since cursor
        """
        where = self._audit_filter(model, dataset, actor, action, since)
        if after_seq is not None:
            if type(after_seq) is not int or after_seq < 0:  # bool is not a sequence number
                raise InvalidInputError(
                    f"after_seq must be a non-negative integer (an audit event's seq), got "
                    f"{after_seq!r}"[:200]
                )
            where = dataclasses.replace(where, after_seq=after_seq)
        limit = validate_limit(limit)
        with self._read() as connection:
            return audit.query_events(connection, where, limit=limit, newest_first=newest_first)

    def audit_count(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many audit events match the same filters as `audit_log` (without reading them)."""
        where = self._audit_filter(model, dataset, actor, action, since)
        with self._read() as connection:
            return audit.count_events(connection, where)

    def verify_audit_chain(self) -> VerifyReport:
        """Only the audit log's hash chain: reads the log once and no blob, so a page or a
        health check may run it on request. `verify()` also re-hashes every blob."""
        problems: list[VerifyProblem] = []
        events_checked = 0
        with self._read() as connection:
            for item in audit.verify_chain(connection):
                if isinstance(item, int):
                    events_checked = item
                else:
                    problems.append(item)
        return VerifyReport(0, events_checked, tuple(problems))

    @staticmethod
    def _audit_filter(
        model: str | None,
        dataset: str | None,
        actor: str | None,
        action: str | None,
        since: datetime | None,
    ) -> audit.EventFilter:
        if model is not None:
            validate_name(model, "model name")
        if dataset is not None:
            validate_name(dataset, "dataset name")
        return audit.EventFilter(
            model,
            dataset,
            validate_filter_text(actor, "actor"),
            validate_filter_text(action, "action"),
            validate_since(since),
        )

    def verify(
        self,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        anchors: Sequence[tuple[int, str]] = (),
    ) -> VerifyReport:
        """Re-hash every blob the metadata references, check the audit hash chain, and
        cross-check each version's and dataset's row against what its audit events
        recorded. Every problem is listed; an unreadable blob does not stop the check.

        `anchors` are audit heads `(seq, hash)` recorded outside this database (an
        evidence pack's, Dagster's): a history rewritten whole no longer matches them.
        Example: `reg.verify(anchors=[(42, "9f86d08...")])`."""
        anchors = anchor_checks.validate_anchors(anchors)
        problems: list[VerifyProblem] = []
        events_checked = 0
        with self._read() as connection:
            digests = sorted(referenced_digests(connection))
            for item in audit.verify_chain(connection):
                if isinstance(item, int):
                    events_checked = item
                else:
                    problems.append(item)
            problems.extend(audit_mismatches(connection))
            problems.extend(audit.check_anchors(connection, anchors))
        for index, digest in enumerate(digests, start=1):
            try:
                outcome = self._blobs.check(digest)
                detail = f"blob {self._blobs.uri_for(digest)} is {outcome}"
            except RegistryError as exc:  # a directory in its place, permissions, I/O
                outcome, detail = "unreadable", str(exc)
            if outcome is not None:
                problems.append(VerifyProblem(f"blob_{outcome}", digest, detail))
            if on_progress is not None:
                on_progress(index, len(digests))
        return VerifyReport(len(digests), events_checked, tuple(problems))

    def gc(
        self,
        *,
        dry_run: bool = True,
        grace_period: timedelta = GC_GRACE_PERIOD,
        actor: str | None = None,
    ) -> GcReport:
        """Find (and unless `dry_run`, delete) blobs no row references.

        Blobs younger than `grace_period` are kept: they may belong to a registration whose
        row is being written right now. Leftover temp files and incomplete S3 multipart
        uploads older than the grace period are cleaned up too.
        """
        who = resolve_actor(actor)
        grace_period = validate_grace_period(grace_period)
        with self._read() as connection:
            referenced = referenced_digests(connection)
        cutoff = _now() - grace_period
        orphans: list[str] = []
        reclaimable = 0
        for info in self._blobs.iter_blobs():
            if info.digest in referenced or info.modified_at > cutoff:
                continue
            orphans.append(info.digest)
            reclaimable += info.size
        if dry_run:
            return GcReport(True, tuple(orphans), reclaimable)
        deleted: list[str] = []
        for start in range(0, len(orphans), _GC_BATCH):
            # Still old? A write may have refreshed one since the listing (on S3 this asks
            # once per blob, so it happens before the lock is taken).
            batch = [
                d
                for d in orphans[start : start + _GC_BATCH]
                if self._blobs.stored_before(d, cutoff)
            ]
            if batch:
                deleted += self._write(
                    lambda connection, batch=batch: self._delete_unreferenced(connection, batch)
                )
        temp_removed = self._blobs.cleanup_temporary(grace_period)
        self._write(
            lambda connection: audit.append_event(
                connection,
                EventDraft(
                    actor=who,
                    action=AuditAction.GC,
                    subject_type="blob_store",
                    subject_id=self._blobs.root_uri,
                    after={
                        "deleted_blobs": len(deleted),
                        "bytes": reclaimable,
                        "temp_files": temp_removed,
                    },
                ),
            )
        )
        return GcReport(False, tuple(deleted), reclaimable, temp_removed)

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _dataset_id(dataset: DatasetRef) -> str:
        if isinstance(dataset, DatasetSnapshot):
            return dataset.id
        parsed = parse_uuid(dataset) if isinstance(dataset, str) else None
        if parsed is None:
            raise InvalidInputError(
                f"invalid dataset reference {dataset!r}: give a snapshot id (a UUID, as "
                "`registry datasets` lists them)"
            )
        return parsed

    @staticmethod
    def _run_id(run: RunRef) -> str:
        if isinstance(run, ActiveRun | TrainingRun):
            return run.id
        parsed = parse_uuid(run) if isinstance(run, str) else None
        if parsed is None:
            raise InvalidInputError(
                f"invalid run reference {run!r}: pass the object from start_run or its UUID"
            )
        return parsed

    # --- proof: model cards, evidence packs, anchors, reproduction ----------------------
    # (the logic is in model_card.py, evidence.py, anchors.py and reproduce.py)

    @property
    def _tx(self) -> Transactions:
        return Transactions(self._read, self._write)

    def model_card(self, reference: VersionRef) -> str:
        """A version's model card as Markdown: data, params, metrics against production,
        stage history, approvals. Example: `print(reg.model_card("churn/7"))`."""
        return cards.model_card(self, self._tx, reference)

    def export_evidence(
        self,
        reference: VersionRef,
        destination: str | os.PathLike[str],
        *,
        actor: str | None = None,
    ) -> tuple[int, str]:
        """Write a version's evidence pack (a zip that `verify_evidence` checks offline);
        returns the audit head (seq, hash) it ends at.
        Example: `reg.export_evidence("churn/7", "pack.zip")`."""
        return evidence.export_pack(self, self._tx, reference, destination, actor=actor)

    def set_model_card_text(
        self,
        name: str,
        *,
        intended_use: str | None = cards.KEEP,
        limitations: str | None = cards.KEEP,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelCardText:
        """Set the owners' free text of model `name`'s card (audited); None clears a field,
        one left out is kept. Example:
        `reg.set_model_card_text("churn", intended_use="Rank retention offers", actor="ana")`."""
        return cards.set_card_text(
            self._tx,
            name,
            intended_use=intended_use,
            limitations=limitations,
            actor=actor,
            reason=reason,
        )

    def model_card_text(self, name: str) -> ModelCardText | None:
        """The owners' free text of model `name`'s card, or None if never set."""
        return cards.card_text(self._tx, name)

    def audit_head(self) -> tuple[int, str]:
        """The audit chain's tip (seq, hash): what to publish as an anchor for `verify`."""
        return anchor_checks.audit_head(self._tx)

    def reproduce(
        self,
        reference: VersionRef,
        *,
        train: reproduction.TrainFunction,
        evaluate: reproduction.EvaluateFunction | None = None,
        tolerance: float = reproduction.DEFAULT_TOLERANCE,
        repo: str | os.PathLike[str] | None = None,
        actor: str | None = None,
    ) -> Reproduction:
        """Retrain a version from its record (input snapshots, params, code commit) with
        `train(inputs)` and record, audited, whether the artifact is bit-identical or its
        metrics on the recorded evaluation datasets (`evaluate(model, df)`) are within
        `tolerance`. Refused (`ReproductionRefusedError`) when the record cannot be rebuilt.
        Example: `reg.reproduce("churn/7", train=lambda i: fit(i.datasets["train"], i.params))`."""
        return reproduction.reproduce(
            self,
            self._tx,
            reference,
            train=train,
            evaluate=evaluate,
            tolerance=tolerance,
            repo=repo,
            actor=actor,
        )

    def latest_reproduction(self, reference: VersionRef) -> Reproduction | None:
        """The newest reproduction attempt of a version, or None."""
        return reproduction.latest_reproduction(self, self._tx, reference)

    @staticmethod
    def verify_evidence(
        path: str | os.PathLike[str], *, anchors: Sequence[tuple[int, str]] = ()
    ) -> evidence.EvidenceReport:
        """Check an evidence pack with no registry at all (a static method)."""
        return evidence.verify_pack(path, anchors=anchors)


def _software_values(software: StoredSoftware) -> dict[str, Any]:
    """The run row's code and environment columns from a capture made elsewhere."""
    return {
        "code_commit": software.code.commit,
        "code_dirty": software.code.dirty,
        "code_remote": software.code.remote,
        "code_branch": software.code.branch,
        "python_version": software.python_version,
        "platform": software.platform,
        "packages_digest": software.packages_digest,
        "package_count": software.package_count,
    }


def _delta(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None:
        return None
    delta = value - baseline
    return delta if math.isfinite(delta) else None
