"""PostgreSQL identity mode: the actor is the connection's role (`session_user`), and the
database itself refuses what a role may not do, whatever SQL a client sends.

`install` (run by `registry db roles` as the schema's owner) creates four roles with
GRANTs and installs triggers in the registry's schema:

- `<prefix>_reader`: SELECT on every table.
- `<prefix>_writer`: the reader's rights, plus INSERT/UPDATE/DELETE on the registry's
  tables except the audit log (INSERT only: append-only), approvals (none), protection
  rules (none) and the dataset dependents (none: only their triggers write them).
- `<prefix>_approver`: the writer's rights, plus INSERT on approvals.
- `<prefix>_admin`: the approver's rights, plus changing protection rules.

The triggers (a) refuse any row whose actor column (`actor`, `created_by`, `set_by`, ...)
is not `session_user`, so the audit log's "who" is the database role; (b) refuse an
approval from a role that is not an approver, or for a version the same role registered;
(c) refuse moving a version into a protected stage unless the stored approvals are
there, and any change of a version's registrant. They raise SQLSTATE 42501
(insufficient_privilege), which the registry reports as `PermissionDeniedError`.

The role names go into DDL (roles cannot be bound parameters), so they are checked
against a strict pattern and quoted; no password is ever created, sent or logged here:
login users are created by the database administrator and granted one of these roles.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import Connection

from registry_project.core.errors import ConfigurationError, InvalidInputError

PREFIX_PATTERN = r"[a-z][a-z0-9_]{0,39}"
ROLE_KINDS = ("reader", "writer", "approver", "admin")
# Detecting the mode: this function exists in the registry's schema.
MARKER_FUNCTION = "registry_check_actor"

# Each table's actor column, checked on INSERT (and UPDATE where rows change hands).
ACTOR_COLUMNS: dict[str, str] = {
    "models": "created_by",
    "datasets": "created_by",
    "runs": "created_by",
    "model_versions": "created_by",
    "version_metrics": "logged_by",
    "stage_transitions": "actor",
    "approvals": "actor",
    "model_card_texts": "updated_by",
    "reproductions": "actor",
    "protection_rules": "updated_by",
    "model_aliases": "set_by",
    "alias_changes": "actor",
    "model_tags": "set_by",
    "version_tags": "set_by",
    "run_artifacts": "logged_by",
    "retention_policies": "updated_by",
    "artifact_retirements": "retired_by",
    "imported_items": "imported_by",
    "audit_events": "actor",
}
_CHANGED_ROWS_CARRY_THEIR_ACTOR = {
    "version_metrics",
    "model_card_texts",
    "protection_rules",
    "model_aliases",
    "model_tags",
    "version_tags",
    "retention_policies",
}
# Rules (protection, retention) are an admin's to change, like approvals an approver's.
# `dataset_dependents` is written only by its own triggers (migration 0010, as the schema's
# owner): nobody may hide a model's dependence on a dataset by editing it.
_NO_WRITER_RIGHTS = {
    "approvals",
    "protection_rules",
    "retention_policies",
    "alembic_version",
    "audit_events",
    "dataset_dependents",
}


def role_names(prefix: str) -> dict[str, str]:
    if not isinstance(prefix, str) or not re.fullmatch(PREFIX_PATTERN, prefix):
        raise InvalidInputError(
            f"invalid role prefix {prefix!r}: 1-40 lowercase letters, digits and '_', "
            f"starting with a letter (pattern {PREFIX_PATTERN})"
        )
    return {kind: f"{prefix}_{kind}" for kind in ROLE_KINDS}


def _q(identifier: str) -> str:
    # Only names matching PREFIX_PATTERN (+ a fixed suffix) or our own table names get here.
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", identifier), identifier
    return f'"{identifier}"'


def refuse_sqlite(dialect: str) -> None:
    if dialect != "postgresql":
        raise ConfigurationError(
            "identity mode needs PostgreSQL: a SQLite file has no users of its own (whoever "
            "can open the file can write anything), so the actor cannot be checked there. "
            "Use a PostgreSQL registry for a team, or keep --actor as a label on SQLite."
        )


def identity(connection: Connection) -> str | None:
    """The connection's role when the schema is in identity mode, else None."""
    if connection.dialect.name != "postgresql":
        return None
    installed, role = connection.exec_driver_sql(
        f"SELECT to_regproc('{MARKER_FUNCTION}') IS NOT NULL, session_user::text"
    ).one()
    return role if installed else None


def install(connection: Connection, prefix: str) -> dict[str, str]:
    """Create the roles (if missing), grant them, install the triggers; idempotent."""
    refuse_sqlite(connection.dialect.name)
    roles = role_names(prefix)
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    tables = [
        name
        for (name,) in connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    ]
    run = connection.exec_driver_sql
    for role in roles.values():
        run(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
            f"'{role}') THEN CREATE ROLE {_q(role)} NOLOGIN; END IF; END $$"
        )
    run(f"GRANT {_q(roles['reader'])} TO {_q(roles['writer'])}")
    run(f"GRANT {_q(roles['writer'])} TO {_q(roles['approver'])}")
    run(f"GRANT {_q(roles['approver'])} TO {_q(roles['admin'])}")
    run(f"GRANT USAGE ON SCHEMA {_q(schema)} TO {_q(roles['reader'])}")
    run(f"GRANT SELECT ON ALL TABLES IN SCHEMA {_q(schema)} TO {_q(roles['reader'])}")
    run(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_q(schema)} TO {_q(roles['writer'])}")
    for table in tables:
        if table not in _NO_WRITER_RIGHTS:
            run(f"GRANT INSERT, UPDATE, DELETE ON {_q(table)} TO {_q(roles['writer'])}")
    run(f"GRANT INSERT ON audit_events TO {_q(roles['writer'])}")  # append-only
    run(f"GRANT INSERT ON approvals TO {_q(roles['approver'])}")
    run(f"GRANT INSERT, UPDATE, DELETE ON protection_rules TO {_q(roles['admin'])}")
    run(f"GRANT INSERT, UPDATE, DELETE ON retention_policies TO {_q(roles['admin'])}")
    _install_functions(connection, roles["approver"])
    for table, column in ACTOR_COLUMNS.items():
        if table not in tables:
            continue
        events = "INSERT OR UPDATE" if table in _CHANGED_ROWS_CARRY_THEIR_ACTOR else "INSERT"
        trigger = _q(f"registry_identity_{table}")
        run(f"DROP TRIGGER IF EXISTS {trigger} ON {_q(table)}")
        run(
            f"CREATE TRIGGER {trigger} BEFORE {events} ON {_q(table)} FOR EACH ROW "
            f"EXECUTE FUNCTION {MARKER_FUNCTION}('{column}')"
        )
    run("DROP TRIGGER IF EXISTS registry_identity_approval ON approvals")
    run(
        "CREATE TRIGGER registry_identity_approval BEFORE INSERT OR UPDATE ON approvals "
        "FOR EACH ROW EXECUTE FUNCTION registry_check_approval()"
    )
    run("DROP TRIGGER IF EXISTS registry_identity_stage ON model_versions")
    run(
        "CREATE TRIGGER registry_identity_stage BEFORE INSERT OR UPDATE ON model_versions "
        "FOR EACH ROW EXECUTE FUNCTION registry_check_stage()"
    )
    return roles


def _install_functions(connection: Connection, approver: str) -> None:
    def run(sql: str) -> None:
        # The driver reads '%' as a placeholder even without parameters: plpgsql's own
        # RAISE placeholders are doubled so that they reach the server as written.
        connection.exec_driver_sql(sql.replace("%", "%%"))

    run(
        f"""
CREATE OR REPLACE FUNCTION {MARKER_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE claimed text := to_jsonb(NEW) ->> TG_ARGV[0];
BEGIN
  IF claimed IS DISTINCT FROM session_user::text THEN
    RAISE EXCEPTION 'identity mode: rows of % are written as the connected role %, not as %',
      TG_TABLE_NAME, session_user, coalesce(claimed, 'nobody') USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $f$"""
    )
    run(
        f"""
CREATE OR REPLACE FUNCTION registry_check_approval() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE registrant text;
BEGIN
  IF NOT pg_has_role(session_user, '{approver}', 'MEMBER') THEN
    RAISE EXCEPTION 'identity mode: % may not approve (only members of {approver})',
      session_user USING ERRCODE = '42501';
  END IF;
  SELECT created_by INTO registrant FROM model_versions WHERE id = NEW.version_id;
  IF registrant = session_user::text THEN
    RAISE EXCEPTION 'identity mode: % registered this version and cannot approve it',
      session_user USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $f$"""
    )
    run(
        """
CREATE OR REPLACE FUNCTION registry_check_stage() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE rule record; counted integer;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.created_by IS DISTINCT FROM OLD.created_by THEN
    RAISE EXCEPTION 'identity mode: the registrant of a version never changes'
      USING ERRCODE = '42501';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.stage = OLD.stage THEN
    RETURN NEW;
  END IF;
  SELECT * INTO rule FROM protection_rules WHERE model_name = NEW.model_name;
  IF NOT FOUND OR NOT rule.require_approval
     OR NOT (rule.protected_stages_json::jsonb ? NEW.stage) THEN
    RETURN NEW;
  END IF;
  SELECT count(DISTINCT actor) INTO counted FROM approvals
    WHERE version_id = NEW.id AND actor <> NEW.created_by;
  IF counted < rule.min_approvals THEN
    RAISE EXCEPTION
      'identity mode: %/% needs % approval(s) by others than its registrant to enter %, has %',
      NEW.model_name, NEW.version, rule.min_approvals, NEW.stage, counted
      USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $f$"""
    )
