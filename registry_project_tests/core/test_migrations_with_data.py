"""A database filled at the first migration keeps every row through every later one, and
today's code then reads and writes it correctly. On SQLite and PostgreSQL.

The database is filled at revision 0001 with rows of every kind, written with SQLAlchemy
Core against the tables as that revision created them (reflected from the database), not
through today's code: snapshots, a pinned reference, a tombstone, a finished and a failed
run with params, inputs, metrics and environment files, two models with several versions,
per-dataset metrics, staging, an approval, promotions, a rollback and archives, and the
hash-chained audit events of all of it.

Then the schema is upgraded one revision at a time; after each step every row of every
table is compared with what was written, changed as `ROW_CHANGES` says that migration
changes it. A new migration must add its entry there (a test checks that every revision
has one), so no migration ships without saying what it does to existing rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry, PromotionPolicy, Stage
from registry_project.core import errors
from registry_project.core.store import migrate
from registry_project.core.store.engine import create_registry_engine
from registry_project_tests.backends import postgres_schema_url
from registry_project_tests.core.fill_0001 import Rows, fill, reflect

FIRST_REVISION = "0001"


def unchanged(rows: Rows) -> Rows:
    return rows


# How each migration after the first changes the rows of a database written at 0001.
# Every migration must be listed (see test_every_migration_says_what_it_does_to_rows): a
# migration that adds a column adds it to each row here, with the value it backfills.
ROW_CHANGES: dict[str, Callable[[Rows], Rows]] = {
    "0002": unchanged,  # indexes on audit_events (actor, seq) and (action, seq) only
    "0003": lambda rows: {**rows, "model_card_texts": [], "reproductions": []},  # new tables
    # every run's experiment backfilled with its name; three new tables
    "0004": lambda rows: {
        **rows,
        "runs": [{**run, "experiment": run["name"]} for run in rows["runs"]],
        "run_tags": [],
        "run_step_metrics": [],
        "run_artifacts": [],
    },
    "0005": lambda rows: {  # governance: new tables, nothing existing changes
        **rows,
        "protection_rules": [],
        "model_aliases": [],
        "alias_changes": [],
        "model_tags": [],
        "version_tags": [],
    },
    "0006": lambda rows: {  # retention: new tables, nothing existing changes
        **rows,
        "retention_policies": [],
        "artifact_retirements": [],
    },
    "0007": lambda rows: {**rows, "imported_items": []},  # import provenance: a new table
    "0008": unchanged,  # search indexes only
    "0009": unchanged,  # dependents indexes only
    "0010": lambda rows: {**rows, "dataset_dependents": _dependents_of(rows)},  # backfilled
}


def _dependents_of(rows: Rows) -> list[dict[str, Any]]:
    """What migration 0010 backfills, worked out here from the rows themselves: a row per
    input of a version's run, and one per dataset (not "") a version has metrics on."""
    versions = rows["model_versions"]
    trained = [
        (run_input["dataset_id"], version, "trained", run_input["role"])
        for version in versions
        for run_input in rows["run_inputs"]
        if run_input["run_id"] == version["run_id"]
    ]
    evaluated = {
        (metric["dataset_id"], version["id"])
        for metric in rows["version_metrics"]
        if metric["dataset_id"] != ""
        for version in versions
        if version["id"] == metric["version_id"]
    }
    by_id = {version["id"]: version for version in versions}
    found = trained + [(dataset, by_id[v], "evaluated", "") for dataset, v in evaluated]
    return [
        {
            "dataset_id": dataset,
            "model_name": version["model_name"],
            "version": version["version"],
            "relation": relation,
            "role": role,
            "version_id": version["id"],
            "stage": version["stage"],
        }
        for dataset, version, relation, role in found
    ]


def _revisions_after_first() -> list[str]:
    """Every revision after the first, oldest first, as Alembic orders the scripts."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate._config())
    ordered = [script.revision for script in scripts.walk_revisions("base", "heads")]
    ordered.reverse()
    assert ordered[0] == FIRST_REVISION
    return ordered[1:]


def _read_every_row(engine: sa.Engine) -> Rows:
    """Every row of every registry table (compare them through `_sorted`)."""
    with engine.connect() as connection:
        return {
            name: [dict(row._mapping) for row in connection.execute(sa.select(table))]
            for name, table in reflect(connection).items()
        }


# --- the fixture: one registry, filled at 0001 -----------------------------------------


@dataclass(frozen=True)
class FilledAt0001:
    database_url: str
    artifact_root: str
    engine: sa.Engine
    written: Rows
    ids: dict[str, str]
    customers: pd.DataFrame


@pytest.fixture(params=["sqlite", "postgres"])
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FilledAt0001]:
    with _database_url(request.param, tmp_path) as url:
        root = str(tmp_path / "artifacts")
        engine = create_registry_engine(url)
        try:
            assert migrate.upgrade(engine, FIRST_REVISION) == FIRST_REVISION
            written, ids, customers = fill(engine, root)
            yield FilledAt0001(url, root, engine, written, ids, customers)
        finally:
            engine.dispose()


@pytest.fixture
def upgraded(filled: FilledAt0001) -> Iterator[ModelRegistry]:
    for revision in _revisions_after_first():
        migrate.upgrade(filled.engine, revision)
    with ModelRegistry.open(filled.database_url, filled.artifact_root) as registry:
        yield registry


@contextlib.contextmanager
def _database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        with postgres_schema_url() as url:
            yield url


# --- the tests -------------------------------------------------------------------------


def test_every_migration_says_what_it_does_to_rows() -> None:
    assert list(ROW_CHANGES) == _revisions_after_first(), (
        "add the new migration to ROW_CHANGES: how it changes rows written at 0001"
    )


def test_the_fill_wrote_every_kind_of_record(filled: FilledAt0001) -> None:
    written = filled.written
    assert {row["kind"] for row in written["datasets"]} == {"snapshot", "reference"}
    assert any(row["deleted_at"] is not None for row in written["datasets"])
    assert {row["status"] for row in written["runs"]} == {"finished", "failed"}
    assert {row["stage"] for row in written["model_versions"]} == {
        "experiment",
        "staging",
        "production",
        "archived",
    }
    assert {row["dataset_id"] for row in written["version_metrics"]} == {"", filled.ids["holdout"]}
    assert {row["action"] for row in written["audit_events"]} >= {
        "rollback",
        "approve",
        "delete_dataset",
    }
    empty = [name for name, rows in written.items() if not rows]
    assert empty == [] and set(written) == set(_read_every_row(filled.engine))


def test_every_row_survives_each_migration(filled: FilledAt0001) -> None:
    expected = {name: [dict(row) for row in rows] for name, rows in filled.written.items()}
    assert _sorted(_read_every_row(filled.engine)) == _sorted(expected)
    for revision in _revisions_after_first():
        migrate.upgrade(filled.engine, revision)
        expected = ROW_CHANGES[revision](expected)
        assert _sorted(_read_every_row(filled.engine)) == _sorted(expected), revision
    assert migrate.current_revision(filled.engine) == migrate.head_revision()


def _sorted(rows: Rows) -> Rows:
    def order(row: dict[str, Any]) -> list[str]:
        return [f"{key}={row[key]!s}" for key in sorted(row)]

    return {name: sorted(found, key=order) for name, found in sorted(rows.items())}


def test_todays_code_reads_the_upgraded_records(
    filled: FilledAt0001, upgraded: ModelRegistry
) -> None:
    ids = filled.ids
    registry = upgraded
    assert {v.version: v.stage for v in registry.versions("churn")} == {
        1: Stage.ARCHIVED,
        2: Stage.PRODUCTION,
        3: Stage.STAGING,
    }
    assert registry.get_version("churn@production").id == ids["churn/2"]
    assert registry.get_version("churn/2").metrics == {"auc": 0.828125, "log_loss": 0.5}
    assert [(t.from_stage, t.to_stage) for t in registry.history("churn/1")] == [
        (None, Stage.EXPERIMENT),
        (Stage.EXPERIMENT, Stage.PRODUCTION),
        (Stage.PRODUCTION, Stage.ARCHIVED),
        (Stage.ARCHIVED, Stage.PRODUCTION),
        (Stage.PRODUCTION, Stage.ARCHIVED),
    ]
    assert registry.approvals("churn/3") == ["bob"]
    assert registry.load_model("churn@production") == {"w": 2}
    pd.testing.assert_frame_equal(registry.load_dataset(ids["customers"]), filled.customers)
    lineage = registry.lineage("churn/2")
    assert {d.snapshot.id for d in lineage.datasets} == {ids["customers"], ids["holdout"]}
    run = registry.get_run(ids["failed_run"])
    assert run.status.value == "failed" and "did not converge" in (run.error or "")
    assert registry.get_run(ids["run"]).params == {"C": 1.0, "grid": [1, 2]}
    scratch = registry.get_dataset(ids["scratch"])
    assert scratch.deleted and scratch.deletion_reason == "GDPR request 17"
    with pytest.raises(errors.DatasetDeletedError):
        registry.load_dataset(scratch)
    assert registry.get_version("fraud/1").trained_on_deleted_data
    assert registry.get_dataset(ids["events"]).version_id == "3HL4kqtJlcpXroDTDmJ"
    assert {d.version_id for d in registry.dependents(ids["holdout"])} >= {
        ids["churn/2"],
        ids["churn/3"],
    }
    assert registry.audit_count() == len(filled.written["audit_events"])
    assert [e.action for e in registry.audit_log(model="churn", action="rollback")] == ["rollback"]


def test_todays_code_writes_correctly_after_the_upgrade(
    filled: FilledAt0001, upgraded: ModelRegistry
) -> None:
    ids = filled.ids
    registry = upgraded
    report = registry.verify()
    assert report.ok, report.problems
    assert report.events_checked == len(filled.written["audit_events"])

    # A new version is numbered after the last one, per model.
    assert registry.register_model("churn", {"w": 4}, actor="carol").version == 4
    assert registry.register_model("fraud", {"r": 3}, actor="erin").version == 3
    assert registry.register_model("new-model", {"n": 1}, actor="erin").version == 1

    # The approval written at 0001 still counts: churn/3 may be promoted under a policy
    # that requires one; unapproved churn/4 may not.
    policy = PromotionPolicy("auc", require_approval=True)
    with pytest.raises(errors.ApprovalRequiredError):
        registry.promote("churn/4", actor="alice", reason="r", policy=policy)
    promoted = registry.promote(
        "churn/3", actor="alice", reason="approved", expected_current="churn/2", policy=policy
    )
    assert promoted.stage is Stage.PRODUCTION
    assert registry.get_version("churn/2").stage is Stage.ARCHIVED

    # A compare-and-swap against a production that is no longer current is refused.
    with pytest.raises(errors.PromotionConflictError, match="you expected churn/2"):
        registry.promote("churn/4", actor="alice", reason="late", expected_current="churn/2")
    assert registry.get_version("churn@production").id == ids["churn/3"]

    # The rollback reads the 0001 history: churn/2 was in production before churn/3.
    assert registry.rollback("churn", actor="alice", reason="drill").id == ids["churn/2"]
    # A dataset a 0001 version depends on is still protected.
    with pytest.raises(errors.DatasetInUseError):
        registry.delete_dataset(ids["customers"], actor="dpo", reason="r")

    report = registry.verify()
    assert report.ok, report.problems
    assert report.events_checked == registry.audit_count() > len(filled.written["audit_events"])
