"""Dataset dependents: "which model versions were trained or evaluated on dataset X" as a
table of its own in listing order, kept by the database's triggers (issue #18, W4).

Before, a listing joined the dataset's run inputs to their runs' versions, added the
versions evaluated on it and sorted the lot; a page chose between that and walking every
version in order (migration 0009's indexes). Now `dataset_dependents` holds one row per
(dataset, model, version, relation, role) with the version's id and stage, keyed in the
order `dependents` lists them, so a whole listing and any page of it are one range scan.

The table is derived, never written by the registry's code: four triggers keep it equal to
the rows it comes from, on SQLite and PostgreSQL alike.
- a version is inserted: a "trained" row per input of its run;
- a run input is inserted: a "trained" row per version its run already has (inputs come
  before versions on every path today; this keeps it true if one ever comes after);
- a metric is logged on a version against a dataset (not "", the training metrics): an
  "evaluated" row, once however many keys;
- a version's stage changes: its rows take the new stage.
Rows of versions, runs and metrics are never deleted, so nothing is deleted here.

Backfilled from the existing rows in the same transaction. Migration 0009's model_versions
(model_name, version, run_id, stage, id) index served only the walk and is dropped: one
B-tree fewer for every registration to write.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = "dataset_id, model_name, version, relation, role, version_id, stage"
# The rows derived from what is already there: the same four sources as the triggers.
_BACKFILL = (
    f"INSERT INTO dataset_dependents ({_COLUMNS}) "
    "SELECT DISTINCT ri.dataset_id, mv.model_name, mv.version, 'trained', ri.role, mv.id, "
    "mv.stage FROM run_inputs ri JOIN model_versions mv ON mv.run_id = ri.run_id",
    f"INSERT INTO dataset_dependents ({_COLUMNS}) "
    "SELECT DISTINCT vm.dataset_id, mv.model_name, mv.version, 'evaluated', '', mv.id, "
    "mv.stage FROM version_metrics vm JOIN model_versions mv ON mv.id = vm.version_id "
    "WHERE vm.dataset_id <> ''",
)
# Each trigger's statement, with NEW for the inserted or updated row. A duplicate (a second
# metric key on the same dataset) is ignored: INSERT OR IGNORE on SQLite, ON CONFLICT DO
# NOTHING on PostgreSQL ({ignore} and {conflict}, filled per dialect; a statement without
# them takes neither).
_INSERT = "INSERT {ignore} INTO dataset_dependents (" + _COLUMNS + ") "
_ON_VERSION = (
    _INSERT + "SELECT dataset_id, NEW.model_name, NEW.version, 'trained', role, NEW.id, "
    "NEW.stage FROM run_inputs WHERE run_id = NEW.run_id {conflict}"
)
_ON_INPUT = (
    _INSERT + "SELECT NEW.dataset_id, model_name, version, 'trained', NEW.role, id, stage "
    "FROM model_versions WHERE run_id = NEW.run_id {conflict}"
)
_ON_METRIC = (
    _INSERT + "SELECT NEW.dataset_id, model_name, version, 'evaluated', '', id, stage "
    "FROM model_versions WHERE id = NEW.version_id {conflict}"
)
_ON_STAGE = (
    "UPDATE dataset_dependents SET stage = NEW.stage "
    "WHERE model_name = NEW.model_name AND version = NEW.version"
)
# name: (table, event, condition, statement)
_TRIGGERS = {
    "dataset_dependents_on_version": (
        "model_versions",
        "INSERT",
        "NEW.run_id IS NOT NULL",
        _ON_VERSION,
    ),
    "dataset_dependents_on_input": ("run_inputs", "INSERT", None, _ON_INPUT),
    "dataset_dependents_on_metric": (
        "version_metrics",
        "INSERT",
        "NEW.dataset_id <> ''",
        _ON_METRIC,
    ),
    "dataset_dependents_on_stage": (
        "model_versions",
        "UPDATE OF stage",
        "NEW.stage <> OLD.stage",
        _ON_STAGE,
    ),
}


def upgrade() -> None:
    op.create_table(
        "dataset_dependents",
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint(
            "dataset_id",
            "model_name",
            "version",
            "relation",
            "role",
            name=op.f("pk_dataset_dependents"),
            postgresql_include=["version_id", "stage"],
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_dataset_dependents_model_name_version"),
        "dataset_dependents",
        ["model_name", "version"],
        unique=False,
    )
    for statement in _BACKFILL:
        op.execute(statement)
    op.drop_index(
        op.f("ix_model_versions_model_name_version_run_id_stage_id"), table_name="model_versions"
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, (table, event, condition, statement) in _TRIGGERS.items():
        if postgresql:
            _create_postgresql_trigger(name, table, event, condition, statement)
        else:
            _create_sqlite_trigger(name, table, event, condition, statement)
    if postgresql:
        op.execute(_GRANT_READERS)


# Identity mode (store/roles.py) granted SELECT table by table when it was installed: every
# role that may read the versions may read their dependents, so an upgraded team schema
# lists them (and deletes datasets) as before, without `registry db roles` again. Nobody
# is granted more: the triggers write it.
_GRANT_READERS = """
DO $$
DECLARE reader text;
BEGIN
    FOR reader IN
        -- regrole's text is the name quoted where it must be: as GRANT wants it.
        SELECT DISTINCT CASE WHEN acl.grantee = 0 THEN 'PUBLIC'
                             ELSE acl.grantee::regrole::text END
        FROM pg_class AS versions, aclexplode(versions.relacl) AS acl
        WHERE versions.oid = 'model_versions'::regclass
          AND acl.privilege_type = 'SELECT' AND acl.grantee <> versions.relowner
    LOOP
        EXECUTE 'GRANT SELECT ON dataset_dependents TO ' || reader;
    END LOOP;
END $$
"""


def _create_sqlite_trigger(
    name: str, table: str, event: str, condition: str | None, statement: str
) -> None:
    when = f" WHEN {condition}" if condition else ""
    body = statement.format(ignore="OR IGNORE", conflict="")
    op.execute(
        f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN {body}; END"
    )


def _create_postgresql_trigger(
    name: str, table: str, event: str, condition: str | None, statement: str
) -> None:
    body = statement.format(ignore="", conflict="ON CONFLICT DO NOTHING")
    # SECURITY DEFINER: the function writes as the schema's owner, so in identity mode
    # (store/roles.py) no role needs, or gets, a right to write this derived table
    # itself. With it, the search_path is pinned to the migration's (a registry may live
    # in a schema of its own), as PostgreSQL's manual asks of such functions.
    op.execute(
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
        f"SET search_path FROM CURRENT AS $$ BEGIN {body}; RETURN NULL; END $$"
    )
    when = f" WHEN ({condition})" if condition else ""
    op.execute(
        f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW{when} "
        f"EXECUTE FUNCTION {name}()"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, (table, *_) in _TRIGGERS.items():
        if postgresql:
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
        else:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index(op.f("ix_dataset_dependents_model_name_version"), table_name="dataset_dependents")
    op.drop_table("dataset_dependents")
    op.create_index(
        op.f("ix_model_versions_model_name_version_run_id_stage_id"),
        "model_versions",
        ["model_name", "version", "run_id", "stage", "id"],
        unique=False,
    )
