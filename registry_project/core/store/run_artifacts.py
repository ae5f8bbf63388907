"""Files a run logged: one row per (run, name) pointing at a blob (store/references.py keeps
their bytes from gc and has verify re-hash them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import RunArtifact
from registry_project.core.store.schema import run_artifacts


def _values(artifact: RunArtifact) -> dict[str, object]:
    return {
        "run_id": artifact.run_id,
        "name": artifact.name,
        "digest": artifact.digest,
        "size_bytes": artifact.size_bytes,
        "media_type": artifact.media_type,
        "flavor": artifact.flavor,
        "python_class": artifact.python_class,
        "logged_at": artifact.logged_at,
        "logged_by": artifact.logged_by,
    }


def _from_row(m: sa.RowMapping) -> RunArtifact:
    return RunArtifact(
        run_id=m["run_id"],
        name=m["name"],
        digest=m["digest"],
        size_bytes=m["size_bytes"],
        media_type=m["media_type"],
        logged_at=m["logged_at"],
        logged_by=m["logged_by"],
        flavor=m["flavor"],
        python_class=m["python_class"],
    )


def fetch_artifact(connection: Connection, run_id: str, name: str) -> RunArtifact | None:
    row = (
        connection.execute(
            sa.select(run_artifacts).where(
                run_artifacts.c.run_id == run_id, run_artifacts.c.name == name
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _from_row(row)


def insert_artifact(connection: Connection, artifact: RunArtifact) -> None:
    """A new artifact's row; the (run, name) primary key refuses a second one of that name
    (the caller checks first, for a clear message)."""
    connection.execute(run_artifacts.insert(), _values(artifact))


def list_artifacts(connection: Connection, run_id: str) -> list[RunArtifact]:
    rows = connection.execute(
        sa.select(run_artifacts)
        .where(run_artifacts.c.run_id == run_id)
        .order_by(run_artifacts.c.name)
    ).mappings()
    return [_from_row(row) for row in rows]
