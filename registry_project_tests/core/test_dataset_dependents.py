"""`dataset_dependents` (migration 0010) is kept by the database's triggers: after every kind
of write that can change who depends on a dataset, the table holds exactly the rows derived
from the run inputs, versions and metrics themselves, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry, Stage
from registry_project.core.store.schema import (
    dataset_dependents,
    model_versions,
    run_inputs,
    version_metrics,
)
from registry_project_tests.conftest import open_registry

Row = tuple[str, str, int, str, str, str, str]


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def database_registry(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    return open_registry(request.param, tmp_path, request)


def _derived(connection: sa.Connection) -> set[Row]:
    """Who depends on what, from the source rows (not from the triggers' own SQL)."""
    trained = sa.select(
        run_inputs.c.dataset_id,
        model_versions.c.model_name,
        model_versions.c.version,
        sa.literal("trained"),
        run_inputs.c.role,
        model_versions.c.id,
        model_versions.c.stage,
    ).join_from(run_inputs, model_versions, model_versions.c.run_id == run_inputs.c.run_id)
    evaluated = (
        sa.select(
            version_metrics.c.dataset_id,
            model_versions.c.model_name,
            model_versions.c.version,
            sa.literal("evaluated"),
            sa.literal(""),
            model_versions.c.id,
            model_versions.c.stage,
        )
        .join_from(
            version_metrics, model_versions, model_versions.c.id == version_metrics.c.version_id
        )
        .where(version_metrics.c.dataset_id != "")
    )
    return {tuple(row) for row in connection.execute(trained)} | {
        tuple(row) for row in connection.execute(evaluated)
    }


def _kept(connection: sa.Connection) -> list[Row]:
    return [tuple(row) for row in connection.execute(sa.select(dataset_dependents))]


def _assert_kept(registry: ModelRegistry) -> list[Row]:
    with registry.engine.connect() as connection:
        kept, derived = _kept(connection), _derived(connection)
    assert len(kept) == len(set(kept))
    assert set(kept) == derived
    return kept


def _frame(seed: int) -> pd.DataFrame:
    return pd.DataFrame({"x": [seed, seed + 1], "y": [0.5, 0.25]})


def test_every_write_that_changes_dependents_keeps_the_table_exact(
    database_registry: ModelRegistry,
) -> None:
    registry = database_registry
    customers = registry.snapshot_dataset("customers", _frame(1))
    holdout = registry.snapshot_dataset("holdout", _frame(2))
    events = registry.reference_dataset("events", uri="s3://lake/events.parquet", version_id="7")
    assert _assert_kept(registry) == []

    # A run with three inputs (one dataset in two roles), two versions: a row per pair.
    inputs = {"train": [customers, events], "test": customers, "validation": holdout}
    with registry.start_run("churn", inputs=inputs) as run:
        first = registry.register_model("churn", {"C": 1}, run=run)
        second = registry.register_model("churn", {"C": 2}, run=run)
    assert len(_assert_kept(registry)) == 2 * 4

    # Metrics on a dataset: one "evaluated" row however many keys and times; training
    # metrics ("" dataset) none.
    loose = registry.register_model("scorer", {"k": 3})
    registry.log_metrics(loose, {"auc": 0.7, "f1": 0.6}, dataset=holdout)
    registry.log_metrics(loose, {"auc": 0.75}, dataset=holdout)  # an upsert of a kept key
    registry.log_metrics(first, {"auc": 0.8}, dataset=holdout)
    registry.log_metrics(second, {"loss": 0.3})
    kept = _assert_kept(registry)
    assert sum(1 for row in kept if row[3] == "evaluated") == 2

    # Stage changes of every kind reach the rows of the versions they change.
    registry.transition(first, Stage.STAGING)
    registry.transition(first, Stage.PRODUCTION)
    registry.transition(second, Stage.STAGING)
    registry.transition(second, Stage.PRODUCTION)  # demotes the first
    registry.transition(loose, Stage.ARCHIVED)
    kept = _assert_kept(registry)
    assert {(row[1], row[6]) for row in kept} == {
        ("churn", "archived"),
        ("churn", "production"),
        ("scorer", "archived"),
    }

    # An input recorded after its run's versions (no path does it today; the trigger on
    # run_inputs keeps the table right if one ever does).
    late = registry.snapshot_dataset("late", _frame(3))
    with registry.engine.begin() as connection:
        connection.execute(
            run_inputs.insert().values(run_id=run.id, dataset_id=late.id, role="test")
        )
    kept = _assert_kept(registry)
    assert {row[1:3] for row in kept if row[0] == late.id} == {("churn", 1), ("churn", 2)}
    assert [d.cursor for d in registry.dependents(late)] == ["churn/1/trained", "churn/2/trained"]


def test_a_rolled_back_write_leaves_no_dependents(database_registry: ModelRegistry) -> None:
    registry = database_registry
    customers = registry.snapshot_dataset("customers", _frame(1))
    with registry.start_run("churn", inputs=[customers]) as run:
        registry.register_model("churn", {"C": 1}, run=run)
    before = _assert_kept(registry)
    # The trigger's row and the version it came from go together.
    with pytest.raises(RuntimeError), registry.engine.begin() as connection:
        connection.execute(
            model_versions.insert().values(
                id="00000000-0000-4000-8000-000000000000",
                model_name="churn",
                version=99,
                stage="experiment",
                flavor="pickle",
                python_class="builtins.dict",
                artifact_digest="0" * 64,
                artifact_size=1,
                run_id=run.id,
                created_at=datetime.now(UTC),
                created_by="test",
                stage_changed_at=datetime.now(UTC),
            )
        )
        assert len(_kept(connection)) == len(before) + 1  # the trigger wrote its row
        raise RuntimeError("abandon the transaction")
    assert _assert_kept(registry) == before
