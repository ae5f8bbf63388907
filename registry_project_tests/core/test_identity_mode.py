"""PostgreSQL identity mode with real roles (`CREATE ROLE` on the test server): the actor
is the connection's role, and the database refuses what a role may not do, also to a
client that sends raw SQL. On SQLite the mode is refused."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from registry_project import ModelRegistry, Stage
from registry_project.cli import cli
from registry_project.core import errors
from registry_project.core.store import migrate, roles
from registry_project_tests.backends import postgres_base_url, postgres_schema_url


@dataclass(frozen=True)
class Team:
    prefix: str
    root: str

    def url(self, who: str) -> str:
        return (
            sa.make_url(self.admin_url)
            .set(username=f"{self.prefix}_{who}")
            .render_as_string(hide_password=False)
        )

    admin_url: str = ""

    def open(self, who: str) -> ModelRegistry:
        return ModelRegistry.open(self.url(who), self.root)


USERS = {
    "reader_user": "reader",
    "alice": "writer",
    "dave": "writer",
    "bob": "approver",
    "carol": "approver",
    "root": "admin",
}


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    with _team(tmp_path, "head") as made:
        yield made


@pytest.fixture
def team_at_0009(tmp_path: Path) -> Iterator[Team]:
    """Identity mode installed on a schema at 0009, before the dataset dependents table."""
    with _team(tmp_path, "0009") as made:
        yield made


@contextlib.contextmanager
def _team(tmp_path: Path, revision: str) -> Iterator[Team]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = roles.role_names(prefix)
    admin = None
    try:
        with postgres_schema_url() as url:
            admin = sa.create_engine(url)
            if revision == "head":
                ModelRegistry.open(url, str(tmp_path / "a")).close()  # as the schema's owner
                result = CliRunner().invoke(
                    cli, ["--database-url", url, "db", "roles", "--prefix", prefix]
                )
                assert result.exit_code == 0, result.output
                assert names["approver"] in result.output
            else:
                migrate.upgrade(admin, revision)
                with admin.begin() as connection:
                    roles.install(connection, prefix)
            with admin.begin() as connection:
                for user, kind in USERS.items():
                    connection.exec_driver_sql(
                        f'CREATE ROLE "{prefix}_{user}" LOGIN IN ROLE "{names[kind]}"'
                    )
            yield Team(prefix, str(tmp_path / "a"), admin_url=url)
            with admin.begin() as connection:
                for role in [*(f"{prefix}_{u}" for u in USERS), *names.values()]:
                    connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
    finally:
        if admin is not None:
            admin.dispose()
        cleanup = sa.create_engine(
            postgres_base_url(),
            isolation_level="AUTOCOMMIT",
        )
        with cleanup.connect() as connection:
            for role in [*(f"{prefix}_{u}" for u in USERS), *names.values()]:
                connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        cleanup.dispose()


def _raw(team: Team, who: str, statement: str) -> None:
    engine = sa.create_engine(team.url(who))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _refused_raw(team: Team, who: str, statement: str, words: str) -> None:
    with pytest.raises(sa.exc.DBAPIError) as refused:
        _raw(team, who, statement)
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"
    assert words in str(refused.value.orig)


def test_the_actor_is_the_role_whatever_the_client_claims(team: Team) -> None:
    with team.open("alice") as alice:
        assert alice.identity == f"{team.prefix}_alice"
        mv = alice.register_model("churn", [1], actor="mallory")
        alice.transition(mv, Stage.STAGING, actor="bob", reason="claims to be bob")
        alice.set_tag(mv, "team", "risk", actor="root")
    with team.open("root") as root:
        assert root.get_version("churn/1").created_by == f"{team.prefix}_alice"
        assert {e.actor for e in root.audit_log(model="churn")} == {f"{team.prefix}_alice"}
        assert root.history("churn/1")[-1].actor == f"{team.prefix}_alice"
        assert root.verify().ok
    # Raw SQL that claims another actor is refused by the database.
    _refused_raw(
        team,
        "alice",
        "INSERT INTO models (name, created_at, created_by, last_version) "
        "VALUES ('forged', now(), 'bob', 0)",
        "written as the connected role",
    )


def test_approvals_only_from_approvers_and_never_for_their_own_versions(team: Team) -> None:
    with team.open("alice") as alice:
        mv = alice.register_model("churn", [1])
    with team.open("dave") as dave:  # a writer, not the registrant
        with pytest.raises(errors.PermissionDeniedError, match="refused this for the connected"):
            dave.approve(mv.id, reason="I am a writer")
        assert dave.approvals(mv.id) == []
    with team.open("bob") as bob:
        own = bob.register_model("fraud", [2])
        with pytest.raises(errors.ApprovalError):  # the core refuses first
            bob.approve(own, reason="mine")
        bob.approve(mv.id, reason="reviewed")
        assert bob.approvals(mv.id) == [f"{team.prefix}_bob"]
    # The same, by raw SQL: a writer has no right on approvals, an approver's own version
    # is refused by the trigger.
    _refused_raw(
        team,
        "alice",
        f"INSERT INTO approvals (version_id, actor, at) VALUES ('{mv.id}', "
        f"'{team.prefix}_alice', now())",
        "permission denied",
    )
    _refused_raw(
        team,
        "bob",
        f"INSERT INTO approvals (version_id, actor, at) VALUES ('{own.id}', "
        f"'{team.prefix}_bob', now())",
        "cannot approve it",
    )


def test_raw_sql_cannot_promote_an_unapproved_version_of_a_protected_model(team: Team) -> None:
    with team.open("alice") as alice:
        mv = alice.register_model("churn", [1])
        with pytest.raises(errors.PermissionDeniedError):  # only admins change rules
            alice.protect("churn", actor="alice", reason="me")
    with team.open("root") as root:
        root.protect("churn", min_approvals=2, reason="two reviewers")
    for statement, words in [
        (f"UPDATE model_versions SET stage = 'production' WHERE id = '{mv.id}'", "needs 2"),
        ("UPDATE protection_rules SET require_approval = false", "permission denied"),
        ("DELETE FROM protection_rules", "permission denied"),
        ("UPDATE audit_events SET reason = 'rewritten'", "permission denied"),
        ("DELETE FROM audit_events", "permission denied"),
        (f"UPDATE model_versions SET created_by = 'x' WHERE id = '{mv.id}'", "never changes"),
    ]:
        _refused_raw(team, "alice", statement, words)
    with team.open("bob") as bob:
        bob.approve(mv.id, reason="one")
    _refused_raw(
        team,
        "alice",
        f"UPDATE model_versions SET stage = 'production' WHERE id = '{mv.id}'",
        "has 1",
    )
    with team.open("carol") as carol:
        carol.approve(mv.id, reason="two")
    with team.open("alice") as alice:
        assert alice.promote(mv.id, reason="two reviews").stage is Stage.PRODUCTION
        assert alice.verify().ok


def test_only_the_triggers_write_the_dataset_dependents(team: Team) -> None:
    with team.open("alice") as alice:
        snapshot = alice.snapshot_dataset("customers", pd.DataFrame({"x": [1, 2]}))
        with alice.start_run("churn", inputs=[snapshot]) as run:
            mv = alice.register_model("churn", [1], run=run)
        alice.transition(mv, Stage.STAGING)  # the stage trigger writes as the owner too
        [dependent] = alice.dependents(snapshot)
        assert (dependent.version_id, dependent.stage) == (mv.id, Stage.STAGING)
    # Nobody hides a model's dependence on a dataset by editing the derived table.
    for who in ("alice", "root"):
        for statement in (
            "DELETE FROM dataset_dependents",
            "UPDATE dataset_dependents SET stage = 'archived'",
            "INSERT INTO dataset_dependents VALUES ('d', 'm', 1, 'trained', 'train', 'v', 's')",
        ):
            _refused_raw(team, who, statement, "permission denied")
    with team.open("root") as root:
        assert [d.version_id for d in root.dependents(snapshot)] == [mv.id]


def test_an_upgraded_team_schema_reads_its_dependents_without_new_grants(
    team_at_0009: Team,
) -> None:
    """Migration 0010 gives the new table's SELECT to every role that could read the
    versions: readers list dependents and writers delete datasets as before the upgrade,
    without `registry db roles` again; still nobody may write it but its triggers."""
    result = CliRunner().invoke(cli, ["--database-url", team_at_0009.admin_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    with team_at_0009.open("alice") as alice:
        snapshot = alice.snapshot_dataset("customers", pd.DataFrame({"x": [1, 2]}))
        with alice.start_run("churn", inputs=[snapshot]) as run:
            mv = alice.register_model("churn", [1], run=run)
    with ModelRegistry.open(team_at_0009.url("reader_user"), team_at_0009.root) as reader:
        assert [d.version_id for d in reader.dependents(snapshot)] == [mv.id]
    with team_at_0009.open("dave") as dave:
        with pytest.raises(errors.DatasetInUseError):
            dave.delete_dataset(snapshot, reason="still used")
        dave.delete_dataset(snapshot, reason="decided", force=True)
    _refused_raw(team_at_0009, "alice", "DELETE FROM dataset_dependents", "permission denied")


def test_identity_mode_is_refused_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    ModelRegistry.open(url, str(tmp_path / "a")).close()
    result = CliRunner().invoke(cli, ["--database-url", url, "db", "roles"])
    assert result.exit_code == 1
    assert "identity mode needs PostgreSQL" in result.output
    with pytest.raises(errors.InvalidInputError, match="invalid role prefix"):
        roles.role_names('x"; DROP ROLE postgres; --')


def test_model_card_text_is_written_as_the_role(team: Team) -> None:
    with team.open("alice") as alice:
        alice.register_model("churn", [1])
        alice.set_model_card_text("churn", intended_use="ranking", actor="someone else")
        assert alice.model_card_text("churn").updated_by == f"{team.prefix}_alice"


def test_retention_policies_are_an_admins_and_sweeps_record_the_role(team: Team) -> None:
    with team.open("alice") as alice:
        alice.register_model("churn", [1])
        with pytest.raises(errors.PermissionDeniedError, match="refused this for the connected"):
            alice.set_retention(model="churn", keep_days=30, reason="tidy")
        assert alice.retention_policies() == []
    with team.open("root") as root:
        policy = root.set_retention(model="churn", keep_days=30, actor="someone", reason="tidy")
        assert policy.updated_by == f"{team.prefix}_root"
    with team.open("alice") as alice:  # a writer may run the sweep the admin's rule defines
        report = alice.apply_retention(dry_run=False, actor="sweeper")
        assert report.done == ()
        event = alice.audit_log(action="set_retention")[-1]
        assert event.actor == f"{team.prefix}_root"


def test_no_password_reaches_an_error_a_log_or_the_roles(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    # A login user's password (the database administrator's business) in the URL the
    # client opens: a refusal, the CLI's message and every log record (SQLAlchemy's
    # included, at DEBUG) leave it out; the roles `registry db roles` made have none.
    secret = f"S3cr3t-{uuid.uuid4().hex[:8]}"
    url = sa.make_url(team.url("dave")).set(password=secret).render_as_string(hide_password=False)
    with team.open("alice") as alice:
        mv = alice.register_model("churn", [1])
    caplog.set_level(logging.DEBUG)
    with ModelRegistry.open(url, team.root) as dave:
        assert dave.identity == f"{team.prefix}_dave"
        with pytest.raises(errors.PermissionDeniedError) as refused:
            dave.approve(mv.id, reason="a writer")
    cli_run = CliRunner().invoke(
        cli, ["--database-url", url, "approve", "churn/1", "--reason", "a writer"]
    )
    assert cli_run.exit_code == 1 and "refused" in cli_run.output, cli_run.output
    said = [str(refused.value), repr(refused.value), cli_run.output]
    said += [record.getMessage() for record in caplog.records]
    assert not [text for text in said if secret in text]
    engine = sa.create_engine(team.admin_url)
    try:
        with engine.connect() as connection:
            with_password = connection.execute(
                sa.text(
                    "SELECT rolname FROM pg_authid WHERE rolname LIKE :prefix "
                    "AND rolpassword IS NOT NULL"
                ),
                {"prefix": f"{team.prefix}%"},
            ).all()
    finally:
        engine.dispose()
    assert with_password == []
