"""Experiment tracking: runs listed and compared, step metrics written in batches and read
back in order, run tags.

Run artifacts (files and models a run logs) are in `run_artifact_ops.py`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core.entities import (
    MetricSteps,
    RunComparison,
    RunStatus,
    TrainingRun,
)
from registry_project.core.errors import InvalidInputError, RunNotFoundError
from registry_project.core.filters import (
    Condition,
    Filter,
    FilterFields,
    parse_filter,
    parse_ordering,
)
from registry_project.core.ops.run_ops import RunRef, run_id
from registry_project.core.ops.writer import Writer
from registry_project.core.store import run_search
from registry_project.core.store import runs as run_store
from registry_project.core.store import step_metrics as step_store
from registry_project.core.store.run_search import ATTRIBUTE_COLUMNS
from registry_project.core.validation import (
    MAX_STEP,
    canonical_json,
    validate_limit,
    validate_metric_key,
    validate_metric_value,
    validate_name,
    validate_step,
    validate_tags,
)

RUN_FIELDS = FilterFields(
    prefixes=("metrics", "params", "tags"), attributes=tuple(ATTRIBUTE_COLUMNS)
)
MAX_COMPARED_RUNS = 100
_TIME_FIELDS = ("start_time", "end_time")

Point = tuple[str, int, float, datetime]


# --- tags ---------------------------------------------------------------------------------


def set_tags(w: Writer, run: RunRef, tags: Mapping[str, object]) -> None:
    """Add or replace tags of a run (autologging and sweeps tag runs after they start)."""
    clean = validate_tags(tags)
    wanted = run_id(run)

    def work(connection: Connection) -> None:
        require_run(connection, wanted)
        run_store.upsert_run_tags(connection, wanted, clean)

    if clean:
        w.write(work)


# --- step metrics -------------------------------------------------------------------------


def log_points(w: Writer, run: RunRef, points: Sequence[Point]) -> None:
    """Write `(key, step, value, logged_at)` points of one run in one transaction: each point
    into the history, each key's last one as its latest value. Validated again here (the
    ActiveRun checks at the call; this is also reachable directly)."""
    wanted = run_id(run)
    for key in {p[0] for p in points}:
        validate_metric_key(key)
    for key, step, value, at in points:
        # The common case inline (this runs once per point); anything else through the
        # validators, which refuse it with their messages.
        if not (type(value) is float and math.isfinite(value)):
            validate_metric_value(key, value)
        if not (type(step) is int and 0 <= step <= MAX_STEP):
            validate_step(step)
        if type(at) is not datetime or at.tzinfo is None:
            raise InvalidInputError(f"logged_at of {key!r} must be an aware datetime")

    def work(connection: Connection) -> None:
        require_run(connection, wanted)
        step_store.insert_points(connection, wanted, points)

    if points:
        w.write(work)


def metric_history(w: Writer, run: RunRef, key: str) -> MetricSteps:
    wanted = run_id(run)
    validate_metric_key(key)
    with w.read() as connection:
        require_run(connection, wanted)
        steps = step_store.history(connection, wanted, key)
    return MetricSteps(wanted, key, steps)


def last_steps(w: Writer, run: RunRef) -> dict[str, int]:
    with w.read() as connection:
        return step_store.last_steps(connection, run_id(run))


# --- listing and comparing runs -----------------------------------------------------------


def list_runs(
    w: Writer,
    experiment: str | None,
    *,
    filter: str | None,
    order_by: str,
    limit: int | None,
) -> list[TrainingRun]:
    if experiment is not None:
        validate_name(experiment, "experiment name")
    where = Filter(tuple(_typed(c) for c in parse_filter(filter, RUN_FIELDS).conditions))
    ordering = parse_ordering(order_by, RUN_FIELDS)
    if ordering.prefix in ("params", "tags"):
        raise InvalidInputError(
            f"cannot order runs by {order_by!r}: order by a metric (-metrics.auc) or by "
            "start_time, end_time, name, experiment, status or created_by"
        )
    if ordering.prefix == "metrics":
        validate_metric_key(ordering.key)
    limit = validate_limit(limit)
    with w.read() as connection:
        return run_search.search_runs(
            connection, experiment=experiment, where=where, ordering=ordering, limit=limit
        )


def _typed(condition: Condition) -> Condition:
    """A condition whose value has the type its field holds, or a refusal that says so."""
    field, value = condition.field, condition.value
    if condition.prefix == "metrics":
        validate_metric_key(condition.key)
        if isinstance(value, str):
            raise InvalidInputError(f"{field} is a number: compare it with one, not {value!r}")
        return condition
    if condition.prefix == "tags":
        if not isinstance(value, str):
            raise InvalidInputError(
                f"tags are text: quote the value of {field}, e.g. {field} = '{value:g}'"
            )
        return condition
    if condition.prefix == "params":
        return condition
    if condition.key == "status":
        if not isinstance(value, str) or value.lower() not in {s.value for s in RunStatus}:
            raise InvalidInputError(
                f"status {value!r} is not a run status: use "
                + ", ".join(f"'{s.value.upper()}'" for s in RunStatus)
            )
        return Condition(None, "status", condition.op, value.lower())
    if not isinstance(value, str):
        raise InvalidInputError(f"{field} is text: quote the value, e.g. {field} = 'x'")
    if condition.key in _TIME_FIELDS:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(
                f"{field} {value!r} is not a time: write an ISO 8601 time such as "
                "'2026-12-01T09:00:00+00:00'"
            ) from None
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return Condition(None, condition.key, condition.op, aware)  # type: ignore[arg-type]
    return condition


def compare_runs(w: Writer, runs: Sequence[RunRef]) -> RunComparison:
    if isinstance(runs, str) or not isinstance(runs, Sequence) or not runs:
        raise InvalidInputError("compare_runs needs a list of runs (their ids or objects)")
    if len(runs) > MAX_COMPARED_RUNS:
        raise InvalidInputError(f"at most {MAX_COMPARED_RUNS} runs at once, got {len(runs)}")
    ids = list(dict.fromkeys(run_id(run) for run in runs))
    with w.read() as connection:
        found = run_search.fetch_runs(connection, ids)
    missing = sorted(set(ids) - {r.id for r in found})
    if missing:
        raise RunNotFoundError(f"no training run with id {missing[0]}")
    param_keys = sorted({k for r in found for k in r.params})
    tag_keys = sorted({k for r in found for k in r.tags})
    metric_keys = sorted({k for r in found for k in r.metrics})
    labels = [_label(r, found) for r in found]
    table: dict[str, dict[str, Any]] = {}
    for label, run in zip(labels, found, strict=True):
        column: dict[str, Any] = {
            "experiment": run.experiment,
            "name": run.name,
            "status": run.status.value,
            "started_at": run.started_at,
            "ended_at": run.ended_at,
            "created_by": run.created_by,
            "code_commit": (run.code.commit or "")[:12] or None,
        }
        for key in param_keys:
            value = run.params.get(key)
            column[f"param.{key}"] = (
                canonical_json(value) if isinstance(value, dict | list) else value
            )
        for key in tag_keys:
            column[f"tag.{key}"] = run.tags.get(key)
        for key in metric_keys:
            column[f"metric.{key}"] = run.metrics.get(key)
        table[label] = column
    rows = tuple(table[labels[0]])
    differing = tuple(
        row
        for row in rows
        if row.startswith(("param.", "tag.", "metric.", "code_commit"))
        and len({repr(c.get(row)) for c in table.values()}) > 1
    )
    return RunComparison(
        rows=rows,
        columns=tuple(labels),
        run_ids=tuple(r.id for r in found),
        cells=MappingProxyType({label: MappingProxyType(c) for label, c in table.items()}),
        differing=differing,
    )


def _label(run: TrainingRun, runs: Sequence[TrainingRun]) -> str:
    """The first 8 characters of the id, longer where two runs share them."""
    for width in (8, 13, 36):
        short = run.id[:width]
        if sum(1 for r in runs if r.id[:width] == short) == 1:
            return short
    return run.id


def require_run(connection: Connection, wanted: str) -> None:
    if not run_store.run_exists(connection, wanted):
        raise RunNotFoundError(f"no training run with id {wanted}; list runs with `registry runs`")
