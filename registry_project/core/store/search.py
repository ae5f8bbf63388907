"""Search across models: a parsed filter (`core/filters.py`) compiled to one SQLAlchemy
query over `model_versions`, every value a bound parameter (no text is pasted into SQL).

Each comparison on something a version has several of (metrics, tags, aliases, input
datasets) is an EXISTS over that table's primary key or (key, value) index, so a filter
costs index probes per candidate row, not a join that multiplies rows. `!=` on those
means "has none equal to": `tags.team != 'risk'` matches versions without that tag too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from registry_project.core.entities import Stage
from registry_project.core.filters import (
    Comparison,
    FieldType,
    Node,
    Vocabulary,
)
from registry_project.core.store.filter_sql import (
    compare,
    compile_tree,
    exists_matching,
    param_comparison,
)
from registry_project.core.store.schema import (
    datasets,
    model_aliases,
    model_tags,
    model_versions,
    run_inputs,
    runs,
    version_metric_latest,
    version_tags,
)

VERSION_VOCABULARY = Vocabulary(
    fields={
        "name": FieldType.TEXT,
        "version": FieldType.NUMBER,
        "stage": FieldType.TEXT,
        "alias": FieldType.TEXT,
        "creator": FieldType.TEXT,
        "created_at": FieldType.TIME,
        "dataset": FieldType.TEXT,
    },
    namespaces={
        "metrics": FieldType.NUMBER,
        "params": FieldType.ANY,
        "tags": FieldType.TEXT,
        "model_tags": FieldType.TEXT,
    },
    choices={"stage": tuple(stage.value for stage in Stage)},
)

_MV = model_versions.c
# The table as the counts name it, built once: an alias of model_versions' 20 columns
# costs milliseconds to build, more than the capped count it serves.
_COUNTED = model_versions.alias("counted")


def _comparison(node: Comparison, dialect: str) -> sa.ColumnElement[bool]:
    field, op, values = node.field, node.op, node.values
    if field.name in ("name", "version", "stage", "creator", "created_at"):
        column = {
            "name": _MV.model_name,
            "version": _MV.version,
            "stage": _MV.stage,
            "creator": _MV.created_by,
            "created_at": _MV.created_at,
        }[field.name]
        if field.name == "version":
            values = tuple(int(v) if float(v).is_integer() else v for v in values)  # type: ignore[arg-type]
        return compare(column, op, values)
    if field.name == "metrics":
        m = version_metric_latest.c
        return exists_matching(
            lambda o, v: sa.exists().where(
                m.version_id == _MV.id, m.key == field.key, compare(m.value, o, v)
            ),
            op,
            values,
        )
    if field.name == "tags":
        t = version_tags.c
        return exists_matching(
            lambda o, v: sa.exists().where(
                t.version_id == _MV.id, t.key == field.key, compare(t.value, o, v)
            ),
            op,
            values,
        )
    if field.name == "model_tags":
        mt = model_tags.c
        return exists_matching(
            lambda o, v: sa.exists().where(
                mt.model_name == _MV.model_name, mt.key == field.key, compare(mt.value, o, v)
            ),
            op,
            values,
        )
    if field.name == "alias":
        a = model_aliases.c
        return exists_matching(
            lambda o, v: sa.exists().where(a.version_id == _MV.id, compare(a.alias, o, v)),
            op,
            values,
        )
    if field.name == "dataset":
        # Trained on: an input of the version's run, by dataset name or snapshot id.
        ri, d = run_inputs.c, datasets.c
        return exists_matching(
            lambda o, v: (
                sa.exists()
                .select_from(run_inputs.join(datasets, datasets.c.id == ri.dataset_id))
                .where(ri.run_id == _MV.run_id, sa.or_(compare(d.name, o, v), compare(d.id, o, v)))
            ),
            op,
            values,
        )
    assert field.name == "params" and field.key is not None
    return sa.exists().where(runs.c.id == _MV.run_id, param_comparison(node, dialect))


def compile_filter(node: Node, dialect: str) -> sa.ColumnElement[bool]:
    return compile_tree(node, lambda comparison: _comparison(comparison, dialect))


def compile_comparison(node: Comparison, dialect: str) -> sa.ColumnElement[bool]:
    """One comparison as a condition on a `model_versions` row (a probe, for EXISTS)."""
    return _comparison(node, dialect)


@dataclass(frozen=True)
class Candidates:
    """The versions one comparison can match, read from an index: `condition` is the
    comparison as a driving term (`model_versions.id IN (...)` on the other table's index,
    or the column comparison on model_versions' own), and `count` selects one row per
    match without touching `model_versions`' other columns (the planner counts it, capped,
    to find the most selective term)."""

    condition: sa.ColumnElement[bool]
    count: sa.Select[Any]


def _in(column: sa.ColumnElement[Any], select: sa.Select[Any]) -> Candidates:
    select = select.correlate(None)  # never tied to an outer query's tables
    return Candidates(column.in_(select), select)


def _own(*terms: tuple[str, str, tuple[Any, ...]]) -> Candidates:
    """Comparisons (column, op, values) on model_versions' own columns, all of them. The
    count selects the first compared column, which its index holds: selecting `id` would
    read each match's table row (SQLite's indexes hold the rowid, not the text key), a
    cost that grows with the matches the count was meant to cap cheaply."""
    other = _COUNTED
    return Candidates(
        sa.and_(*(compare(_MV[column], op, values) for column, op, values in terms)),
        sa.select(other.c[terms[0][0]])
        .where(*(compare(other.c[column], op, values) for column, op, values in terms))
        .correlate(None),
    )


_COLUMN = {"name": "model_name", "stage": "stage"}


def name_and_stage(name: Comparison, stage: Comparison | None) -> Candidates:
    """A `name` term and, when the filter also has one, its `stage` term as one lookup on
    model_versions (model_name, stage): `name = 'm7' and stage = 'production'` counts the
    one version it names, not the model's thousands (`stage` alone has a handful of
    values over every model, so it is never a term of its own)."""
    terms = [name] if stage is None else [name, stage]
    return _own(*((_COLUMN[t.field.name], t.op, t.values) for t in terms))


def candidates(node: Comparison) -> Candidates | None:
    """The comparison as an index lookup, when an index serves it (none for `!=`, `like`,
    `version`, `creator`, `stage` other than production and params, which stay per-row
    checks). The indexes named are those of migration 0008 and before."""
    field, op, values = node.field, node.op, node.values
    if op in ("!=", "like"):
        return None
    if field.name == "metrics":  # version_metric_latest (key, value, version_id)
        m = version_metric_latest.c
        return _in(
            _MV.id, sa.select(m.version_id).where(m.key == field.key, compare(m.value, op, values))
        )
    if field.name == "created_at":  # model_versions (created_at)
        return _own(("created_at", op, values))
    if op not in ("=", "in"):
        return None
    if field.name == "tags":  # version_tags (key, value, version_id)
        t = version_tags.c
        return _in(
            _MV.id, sa.select(t.version_id).where(t.key == field.key, compare(t.value, op, values))
        )
    if field.name == "model_tags":  # model_tags (key, value)
        mt = model_tags.c
        return _in(
            _MV.model_name,
            sa.select(mt.model_name).where(mt.key == field.key, compare(mt.value, op, values)),
        )
    if field.name == "alias":  # model_aliases (alias, version_id)
        a = model_aliases.c
        return _in(_MV.id, sa.select(a.version_id).where(compare(a.alias, op, values)))
    if field.name == "dataset":  # datasets' name index and key; run_inputs (dataset_id)
        ri, d = run_inputs.c, datasets.c
        return _in(
            _MV.run_id,
            sa.select(ri.run_id)
            .select_from(run_inputs.join(datasets, d.id == ri.dataset_id))
            .where(sa.or_(compare(d.name, op, values), compare(d.id, op, values))),
        )
    if field.name == "name":  # model_versions (model_name, stage)
        return name_and_stage(node, None)
    if field.name == "stage" and op == "=" and values == (Stage.PRODUCTION.value,):
        # The partial unique index on production holds exactly these rows (one a model).
        # Its predicate is written as the index's own literal, not a bound parameter:
        # PostgreSQL uses a partial index only when it can prove the WHERE implies it,
        # which a generic plan of `stage = $1` cannot. The other stages hold most of the
        # versions and stay per-row checks.
        other = _COUNTED
        return Candidates(
            _MV.stage == _PRODUCTION,
            # `id`, not an indexed column: selecting one that (model_name, stage) holds
            # makes SQLite scan that whole covering index instead of the partial one.
            sa.select(other.c.id).where(other.c.stage == _PRODUCTION),
        )
    return None


_PRODUCTION = sa.literal_column(f"'{Stage.PRODUCTION.value}'")  # a constant of the code
