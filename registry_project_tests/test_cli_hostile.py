"""The installed `registry` command under hostile and mistaken use, as real processes.

Arguments that are not UTF-8 (a shell's $'\\xff'), numbers beyond any limit, malformed or
secret-bearing database URLs, empty reasons, a directory without a registry: each is one
`error: ...` line on stderr in the CLI's own words and exit status 1 (2 for usage), never
a traceback, never a password, and nothing changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from registry_project import ModelRegistry
from registry_project_tests.backends import postgres_schema_url

REGISTRY = Path(sys.executable).parent / "registry"
SECRET = "S3cr3tPw"
NOT_UTF8 = b"\xff"


@dataclass(frozen=True)
class Filled:
    database_url: str
    artifact_root: str
    snapshot_id: str


@pytest.fixture
def filled(tmp_path: Path) -> Filled:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    root = str(tmp_path / "artifacts")
    with ModelRegistry.open(url, root) as reg:
        snap = reg.snapshot_dataset("customers", pd.DataFrame({"x": [1, 2]}))
        with reg.start_run("train", inputs=[snap], capture_environment=False) as run:
            reg.register_model("churn", {"w": 1}, run=run, metrics={"auc": 0.8}, actor="carol")
        reg.promote("churn/1", actor="alice", reason="first")
        reg.register_model("churn", {"w": 2}, metrics={"auc": 0.9}, actor="carol")
        reg.promote("churn/2", actor="alice", reason="better")
    return Filled(url, root, snap.id)


def registry_command(
    *args: str | bytes, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    environment.update(env or {})
    return subprocess.run(
        [str(REGISTRY), *args],
        capture_output=True,
        text=True,
        errors="replace",
        cwd=cwd,
        env=environment,
        timeout=120,
    )


def in_filled(filled: Filled, *args: str | bytes) -> subprocess.CompletedProcess[str]:
    return registry_command(
        "--database-url", filled.database_url, "--artifact-root", filled.artifact_root, *args
    )


def audit_length(filled: Filled) -> int:
    with ModelRegistry.open(filled.database_url, filled.artifact_root) as reg:
        return reg.audit_count()


def assert_one_error_line(done: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert done.returncode == status, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    if status == 1:
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


REFUSED = {
    # item 10: tracebacks before
    "reason not UTF-8": (["promote", "churn/1", "--reason", NOT_UTF8], 1, "valid Unicode"),
    "global actor not UTF-8": (
        ["--actor", NOT_UTF8, "approve", "churn/2", "--reason", "x"],
        1,
        "valid Unicode",
    ),
    "audit actor filter not UTF-8": (["audit", "--actor", NOT_UTF8], 1, "valid Unicode"),
    "versions huge limit": (
        ["versions", "churn", "--limit", "99999999999999999999999"],
        2,
        "1<=x<=1000000",
    ),
    "gc huge grace period": (["gc", "--grace-minutes", "99999999999999"], 2, "0<=x<="),
    "audit huge limit": (["audit", "--limit", "99999999999999999999999"], 2, "1<=x<=1000000"),
    # item 11: an actor that would reverse the text after it
    "actor with a bidi override": (
        ["--actor", "bob\u202eecila", "approve", "churn/2", "--reason", "x"],
        1,
        "bob\\u202eecila",
    ),
    # item 16: one rule for empty reasons
    "empty promotion reason": (["promote", "churn/1", "--reason", ""], 1, "reason"),
    "whitespace promotion reason": (["promote", "churn/1", "--reason", "   "], 1, "reason"),
    "empty transition reason": (["transition", "churn/2", "archived", "--reason", ""], 1, "reason"),
    "empty rollback reason": (["rollback", "churn", "--reason", " "], 1, "reason"),
    "empty approval reason": (
        ["--actor", "bob", "approve", "churn/2", "--reason", ""],
        1,
        "reason",
    ),
    # item 18: the CLI's words
    "snapshot that is not an id": (
        ["delete-dataset", "customers", "--reason", "GDPR 17"],
        1,
        "give a snapshot id",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_in_one_line_without_a_traceback(filled: Filled, case: str) -> None:
    args, status, expected = REFUSED[case]
    before = audit_length(filled)
    done = in_filled(filled, *args)
    stderr = assert_one_error_line(done, status)
    assert expected in stderr
    # The CLI's words, not Python's.
    for python in ("reason=", "pass a DatasetSnapshot", "UUID or", "force=True"):
        assert python not in stderr
    assert audit_length(filled) == before


def test_an_empty_reason_for_deletion_names_the_option(filled: Filled) -> None:
    done = in_filled(filled, "delete-dataset", filled.snapshot_id, "--reason", " ")
    stderr = assert_one_error_line(done)
    assert "reason" in stderr and "reason=" not in stderr


SECRET_URLS = [
    f"postgresql+psycopg//postgres:{SECRET}@127.0.0.1/x",  # no ':' after the scheme
    f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:notaport/x",
    f"postgresql+psycopg://postgres@127.0.0.1:1/x?password={SECRET}",
    f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/x",  # nothing listens on port 1
    f"postgresql+psycopg://postgres@127.0.0.1:1/x?sslmode=disable&password={SECRET}",
]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_no_password_in_any_output(url: str, tmp_path: Path) -> None:
    for done in (
        registry_command("--database-url", url, "models", cwd=tmp_path),
        registry_command("versions", "churn", cwd=tmp_path, env={"REGISTRY_DATABASE_URL": url}),
        registry_command("--database-url", url, "db", "current", cwd=tmp_path),
    ):
        assert_one_error_line(done)
        assert SECRET not in done.stdout + done.stderr
    with pytest.raises(Exception) as caught:
        ModelRegistry.open(url, str(tmp_path / "a"))
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_a_configuration_never_shows_its_password() -> None:
    from registry_project.core.config import RegistryConfig

    for url in SECRET_URLS:
        config = RegistryConfig.resolve(url, "/tmp/artifacts")
        assert config.database_url == url  # kept for connecting, masked when shown
        assert SECRET not in repr(config) and SECRET not in str(config)


def test_read_only_commands_never_create_a_registry(tmp_path: Path) -> None:
    """Run from a directory without a registry, they say where they looked and how to
    point elsewhere, and leave nothing behind."""
    for args in (["models"], ["versions", "churn"], ["show", "churn/1"], ["audit"], ["datasets"]):
        done = registry_command(*args, cwd=tmp_path)
        stderr = assert_one_error_line(done)
        assert f"no registry at sqlite:///{tmp_path / '.registry' / 'registry.db'}" in stderr
        assert "--database-url" in stderr and "REGISTRY_DATABASE_URL" in stderr
        assert "the default" in stderr
    elsewhere = tmp_path / "elsewhere.db"
    done = registry_command(
        "models", cwd=tmp_path, env={"REGISTRY_DATABASE_URL": f"sqlite:///{elsewhere}"}
    )
    assert "from REGISTRY_DATABASE_URL" in assert_one_error_line(done)
    assert list(tmp_path.iterdir()) == []


def test_read_only_commands_never_create_tables_in_an_empty_postgres(tmp_path: Path) -> None:
    with postgres_schema_url() as url:
        done = registry_command("--database-url", url, "models", cwd=tmp_path)
        stderr = assert_one_error_line(done)
        assert (
            "no registry at postgresql+psycopg://" in stderr and "given by --database-url" in stderr
        )
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        try:
            assert sa.inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
    assert list(tmp_path.iterdir()) == []


def test_stored_invisible_characters_are_printed_escaped(filled: Filled) -> None:
    with ModelRegistry.open(filled.database_url, filled.artifact_root) as reg:
        reg.approve("churn/2", actor="bob", reason="ok\u2028alice promoted churn/9\x85\u202eevil")
    done = in_filled(filled, "audit", "--action", "approve")
    assert done.returncode == 0, done.stderr
    assert "ok\\u2028alice promoted churn/9\\x85\\u202eevil" in done.stdout.replace("\n", "")
    assert not any(ch in done.stdout for ch in "\u2028\x85\u202e")
