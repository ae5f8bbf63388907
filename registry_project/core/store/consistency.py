"""Cross-check the current rows against what their audit events recorded.

The hash chain proves the events were not edited; it says nothing about the rows they
describe. Someone with SQL access can point a version at another valid blob, move it to
another stage or un-delete a dataset without touching the log. Replaying the events that
recorded each row's state (registration, stage changes, snapshots, deletions) gives what
the row should say; `verify()` reports every difference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import Stage, VerifyProblem
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.schema import (
    artifact_retirements,
    audit_events,
    datasets,
    model_versions,
)

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
# The versions whose artifact bytes a retention policy retired (a few, usually none).
_RETIRED = PreparedStatement(sa.select(artifact_retirements.c.version_id))
_DATASET_ROWS = PreparedStatement(
    sa.select(datasets.c.id, datasets.c.name, datasets.c.digest, datasets.c.deleted_at)
)

# (subject_id, action, model_name, dataset_name, after_json) of one event.
EventRow = tuple[Any, ...]


def version_rows(connection: Connection) -> list[Sequence[Any]]:
    """Every version's (id, model_name, version, stage, artifact_digest), in (model_name,
    version) order: what `audit_mismatches` compares."""
    return [row for rows in _VERSION_ROWS.stream(connection) for row in rows]


def digests_with_bytes(connection: Connection, versions: Sequence[Sequence[Any]]) -> list[str]:
    """The artifact digests of `versions` (`version_rows`) whose bytes were not retired:
    what `referenced_blobs`' query of the versions gives (`not_retired`), from rows verify()
    reads anyway, so the table of 100,000 versions is read once, not twice."""
    retired = {row[0] for row in _RETIRED.execute(connection)}
    if not retired:
        return [row[4] for row in versions]
    return [row[4] for row in versions if row[0] not in retired]


def audit_mismatches(
    connection: Connection,
    kept: Mapping[str, Sequence[EventRow]] | None = None,
    versions: Sequence[Sequence[Any]] | None = None,
) -> Iterator[VerifyProblem]:
    """A problem for each version or dataset whose row differs from its audit events.

    `kept` is what `scan_chain(connection, REPLAYED)` kept, and `versions` what
    `version_rows(connection)` read, in the same transaction; without them they are read
    here."""
    if kept is None:
        kept = {subject_type: _events(connection, subject_type) for subject_type in REPLAYED}
    if versions is None:
        versions = version_rows(connection)
    recorded_versions = _replay_versions(kept["model_version"])
    for row in versions:
        recorded = recorded_versions.pop(row[0], None)
        # The common case, a version only registered and its row as registered: its
        # (model_name, version, stage, artifact_digest) against the row's, as is.
        if type(recorded) is tuple and recorded == tuple(row[1:5]):
            continue
        version_id, model_name, version, stage, artifact_digest = row[:5]
        actual = {
            "model_name": model_name,
            "version": version,
            "stage": stage,
            "artifact_digest": artifact_digest,
        }
        if type(recorded) is tuple:
            recorded = _registered_state(recorded)
        # Every field recorded and equal, without a generator.
        if recorded is not None and recorded.created and recorded.fields == actual:
            continue
        yield from _compare(f"{model_name}/{version}", recorded, actual)
    for version_id in recorded_versions:
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
        state = recorded.get(subject_id)
        if state is None:
            state = recorded[subject_id] = _Recorded()
        _apply(state, action, model_name, dataset_name, after_json, read)
    return recorded


def _apply(
    state: _Recorded,
    action: str,
    model_name: str | None,
    dataset_name: str | None,
    after_json: str | None,
    read: Any,
) -> None:
    """One event's effect on the state its row should have."""
    state.created = state.created or action in _CREATING
    after = _loads(after_json)
    state.fields.update(
        read(action, model_name, dataset_name, after if isinstance(after, dict) else {})
    )


# A version whose only event so far is its registration, with the registry's own payload:
# (model_name, version, stage, artifact_digest), what `_version_fields` gives for it.
_Registered = tuple[Any, Any, str, str]


def _replay_versions(events: Sequence[EventRow]) -> dict[str, _Recorded | _Registered]:
    """`_replay(events, _version_fields)`, but a version registered by the registry and
    not changed since is kept as a `_Registered` tuple: 100,000 of them in a large
    registry, compared with their rows as tuples (no payload decoded, no dict built)."""
    recorded: dict[str, _Recorded | _Registered] = {}
    registered = _REGISTERED.fullmatch
    for subject_id, action, model_name, dataset_name, after_json in events:
        state = recorded.get(subject_id)
        if state is None:
            found = registered(after_json) if action == "register_model" and after_json else None
            if found is not None:
                recorded[subject_id] = (model_name, int(found[2]), _EXPERIMENT, found[1])
                continue
            state = recorded[subject_id] = _Recorded()
        elif type(state) is tuple:
            state = recorded[subject_id] = _registered_state(state)
        _apply(state, action, model_name, dataset_name, after_json, _version_fields)  # type: ignore[arg-type]
    return recorded


def _registered_state(registered: _Registered) -> _Recorded:
    """The `_Recorded` a `_Registered` tuple stands for: what `_apply` makes of the
    registration event it was read from."""
    state = _Recorded()
    state.created = True
    state.fields.update(
        zip(("model_name", "version", "stage", "artifact_digest"), registered, strict=True)
    )
    return state


# A `register_model` payload exactly as `canonical_json` writes the registry's own: its
# five keys sorted, no spaces, no escapes, flat numeric metrics. Every text this matches
# is valid JSON whose decoded dict has exactly these top-level keys (none twice, no
# "stage"), so its digest (group 1) and version (group 2, as `int`) are what
# `_version_fields(json.loads(text))` reads, at a third of a decode's cost (the decode
# was most of the replay on a large registry). Anything else (whitespace, escapes,
# another shape, a number JSON does not allow) is not matched and gets decoded. The
# quantifiers are possessive: what follows each repeat cannot start another, so the
# language is the same, without backtracking.
_JSON_STRING = r'"[^"\\\x00-\x1f]*+"'
_JSON_NUMBER = r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_METRIC = _JSON_STRING + ":" + _JSON_NUMBER
_REGISTERED = re.compile(
    r'\{"digest":"([0-9a-f]{64})","flavor":'
    + _JSON_STRING
    + r',"metrics":\{(?:'
    + _METRIC
    + "(?:,"
    + _METRIC
    + r')*+)?+\},"run_id":(?:null|'
    + _JSON_STRING
    + r'),"version":(0|[1-9][0-9]{0,17})\}'
)


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
