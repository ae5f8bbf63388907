"""Cross-check the current rows against what their audit events recorded.

The hash chain proves the events were not edited; it says nothing about the rows they
describe. Someone with SQL access can point a version at another valid blob, move it to
another stage or un-delete a dataset without touching the log. Replaying the events that
recorded each row's state (registration, stage changes, snapshots, deletions) gives what
the row should say; `verify()` reports every difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import Stage, VerifyProblem
from registry_project.core.store.schema import audit_events, datasets, model_versions

# Actions whose `after` records a version's or a dataset's state.
_VERSION_ACTIONS = (
    "register_model",
    "promote",
    "promote:archive_previous",
    "rollback",
    "rollback:archive_previous",
    "transition",
    "import",  # a version imported from MLflow: its number, digest and imported stage
)
_DATASET_ACTIONS = ("snapshot_dataset", "reference_dataset", "delete_dataset", "import")
# Actions that create the row they describe.
_CREATING = ("register_model", "snapshot_dataset", "reference_dataset", "import")


@dataclass
class _Recorded:
    """A row's state as its events tell it (None: no event said)."""

    created: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


def audit_mismatches(connection: Connection) -> Iterator[VerifyProblem]:
    """A problem for each version or dataset whose row differs from its audit events."""
    versions = _replay(connection, "model_version", _VERSION_ACTIONS, _version_fields)
    for row in connection.execute(
        sa.select(
            model_versions.c.id,
            model_versions.c.model_name,
            model_versions.c.version,
            model_versions.c.stage,
            model_versions.c.artifact_digest,
        ).order_by(model_versions.c.model_name, model_versions.c.version)
    ):
        actual = {
            "model_name": row.model_name,
            "version": row.version,
            "stage": row.stage,
            "artifact_digest": row.artifact_digest,
        }
        yield from _compare(f"{row.model_name}/{row.version}", versions.pop(row.id, None), actual)
    for version_id in versions:
        yield _missing_row("model version", version_id)
    snapshots = _replay(connection, "dataset", _DATASET_ACTIONS, _dataset_fields)
    for row in connection.execute(
        sa.select(datasets.c.id, datasets.c.name, datasets.c.digest, datasets.c.deleted_at)
    ):
        actual = {"name": row.name, "digest": row.digest, "deleted": row.deleted_at is not None}
        yield from _compare(f"dataset {row.name} ({row.id})", snapshots.pop(row.id, None), actual)
    for dataset_id in snapshots:
        yield _missing_row("dataset", dataset_id)


def _replay(
    connection: Connection, subject_type: str, actions: tuple[str, ...], read: Any
) -> dict[str, _Recorded]:
    recorded: dict[str, _Recorded] = {}
    rows = connection.execution_options(yield_per=2000).execute(
        sa.select(
            audit_events.c.subject_id,
            audit_events.c.action,
            audit_events.c.model_name,
            audit_events.c.dataset_name,
            audit_events.c.after_json,
        )
        .where(audit_events.c.subject_type == subject_type, audit_events.c.action.in_(actions))
        .order_by(audit_events.c.seq)
    )
    for row in rows:
        try:
            after = json.loads(row.after_json) if row.after_json else {}
        except ValueError:
            after = {}
        state = recorded.setdefault(row.subject_id, _Recorded())
        state.created = state.created or row.action in _CREATING
        state.fields.update(read(row, after if isinstance(after, dict) else {}))
    return recorded


def _version_fields(row: Any, after: dict[str, Any]) -> dict[str, Any]:
    if row.action in ("register_model", "import"):
        return {
            "model_name": row.model_name,
            "version": after.get("version"),
            "stage": after.get("stage", Stage.EXPERIMENT.value),
            "artifact_digest": after.get("digest"),
        }
    return {"stage": after["stage"]} if "stage" in after else {}


def _dataset_fields(row: Any, after: dict[str, Any]) -> dict[str, Any]:
    if row.action == "delete_dataset":
        return {"deleted": True}
    return {"name": row.dataset_name, "digest": after.get("digest"), "deleted": False}


def _compare(
    subject: str, recorded: _Recorded | None, actual: dict[str, Any]
) -> Iterator[VerifyProblem]:
    if recorded is None or not recorded.created:
        yield VerifyProblem(
            "record_unaudited",
            subject,
            "no audit event records its creation: the row was inserted outside the registry",
        )
        return
    for name, value in actual.items():
        if name in recorded.fields and recorded.fields[name] != value:
            yield VerifyProblem(
                "record_mismatch",
                subject,
                f"{name} is {value!r} but its audit events recorded {recorded.fields[name]!r}: "
                "the row was changed outside the registry",
            )


def _missing_row(kind: str, subject_id: str) -> VerifyProblem:
    return VerifyProblem(
        "record_missing",
        f"{kind} {subject_id}",
        f"audit events record this {kind} but its row is gone: it was deleted outside the registry",
    )
