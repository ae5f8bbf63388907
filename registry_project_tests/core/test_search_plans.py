"""Search across models is index-driven (issue #15): on a populated registry (20,000
versions over 50 models, the layout of `benchmarks/search.py`), the plan of each typical
filter reads its index and never scans `model_versions`; dropping the index changes the
plan (so these tests fail if an index goes). SQLite's EXPLAIN QUERY PLAN and PostgreSQL's
EXPLAIN (after ANALYZE, as autovacuum would); no timings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.search import START, fill
from registry_project import ModelRegistry
from registry_project.core.filters import parse_filter
from registry_project.core.store import search_plan
from registry_project.core.store.schema import version_metric_latest
from registry_project.core.store.search import VERSION_VOCABULARY
from registry_project.core.store.search_plan import SearchOrder
from registry_project_tests.backends import postgres_schema_url

VERSIONS = 20_000
METRIC_INDEX = "ix_version_metric_latest_key_value_version_id"
MODEL_METRIC_INDEX = "ix_version_metric_latest_model_name_key_value"
STAGE_INDEX = "ix_model_versions_model_name_stage"


@dataclass(frozen=True)
class Populated:
    engine: sa.Engine
    dialect: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Populated]:
    directory: Path = tmp_path_factory.mktemp("plans")
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'registry.db'}"
        schema = None
    else:
        schema = postgres_schema_url()
        url = schema.__enter__()
    ModelRegistry.open(url, str(directory / "artifacts")).close()
    fill(url, VERSIONS)
    engine = sa.create_engine(url)
    if request.param == "postgres":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    yield Populated(engine, request.param)
    engine.dispose()
    if schema is not None:
        schema.__exit__(None, None, None)


def plans(connection: sa.Connection, text: str | None, order: SearchOrder) -> list[str]:
    """The plan of each statement the search would run, as text."""
    node = parse_filter(text, VERSION_VOCABULARY) if text else None
    found = []
    for statement in search_plan.statements(connection, node, order):
        compiled = statement.limit(order.limit).compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        if connection.dialect.name == "sqlite":
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
            found.append("\n".join(row[3] for row in rows))
        else:
            rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
            found.append("\n".join(row[0] for row in rows))
    return found


def scans_versions(plan: str, walked: str | None = None) -> bool:
    """Whether the plan reads every version: a table scan, or (SQLite) a scan in an
    index's order other than `walked` (the order's own index, which LIMIT stops early)."""
    for line in plan.splitlines():
        line = line.strip()
        if "Seq Scan on model_versions" in line:
            return True
        if line.startswith("SCAN model_versions") and not (walked and walked in line):
            return True
    return False


BY_AUC = SearchOrder("auc", True, True, 10)
NEWEST = SearchOrder("created_at", False, True, 100)
LATE = (START + timedelta(seconds=VERSIONS - 20)).isoformat()

# (filter, order, the index its first statement must use)
CASES = [
    ("metrics.auc > 0.99", BY_AUC, METRIC_INDEX),  # walks the auc index from the top
    ("metrics.auc > 0.99 and tags.team = 'risk'", BY_AUC, METRIC_INDEX),
    (None, BY_AUC, METRIC_INDEX),
    ("tags.team = 'risk'", BY_AUC, METRIC_INDEX),  # unselective: walk, probing the tag
    # a selective term on another metric drives; its few versions are sorted
    ("tags.team = 'risk' and metrics.metric_1 > 0.999", BY_AUC, METRIC_INDEX),
    # (PostgreSQL reads the 50-row alias table whole, then the versions by key)
    ("alias = 'champion'", BY_AUC, ("ix_model_aliases_alias_version_id", "pk_model_versions")),
    ("dataset = 'ds-3'", BY_AUC, "ix_run_inputs_dataset_id"),
    (f"created_at > '{LATE}'", NEWEST, "ix_model_versions_created_at"),
    (None, NEWEST, "ix_model_versions_created_at"),
    # a name and its stage: one range of (model_name, stage) (SQLite picks the partial
    # unique index on production, which holds the same rows); a name alone walks its
    # model's metric index in order
    (
        "name = 'm7' and stage = 'production'",
        BY_AUC,
        (STAGE_INDEX, "uq_model_versions_one_production"),
    ),
    ("name = 'm7'", BY_AUC, MODEL_METRIC_INDEX),
    # the partial unique index holds the one production version of each model
    ("stage = 'production'", BY_AUC, "uq_model_versions_one_production"),
    # by name, newest model first: the (model_name, version) unique index walked backward
    (
        None,
        SearchOrder("name", False, True, 10),
        ("sqlite_autoindex_model_versions_2", "uq_model_versions_model_name_version"),
    ),
]


@pytest.mark.parametrize(("text", "order", "index"), CASES)
def test_typical_filters_read_an_index_not_every_version(
    populated: Populated, text: str | None, order: SearchOrder, index: str | tuple[str, ...]
) -> None:
    with populated.engine.connect() as connection:
        first = plans(connection, text, order)[0]
    names = (index,) if isinstance(index, str) else index
    assert not scans_versions(first, walked=names[0]), first
    assert any(name in first for name in names), first


def test_without_the_metric_index_the_plan_scans(populated: Populated) -> None:
    # The same search with migration 0008's metric index dropped (then created again):
    # the plan no longer uses it and reads every version instead.
    index = next(i for i in version_metric_latest.indexes if i.name == METRIC_INDEX)
    with populated.engine.begin() as connection:
        index.drop(connection)
    # New connections: a pooled SQLite connection's cached EXPLAIN would keep the old plan
    # (EXPLAIN QUERY PLAN does not re-check the schema).
    populated.engine.dispose()
    try:
        with populated.engine.connect() as connection:
            [first, *_] = plans(connection, "metrics.auc > 0.99", BY_AUC)
    finally:
        with populated.engine.begin() as connection:
            index.create(connection)
        populated.engine.dispose()
    assert METRIC_INDEX not in first
    assert scans_versions(first) or "SCAN ordered" in first or "Seq Scan" in first, first


def test_the_plans_find_what_the_filters_say(populated: Populated) -> None:
    # The populated registry answers through the public path as the plans say: the
    # top auc first, each match checked.
    with populated.engine.connect() as connection:
        node = parse_filter("metrics.auc > 0.99 and tags.team = 'risk'", VERSION_VOCABULARY)
        found = search_plan.search_versions(connection, node, BY_AUC)
    assert 0 < len(found) <= 10
    aucs = [v.metrics["auc"] for v in found]
    assert aucs == sorted(aucs, reverse=True) and min(aucs) > 0.99


def test_a_name_stays_on_its_models_indexes_however_many_versions_it_has(
    populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At 100,000 versions a model has 2,000: with WALK_COST at 1/100 the walk looks cheaper
    # than sorting this registry's 400 a model (400 * 400 > 0.01 * 10 * 20,000), so the
    # name is no longer a driver. Alone it still walks its model's (model_name, key,
    # value) index, not every model's auc; with its stage it is one (model_name, stage)
    # lookup of the one production version, sorted, with no walk after it.
    monkeypatch.setattr(search_plan, "WALK_COST", 0.01)
    with populated.engine.connect() as connection:
        alone = plans(connection, "name = 'm7'", BY_AUC)
        staged = plans(connection, "name = 'm7' and stage = 'production'", BY_AUC)
        found = search_plan.search_versions(
            connection, parse_filter("name = 'm7'", VERSION_VOCABULARY), BY_AUC
        )
    assert MODEL_METRIC_INDEX in alone[0] and METRIC_INDEX not in alone[0], alone[0]
    assert not scans_versions(alone[0], walked=MODEL_METRIC_INDEX), alone[0]
    assert len(staged) == 1, staged
    assert STAGE_INDEX in staged[0] or "uq_model_versions_one_production" in staged[0], staged
    assert "ordered" not in staged[0] and not scans_versions(staged[0]), staged[0]
    aucs = [v.metrics["auc"] for v in found]
    assert {v.model_name for v in found} == {"m7"} and len(found) == BY_AUC.limit
    assert aucs == sorted(aucs, reverse=True)


def test_a_growing_match_set_ordered_by_another_index_switches_from_sort_to_walk(
    populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Newest first, `metrics.auc > t` for a falling t: its c matches are sorted while
    # c * c <= WALK_COST * limit * total, then created_at's index is walked (one walked
    # version in total / c matches). Over 20,000 versions at limit 100 the switch is near
    # 1,414 matches; with WALK_COST at 1/4 it is at 707, so the same 1,000 matches (auc >
    # 0.95) that are sorted here are walked, as they would be at a larger limit or total.
    # The choice is read from the statement (PostgreSQL's own planner may walk an `IN`
    # of 1,000 ids too); SQLite's plan follows the statement's form.
    def plan(threshold: float) -> tuple[bool, str]:
        node = parse_filter(f"metrics.auc > {threshold}", VERSION_VOCABULARY)
        with populated.engine.connect() as connection:
            [statement] = search_plan.statements(connection, node, NEWEST)
            first = plans(connection, f"metrics.auc > {threshold}", NEWEST)[0]
        return "model_versions.id IN (SELECT" in str(statement), first

    def sorts(threshold: float) -> bool:
        driven, first = plan(threshold)
        if populated.dialect == "sqlite":
            assert METRIC_INDEX in first and "TEMP B-TREE" in first, first
        return driven

    def walks(threshold: float) -> bool:
        driven, first = plan(threshold)
        created = "ix_model_versions_created_at"
        assert created in first and not scans_versions(first, created), first
        return not driven

    assert all(sorts(t) for t in (0.999, 0.99, 0.95))  # about 20, 200, 1,000 matches
    assert all(walks(t) for t in (0.9, 0.5))  # about 2,000 and 10,000
    monkeypatch.setattr(search_plan, "WALK_COST", 0.25)
    assert walks(0.95) and sorts(0.99)
