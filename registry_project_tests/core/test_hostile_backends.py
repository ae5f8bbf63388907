"""Hostile calls on SQLite and PostgreSQL: the same refusal on both, before anything is
written.

A value that one backend would store and the other refuse (a NUL character, a lone
surrogate, a run id longer than its column, a number beyond 64 bits) must be refused by
the core on both, so a SQLite registry never holds data that cannot move to PostgreSQL,
and a bad value is never blamed on the connection. Every call is checked against the row
count of every table, the audit log's length and the blob store, before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry
from registry_project.core.entities import Column, DatasetSnapshot, ModelVersion
from registry_project.core.errors import (
    InvalidInputError,
    InvalidMetricError,
    RegistryError,
    StorageError,
)
from registry_project.core.store import schema
from registry_project.core.validation import MAX_LIMIT
from registry_project_tests.conftest import open_registry


@dataclass(frozen=True)
class Filled:
    registry: ModelRegistry
    version: ModelVersion  # churn/1, registered by carol, in production
    candidate: ModelVersion  # churn/2, registered by carol, in experiment
    snapshot: DatasetSnapshot


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Filled:
    registry = open_registry(request.param, tmp_path, request)
    snapshot = registry.snapshot_dataset("customers", pd.DataFrame({"x": [1, 2, 3]}))
    first = registry.register_model("churn", {"w": 1}, metrics={"auc": 0.8}, actor="carol")
    registry.promote(first, actor="alice", reason="first")
    second = registry.register_model("churn", {"w": 2}, metrics={"auc": 0.9}, actor="carol")
    return Filled(registry, registry.get_version(first.id), second, snapshot)


def _state(registry: ModelRegistry) -> tuple[object, ...]:
    with registry.engine.connect() as connection:
        counts = tuple(
            connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in schema.metadata.sorted_tables
        )
    return (*counts, registry.audit_count(), sorted(registry.blobs.iter_digests()))


Call = Callable[[Filled], object]
EARLIEST_UTC_OVERFLOW = datetime.fromisoformat("0001-01-01T00:00:00+14:00")
LATEST_UTC_OVERFLOW = datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=14)))
FRAME = pd.DataFrame({"x": [7, 8]})

HOSTILE: dict[str, tuple[Call, type[RegistryError]]] = {
    # item 8: raw exceptions
    "huge int metric on log_metrics": (
        lambda f: f.registry.log_metrics(f.candidate, {"auc": 10**400}),
        InvalidMetricError,
    ),
    "huge int metric on register_model": (
        lambda f: f.registry.register_model("churn", {"w": 3}, metrics={"auc": 10**400}),
        InvalidMetricError,
    ),
    "lone surrogate in a reason": (
        lambda f: f.registry.approve(f.candidate, actor="bob", reason="ok\ud800"),
        InvalidInputError,
    ),
    "lone surrogate in an actor": (
        lambda f: f.registry.approve(f.candidate, actor="bob\udcff", reason="ok"),
        InvalidInputError,
    ),
    "lone surrogate in a description": (
        lambda f: f.registry.register_model("churn", {"w": 3}, description="d\ud800"),
        InvalidInputError,
    ),
    "lone surrogate in a URI": (
        lambda f: f.registry.reference_dataset("events", "s3://b/k\ud800", etag="e"),
        InvalidInputError,
    ),
    "lone surrogate in a version_id": (
        lambda f: f.registry.reference_dataset("events", "s3://b/k", version_id="v\udcff"),
        InvalidInputError,
    ),
    "lone surrogate in an audit actor filter": (
        lambda f: f.registry.audit_log(actor="bob\udcff"),
        InvalidInputError,
    ),
    "versions limit 10**30": (
        lambda f: f.registry.versions("churn", limit=10**30),
        InvalidInputError,
    ),
    "versions limit over the maximum": (
        lambda f: f.registry.versions("churn", limit=MAX_LIMIT + 1),
        InvalidInputError,
    ),
    "audit_log limit 10**30": (lambda f: f.registry.audit_log(limit=10**30), InvalidInputError),
    "audit_log limit True": (lambda f: f.registry.audit_log(limit=True), InvalidInputError),
    "reference columns as bare names": (
        lambda f: f.registry.reference_dataset("events", "s3://b/k", etag="e", columns=["a"]),
        InvalidInputError,
    ),
    "reference columns as a string": (
        lambda f: f.registry.reference_dataset("events", "s3://b/k", etag="e", columns="ab"),
        InvalidInputError,
    ),
    "reference row_count True": (
        lambda f: f.registry.reference_dataset("events", "s3://b/k", etag="e", row_count=True),
        InvalidInputError,
    ),
    "reference row_count beyond 64 bits": (
        lambda f: f.registry.reference_dataset("events", "s3://b/k", etag="e", row_count=2**70),
        InvalidInputError,
    ),
    "audit since before year 1 in UTC": (
        lambda f: f.registry.audit_log(since=EARLIEST_UTC_OVERFLOW),
        InvalidInputError,
    ),
    "audit_count since before year 1 in UTC": (
        lambda f: f.registry.audit_count(since=EARLIEST_UTC_OVERFLOW),
        InvalidInputError,
    ),
    "expiry after year 9999 in UTC": (
        lambda f: f.registry.snapshot_dataset("late", FRAME, expires_at=LATEST_UTC_OVERFLOW),
        InvalidInputError,
    ),
    "gc grace period beyond year 1": (
        lambda f: f.registry.gc(grace_period=timedelta.max),
        InvalidInputError,
    ),
    "gc grace period negative": (
        lambda f: f.registry.gc(dry_run=False, grace_period=timedelta(days=-1)),
        InvalidInputError,
    ),
    "run inputs that are not a collection": (
        lambda f: f.registry.start_run("train", inputs=5),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    # item 9: what PostgreSQL refused as a "connection" error and SQLite stored
    "NUL in a reason": (
        lambda f: f.registry.approve(f.candidate, actor="bob", reason="ok\x00"),
        InvalidInputError,
    ),
    "NUL in a promotion reason": (
        lambda f: f.registry.promote(f.candidate, actor="alice", reason="better\x00"),
        InvalidInputError,
    ),
    "NUL in a description": (
        lambda f: f.registry.register_model("churn", {"w": 3}, description="d\x00"),
        InvalidInputError,
    ),
    "NUL in an etag": (
        lambda f: f.registry.reference_dataset("events", "s3://b/k", etag="e\x00"),
        InvalidInputError,
    ),
    "NUL in an audit action filter": (
        lambda f: f.registry.audit_log(action="promote\x00"),
        InvalidInputError,
    ),
    "dagster_run_id over 64 characters on register_model": (
        lambda f: f.registry.register_model("churn", {"w": 3}, dagster_run_id="r" * 65),
        InvalidInputError,
    ),
    "dagster_run_id over 64 characters on snapshot_dataset": (
        lambda f: f.registry.snapshot_dataset("other", FRAME, dagster_run_id="r" * 65),
        InvalidInputError,
    ),
    "dagster_run_id over 64 characters on start_run": (
        lambda f: f.registry.start_run("train", dagster_run_id="r" * 65),
        InvalidInputError,
    ),
    "asset_key as a dict": (
        lambda f: f.registry.register_model("churn", {"w": 3}, asset_key={}),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    "asset_key as a dict on a reference": (
        lambda f: f.registry.reference_dataset("events", "s3://b/k", etag="e", asset_key={"a": 1}),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    "dagster_run_id as a number on a bound view": (
        lambda f: f.registry.bound(dagster_run_id=12345).register_model("churn", {"w": 3}),  # type: ignore[arg-type]
        InvalidInputError,
    ),
    # item 11: invisible characters in actors
    "NEXT LINE in an actor": (
        lambda f: f.registry.approve(f.candidate, actor="bob\x85alice", reason="ok"),
        InvalidInputError,
    ),
    "LINE SEPARATOR in an actor": (
        lambda f: f.registry.approve(f.candidate, actor="bob\u2028alice", reason="ok"),
        InvalidInputError,
    ),
    "RIGHT-TO-LEFT OVERRIDE in an actor": (
        lambda f: f.registry.approve(f.candidate, actor="bob\u202eecila", reason="ok"),
        InvalidInputError,
    ),
    "ZERO WIDTH SPACE in an actor": (
        lambda f: f.registry.approve(f.candidate, actor="bo\u200bb", reason="ok"),
        InvalidInputError,
    ),
    # item 16: one rule for empty reasons
    "empty promotion reason": (
        lambda f: f.registry.promote(f.candidate, actor="alice", reason=""),
        InvalidInputError,
    ),
    "whitespace promotion reason": (
        lambda f: f.registry.promote(f.candidate, actor="alice", reason="  \t"),
        InvalidInputError,
    ),
    "empty transition reason": (
        lambda f: f.registry.transition(f.candidate, "staging", actor="ci", reason=""),
        InvalidInputError,
    ),
    "whitespace reason leaving production": (
        lambda f: f.registry.transition(f.version, "archived", actor="ci", reason=" "),
        InvalidInputError,
    ),
    "empty approval reason": (
        lambda f: f.registry.approve(f.candidate, actor="bob", reason=""),
        InvalidInputError,
    ),
    "whitespace rollback reason": (
        lambda f: f.registry.rollback("churn", actor="alice", reason="\n"),
        InvalidInputError,
    ),
    "empty deletion reason": (
        lambda f: f.registry.delete_dataset(f.snapshot, actor="dpo", reason=""),
        InvalidInputError,
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_call_is_refused_the_same_on_both_backends(filled: Filled, case: str) -> None:
    call, expected = HOSTILE[case]
    before = _state(filled.registry)
    with pytest.raises(RegistryError) as caught:
        call(filled)
    assert isinstance(caught.value, expected), f"{type(caught.value).__name__}: {caught.value}"
    assert not isinstance(caught.value, StorageError)  # bad input is not a connection problem
    message = str(caught.value)
    assert message and "retry" not in message.lower()
    message.encode("utf-8")  # printable as it is: the message quotes no lone surrogate
    assert _state(filled.registry) == before


def test_the_documented_maximum_limit_is_accepted(filled: Filled) -> None:
    assert len(filled.registry.versions("churn", limit=MAX_LIMIT)) == 2
    assert len(filled.registry.audit_log(limit=MAX_LIMIT)) == filled.registry.audit_count()


def test_valid_unicode_reasons_and_references_are_stored_as_given(filled: Filled) -> None:
    """The rules refuse only what cannot be stored or would forge a line: accents, CJK,
    emoji and newlines in a reason are kept."""
    reason = "géré par l'équipe 风控 ✅\nsecond line"
    approved = filled.registry.approve(filled.candidate, actor="björn", reason=reason)
    event = filled.registry.audit_log(action="approve", actor="björn")[-1]
    assert event.reason == reason and approved.id == filled.candidate.id
    pinned = filled.registry.reference_dataset(
        "events",
        "s3://lake/événements.parquet",
        etag="e1",
        row_count=2**63 - 1,
        columns=[Column("âge", "int64")],
    )
    assert pinned.row_count == 2**63 - 1 and pinned.columns == (Column("âge", "int64"),)
    since = datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    assert filled.registry.audit_count(since=since) == filled.registry.audit_count()
    assert filled.registry.audit_log(since=datetime.now(UTC) + timedelta(days=1)) == []


# A class whose qualified name is longer than the python_class column (512): importable,
# so pickle can store it.
LONG_CLASS_NAME = "Model" + "X" * 600
globals()[LONG_CLASS_NAME] = type(LONG_CLASS_NAME, (), {"__module__": __name__})


def test_a_class_name_longer_than_its_column_registers_on_both_backends(filled: Filled) -> None:
    model = globals()[LONG_CLASS_NAME]()
    registered = filled.registry.register_model("churn", model, flavor="pickle")
    assert registered.python_class == f"{__name__}.{LONG_CLASS_NAME}"[:512]
    assert type(filled.registry.load_model(registered)).__name__ == LONG_CLASS_NAME
