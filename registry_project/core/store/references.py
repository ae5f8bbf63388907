"""Which blobs the metadata still points at: what gc must keep and verify must check."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import DatasetKind
from registry_project.core.store.schema import (
    datasets,
    model_versions,
    run_environment_files,
    runs,
)


def referenced_digests(connection: Connection) -> set[str]:
    """Every digest a live row refers to (deleted snapshots' bytes are not kept)."""
    queries = [
        sa.select(model_versions.c.artifact_digest),
        sa.select(datasets.c.digest).where(
            datasets.c.kind == DatasetKind.SNAPSHOT.value,
            datasets.c.deleted_at.is_(None),
            datasets.c.digest.is_not(None),
        ),
        sa.select(runs.c.packages_digest).where(runs.c.packages_digest.is_not(None)),
        sa.select(run_environment_files.c.digest),
    ]
    digests: set[str] = set()
    for query in queries:
        digests.update(row[0] for row in connection.execute(query))
    return digests
