"""Datasets: snapshot (bytes in the blob store), reference (pinned, not copied), get, list,
load, dependents and delete (the tombstone, then the bytes)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core import parquet
from registry_project.core.blobs import BlobInfo
from registry_project.core.entities import (
    AuditAction,
    Column,
    DatasetKind,
    DatasetSnapshot,
    Dependent,
)
from registry_project.core.errors import (
    DatasetDeletedError,
    DatasetInUseError,
    DatasetNotFoundError,
    InvalidInputError,
)
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import audit
from registry_project.core.store import dataset_snapshots as dataset_store
from registry_project.core.store import dependents as dependents_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import (
    validate_columns,
    validate_expiry,
    validate_limit,
    validate_name,
    validate_pins,
    validate_reason,
    validate_reference_uri,
    validate_row_count,
)
from registry_project.core.version_refs import parse_uuid

DatasetRef = DatasetSnapshot | str
# How many dependents a refused deletion names in its message (all are on the error).
LISTED_DEPENDENTS = 20


def dataset_id(dataset: DatasetRef) -> str:
    if isinstance(dataset, DatasetSnapshot):
        return dataset.id
    parsed = parse_uuid(dataset) if isinstance(dataset, str) else None
    if parsed is None:
        raise InvalidInputError(
            f"invalid dataset reference {dataset!r}: give a snapshot id (a UUID, as "
            "`registry datasets` lists them)"
        )
    return parsed


def snapshot(
    w: Writer,
    name: str,
    data: Any,
    *,
    expires_at: datetime | None,
    actor: str | None,
    dagster_run_id: str | None,
    asset_key: str | None,
) -> DatasetSnapshot:
    validate_name(name, "dataset name")
    expires = validate_expiry(expires_at)
    who = w.actor(actor)
    dagster_run_id, asset_key = w.dagster_context(dagster_run_id, asset_key)
    table = parquet.to_arrow(data)  # refuses unsupported types before any write
    blob, shape = _store_table(w, table)

    def store_again() -> None:
        nonlocal blob, shape
        blob, shape = _store_table(w, table)

    def work(connection: Connection) -> DatasetSnapshot:
        existing = dataset_store.find_live_snapshot(connection, name, blob.digest)
        if existing is not None:
            return existing
        new = DatasetSnapshot(
            id=str(uuid.uuid4()),
            name=name,
            kind=DatasetKind.SNAPSHOT,
            digest=blob.digest,
            uri=w.blobs.uri_for(blob.digest),
            size_bytes=blob.size,
            row_count=shape.row_count,
            columns=shape.columns,
            created_at=now(),
            created_by=who,
            expires_at=expires,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
        )
        dataset_store.insert_dataset(connection, new)
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.SNAPSHOT_DATASET,
                subject_type="dataset",
                subject_id=new.id,
                dataset_name=name,
                after={
                    "digest": blob.digest,
                    "rows": shape.row_count,
                    "size_bytes": blob.size,
                    "dagster_run_id": dagster_run_id,
                },
            ),
        )
        w.confirm_stored([blob])
        return dataset_store.fetch_dataset(connection, new.id)  # type: ignore[return-value]

    return w.write_stored(work, store_again)


def _store_table(w: Writer, table: Any) -> tuple[BlobInfo, parquet.TableShape]:
    with w.blobs.writer() as writer:
        shape = parquet.write_parquet(table, writer)
    assert writer.info is not None  # set when the block exits normally
    return writer.info, shape


def reference(
    w: Writer,
    name: str,
    uri: str,
    *,
    version_id: str | None,
    etag: str | None,
    digest: str | None,
    row_count: int | None,
    columns: Sequence[Column] | None,
    expires_at: datetime | None,
    actor: str | None,
    dagster_run_id: str | None,
    asset_key: str | None,
) -> DatasetSnapshot:
    validate_name(name, "dataset name")
    validate_reference_uri(uri)
    expires = validate_expiry(expires_at)
    who = w.actor(actor)
    dagster_run_id, asset_key = w.dagster_context(dagster_run_id, asset_key)
    validate_pins(uri, version_id=version_id, etag=etag, digest=digest)
    new = DatasetSnapshot(
        id=str(uuid.uuid4()),
        name=name,
        kind=DatasetKind.REFERENCE,
        digest=digest,
        uri=uri,
        size_bytes=None,
        row_count=validate_row_count(row_count),
        columns=validate_columns(columns),
        created_at=now(),
        created_by=who,
        version_id=version_id,
        etag=etag,
        expires_at=expires,
        dagster_run_id=dagster_run_id,
        asset_key=asset_key,
    )

    def work(connection: Connection) -> DatasetSnapshot:
        dataset_store.insert_dataset(connection, new)
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.REFERENCE_DATASET,
                subject_type="dataset",
                subject_id=new.id,
                dataset_name=name,
                after={"uri": uri, "version_id": version_id, "etag": etag, "digest": digest},
            ),
        )
        return dataset_store.fetch_dataset(connection, new.id)  # type: ignore[return-value]

    return w.write(work)


def get(w: Writer, dataset: DatasetRef) -> DatasetSnapshot:
    wanted = dataset_id(dataset)
    with w.read() as connection:
        found = dataset_store.fetch_dataset(connection, wanted)
    if found is None:
        raise _not_found(wanted)
    return found


def _not_found(wanted: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"no dataset snapshot with id {wanted}; list them with `registry datasets`"
    )


def list_all(w: Writer, name: str | None, *, include_deleted: bool) -> list[DatasetSnapshot]:
    if name is not None:
        validate_name(name, "dataset name")
    with w.read() as connection:
        return dataset_store.list_datasets(connection, name, include_deleted=include_deleted)


def deleted_error(found: DatasetSnapshot, attempted: str) -> DatasetDeletedError:
    """The refusal of a call that needs a dataset whose bytes were deleted."""
    return DatasetDeletedError(
        f"cannot {attempted}: dataset {found.name} ({found.id}) was deleted on "
        f"{found.deleted_at:%Y-%m-%d} by {found.deleted_by}: "
        f"{found.deletion_reason}. Only its tombstone remains."
    )


def load(w: Writer, dataset: DatasetRef, *, as_arrow: bool) -> Any:
    found = get(w, dataset)
    if found.deleted:
        raise deleted_error(found, "load it")
    if found.kind is DatasetKind.REFERENCE or found.digest is None:
        raise InvalidInputError(
            f"dataset {found.name} ({found.id}) is a reference to {found.uri}; "
            "its bytes are not in the registry. Read it from that URI at the pinned version."
        )
    # Parquet runs no code: a large snapshot is read in place, not copied first.
    with w.blobs.open_verified(found.digest, in_place=True) as stream:
        return parquet.read_parquet(stream, as_arrow=as_arrow)


def dependents(
    w: Writer,
    dataset: DatasetRef,
    *,
    limit: int | None = None,
    after: Dependent | str | None = None,
) -> list[Dependent]:
    page_size = validate_limit(limit)
    start = None if after is None else dependents_cursor(after)
    wanted = dataset_id(dataset)
    with w.read() as connection:
        found = dependents_store.dependents_of(connection, wanted, limit=page_size, after=start)
        # A dependent is only ever recorded for a dataset that exists, and dataset rows are
        # never deleted (a deletion leaves its tombstone): only an empty page can be an
        # unknown dataset, checked in the transaction it was read in. One statement (on
        # PostgreSQL one round trip) fewer for every other page.
        if not found and not dataset_store.dataset_exists(connection, wanted):
            raise _not_found(wanted)
        return found


_RELATIONS = ("trained", "evaluated")


def dependents_cursor(after: object) -> tuple[str, int, str]:
    """`after` as (model, version, relation): the last Dependent of the previous page, or
    its `cursor` text `model/version/relation` (what the CLI prints and `--after` takes)."""
    if isinstance(after, Dependent):
        return (after.model_name, after.version, after.relation)
    if not isinstance(after, str):
        raise InvalidInputError(
            "after must be the last Dependent of the previous page or its cursor "
            f"(model/version/relation), got {type(after).__name__}"
        )
    shown = repr(after) if len(after) <= 80 else f"{after[:80]!r}..."
    parts = after.split("/")
    if (
        len(parts) != 3
        or not parts[1].isascii()
        or not parts[1].isdigit()
        or len(parts[1]) > 18
        or parts[2] not in _RELATIONS
    ):
        raise InvalidInputError(
            f"invalid dependents cursor {shown}: expected model/version/relation as printed "
            "after a page (e.g. churn/3/trained), relation trained or evaluated"
        )
    model = validate_name(parts[0], "model name in the dependents cursor")
    return (model, int(parts[1]), parts[2])


def delete(
    w: Writer, dataset: DatasetRef, *, actor: str | None, reason: str, force: bool
) -> DatasetSnapshot:
    why = validate_reason(reason, required=True, action="deleting a dataset")
    who = w.actor(actor)
    target = get(w, dataset)
    if target.deleted:
        raise InvalidInputError(
            f"dataset {target.name} ({target.id}) is already deleted "
            f"(by {target.deleted_by}: {target.deletion_reason})"
        )

    def work(connection: Connection) -> tuple[DatasetSnapshot, bool]:
        # Locked first: a registration on a run trained on it (which share-locks it)
        # either committed before, and is among the dependents below, or waits and
        # then sees the tombstone (`runs.lock_run_inputs`).
        current = dataset_store.lock_dataset(connection, target.id)
        if current is not None and current.deleted:
            raise InvalidInputError(
                f"dataset {current.name} ({current.id}) is already deleted "
                f"(by {current.deleted_by}: {current.deletion_reason})"
            )
        users = dependents_store.dependents_of(connection, target.id)
        if users and not force:
            listing = "; ".join(
                f"{d.model_name}/{d.version} ({d.stage.value}, {d.relation})"
                for d in users[:LISTED_DEPENDENTS]
            )
            if len(users) > LISTED_DEPENDENTS:
                listing += f"; and {len(users) - LISTED_DEPENDENTS:,} more (reg.dependents)"
            raise DatasetInUseError(
                f"dataset {target.name} ({target.id}) is used by {len(users)} "
                f"model version(s): {listing}. Deleting it would leave them unreproducible: "
                "pass force=True (CLI: --force) with a reason to delete it anyway; they "
                "are then marked as trained on deleted data.",
                tuple(users),
            )
        dataset_store.mark_deleted(connection, target.id, actor=who, reason=why, at=now())
        version_store.mark_trained_on_deleted(connection, {d.version_id for d in users})
        still_used = (
            target.digest is not None
            and target.kind is DatasetKind.SNAPSHOT
            and bool(dataset_store.live_ids_with_digest(connection, target.digest))
        )
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.DELETE_DATASET,
                subject_type="dataset",
                subject_id=target.id,
                dataset_name=target.name,
                before={"digest": target.digest, "rows": target.row_count},
                after={
                    "deleted": True,
                    "forced": bool(force and users),
                    "affected_versions": [f"{d.model_name}/{d.version}" for d in users],
                    "bytes_kept_for_identical_snapshots": still_used,
                },
                reason=why,
            ),
        )
        return dataset_store.fetch_dataset(connection, target.id), still_used  # type: ignore[return-value]

    tombstone, still_used = w.write(work)
    # The tombstone is committed first: if deleting the bytes fails now, they are an
    # unreferenced blob that `gc` removes, never a record pointing at nothing. An
    # identical snapshot taken meanwhile keeps them (`Writer.delete_unreferenced`).
    digest = target.digest
    if target.kind is DatasetKind.SNAPSHOT and digest and not still_used:
        w.write(lambda connection: w.delete_unreferenced(connection, [digest]))
    return tombstone
