"""Which blobs the metadata still points at: what gc must keep and verify must check."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import DatasetKind
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.retention import not_retired
from registry_project.core.store.schema import (
    datasets,
    model_versions,
    run_artifacts,
    run_environment_files,
    runs,
)


def _queries() -> list[tuple[sa.Select[tuple[str]], sa.ColumnElement[str]]]:
    return [
        # A version whose artifact a retention policy retired keeps its digest (its
        # record) but no longer its bytes: neither kept by gc nor checked by verify.
        (
            sa.select(model_versions.c.artifact_digest).where(not_retired(model_versions.c.id)),
            model_versions.c.artifact_digest,
        ),
        (
            sa.select(datasets.c.digest).where(
                datasets.c.kind == DatasetKind.SNAPSHOT.value,
                datasets.c.deleted_at.is_(None),
                datasets.c.digest.is_not(None),
            ),
            datasets.c.digest,
        ),
        (
            sa.select(runs.c.packages_digest).where(runs.c.packages_digest.is_not(None)),
            runs.c.packages_digest,
        ),
        (sa.select(run_environment_files.c.digest), run_environment_files.c.digest),
        # Migration 0004: files runs logged (plots, tables, models to register later).
        (sa.select(run_artifacts.c.digest), run_artifacts.c.digest),
    ]


# On the driver's cursor: verify() and gc read every digest of a large registry.
_ALL = [PreparedStatement(query) for query, _ in _queries()]
_NOT_VERSIONS = _ALL[1:]  # the first of `_queries()` is the versions'


def referenced_digests(
    connection: Connection, *, versions: Iterable[str] | None = None
) -> set[str]:
    """Every digest a live row refers to (deleted snapshots' bytes are not kept).

    `versions`: the digests of the versions that keep their bytes, already read in this
    transaction (verify() reads every version row anyway: `consistency.version_rows`)."""
    digests: set[str] = set()
    if versions is not None:
        digests.update(versions)
    for statement in _ALL if versions is None else _NOT_VERSIONS:
        for rows in statement.stream(connection):
            digests.update(row[0] for row in rows)
    return digests


def referenced_among(connection: Connection, candidates: Collection[str]) -> set[str]:
    """Which of `candidates` a live row refers to: the check right before deleting bytes."""
    digests: set[str] = set()
    if not candidates:
        return digests
    for query, column in _queries():
        digests.update(row[0] for row in connection.execute(query.where(column.in_(candidates))))
    return digests
