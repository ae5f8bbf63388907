"""How a search across models runs, so that its cost follows the size of its answer and
not the number of versions (issue #15: from 10,000 to 100,000 versions).

A filter compiled as one WHERE of per-row EXISTS probes (`search.py`) makes the database
visit every version and probe each; ORDER BY a metric then sorts every match. Instead:

- The top-level `and` terms an index serves (`search.candidates`: a metric range, a tag,
  an alias, a dataset, a name, a creation time, `stage = 'production'`) are each counted
  on their index: a bounded index range, no version read. A name and a stage term count
  together, as one range of model_versions (model_name, stage): `name = 'm7' and stage =
  'production'` is one version, however many m7 has.
- Sort or walk, by estimated cost. Driving from a term of `c` matches (`id IN (its index
  range)`, each checked against the other terms) costs about `c` (read and sort them);
  walking the order's index (the metric's (key, value, version_id) index, `created_at`
  or the (model_name, version) unique index) and checking each version costs about
  `limit * total / c` steps (one walked version in `total / c` matches). The term with
  the fewest matches drives when c * c <= WALK_COST * limit * total; otherwise the walk
  stops at `limit`. So no count need read past sqrt(WALK_COST * limit * total) entries
  (about 3,200 at limit 100 over 100,000 versions): there the walk certainly wins.
  `total` is the sum of the models' version counters (one row a model; versions deleted
  since stay counted, an overestimate that only favours sorting). A filter matching 1%
  of the versions, newest first at limit 100, sorts its 100 then 1,000 matches at 10,000
  and 100,000 versions (a walk would take 10,000 steps at 100,000); it walks past
  10,000 x limit versions, where the sort would cost more.
- Ordered by a metric, a range on that metric always walks its index (the range bounds
  the walk). With a term naming one model (`name = 'm7'`), the walk reads that model's
  own (model_name, key, value) index instead, so `limit` steps find `limit` matches
  whatever the model's size; such a name alone never drives a sort.

Every plan returns exactly what the single-query form returned, in the same order
(`core/test_search.py` runs its filter table through each plan on both databases), and
every value stays a bound parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import ModelVersion
from registry_project.core.filters import And, Comparison, Node
from registry_project.core.store import versions as version_store
from registry_project.core.store.filter_sql import compare
from registry_project.core.store.schema import model_versions, models, version_metric_latest
from registry_project.core.store.search import (
    Candidates,
    candidates,
    compile_filter,
    name_and_stage,
)

# What one walked row costs against one sorted match (both: an index step, the version's
# row, a probe or two). Sorting a term's `c` matches costs about `c`; walking the order's
# index costs about `limit * total / c` steps (one in `total / c` walked rows matches), so
# the walk wins when c * c > WALK_COST * limit * total. The tests move it to force a plan
# (0: walk whenever a term matches anything; huge: always sort a driver's matches).
WALK_COST = 1.0

_MV = model_versions.c


@dataclass(frozen=True)
class SearchOrder:
    field: str  # a metric key when is_metric, else a model_versions column
    is_metric: bool
    descending: bool
    limit: int


@dataclass(frozen=True)
class _Driver:
    terms: frozenset[int]  # the conjuncts it stands for (a name and its stage: two)
    candidates: Candidates
    count: int


def conjuncts(node: Node | None) -> list[Node]:
    """The terms of a filter's top-level `and` (nested `and`s flattened); one term for
    anything else."""
    if node is None:
        return []
    if isinstance(node, And):
        return [term for item in node.items for term in conjuncts(item)]
    return [node]


def search_versions(
    connection: Connection, node: Node | None, order: SearchOrder
) -> list[ModelVersion]:
    """The versions of every model that match `node`, in order, at most `order.limit`;
    each with its current metrics (one more query, not one per version)."""
    rows: list[Any] = []
    for statement in statements(connection, node, order):
        rows += connection.execute(statement.limit(order.limit - len(rows)))
        if len(rows) >= order.limit:
            break
    return version_store.to_versions(connection, rows)


def statements(connection: Connection, node: Node | None, order: SearchOrder) -> list[sa.Select]:
    """The queries a search runs, in turn, until `order.limit` rows are found (without
    their LIMIT): what `search_versions` executes and what the plan tests EXPLAIN."""
    dialect = connection.dialect.name
    terms = conjuncts(node)
    driver = _most_selective(connection, terms, order.limit)
    if not order.is_metric:
        return [_sorted(terms, dialect, driver, order)]
    on_order_key = [i for i, term in enumerate(terms) if _bounds_metric(term, order.field)]
    name = _one_name(terms)
    # A name alone, selective or not, is better walked than sorted: the model's own
    # (model_name, key, value) index is in the order, so the walk stops at `limit`
    # however many versions the model has. With its stage it names a few versions,
    # which the driver sorts.
    drives = driver is not None and driver.terms != {name}
    if drives and driver is not None and driver.terms.isdisjoint(on_order_key):
        return [_sorted(terms, dialect, driver, order)]
    walk = [_walk(terms, dialect, on_order_key, order, name)]
    # A version without the metric cannot match a term on it; otherwise those versions
    # follow (the single-query form put them last too).
    return walk if on_order_key else [*walk, _without_metric(terms, dialect, order)]


def _most_selective(connection: Connection, terms: list[Node], limit: int) -> _Driver | None:
    """The term whose matches are cheaper to sort than walking the order's index is to
    filter, the fewest such; None when walking is cheaper for every term."""
    lookups = [
        (covered, found)
        for covered, found in (_lookup(terms, i) for i in range(len(terms)))
        if found is not None
    ]
    if not lookups:
        return None
    # Walking beats sorting `c` matches once c * c > WALK_COST * limit * total, so no count
    # need go past that point: each reads at most sqrt(WALK_COST * limit * total) index
    # entries (about 3,200 at limit 100 over 100,000 versions), a range of the term's index.
    bound = WALK_COST * limit * _total_versions(connection)
    cap = math.isqrt(int(bound)) + 1
    best: _Driver | None = None
    for covered, lookup in lookups:
        capped = lookup.count.limit(cap).subquery()
        count = connection.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one()
        if count * count <= bound and (best is None or count < best.count):
            best = _Driver(covered, lookup, count)
    return best


def _total_versions(connection: Connection) -> int:
    """How many versions the registry holds, from the models' version counters: one row a
    model (50 rows, not 100,000 index entries as count(*) would read), exact but for
    deleted versions, whose numbers stay counted; an overestimate only makes the walk look
    dearer, so the plan sorts a little longer than it needs to."""
    total = connection.execute(sa.select(sa.func.sum(models.c.last_version))).scalar_one()
    return int(total or 0)


def _lookup(terms: list[Node], i: int) -> tuple[frozenset[int], Candidates | None]:
    """Term `i` as an index lookup, and the terms that lookup stands for: a name with the
    filter's first `stage =`/`in` term is one range of model_versions (model_name, stage)."""
    term = terms[i]
    if not isinstance(term, Comparison):
        return frozenset({i}), None
    if term.field.name == "name" and term.op in ("=", "in"):
        stage = next(
            (
                j
                for j, other in enumerate(terms)
                if isinstance(other, Comparison)
                and other.field.name == "stage"
                and other.op in ("=", "in")
            ),
            None,
        )
        if stage is not None:
            found = name_and_stage(term, terms[stage])  # type: ignore[arg-type]
            return frozenset({i, stage}), found
    return frozenset({i}), candidates(term)


def _one_name(terms: list[Node]) -> int | None:
    """The first term naming one model (`name = 'm7'`), whose metric index a walk reads."""
    for i, term in enumerate(terms):
        if (
            isinstance(term, Comparison)
            and term.field.name == "name"
            and term.op in ("=", "in")
            and len(term.values) == 1
        ):
            return i
    return None


def _bounds_metric(term: Node, key: str) -> bool:
    return (
        isinstance(term, Comparison)
        and term.field.name == "metrics"
        and term.field.key == key
        and term.op not in ("!=", "like")
    )


def _checks(terms: list[Node], dialect: str, skip: set[int]) -> list[sa.ColumnElement[bool]]:
    return [compile_filter(term, dialect) for i, term in enumerate(terms) if i not in skip]


_TIE = (_MV.model_name.asc(), _MV.version.desc())
_ORDERED = version_metric_latest.alias("ordered")  # built once, as search.py's count table


def _sorted(
    terms: list[Node], dialect: str, driver: _Driver | None, order: SearchOrder
) -> sa.Select:
    """The driver's versions (or all), checked against the other terms, sorted."""
    query = sa.select(model_versions)
    if driver is not None:
        query = query.where(driver.candidates.condition)
    query = query.where(*_checks(terms, dialect, set(driver.terms) if driver else set()))
    if order.is_metric:
        m = version_metric_latest.c
        value = (
            sa.select(m.value).where(m.version_id == _MV.id, m.key == order.field).scalar_subquery()
        )
        # Versions without the metric last, whichever the direction.
        by = value.desc() if order.descending else value.asc()
        return query.order_by(value.is_(None), by, *_TIE)
    column = {
        "version": _MV.version,
        "created_at": _MV.created_at,
        "stage_changed_at": _MV.stage_changed_at,
        "name": _MV.model_name,
    }[order.field]
    # Ordered by name, the tie's own name term is a no-op that keeps SQLite off the
    # (model_name, version) unique index: without it `-name` walks that index backward
    # and stops at `limit`. (`name` ascending with the newest version first is a sort of
    # each model's versions: no index has that mixed order.)
    tie = _TIE[1:] if order.field == "name" else _TIE
    return query.order_by(column.desc() if order.descending else column.asc(), *tie)


def _walk(
    terms: list[Node], dialect: str, on_key: list[int], order: SearchOrder, name: int | None
) -> sa.Select:
    """The versions having the metric, in its index's order, each checked: the
    (key, value, version_id) index across models, or with a term `name` naming one model,
    that model's (model_name, key, value) index."""
    ordered = _ORDERED
    value = ordered.c.value
    bounds = [_compare_value(value, terms[i]) for i in on_key if isinstance(terms[i], Comparison)]
    skip = set(on_key)
    if name is not None:
        named = terms[name]
        assert isinstance(named, Comparison)
        bounds.append(ordered.c.model_name == named.values[0])
        skip.add(name)
    return (
        sa.select(model_versions)
        .select_from(ordered.join(model_versions, _MV.id == ordered.c.version_id))
        .where(ordered.c.key == order.field, *bounds, *_checks(terms, dialect, skip))
        .order_by(value.desc() if order.descending else value.asc(), *_TIE)
    )


def _compare_value(value: sa.ColumnElement[float], term: Comparison) -> sa.ColumnElement[bool]:
    return compare(value, term.op, term.values)


def _without_metric(terms: list[Node], dialect: str, order: SearchOrder) -> sa.Select:
    m = version_metric_latest.c
    has = sa.exists().where(m.version_id == _MV.id, m.key == order.field)
    return sa.select(model_versions).where(~has, *_checks(terms, dialect, set())).order_by(*_TIE)
