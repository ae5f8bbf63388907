"""A model's versions, the list of models and the audit log, read on the stdlib sqlite3
driver, without SQLAlchemy (issue #18).

A CLI command is a whole process, and importing SQLAlchemy and the facade was about 0.4 s of
the 0.56 s that `registry versions churn --limit 20` took. For a SQLite registry at this
package's schema, `list_versions` answers with the same `ModelVersion` values as
`ModelRegistry.versions`, `model_summaries` with the same `ModelSummary` values as
`ModelRegistry.model_summaries`, and `audit_log` with the same `AuditEvent` values as
`ModelRegistry.audit_log`, from the same queries (store/versions.py, store/overviews.py,
store/audit.py) written as SQL text, each in one read transaction. Whatever it does not
handle (PostgreSQL, a URL with options or escapes, no such file, another schema revision, a
driver error) returns None, and the caller opens the registry as usual, which reports each
of those with its usual message. `test_sqlite_reads` holds both paths to the same results.

It only reads: the connection is opened read-write so that SQLite can use the WAL's
shared-memory file, and then set `query_only`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from registry_project.core.entities import ModelVersion
from registry_project.core.errors import ModelNotFoundError
from registry_project.core.store.rows import (
    event_from_values,
    model_from_values,
    version_from_values,
)
from registry_project.core.store.schema_revision import HEAD_REVISION
from registry_project.core.validation.names import validate_filter_text, validate_name
from registry_project.core.validation.values import (
    OrderBy,
    parse_order_by,
    parse_stage,
    validate_limit,
    validate_since,
)

if TYPE_CHECKING:
    from registry_project.core.entities import AuditEvent, ModelSummary

_SCHEMES = ("sqlite:///", "sqlite+pysqlite:///")
# The engine's own busy timeout (engine.SQLITE_BUSY_TIMEOUT_SECONDS); a WAL reader rarely
# waits, but a checkpoint's or a recovery's lock can hold it for a moment.
_BUSY_TIMEOUT_SECONDS = 60
# The columns a listing may be ordered by (parse_order_by's fields): never SQL from input.
_ORDER_COLUMNS = {
    "version": "v.version",
    "created_at": "v.created_at",
    "stage_changed_at": "v.stage_changed_at",
}
_TIMES = ("created_at", "stage_changed_at")
# Ids per `IN (...)` of the metrics query: far below SQLite's limit on bound parameters.
_IDS_PER_QUERY = 500
T = TypeVar("T")


def sqlite_path(database_url: str) -> Path | None:
    """The file of a plain SQLite URL (`sqlite:///relative.db`, `sqlite:////abs.db`); None
    for anything SQLAlchemy would read differently from its text (options, escapes,
    in-memory) and for other backends."""
    scheme = next((s for s in _SCHEMES if database_url.startswith(s)), None)
    if scheme is None:
        return None
    path = database_url[len(scheme) :]
    if not path or path == ":memory:" or any(c in path for c in "?%#"):
        return None
    return Path(path).expanduser()


def list_versions(
    database_url: str,
    name: str,
    *,
    stage: str | None,
    order_by: str,
    limit: int | None,
) -> list[ModelVersion] | None:
    """`ModelRegistry.versions(name, stage=, order_by=, limit=)` of a SQLite registry, or
    None where the registry must be opened to answer (see the module's docstring). Raises
    the same errors as `versions` for bad input and an unknown model."""
    return _read(
        database_url,
        lambda connection: _versions(connection, name, stage=stage, order_by=order_by, limit=limit),
    )


def model_summaries(database_url: str) -> list[ModelSummary] | None:
    """`ModelRegistry.model_summaries()` of a SQLite registry, or None where the registry
    must be opened to answer (see the module's docstring)."""
    return _read(database_url, _summaries)


def audit_log(
    database_url: str,
    *,
    model: str | None,
    dataset: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    limit: int | None,
    newest_first: bool,
) -> list[AuditEvent] | None:
    """`ModelRegistry.audit_log(...)` with these filters, of a SQLite registry, or None
    where the registry must be opened to answer (see the module's docstring). Raises the
    same errors as `audit_log` for bad input."""

    def events(connection: sqlite3.Connection) -> list[AuditEvent]:
        # Validated in the order and with the errors of audit_ops.event_filter and events.
        if model is not None:
            validate_name(model, "model name")
        if dataset is not None:
            validate_name(dataset, "dataset name")
        filters = {  # the column names are this module's own, never input
            "model_name": model,
            "dataset_name": dataset,
            "actor": validate_filter_text(actor, "actor"),
            "action": validate_filter_text(action, "action"),
        }
        earliest = validate_since(since)
        most = validate_limit(limit)
        parameters: list[Any] = []
        conditions = []
        for column, value in filters.items():
            if value is not None:
                conditions.append(f"{column} = ?")
                parameters.append(value)
        if earliest is not None:
            conditions.append("at >= ?")
            parameters.append(_stored(earliest))
        sql = "SELECT * FROM audit_events"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY seq " + ("DESC" if newest_first else "ASC")
        if most is not None:
            sql += " LIMIT ?"
            parameters.append(most)
        return [
            event_from_values({**row, "at": _utc(row["at"])})
            for row in connection.execute(sql, parameters)
        ]

    return _read(database_url, events)


def _read(database_url: str, work: Callable[[sqlite3.Connection], T]) -> T | None:
    """`work` on a read-only connection to the registry's file, in one read transaction;
    None where the registry must be opened instead."""
    path = sqlite_path(database_url)
    if path is None or not path.is_file():
        return None
    try:
        connection = sqlite3.connect(
            f"file:{quote(str(path))}?mode=rw",
            uri=True,
            timeout=_BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
        )
    except sqlite3.Error:
        return None
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA query_only=1")
        connection.execute("BEGIN")  # one snapshot for every query of the answer
        if not _at_head_revision(connection):
            return None
        return work(connection)
    except sqlite3.Error:
        return None
    finally:
        connection.close()


def _at_head_revision(connection: sqlite3.Connection) -> bool:
    try:
        recorded = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:  # no version table: an empty or foreign database
        return False
    return [row[0] for row in recorded] == [HEAD_REVISION]


def _versions(
    connection: sqlite3.Connection,
    name: str,
    *,
    stage: str | None,
    order_by: str,
    limit: int | None,
) -> list[ModelVersion]:
    # Validated in the order and with the errors of version_ops.list_versions.
    validate_name(name, "model name")
    order = parse_order_by(order_by)
    wanted_stage = parse_stage(stage).value if stage is not None else None
    limit = validate_limit(limit)
    if connection.execute("SELECT 1 FROM models WHERE name = ?", (name,)).fetchone() is None:
        raise ModelNotFoundError(f"no model named {name!r}; list models with `registry models`")
    if order.is_metric:
        rows = _by_metric(connection, name, wanted_stage, order, limit)
    else:
        rows = _by_column(connection, name, wanted_stage, order, limit)
    metrics = _latest_metrics(connection, [row["id"] for row in rows])
    return [version_from_values(_typed(row), metrics.get(row["id"], {})) for row in rows]


def _stage_clause(stage: str | None, parameters: list[Any]) -> str:
    if stage is None:
        return ""
    parameters.append(stage)
    return " AND v.stage = ?"


def _limit_clause(limit: int | None, parameters: list[Any]) -> str:
    if limit is None:
        return ""
    parameters.append(limit)
    return " LIMIT ?"


def _by_column(
    connection: sqlite3.Connection, name: str, stage: str | None, order: OrderBy, limit: int | None
) -> list[sqlite3.Row]:
    parameters: list[Any] = [name]
    direction = "DESC" if order.descending else "ASC"
    sql = (
        "SELECT v.* FROM model_versions AS v WHERE v.model_name = ?"
        + _stage_clause(stage, parameters)
        + f" ORDER BY {_ORDER_COLUMNS[order.field]} {direction}, v.version DESC"
        + _limit_clause(limit, parameters)
    )
    return connection.execute(sql, parameters).fetchall()


def _by_metric(
    connection: sqlite3.Connection, name: str, stage: str | None, order: OrderBy, limit: int | None
) -> list[sqlite3.Row]:
    """The versions with the metric by its value, then those without it, newest first."""
    parameters: list[Any] = [name, order.field]
    direction = "DESC" if order.descending else "ASC"
    sql = (
        "SELECT v.* FROM version_metric_latest AS m"
        " JOIN model_versions AS v ON v.id = m.version_id"
        " WHERE m.model_name = ? AND m.key = ?"
        + _stage_clause(stage, parameters)
        + f" ORDER BY m.value {direction}, v.version DESC"
        + _limit_clause(limit, parameters)
    )
    rows = connection.execute(sql, parameters).fetchall()
    if limit is not None and len(rows) >= limit:
        return rows
    parameters = [name, name, order.field]
    rest = (
        "SELECT v.* FROM model_versions AS v WHERE v.model_name = ? AND v.id NOT IN"
        " (SELECT version_id FROM version_metric_latest WHERE model_name = ? AND key = ?)"
        + _stage_clause(stage, parameters)
        + " ORDER BY v.version DESC"
        + _limit_clause(None if limit is None else limit - len(rows), parameters)
    )
    return rows + connection.execute(rest, parameters).fetchall()


def _latest_metrics(
    connection: sqlite3.Connection, version_ids: Sequence[str]
) -> dict[str, dict[str, float]]:
    metrics: dict[str, dict[str, float]] = {}
    for start in range(0, len(version_ids), _IDS_PER_QUERY):
        chunk = version_ids[start : start + _IDS_PER_QUERY]
        marks = ", ".join("?" * len(chunk))
        for version_id, key, value in connection.execute(
            f"SELECT version_id, key, value FROM version_metric_latest"
            f" WHERE version_id IN ({marks})",
            chunk,
        ):
            metrics.setdefault(version_id, {})[key] = value
    return metrics


def _summaries(connection: sqlite3.Connection) -> list[ModelSummary]:
    """store/overviews.model_summaries: every model (store/versions.list_models), its
    production and newest version, and when it last changed."""
    # Here, not at the top: `registry versions` imports this module and does not need it.
    from registry_project.core.entities import ModelSummary

    every = [
        model_from_values({**row, "created_at": _utc(row["created_at"])})
        for row in connection.execute(
            "SELECT m.*, p.version AS production_version FROM models AS m LEFT OUTER JOIN"
            " (SELECT model_name, version FROM model_versions WHERE stage = 'production')"
            " AS p ON p.model_name = m.name ORDER BY m.name"
        )
    ]
    rows = connection.execute(
        "SELECT v.* FROM model_versions AS v JOIN models AS m ON m.name = v.model_name"
        " WHERE v.stage = 'production' OR v.version = m.last_version"
    ).fetchall()
    metrics = _latest_metrics(connection, [row["id"] for row in rows])
    last_version = {model.name: model.latest_version for model in every}
    production: dict[str, ModelVersion] = {}
    latest: dict[str, ModelVersion] = {}
    for row in rows:
        version = version_from_values(_typed(row), metrics.get(row["id"], {}))
        if version.stage.value == "production":
            production[version.model_name] = version
        if version.version == last_version.get(version.model_name):
            latest[version.model_name] = version
    changed = {
        name: _utc(at)
        for name, at in connection.execute(
            "SELECT model_name, max(stage_changed_at) FROM model_versions GROUP BY model_name"
        )
    }
    return [
        ModelSummary(
            model=model,
            production=production.get(model.name),
            latest=latest.get(model.name),
            last_changed=max(model.created_at, changed.get(model.name, model.created_at)),
        )
        for model in every
    ]


def _stored(moment: datetime) -> str:
    """An aware time as SQLAlchemy stores it in SQLite (and so compares it): naive UTC,
    microseconds always written."""
    t = moment.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d} "
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}"
    )


def _utc(stored: str) -> datetime:
    """A stored time as SQLAlchemy's type gives it: naive UTC text, made aware."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


def _typed(row: sqlite3.Row) -> dict[str, Any]:
    """The row's values as SQLAlchemy's types give them: UTC-aware datetimes (stored as
    naive UTC text, store/schema.UTCDateTime)."""
    values = dict(row)
    for column in _TIMES:
        values[column] = _utc(values[column])
    return values
