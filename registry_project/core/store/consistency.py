"""Cross-check the current rows against what their audit events recorded.

The hash chain proves the events were not edited; it says nothing about the rows they
describe. Someone with SQL access can point a version at another valid blob, move it to
another stage or un-delete a dataset without touching the log. Replaying the events that
recorded each row's state (registration, stage changes, snapshots, deletions) gives what
the row should say; `verify()` reports every difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import Stage, VerifyProblem
from registry_project.core.store.prepared import PreparedStatement
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
# Read once: an enum member's `.value` is a property lookup, paid per event otherwise.
_EXPERIMENT = Stage.EXPERIMENT.value
# Actions that create the row they describe.
_CREATING = frozenset(("register_model", "snapshot_dataset", "reference_dataset", "import"))


class _Recorded:
    """A row's state as its events tell it (None: no event said). A plain slotted class,
    not a dataclass: one is made per version, 100,000 in a large registry's verify()."""

    __slots__ = ("created", "fields")

    def __init__(self) -> None:
        self.created = False
        self.fields: dict[str, Any] = {}


# What `chain_scan.scan_chain` keeps for `audit_mismatches`, so the log is read once.
REPLAYED = {"model_version": _VERSION_ACTIONS, "dataset": _DATASET_ACTIONS}

# The rows compared, read on the driver's cursor (100,000 versions in one verify()).
_VERSION_ROWS = PreparedStatement(
    sa.select(
        model_versions.c.id,
        model_versions.c.model_name,
        model_versions.c.version,
        model_versions.c.stage,
        model_versions.c.artifact_digest,
    ).order_by(model_versions.c.model_name, model_versions.c.version)
)
_DATASET_ROWS = PreparedStatement(
    sa.select(datasets.c.id, datasets.c.name, datasets.c.digest, datasets.c.deleted_at)
)

# (subject_id, action, model_name, dataset_name, after_json) of one event.
EventRow = tuple[Any, ...]


def audit_mismatches(
    connection: Connection, kept: Mapping[str, Sequence[EventRow]] | None = None
) -> Iterator[VerifyProblem]:
    """A problem for each version or dataset whose row differs from its audit events.

    `kept` is what `scan_chain(connection, REPLAYED)` kept, in the same transaction;
    without it the events are read here."""
    if kept is None:
        kept = {subject_type: _events(connection, subject_type) for subject_type in REPLAYED}
    versions = _replay(kept["model_version"], _version_fields)
    for rows in _VERSION_ROWS.stream(connection):
        for version_id, model_name, version, stage, artifact_digest in rows:
            actual = {
                "model_name": model_name,
                "version": version,
                "stage": stage,
                "artifact_digest": artifact_digest,
            }
            recorded = versions.pop(version_id, None)
            # The common case, every field recorded and equal, without a generator.
            if recorded is not None and recorded.created and recorded.fields == actual:
                continue
            yield from _compare(f"{model_name}/{version}", recorded, actual)
    for version_id in versions:
        yield _missing_row("model version", version_id)
    snapshots = _replay(kept["dataset"], _dataset_fields)
    for rows in _DATASET_ROWS.stream(connection):
        for dataset_id, name, digest, deleted_at in rows:
            actual = {"name": name, "digest": digest, "deleted": deleted_at is not None}
            yield from _compare(
                f"dataset {name} ({dataset_id})", snapshots.pop(dataset_id, None), actual
            )
    for dataset_id in snapshots:
        yield _missing_row("dataset", dataset_id)


def _events(connection: Connection, subject_type: str) -> list[EventRow]:
    rows = connection.execution_options(yield_per=2000).execute(
        sa.select(
            audit_events.c.subject_id,
            audit_events.c.action,
            audit_events.c.model_name,
            audit_events.c.dataset_name,
            audit_events.c.after_json,
        )
        .where(
            audit_events.c.subject_type == subject_type,
            audit_events.c.action.in_(REPLAYED[subject_type]),
        )
        .order_by(audit_events.c.seq)
    )
    return [tuple(row) for row in rows]


def _replay(events: Sequence[EventRow], read: Any) -> dict[str, _Recorded]:
    recorded: dict[str, _Recorded] = {}
    for subject_id, action, model_name, dataset_name, after_json in events:
        after = _loads(after_json)
        state = recorded.get(subject_id)
        if state is None:
            state = recorded[subject_id] = _Recorded()
        state.created = state.created or action in _CREATING
        state.fields.update(
            read(action, model_name, dataset_name, after if isinstance(after, dict) else {})
        )
    return recorded


_DECODER = json.JSONDecoder()


def _loads(text: str | None) -> Any:
    """`json.loads(text)`, {} for no text or bad JSON. The registry writes canonical JSON,
    which `raw_decode` reads without `loads`' two whitespace scans (a tenth of the
    replay); anything else goes through `json.loads` and gets its answer."""
    if not text:
        return {}
    try:
        value, end = _DECODER.raw_decode(text)
        if end == len(text):
            return value
    except ValueError:
        pass
    try:
        return json.loads(text)
    except ValueError:
        return {}


def _version_fields(
    action: str, model_name: str | None, dataset_name: str | None, after: dict[str, Any]
) -> dict[str, Any]:
    if action in ("register_model", "import"):
        return {
            "model_name": model_name,
            "version": after.get("version"),
            "stage": after.get("stage", _EXPERIMENT),
            "artifact_digest": after.get("digest"),
        }
    return {"stage": after["stage"]} if "stage" in after else {}


def _dataset_fields(
    action: str, model_name: str | None, dataset_name: str | None, after: dict[str, Any]
) -> dict[str, Any]:
    if action == "delete_dataset":
        return {"deleted": True}
    return {"name": dataset_name, "digest": after.get("digest"), "deleted": False}


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
