"""The model versions that depend on a dataset: trained on it (a run input) or evaluated on
it (metrics logged against it), in (model, version, relation) order, in keyset pages.

`delete_dataset` reads every dependent under its lock, and a snapshot shared by a whole
model family can have tens of thousands of them, so the per-row cost is the cost: both
statements run on the driver's cursor (prepared.py) and read indexes only (migration 0009:
run_inputs (dataset_id, run_id, role), version_metrics (dataset_id, version_id),
model_versions (run_id, model_name, version, stage, id) and (model_name, version, run_id,
stage, id)).

Two plans, one order (tested equal page by page):
- gathered: every dependent after the cursor from the dataset's side (its runs, then their
  versions; its evaluated versions), sorted. Costs the number of dependents left, so a
  whole listing costs one sort, but paging through N dependents K at a time would cost
  N²/K: every page gathers and sorts the rest again.
- walked: the versions in (model, version) order from the cursor, each probed on the two
  indexes ("did its run read the dataset", "was it evaluated on it") until the page is
  full. Costs the versions walked, about K x versions / dependents per page: the plan for
  a page of a dataset that most versions depend on.
A page takes whichever costs less by those estimates (`_walks`); a whole listing gathers.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import Dependent, Stage
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.schema import model_versions, run_inputs, version_metrics

# Larger than any page anyone asks for: "no limit" as a bound value, so one compiled
# statement serves every call.
NO_LIMIT = 2**62
# Sorts before every real (model, version, relation): names are never empty.
_START = ("", 0, "")
_STAGE_OF = {stage.value: stage for stage in Stage}
TRAINED, EVALUATED = "trained", "evaluated"
# Dependent's fields, in order: `_dependent` fills them without __init__.
_FIELDS = ("version_id", "model_name", "version", "stage", "relation", "role")
if (
    tuple(field.name for field in dataclasses.fields(Dependent)) != _FIELDS
    or hasattr(Dependent, "__post_init__")
    or hasattr(Dependent, "__slots__")
):
    raise RuntimeError(
        "Dependent is no longer a plain dataclass of "
        f"{', '.join(_FIELDS)}: update store/dependents.py's builders to match"
    )


def _after(
    model: sa.ColumnElement[str], version: sa.ColumnElement[int], relation: str
) -> sa.ColumnElement[bool]:
    """(model, version, relation) after the cursor; the relation is each branch's constant."""
    return sa.tuple_(model, version, sa.literal(relation)) > sa.tuple_(
        sa.bindparam("after_model", type_=sa.String()),
        sa.bindparam("after_version", type_=sa.Integer()),
        sa.bindparam("after_relation", type_=sa.String()),
    )


_version_columns = (
    model_versions.c.id.label("version_id"),
    model_versions.c.model_name,
    model_versions.c.version,
    model_versions.c.stage,
)
# Gathered. The dataset's run inputs joined straight to their runs' versions. A snapshot
# read in two roles (train and test) by one run gives each of its versions two rows, which
# the sort puts side by side, first role first; `_gathered` keeps the first (one dependent,
# its first role). Not grouped in SQL: SQLite's GROUP BY (a materialized table, an
# aggregate step per run) cost more than the join itself, for a case that is rare.
_gathered_trained = (
    sa.select(*_version_columns, sa.literal(TRAINED).label("relation"), run_inputs.c.role)
    .select_from(run_inputs.join(model_versions, model_versions.c.run_id == run_inputs.c.run_id))
    .where(
        run_inputs.c.dataset_id == sa.bindparam("dataset_id"),
        _after(model_versions.c.model_name, model_versions.c.version, TRAINED),
    )
)
# A semi-join: a version with several metrics on the dataset is one dependent, no DISTINCT.
_gathered_evaluated = sa.select(
    *_version_columns, sa.literal(EVALUATED).label("relation"), sa.null().label("role")
).where(
    model_versions.c.id.in_(
        sa.select(version_metrics.c.version_id).where(
            version_metrics.c.dataset_id == sa.bindparam("dataset_id")
        )
    ),
    _after(model_versions.c.model_name, model_versions.c.version, EVALUATED),
)
_both = sa.union_all(_gathered_trained, _gathered_evaluated).subquery("dependents")
# Without the relation: a row is "trained" exactly when it has a role (run_inputs.role is
# NOT NULL, an evaluation has none), and a column fewer is a value fewer per row to fetch.
_GATHERED = PreparedStatement(
    sa.select(_both.c.version_id, _both.c.model_name, _both.c.version, _both.c.stage, _both.c.role)
    .order_by(_both.c.model_name, _both.c.version, _both.c.relation, _both.c.role)
    .limit(sa.bindparam("page_size", type_=sa.BigInteger()))
)

# Walked: the versions after (model, version) in order, each left-joined to its run's
# inputs of the dataset and its metrics on it, the versions with neither dropped in SQL,
# a batch of rows at a time; split into dependents in Python. Joins, not correlated
# subqueries: each probe runs once, as a nested-loop step (a scalar subquery per version
# cost SQLite and PostgreSQL several times more), and the non-dependents' rows are never
# fetched. A version has one row per role its run read the dataset in and metric key
# logged on it (usually one); its first role, where it has several, is read apart
# (`_FIRST_ROLE`), by the database's own collation as the gathered plan's order has it.
_evaluated_column = version_metrics.c.version_id.label("evaluated")
_WALKED = PreparedStatement(
    sa.select(*_version_columns, run_inputs.c.role, _evaluated_column)
    .select_from(
        model_versions.outerjoin(
            run_inputs,
            sa.and_(
                run_inputs.c.dataset_id == sa.bindparam("dataset_id"),
                run_inputs.c.run_id == model_versions.c.run_id,
            ),
        ).outerjoin(
            version_metrics,
            sa.and_(
                version_metrics.c.dataset_id == sa.bindparam("dataset_id"),
                version_metrics.c.version_id == model_versions.c.id,
            ),
        )
    )
    .where(
        sa.tuple_(model_versions.c.model_name, model_versions.c.version)
        > sa.tuple_(
            sa.bindparam("after_model", type_=sa.String()),
            sa.bindparam("after_version", type_=sa.Integer()),
        ),
        sa.or_(run_inputs.c.role.is_not(None), version_metrics.c.version_id.is_not(None)),
    )
    .order_by(model_versions.c.model_name, model_versions.c.version)
    .limit(sa.bindparam("batch", type_=sa.BigInteger()))
)
_FIRST_ROLE = PreparedStatement(
    sa.select(sa.func.min(run_inputs.c.role))
    .select_from(run_inputs.join(model_versions, model_versions.c.run_id == run_inputs.c.run_id))
    .where(
        run_inputs.c.dataset_id == sa.bindparam("dataset_id"),
        model_versions.c.id == sa.bindparam("version_id", type_=sa.String()),
    )
)

# The estimates a page's plan is chosen by: how many runs read the dataset and versions
# were evaluated on it (counted on the indexes), and how many versions there are.
_capped_runs = (
    sa.select(run_inputs.c.run_id)
    .where(run_inputs.c.dataset_id == sa.bindparam("dataset_id"))
    .limit(sa.bindparam("cap", type_=sa.BigInteger()))
    .subquery("capped_runs")
)
_capped_evaluated = (
    sa.select(version_metrics.c.version_id)
    .where(version_metrics.c.dataset_id == sa.bindparam("dataset_id"))
    .limit(sa.bindparam("cap", type_=sa.BigInteger()))
    .subquery("capped_evaluated")
)
# Counted up to a cap (the count at which walking wins), so the choice costs at most what
# the walked page does, whatever the number of dependents.
_DEPENDENT_COUNT = PreparedStatement(
    sa.select(
        sa.select(sa.func.count()).select_from(_capped_runs).scalar_subquery(),
        sa.select(sa.func.count()).select_from(_capped_evaluated).scalar_subquery(),
    )
)
# Connection.info key (the pooled connection's own dict): {(dataset id, page size): (plan,
# when chosen)}, at most _PLANS_KEPT of them, each for PLAN_SECONDS.
PLAN_CACHE_KEY = "registry_dependents_plans"
PLAN_SECONDS = 5.0
_PLANS_KEPT = 256
# SQLite: versions are never deleted, so the largest rowid is their number (read off the
# table's b-tree, not counted). PostgreSQL: the planner's own estimate (-1 before the
# first ANALYZE, then counted).
_SQLITE_VERSIONS = "SELECT max(rowid) FROM model_versions"
_POSTGRES_VERSIONS = "SELECT reltuples::bigint FROM pg_class WHERE oid = 'model_versions'::regclass"
_COUNT_VERSIONS = PreparedStatement(sa.select(sa.func.count()).select_from(model_versions))


def dependents_of(
    connection: Connection,
    dataset_id: str,
    *,
    limit: int | None = None,
    after: tuple[str, int, str] | None = None,
    plan: str | None = None,
) -> list[Dependent]:
    """Versions trained or evaluated on the dataset, ordered by (model, version, relation):
    the first `limit` of them after `after` (the (model, version, relation) of the last
    dependent of the previous page). `plan` ("gathered" or "walked") forces a plan: tests
    compare them."""
    start = _START if after is None else after
    if plan is None:
        plan = "gathered" if limit is None else _chosen_plan(connection, dataset_id, limit)
    if plan == "gathered":
        return _gathered(connection, dataset_id, start, limit)
    if limit is None:
        raise ValueError("the walked plan reads pages: give a limit")
    return _walked(connection, dataset_id, start, limit)


def _chosen_plan(connection: Connection, dataset_id: str, limit: int) -> str:
    """`_walks`'s choice for pages of `limit`, kept on the pooled connection for
    `PLAN_SECONDS`: paging through a listing asks on every page, and on PostgreSQL the
    counts cost about what the page's own rows do. Only the choice is kept, never rows: a
    stale one costs time, not correctness (both plans give the same pages)."""
    plans = connection.info.setdefault(PLAN_CACHE_KEY, {})
    now = time.monotonic()
    kept = plans.get((dataset_id, limit))
    if kept is not None and now - kept[1] < PLAN_SECONDS:
        return kept[0]
    plan = "walked" if _walks(connection, dataset_id, limit) else "gathered"
    if len(plans) >= _PLANS_KEPT:
        plans.clear()
    plans[(dataset_id, limit)] = (plan, now)
    return plan


def _walks(connection: Connection, dataset_id: str, limit: int) -> bool:
    """Whether walking the versions costs less than gathering: a walked page visits about
    (limit + 1) x versions / dependents versions, a gathered one every dependent, so
    walking wins from sqrt((limit + 1) x versions) dependents on (runs that read the
    dataset and metric rows on it stand for them: either is at least one per dependent
    version in the common case, and an estimate is all a plan needs)."""
    cap = max(limit + 1, math.isqrt((limit + 1) * _version_estimate(connection)) + 1)
    [(runs, evaluated)] = _DEPENDENT_COUNT.execute(
        connection, {"dataset_id": dataset_id, "cap": cap}
    )
    return runs + evaluated >= cap


def _version_estimate(connection: Connection) -> int:
    if connection.dialect.name == "postgresql":
        estimate = connection.exec_driver_sql(_POSTGRES_VERSIONS).scalar()
        if estimate is not None and estimate >= 0:
            return int(estimate)
        [(counted,)] = _COUNT_VERSIONS.execute(connection)
        return int(counted)
    return int(connection.exec_driver_sql(_SQLITE_VERSIONS).scalar() or 0)


def _gathered(
    connection: Connection, dataset_id: str, start: tuple[str, int, str], limit: int | None
) -> list[Dependent]:
    found: list[Dependent] = []
    while True:
        wanted = NO_LIMIT if limit is None else limit - len(found)
        rows = _GATHERED.execute(
            connection,
            {
                "dataset_id": dataset_id,
                "after_model": start[0],
                "after_version": start[1],
                "after_relation": start[2],
                "page_size": wanted,
            },
        )
        _add_rows(found, rows)
        # A page short of its limit only because a version's second role was dropped reads
        # on after the last row (which skips that version's other roles).
        if len(rows) < wanted or limit is None or len(found) >= limit:
            return found
        last = rows[-1]
        start = (last[1], last[2], EVALUATED if last[4] is None else TRAINED)


def _add_rows(found: list[Dependent], rows: list[tuple[Any, ...]]) -> None:
    """`_GATHERED`'s rows (version id, model, version, stage, role) as Dependents on
    `found`, a version's first "trained" row only (the others are its run's other roles)."""
    append, build = found.append, _dependent
    last_id, last_trained = None, False
    for version_id, model_name, version, stage, role in rows:
        trained = role is not None
        if trained and last_trained and version_id == last_id:
            continue
        last_id, last_trained = version_id, trained
        append(
            build(version_id, model_name, version, stage, TRAINED if trained else EVALUATED, role)
        )


def _dependent(
    version_id: str, model_name: str, version: int, stage: str, relation: str, role: str | None
) -> Dependent:
    """Dependent(version_id, model_name, version, Stage(stage), relation, role), as every
    listing builds them: the frozen dataclass's __init__ sets each field through
    object.__setattr__, which on a listing of 10,000 dependents was about a quarter of
    its time; filling the new instance's __dict__ gives the same object (equal, same
    hash, same vars()), as long as Dependent stays a plain dataclass of `_FIELDS`
    (checked on import)."""
    dependent = object.__new__(Dependent)
    state = dependent.__dict__
    state["version_id"] = version_id
    state["model_name"] = model_name
    state["version"] = version
    state["stage"] = _STAGE_OF[stage]
    state["relation"] = relation
    state["role"] = role
    return dependent


def _walked(
    connection: Connection, dataset_id: str, start: tuple[str, int, str], limit: int
) -> list[Dependent]:
    # From the cursor's own version on (it may have its "trained" row left after an
    # "evaluated" one): after (model, version - 1).
    model, version = start[0], start[1] - 1
    # A page and two rows more: with a row per version, as usual, the batch's last version
    # (set aside below) and the cursor's own (which may give nothing) still leave a page.
    batch = limit + 2
    found: list[Dependent] = []
    while True:
        rows = _WALKED.execute(
            connection,
            {
                "dataset_id": dataset_id,
                "after_model": model,
                "after_version": version,
                "batch": batch,
            },
        )
        full = len(rows) == batch
        if full:
            # The last version's rows may go on past the batch: the next batch reads it.
            end = len(rows) - 1
            while end and rows[end - 1][0] == rows[-1][0]:
                end -= 1
            if end == 0:  # one version's rows fill the batch
                batch *= 2
                continue
            rows = rows[:end]
        _add_walked(connection, dataset_id, found, rows, start)
        if len(found) >= limit:
            return found[:limit]
        if not full:  # the last version walked
            return found
        model, version = rows[-1][1], rows[-1][2]


def _add_walked(
    connection: Connection,
    dataset_id: str,
    found: list[Dependent],
    rows: list[tuple[Any, ...]],
    start: tuple[str, int, str],
) -> None:
    """`_WALKED`'s rows (whole versions) as the Dependents after `start`, on `found`."""
    index, count = 0, len(rows)
    while index < count:
        version_id, model_name, number, stage, role, evaluated = rows[index]
        index += 1
        if index < count and rows[index][0] == version_id:
            # Its run read the dataset in several roles, or it has several metrics on it.
            roles = {role}
            while index < count and rows[index][0] == version_id:
                roles.add(rows[index][4])
                index += 1
            if len(roles) > 1:
                [(role,)] = _FIRST_ROLE.execute(
                    connection, {"dataset_id": dataset_id, "version_id": version_id}
                )
        # "evaluated" sorts before "trained": a version's rows in relation order.
        if evaluated is not None and (model_name, number, EVALUATED) > start:
            found.append(_dependent(version_id, model_name, number, stage, EVALUATED, None))
        if role is not None and (model_name, number, TRAINED) > start:
            found.append(_dependent(version_id, model_name, number, stage, TRAINED, role))
