"""The pieces of SQL a parsed filter (`core/filters.py`) compiles to, shared by the searches
over versions (`search.py`) and over runs (`run_search.py`): every value a bound parameter,
nothing pasted into the statement.

A run's params are its canonical JSON (`runs.params_json`); a comparison reads one key out
of it with the database's own JSON functions (SQLite's `json_extract`, PostgreSQL's
`jsonb`), as a number only when the JSON value is a number and as text only when it is
text, so a text param never breaks a numeric comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from registry_project.core.filters import And, Comparison, Node, Not
from registry_project.core.store.schema import runs


def compile_tree(
    node: Node, comparison: Callable[[Comparison], sa.ColumnElement[bool]]
) -> sa.ColumnElement[bool]:
    """A parsed filter as one SQL condition: `and`, `or` and `not` as themselves, each
    comparison through the search's own `comparison` (which knows its columns)."""
    if isinstance(node, Comparison):
        return comparison(node)
    if isinstance(node, Not):
        return ~compile_tree(node.item, comparison)
    parts = [compile_tree(item, comparison) for item in node.items]
    return sa.and_(*parts) if isinstance(node, And) else sa.or_(*parts)


def compare(column: Any, op: str, values: tuple[Any, ...]) -> sa.ColumnElement[bool]:
    """`column op value` (or `in`, `like`) with the values bound."""
    if op == "in":
        return column.in_(list(values))
    if op == "like":
        return column.like(values[0])
    value = values[0]
    return {
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }[op]


def exists_matching(
    probe: Callable[[str, tuple[Any, ...]], sa.ColumnElement[bool]],
    op: str,
    values: tuple[Any, ...],
) -> sa.ColumnElement[bool]:
    """For something a row has several of (metrics, tags, aliases): `has one that matches`,
    and for `!=`: `has none equal to` (so a row without the key matches `!=` too)."""
    if op == "!=":
        return ~probe("=", values)
    return probe(op, values)


def param_comparison(node: Comparison, dialect: str) -> sa.ColumnElement[bool]:
    """`params.<key> op value` on `runs.params_json` (the caller relates `runs` to its
    rows: the run itself, or a version's run)."""
    assert node.field.key is not None
    key, op, values = node.field.key, node.op, node.values
    if all(isinstance(v, bool) for v in values):
        words = tuple("true" if v else "false" for v in values)
        return compare(_boolean_param(dialect, key), op, words)
    numeric = all(isinstance(v, float) for v in values)
    return compare(_param(dialect, key, numeric), op, values)


def _param(dialect: str, key: str, numeric: bool) -> Any:
    params = runs.c.params_json
    if dialect == "postgresql":
        document = sa.cast(params, _jsonb())
        text = document.op("->>")(sa.bindparam(None, key, type_=sa.String))
        kind = sa.func.jsonb_typeof(document.op("->")(sa.bindparam(None, key, type_=sa.String)))
        if numeric:
            return sa.case((kind == "number", sa.cast(text, sa.Float)), else_=None)
        return sa.case((kind == "string", text), else_=None)
    path = sa.bindparam(None, f'$."{key}"', type_=sa.String)  # the key pattern has no quotes
    kind = sa.func.json_type(params, path)
    value = sa.func.json_extract(params, path)
    if numeric:
        return sa.case((kind.in_(["integer", "real"]), value), else_=None)
    return sa.case((kind == "text", value), else_=None)


def _boolean_param(dialect: str, key: str) -> Any:
    params = runs.c.params_json
    if dialect == "postgresql":
        document = sa.cast(params, _jsonb())
        element = document.op("->")(sa.bindparam(None, key, type_=sa.String))
        return sa.case(
            (sa.func.jsonb_typeof(element) == "boolean", sa.cast(element, sa.Text)), else_=None
        )
    path = sa.bindparam(None, f'$."{key}"', type_=sa.String)
    return sa.case(
        (sa.func.json_type(params, path).in_(["true", "false"]), sa.func.json_type(params, path)),
        else_=None,
    )


def _jsonb() -> Any:
    """PostgreSQL's JSONB type, imported when a PostgreSQL query is built: the dialect
    costs a SQLite registry's start-up a tenth of a second (see engine.insert_for)."""
    from sqlalchemy.dialects.postgresql import JSONB

    return JSONB
