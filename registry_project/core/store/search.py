"""Search across models: a parsed filter (`core/filters.py`) compiled to one SQLAlchemy
query over `model_versions`, every value a bound parameter (no text is pasted into SQL).

Each comparison on something a version has several of (metrics, tags, aliases, input
datasets) is an EXISTS over that table's primary key or (key, value) index, so a filter
costs index probes per candidate row, not a join that multiplies rows. `!=` on those
means "has none equal to": `tags.team != 'risk'` matches versions without that tag too.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import ModelVersion, Stage
from registry_project.core.filters import (
    Comparison,
    FieldType,
    Node,
    Vocabulary,
)
from registry_project.core.store import versions as version_store
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


def search_versions(
    connection: Connection,
    node: Node | None,
    *,
    order_field: str,
    order_is_metric: bool,
    descending: bool,
    limit: int,
) -> list[ModelVersion]:
    """The versions of every model that match `node`, in order, at most `limit`; each
    with its current metrics (one more query, not one per version)."""
    query = sa.select(model_versions)
    if node is not None:
        query = query.where(compile_filter(node, connection.dialect.name))
    tie = (_MV.model_name.asc(), _MV.version.desc())
    if order_is_metric:
        m = version_metric_latest.c
        value = (
            sa.select(m.value).where(m.version_id == _MV.id, m.key == order_field).scalar_subquery()
        )
        # Versions without the metric last, whichever the direction.
        query = query.order_by(value.is_(None), value.desc() if descending else value.asc(), *tie)
    else:
        column = {
            "version": _MV.version,
            "created_at": _MV.created_at,
            "stage_changed_at": _MV.stage_changed_at,
            "name": _MV.model_name,
        }[order_field]
        query = query.order_by(column.desc() if descending else column.asc(), *tie)
    rows = list(connection.execute(query.limit(limit)))
    return version_store.to_versions(connection, rows)
