"""Search across models: a table of valid filters with their results, and malformed and
hostile ones (injection attempts included), each a FilterError pointing at its position
that changes nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry
from registry_project.core import errors
from registry_project.core.filters import MAX_DEPTH, MAX_FILTER_LENGTH, parse_filter
from registry_project.core.store import search_plan
from registry_project.core.store.schema import model_versions, version_metric_latest
from registry_project.core.store.search import VERSION_VOCABULARY, compile_filter
from registry_project.core.store.search_plan import SearchOrder
from registry_project_tests.conftest import open_registry


@dataclass(frozen=True)
class Filled:
    reg: ModelRegistry
    middle: str  # an ISO time between the first three versions and the rest


# One filled registry per backend for the whole module: searching writes nothing (each
# refusal test checks that too).
@pytest.fixture(scope="module", params=["sqlite-local", "postgres-local"])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Filled:
    reg = open_registry(request.param, tmp_path_factory.mktemp("search"), request)
    customers = reg.snapshot_dataset("customers", pd.DataFrame({"x": [1, 2]}))
    events = reg.snapshot_dataset("events", pd.DataFrame({"y": [3]}))

    def version(name: str, params: dict, metrics: dict, actor: str, inputs: list) -> None:
        with reg.start_run(f"{name}-training", params=params, inputs=inputs) as run:
            reg.register_model(name, [name, params], run=run, metrics=metrics, actor=actor)

    version(
        "churn",
        {"C": 0.5, "solver": "lbfgs", "balanced": True},
        {"auc": 0.75},
        "alice",
        [customers],
    )
    version(
        "churn", {"C": 1, "solver": "saga", "balanced": False}, {"auc": 0.875}, "alice", [customers]
    )
    version(
        "churn",
        {"C": 2, "solver": "lbfgs"},
        {"auc": 0.9375, "log_loss": 0.25},
        "bob",
        [customers, events],
    )
    time.sleep(0.05)
    middle = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    version("fraud", {"depth": 3, "C": "high"}, {"auc": 0.96875, "recall": 0.5}, "carol", [events])
    version("fraud", {"depth": 5}, {"recall": 0.625}, "carol", [events])
    reg.register_model("notes", {"no": "run"}, actor="dave")  # no run, no metrics
    reg.transition("churn/2", "staging", actor="ci")
    reg.promote("churn/3", actor="alice", reason="best auc")
    reg.promote("fraud/1", actor="carol", reason="first")
    reg.set_alias("churn", "champion", "churn/3", actor="ops")
    reg.set_alias("churn", "challenger", "churn/2", actor="ops")
    reg.set_alias("fraud", "champion", "fraud/2", actor="ops")
    reg.set_tag("churn/3", "team", "risk", actor="ops")
    reg.set_tag("churn/2", "team", "growth", actor="ops")
    reg.set_tag("fraud/1", "team", "risk", actor="ops")
    reg.set_tag("fraud/1", "validated", "true", actor="ops")
    reg.set_tag("fraud", "owner", "fincrime", actor="ops")
    return Filled(reg, middle)


# (filter, the versions it finds in the default order: newest first)
VALID = [
    ("metrics.auc > 0.9", ["fraud/1", "churn/3"]),
    ("metrics.auc >= 0.9375", ["fraud/1", "churn/3"]),
    ("metrics.auc < 0.875", ["churn/1"]),
    ("metrics.auc <= 0.875", ["churn/2", "churn/1"]),
    ("metrics.auc = 0.875", ["churn/2"]),
    ("metrics.auc != 0.875", ["notes/1", "fraud/2", "fraud/1", "churn/3", "churn/1"]),
    ("metrics.recall in (0.5, 0.625)", ["fraud/2", "fraud/1"]),
    ("METRICS.auc > 0.9", None),  # namespaces are case-sensitive: an error
    ("metrics.auc > 0.9 and tags.team = 'risk'", ["fraud/1", "churn/3"]),
    ("metrics.auc > 0.9 AND tags.team = 'risk' AND name = 'churn'", ["churn/3"]),
    ("tags.team = 'risk' or tags.team = 'growth'", ["fraud/1", "churn/3", "churn/2"]),
    ("tags.team != 'risk'", ["notes/1", "fraud/2", "churn/2", "churn/1"]),
    ("not tags.team = 'risk'", ["notes/1", "fraud/2", "churn/2", "churn/1"]),
    ("tags.validated = 'true'", ["fraud/1"]),
    ("model_tags.owner = 'fincrime'", ["fraud/2", "fraud/1"]),
    ("stage = 'production'", ["fraud/1", "churn/3"]),
    ("stage = 'PRODUCTION'", ["fraud/1", "churn/3"]),
    ("stage in ('staging', 'experiment')", ["notes/1", "fraud/2", "churn/2", "churn/1"]),
    ("stage != 'experiment'", ["fraud/1", "churn/3", "churn/2"]),
    ("alias = 'champion'", ["fraud/2", "churn/3"]),
    ("alias = 'champion' and name = 'churn'", ["churn/3"]),
    ("alias in ('challenger')", ["churn/2"]),
    ("alias like 'ch%'", ["fraud/2", "churn/3", "churn/2"]),
    ("name = 'churn'", ["churn/3", "churn/2", "churn/1"]),
    ('name = "fraud"', ["fraud/2", "fraud/1"]),
    ("name like 'f%'", ["fraud/2", "fraud/1"]),
    ("name like '%r%' and not name = 'churn'", ["fraud/2", "fraud/1"]),
    ("name in ('notes', 'nothing')", ["notes/1"]),
    # a name with its stage is one lookup on (model_name, stage); a name alone walks its
    # model's metric index
    ("name = 'churn' and stage = 'production'", ["churn/3"]),
    ("stage in ('staging', 'production') and name in ('churn', 'notes')", ["churn/3", "churn/2"]),
    ("name = 'churn' and stage = 'archived'", []),
    ("name in ('fraud') and not stage = 'production'", ["fraud/2"]),
    ("name = 'fraud' and metrics.recall > 0.5", ["fraud/2"]),
    ("name = 'churn' and name = 'fraud'", []),
    ("version = 2", ["fraud/2", "churn/2"]),
    ("version > 2", ["churn/3"]),
    ("creator = 'carol'", ["fraud/2", "fraud/1"]),
    ("creator in ('alice', 'dave')", ["notes/1", "churn/2", "churn/1"]),
    ("params.C >= 1", ["churn/3", "churn/2"]),
    ("params.C = 0.5", ["churn/1"]),
    ("params.C = 'high'", ["fraud/1"]),  # text param: only a text comparison matches it
    ("params.C < 100", ["churn/3", "churn/2", "churn/1"]),  # 'high' is not a number
    ("params.solver = 'lbfgs'", ["churn/3", "churn/1"]),
    ("params.solver in ('saga', 'newton')", ["churn/2"]),
    ("params.balanced = true", ["churn/1"]),
    ("params.balanced = false", ["churn/2"]),
    ("params.depth > 4", ["fraud/2"]),
    ("params.missing = 1", []),
    ("dataset = 'customers'", ["churn/3", "churn/2", "churn/1"]),
    ("dataset = 'events'", ["fraud/2", "fraud/1", "churn/3"]),
    ("dataset = 'events' and dataset = 'customers'", ["churn/3"]),
    ("dataset != 'events'", ["notes/1", "churn/2", "churn/1"]),
    ("dataset = 'nothing'", []),
    (
        "(stage = 'production' or alias = 'challenger') and not creator = 'carol'",
        ["churn/3", "churn/2"],
    ),
    ("not (name = 'churn' or name = 'fraud')", ["notes/1"]),
    ("not not name = 'notes'", ["notes/1"]),
    ("((((name = 'notes'))))", ["notes/1"]),
    ("name = 'it''s'", []),  # a doubled quote is one quote
    ("name = 'x'' or ''1''=''1'", []),  # an injection attempt is just text
    (
        "created_at > '2000-01-01'",
        ["notes/1", "fraud/2", "fraud/1", "churn/3", "churn/2", "churn/1"],
    ),
    ("created_at < '2000-01-01T00:00:00Z'", []),
    ("", ["notes/1", "fraud/2", "fraud/1", "churn/3", "churn/2", "churn/1"]),
]


def refs(found: list) -> list[str]:
    return [v.ref for v in found]


@pytest.mark.parametrize(("text", "expected"), [row for row in VALID if row[1] is not None])
def test_valid_filters_find_exactly_their_versions(
    filled: Filled, text: str, expected: list[str]
) -> None:
    assert refs(filled.reg.search(text)) == expected


def test_created_at_splits_the_versions_at_a_moment(filled: Filled) -> None:
    later = filled.reg.search(f"created_at > '{filled.middle}'")
    assert refs(later) == ["notes/1", "fraud/2", "fraud/1"]
    earlier = filled.reg.search(f"created_at <= '{filled.middle}' and name = 'churn'")
    assert refs(earlier) == ["churn/3", "churn/2", "churn/1"]


def test_order_and_limit(filled: Filled) -> None:
    reg = filled.reg
    by_auc = refs(reg.search(None, order_by="-metrics.auc"))
    assert by_auc == ["fraud/1", "churn/3", "churn/2", "churn/1", "fraud/2", "notes/1"]
    ascending = refs(reg.search("name = 'churn'", order_by="metrics.auc"))
    assert ascending == ["churn/1", "churn/2", "churn/3"]
    assert refs(reg.search(None, order_by="-metrics.auc", limit=2)) == ["fraud/1", "churn/3"]
    assert refs(reg.search("stage = 'experiment'", order_by="name")) == [
        "churn/1",
        "fraud/2",
        "notes/1",
    ]
    assert refs(reg.search(None, order_by="version", limit=3)) == ["churn/1", "fraud/1", "notes/1"]
    found = reg.search("name = 'churn' and version = 3")
    assert found[0].metrics == {"auc": 0.9375, "log_loss": 0.25}  # metrics come along
    for bad in ("-metrics.", "name; DROP TABLE models", "stage", ""):
        with pytest.raises(errors.InvalidInputError, match="order_by"):
            reg.search(None, order_by=bad)
    for bad_limit in (0, -1, True, "5", 10**9):
        with pytest.raises(errors.InvalidInputError, match="limit"):
            reg.search(None, limit=bad_limit)  # type: ignore[arg-type]


def _single_query(reg: ModelRegistry, text: str, order: SearchOrder) -> list[str]:
    """The search as it ran before migration 0008 (one query: every term a per-row probe,
    every match sorted): the oracle the index-driven plans must agree with."""
    m = version_metric_latest.c
    mv = model_versions.c
    with reg.engine.connect() as connection:
        query = sa.select(model_versions)
        if text.strip():
            node = parse_filter(text, VERSION_VOCABULARY)
            query = query.where(compile_filter(node, connection.dialect.name))
        tie = (mv.model_name.asc(), mv.version.desc())
        if order.is_metric:
            value = (
                sa.select(m.value).where(m.version_id == mv.id, m.key == order.field)
            ).scalar_subquery()
            by = value.desc() if order.descending else value.asc()
            query = query.order_by(value.is_(None), by, *tie)
        else:
            column = mv.created_at if order.field == "created_at" else mv.model_name
            query = query.order_by(column.desc() if order.descending else column.asc(), *tie)
        rows = connection.execute(query.limit(order.limit))
        return [f"{row.model_name}/{row.version}" for row in rows]


ORDERS = ["-metrics.auc", "metrics.recall", "-created_at", "name"]


@pytest.mark.parametrize("walk_cost", [0.0, search_plan.WALK_COST, 1e9])
def test_every_plan_finds_what_the_single_query_found(
    filled: Filled, walk_cost: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WALK_COST moves the choice between driving from a term and walking the order's
    # index (0: walk unless a term matches nothing; the default: by estimated cost; 1e9:
    # sort any indexed term's matches), so each filter of the table runs through every
    # plan, against the single-query oracle.
    monkeypatch.setattr(search_plan, "WALK_COST", walk_cost)
    for text, expected in VALID:
        if expected is None:
            continue
        for order_by in ORDERS:
            descending = order_by.startswith("-")
            field = order_by.lstrip("-")
            is_metric = field.startswith("metrics.")
            for limit in (2, 100):
                order = SearchOrder(field.removeprefix("metrics."), is_metric, descending, limit)
                found = refs(filled.reg.search(text, order_by=order_by, limit=limit))
                assert found == _single_query(filled.reg, text, order), (text, order_by, limit)


# (filter, the position the error points at (1-based), words the message says)
MALFORMED = [
    ("metrics.auc >", 14, "expected a value"),
    ("metrics.auc > 'high'", 15, "compares with a number"),
    ("metrics.auc 0.9", 13, "expected an operator"),
    ("metrics. > 1", 8, "unexpected character '.'"),
    ("METRICS.auc > 0.9", 1, "unknown field 'METRICS.auc'"),
    ("auc > 0.9", 1, "unknown field 'auc'"),
    ("metrics > 0.9", 1, "(metrics.<key>)"),
    ("tags.team = risk", 13, "expected a value"),
    ("tags.team > 'a'", 11, "cannot be compared with '>'"),
    ("stage = 'prod'", 9, "one of experiment, staging, production, archived"),
    ("stage like 'p%'", 12, "stage is one of"),
    ("stage < 'production'", 7, "cannot be compared with '<'"),
    ("name = 'unterminated", 8, "no closing '"),
    ('name = "unterminated', 8, 'no closing "'),
    ("name = 'a' and", 15, "expected a field"),
    ("name = 'a' or or name = 'b'", 15, "expected a field"),
    ("(name = 'a'", 12, "')' to close"),
    ("name = 'a')", 11, "expected 'and', 'or' or the end"),
    ("name = 'a' name = 'b'", 12, "expected 'and', 'or' or the end"),
    ("name in 'a'", 9, "'(' and a list"),
    ("name in ('a' 'b')", 14, "',' or ')'"),
    ("name in ()", 10, "expected a value"),
    ("params.C in (1, 'a')", 10, "all be numbers or all text"),
    ("version = 'x'", 11, "compares with a number"),
    ("version = 1.5e999", 11, "too large"),
    ("metrics.auc > 0.9x", 15, "is not a number"),
    ("created_at > 'yesterday'", 14, "not a date or time"),
    ("created_at > 5", 14, "quoted date"),
    ("name like 5", 11, "quoted pattern"),
    ("stage = true", 9, "not true or false"),
    ("", None, None),  # blank: every version (see VALID)
    ("   ", None, None),
    ("not", 4, "expected a field"),
    ("()", 2, "expected a field"),
    ("and name = 'a'", 1, "expected a field"),
    # Injection attempts: refused where SQL starts, before anything reaches the database.
    ("name = 'a'; DROP TABLE model_versions", 11, "unexpected character ';'"),
    ("name = 'a' -- comment", 12, "unexpected character '-'"),
    ("name = 'a' /* x */", 12, "unexpected character '/'"),
    ("1 = 1", 1, "expected a field"),
    ("name = 'a' or 1 = 1", 15, "expected a field"),
    ("name = (select name from models)", 8, "expected a value"),
    ("metrics.auc > 0 union select * from audit_events", 30, "unexpected character '*'"),
    ("metrics.auc > 0 union select name from models", 17, "expected 'and', 'or' or the end"),
    ("tags.x'; DELETE FROM models; -- = 'a'", 37, "no closing '"),
    ("tags.x = 'a'; DELETE FROM models", 13, "unexpected character ';'"),
    ("params.C\x00 = 1", 9, "NUL"),
    ("name = 'a' \u202e or 1", 12, "unexpected character"),
    ("name = `a`", 8, "unexpected character '`'"),
    ("name = $1", 8, "unexpected character '$'"),
    ("name = :name", 8, "unexpected character ':'"),
    ("name = %(name)s", 8, "unexpected character '%'"),
    ("name ~ 'a'", 6, "unexpected character '~'"),
    (
        "(" * (MAX_DEPTH + 1) + "name = 'a'" + ")" * (MAX_DEPTH + 1),
        MAX_DEPTH + 1,
        "nested more than",
    ),
    ("not " * (MAX_DEPTH + 1) + "name = 'a'", 4 * MAX_DEPTH + 1, "nested more than"),
    (" or ".join(["name = 'a'"] * 101), 1401, "more than 100 comparisons"),
]


def _everything(reg: ModelRegistry) -> tuple[object, ...]:
    return (
        refs(reg.search(None, order_by="version", limit=1000)),
        reg.audit_count(),
        [(a.alias, a.version) for a in reg.aliases("churn")],
        len(reg.models()),
    )


@pytest.mark.parametrize(("text", "position", "words"), MALFORMED)
def test_malformed_and_hostile_filters_are_refused_at_their_position(
    filled: Filled, text: str, position: int | None, words: str | None
) -> None:
    before = _everything(filled.reg)
    if position is None:
        assert len(filled.reg.search(text)) == 6
        return
    with pytest.raises(errors.FilterError) as refused:
        filled.reg.search(text)
    message = str(refused.value)
    assert f"invalid filter at character {position} " in message, message
    assert refused.value.position == position - 1
    assert words in message, message
    assert "\n" not in message  # one line, as every CLI error
    assert refused.value.pointer.splitlines()[-1].endswith("^")
    assert _everything(filled.reg) == before


def test_too_long_or_not_text(sqlite_registry: ModelRegistry) -> None:
    with pytest.raises(errors.FilterError, match=f"at most {MAX_FILTER_LENGTH}"):
        sqlite_registry.search("name = '" + "a" * MAX_FILTER_LENGTH + "'")
    with pytest.raises(errors.FilterError, match="a filter is text"):
        sqlite_registry.search(3)  # type: ignore[arg-type]


FUZZ_SEEDS = [text for text, expected in VALID if text and expected is not None]
FUZZ_ALPHABET = "()'\",.;=<>!-_ %*/\\\x00\u00e9\u202eandorlikeinnot0123456789selectDROP"


def test_fuzzed_filters_either_run_or_are_refused_cleanly(filled: Filled) -> None:
    """Thousands of mutated filters (deleted, inserted, swapped and duplicated characters):
    each either runs or raises FilterError naming a position inside the text; nothing
    else escapes (no database error, no crash) and nothing changes."""
    reg = filled.reg
    before = _everything(reg)
    chance = random.Random(15)
    refused = ran = 0
    for _ in range(600):
        text = list(chance.choice(FUZZ_SEEDS))
        for _ in range(chance.randint(1, 4)):
            where = chance.randrange(len(text) + 1)
            how = chance.random()
            if how < 0.35 and text:
                del text[min(where, len(text) - 1)]
            elif how < 0.7:
                text.insert(where, chance.choice(FUZZ_ALPHABET))
            elif text:
                text.insert(where, text[chance.randrange(len(text))])
        candidate = "".join(text)
        try:
            found = reg.search(candidate)
        except errors.FilterError as exc:
            refused += 1
            assert 0 <= exc.position <= len(candidate), (candidate, exc.position)
            assert str(exc).startswith(f"invalid filter at character {exc.position + 1} ")
        else:
            ran += 1
            assert all(v.ref for v in found)
    assert refused > 100 and ran > 20  # both kinds were exercised
    assert _everything(reg) == before
