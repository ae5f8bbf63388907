"""Snapshots and references of data: the calls of ops/dataset_ops.py.

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from registry_project.core.entities import Column, DatasetSnapshot, Dependent
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops import dataset_ops
from registry_project.core.ops.dataset_ops import DatasetRef


class DatasetCalls(FacadeBase):
    """Snapshots, references, their loading, dependents and deletion."""

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
        return dataset_ops.snapshot(
            self._w,
            name,
            data,
            expires_at=expires_at,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
        )

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
        return dataset_ops.reference(
            self._w,
            name,
            uri,
            version_id=version_id,
            etag=etag,
            digest=digest,
            row_count=row_count,
            columns=columns,
            expires_at=expires_at,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
        )

    def get_dataset(self, dataset: DatasetRef) -> DatasetSnapshot:
        """A snapshot or reference by its object or id."""
        return dataset_ops.get(self._w, dataset)

    def datasets(
        self, name: str | None = None, *, include_deleted: bool = True
    ) -> list[DatasetSnapshot]:
        """Snapshots and references, newest first per name; tombstones included by default."""
        return dataset_ops.list_all(self._w, name, include_deleted=include_deleted)

    def load_dataset(self, dataset: DatasetRef, *, as_arrow: bool = False) -> Any:
        """The exact snapshotted data (digest verified before parsing), as a DataFrame, or a
        pyarrow Table with `as_arrow=True`."""
        return dataset_ops.load(self._w, dataset, as_arrow=as_arrow)

    def dependents(
        self,
        dataset: DatasetRef,
        *,
        limit: int | None = None,
        after: Dependent | str | None = None,
    ) -> list[Dependent]:
        """Every model version trained (run input) or evaluated (metrics) on this dataset,
        ordered by model, version and relation. `limit` and `after` page through a long
        list by keyset (each page costs what the first does): pass the last dependent of
        one page as `after`, or its `cursor` (`model/version/relation`, what the CLI's
        `--after` takes), to get the next; a malformed cursor is an InvalidInputError.

        Example::

            page = reg.dependents(snap, limit=500)
            while page:
                ...
                page = reg.dependents(snap, limit=500, after=page[-1].cursor)
        """
        return dataset_ops.dependents(self._w, dataset, limit=limit, after=after)

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
        return dataset_ops.delete(self._w, dataset, actor=actor, reason=reason, force=force)
