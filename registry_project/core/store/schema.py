"""The metadata schema (SQLAlchemy Core).

This module describes the schema at Alembic head; the migrations in `migrations/versions`
are what actually create and change it. `test_migrations` checks the two agree.

Design notes:
- Ids are UUID strings so that SQLite and PostgreSQL behave the same.
- Version numbers come from `models.last_version` (a row-locked counter) and are backed by
  UNIQUE(model_name, version), so concurrent registrations never get duplicates or gaps.
- "At most one production version" is a partial unique index: the database enforces it.
- `version_metric_latest` keeps one row per (version, key) so "best version by metric" is an
  index range scan on (model_name, key, value), not a scan of every metric ever logged;
  across models, on (key, value, version_id) (search, migration 0008).
- Audit payloads are stored as canonical JSON text (not JSON/JSONB) because the hash chain
  is computed over exact text; JSONB would reorder keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAME_LENGTH = 128
ID_LENGTH = 36
DIGEST_LENGTH = 64
PRODUCTION = "production"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the registry store; use an aware UTC one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _PostgresqlOptionsOnFirstUse:
    """Gives PostgreSQL's dialect options (`_postgresql_options`) to a schema item when
    they are first read: by its DDL compiler, by Alembic, or by `dialect_kwargs`, all of
    which load the dialect anyway. Spelled as `postgresql_*` keywords they would import
    SQLAlchemy's PostgreSQL dialect with this module (SQLAlchemy loads a dialect to check
    its keywords), about a tenth of a second of every command's start-up on a SQLite
    registry (issue #18). The hook is SQLAlchemy's own (it fills `dialect_options` per
    dialect on first use); core/test_schema.py checks the DDL both dialects compile."""

    _postgresql_options: dict[str, Any]

    def _kw_reg_for_dialect_cls(self, dialect_name: str) -> Any:
        options = super()._kw_reg_for_dialect_cls(dialect_name)  # type: ignore[misc]
        if dialect_name == "postgresql":
            options.update(self._postgresql_options)
        return options


class PartialIndex(_PostgresqlOptionsOnFirstUse, sa.Index):
    """An index over the rows WHERE a condition, on SQLite and PostgreSQL alike: the same
    index as `sa.Index(..., sqlite_where=where, postgresql_where=where)`."""

    def __init__(self, name: str, *columns: str, where: sa.TextClause, **kwargs: Any) -> None:
        self._postgresql_options = {"where": where}
        super().__init__(name, *columns, sqlite_where=where, **kwargs)


class CoveringPrimaryKey(_PostgresqlOptionsOnFirstUse, sa.PrimaryKeyConstraint):
    """A primary key whose index on PostgreSQL also carries `include`'s columns (an
    index-only scan reads them): `sa.PrimaryKeyConstraint(..., postgresql_include=include)`.
    SQLite has no such option."""

    def __init__(self, *columns: str, include: list[str], **kwargs: Any) -> None:
        self._postgresql_options = {"include": include}
        super().__init__(*columns, **kwargs)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id(name: str = "id", *args: object, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.String(ID_LENGTH), *args, **kwargs)


models = sa.Table(
    "models",
    metadata,
    sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("description", sa.Text),
)

datasets = sa.Table(
    "datasets",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("digest", sa.String(DIGEST_LENGTH)),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("version_id", sa.String(1024)),
    sa.Column("etag", sa.String(1024)),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("columns_json", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("asset_key", sa.String(1024)),
    sa.Column("deleted_at", UTCDateTime()),
    sa.Column("deleted_by", sa.String(256)),
    sa.Column("deletion_reason", sa.Text),
    sa.Index(None, "name", "created_at"),
    sa.Index(None, "digest"),
)

runs = sa.Table(
    "runs",
    metadata,
    _id(primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("params_json", sa.Text, nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime()),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("asset_key", sa.String(1024)),
    sa.Column("code_commit", sa.String(64)),
    sa.Column("code_dirty", sa.Boolean),
    sa.Column("code_remote", sa.Text),
    sa.Column("code_branch", sa.String(256)),
    sa.Column("python_version", sa.String(64)),
    sa.Column("platform", sa.String(256)),
    sa.Column("packages_digest", sa.String(DIGEST_LENGTH)),
    sa.Column("package_count", sa.Integer, nullable=False, server_default="0"),
    # Added in migration 0004: the experiment a run belongs to (default: its name);
    # nullable only because SQLite cannot add a NOT NULL column, never written NULL.
    sa.Column("experiment", sa.String(NAME_LENGTH)),
    sa.Index(None, "name", "started_at"),
    sa.Index(None, "dagster_run_id"),
    sa.Index(None, "experiment", "started_at"),
)

run_metrics = sa.Table(
    "run_metrics",
    metadata,
    _id("run_id", sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("logged_at", UTCDateTime(), nullable=False),
)

# Added in migration 0004: a run's tags (free text, e.g. team = risk).
run_tags = sa.Table(
    "run_tags",
    metadata,
    _id("run_id", sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Added in migration 0004: every point of a run's step metrics (a loss curve); the latest
# value of each key is also in run_metrics, which is what listings and filters read.
run_step_metrics = sa.Table(
    "run_step_metrics",
    metadata,
    _id("run_id", sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("step", sa.BigInteger, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("logged_at", UTCDateTime(), nullable=False),
    sqlite_with_rowid=False,  # one B-tree insert per point on SQLite (migration 0004)
)

# Added in migration 0004: files a run logged (plots, tables, a model to register later),
# content-addressed in the blob store like models; flavor and python_class only for a
# model logged through ActiveRun.log_model.
run_artifacts = sa.Table(
    "run_artifacts",
    metadata,
    _id("run_id", sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("digest", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(256), nullable=False),
    sa.Column("flavor", sa.String(64)),
    sa.Column("python_class", sa.String(512)),
    sa.Column("logged_at", UTCDateTime(), nullable=False),
    sa.Column("logged_by", sa.String(256), nullable=False),
    sa.Index(None, "digest"),
)

run_inputs = sa.Table(
    "run_inputs",
    metadata,
    _id("run_id", sa.ForeignKey("runs.id"), primary_key=True),
    _id("dataset_id", sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("role", sa.String(32), primary_key=True),
    # Migration 0009: a dataset's runs and their roles from the index alone (dependents).
    sa.Index(None, "dataset_id", "run_id", "role"),
)

run_environment_files = sa.Table(
    "run_environment_files",
    metadata,
    _id("run_id", sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("digest", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Index(None, "digest"),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    _id(primary_key=True),
    sa.Column("model_name", sa.String(NAME_LENGTH), sa.ForeignKey("models.name"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("flavor", sa.String(64), nullable=False),
    sa.Column("python_class", sa.String(512), nullable=False),
    sa.Column("artifact_digest", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Column("artifact_size", sa.BigInteger, nullable=False),
    sa.Column("signature_json", sa.Text),
    _id("run_id", sa.ForeignKey("runs.id")),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("stage_changed_at", UTCDateTime(), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("trained_on_deleted_data", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("dagster_run_id", sa.String(64)),
    sa.Column("asset_key", sa.String(1024)),
    sa.UniqueConstraint("model_name", "version"),
    sa.Index(None, "model_name", "stage"),
    # Migration 0009: a run's versions with what a dependent shows, from the index alone
    # (the run-input trigger of migration 0010 reads it). 0009's second index, (model_name,
    # version, run_id, stage, id) for the dependents walk, went with the walk in 0010.
    sa.Index(None, "run_id", "model_name", "version", "stage", "id"),
    sa.Index(None, "artifact_digest"),
    sa.Index(None, "created_at"),  # migration 0008: search's time ranges and default order
    PartialIndex(
        "uq_model_versions_one_production",
        "model_name",
        unique=True,
        where=sa.text("stage = 'production'"),
    ),
)

# Every value ever logged on a version, per dataset ("" = training / no dataset).
version_metrics = sa.Table(
    "version_metrics",
    metadata,
    _id("version_id", sa.ForeignKey("model_versions.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("dataset_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("logged_at", UTCDateTime(), nullable=False),
    sa.Column("logged_by", sa.String(256), nullable=False),
    # Migration 0009: the versions evaluated on a dataset, from the index alone.
    sa.Index(None, "dataset_id", "version_id"),
)

# The current value of each metric of a version (the last one logged): what ordering,
# comparison and promotion policies read.
version_metric_latest = sa.Table(
    "version_metric_latest",
    metadata,
    _id("version_id", sa.ForeignKey("model_versions.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("model_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Index(None, "model_name", "key", "value"),
    # Added in migration 0008: a metric across models (search's ranges and its order).
    sa.Index(None, "key", "value", "version_id"),
)

# Added in migration 0010: "which versions were trained or evaluated on dataset X", one row
# per (dataset, version, relation, role) in the order `dependents` lists them, so a listing
# or a page of it is one range scan of this table's key: no join, no sort. Written only by
# the database's own triggers (migration 0010), from the rows it is derived from: a run
# input meets a version of its run (either inserted second), a metric is logged on a
# version against a dataset, a version's stage changes. No code path can forget it. The
# role is "" for "evaluated" (key columns cannot be NULL on PostgreSQL).
dataset_dependents = sa.Table(
    "dataset_dependents",
    metadata,
    sa.Column("dataset_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("model_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("relation", sa.String(16), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("version_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    # PostgreSQL: the other columns ride in the key's index, so a listing is an index-only
    # scan (without them its planner sorted a seq scan instead: 13 ms against 3 for
    # 11,000 rows); on SQLite the table is its key's B-tree anyway.
    CoveringPrimaryKey(
        "dataset_id", "model_name", "version", "relation", "role", include=["version_id", "stage"]
    ),
    # The stage trigger's lookup: a version's rows across datasets.
    sa.Index(None, "model_name", "version"),
    sqlite_with_rowid=False,  # the key is the table: a listing reads one B-tree
)

stage_transitions = sa.Table(
    "stage_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _id("version_id", sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("model_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("from_stage", sa.String(16)),
    sa.Column("to_stage", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index(None, "model_name", "id"),
    sa.Index(None, "version_id"),
)

approvals = sa.Table(
    "approvals",
    metadata,
    _id("version_id", sa.ForeignKey("model_versions.id"), primary_key=True),
    sa.Column("actor", sa.String(256), primary_key=True),
    sa.Column("reason", sa.Text),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# Added in migration 0003: the free text of a model's card (intended use, limitations),
# set by its owners; every change is an audit event.
model_card_texts = sa.Table(
    "model_card_texts",
    metadata,
    sa.Column("model_name", sa.String(NAME_LENGTH), sa.ForeignKey("models.name"), primary_key=True),
    sa.Column("intended_use", sa.Text),
    sa.Column("limitations", sa.Text),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
)

# Added in migration 0003: each attempt to reproduce a version from its record.
reproductions = sa.Table(
    "reproductions",
    metadata,
    _id(primary_key=True),
    _id("version_id", sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("detail_json", sa.Text, nullable=False),
    sa.Index(None, "version_id", "at"),
)

# Added in migration 0005: governance. A model's protection rule (at most one row per
# model; no row means "not protected"); every change is an audit event.
protection_rules = sa.Table(
    "protection_rules",
    metadata,
    sa.Column("model_name", sa.String(NAME_LENGTH), sa.ForeignKey("models.name"), primary_key=True),
    sa.Column("require_approval", sa.Boolean, nullable=False),
    sa.Column("min_approvals", sa.Integer, nullable=False),
    sa.Column("protected_stages_json", sa.Text, nullable=False),
    sa.Column("protected_aliases_json", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text),
)

# Added in migration 0005: named pointers `model@alias` -> one version. The primary key
# makes an alias name one version; compare-and-swap updates run under the model row lock.
model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("model_name", sa.String(NAME_LENGTH), sa.ForeignKey("models.name"), primary_key=True),
    sa.Column("alias", sa.String(NAME_LENGTH), primary_key=True),
    _id("version_id", sa.ForeignKey("model_versions.id"), nullable=False),
    sa.Column("set_at", UTCDateTime(), nullable=False),
    sa.Column("set_by", sa.String(256), nullable=False),
    sa.Index(None, "version_id"),
    sa.Index(None, "alias", "version_id"),  # migration 0008: an alias across models
)

# Added in migration 0005: every change of an alias, oldest first (MLflow keeps none).
alias_changes = sa.Table(
    "alias_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("alias", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("from_version", sa.Integer),
    sa.Column("to_version", sa.Integer),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index(None, "model_name", "alias", "id"),
)

# Added in migration 0005: labels on models and on versions, set after registration.
# (key, value) indexes serve search's `tags.team = 'risk'`.
model_tags = sa.Table(
    "model_tags",
    metadata,
    sa.Column("model_name", sa.String(NAME_LENGTH), sa.ForeignKey("models.name"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.String(1024), nullable=False),
    sa.Column("set_at", UTCDateTime(), nullable=False),
    sa.Column("set_by", sa.String(256), nullable=False),
    sa.Index(None, "key", "value"),
)

version_tags = sa.Table(
    "version_tags",
    metadata,
    _id("version_id", sa.ForeignKey("model_versions.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("model_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("value", sa.String(1024), nullable=False),
    sa.Column("set_at", UTCDateTime(), nullable=False),
    sa.Column("set_by", sa.String(256), nullable=False),
    # (key, value) until migration 0008; the version id makes the index answer alone.
    sa.Index(None, "key", "value", "version_id"),
)

# Added in migration 0006: retention. One policy per dataset name or model (no row: kept
# for ever); every change is an audit event.
retention_policies = sa.Table(
    "retention_policies",
    metadata,
    sa.Column("subject_type", sa.String(16), primary_key=True),
    sa.Column("subject_name", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("keep_days", sa.Integer),
    sa.Column("keep_last", sa.Integer, nullable=False),
    sa.Column("rollback_days", sa.Integer),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text),
)

# Added in migration 0006: the tombstone of a version's artifact bytes retired by a
# policy. The version row keeps its digest (its record); gc and verify skip it.
artifact_retirements = sa.Table(
    "artifact_retirements",
    metadata,
    _id("version_id", sa.ForeignKey("model_versions.id"), primary_key=True),
    sa.Column("model_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("retired_at", UTCDateTime(), nullable=False),
    sa.Column("retired_by", sa.String(256), nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index(None, "digest"),
)

# Import provenance (migration 0007): which item of another registry (MLflow) became which
# record here. The primary key makes an import idempotent: a second import of the same item
# finds its row, and a concurrent one conflicts instead of duplicating it.
imported_items = sa.Table(
    "imported_items",
    metadata,
    sa.Column("source", sa.String(1024), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("external_id", sa.String(1024), primary_key=True),
    sa.Column("local_id", sa.String(1024), nullable=False),
    sa.Column("details_json", sa.Text, nullable=False),
    sa.Column("imported_at", UTCDateTime(), nullable=False),
    sa.Column("imported_by", sa.String(256), nullable=False),
    sa.Index(None, "kind", "local_id"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    _id("event_id", nullable=False, unique=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject_type", sa.String(32), nullable=False),
    sa.Column("subject_id", sa.String(256), nullable=False),
    sa.Column("model_name", sa.String(NAME_LENGTH)),
    sa.Column("dataset_name", sa.String(NAME_LENGTH)),
    sa.Column("before_json", sa.Text),
    sa.Column("after_json", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("prev_hash", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Column("hash", sa.String(DIGEST_LENGTH), nullable=False),
    sa.Index(None, "model_name", "seq"),
    sa.Index(None, "dataset_name", "seq"),
    sa.Index(None, "at"),
    # Added in migration 0002: audit filters by actor and by action (UI, CLI).
    sa.Index(None, "actor", "seq"),
    sa.Index(None, "action", "seq"),
)

# One row: the tip of the audit chain. Appenders lock it, which serialises the chain
# (and lets verify() notice a deleted tail event).
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(DIGEST_LENGTH), nullable=False),
)

GENESIS_HASH = "0" * DIGEST_LENGTH
