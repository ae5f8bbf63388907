"""Schema creation and migration policy, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from registry_project import ModelRegistry
from registry_project.core import errors
from registry_project.core.store import migrate, schema
from registry_project.core.store.engine import create_registry_engine
from registry_project_tests.backends import postgres_schema_url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        with postgres_schema_url() as url:
            yield url


def test_empty_database_is_created_at_head_and_matches_the_schema(database_url: str) -> None:
    ModelRegistry.open(database_url, "/tmp/unused-artifacts").close()
    engine = create_registry_engine(database_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), schema.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_older_schema_is_refused_with_the_upgrade_command(
    database_url: str, tmp_path: Path
) -> None:
    registry = ModelRegistry.open(database_url, str(tmp_path / "a"))
    registry.register_model("churn", 1)
    with registry.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    registry.close()
    with pytest.raises(errors.SchemaVersionError, match="registry db upgrade"):
        ModelRegistry.open(database_url, str(tmp_path / "a"))


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    registry = ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a"))
    with registry.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    registry.close()


def test_default_location_is_dot_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with ModelRegistry.open() as registry:
        registry.register_model("churn", 1)
    assert (tmp_path / ".registry" / "registry.db").exists()
    assert any((tmp_path / ".registry" / "artifacts").rglob("*"))


def test_environment_variables_choose_the_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("REGISTRY_ARTIFACT_ROOT", str(tmp_path / "env-artifacts"))
    with ModelRegistry.open() as registry:
        registry.register_model("churn", 1)
    assert (tmp_path / "env.db").exists()
    assert (tmp_path / "env-artifacts").exists()


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url", "oracle://a"])
def test_unsupported_database_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(errors.ConfigurationError):
        ModelRegistry.open(url, "/tmp/unused")


def test_unreachable_postgres_is_a_storage_error() -> None:
    with pytest.raises(errors.StorageError, match="cannot reach"):
        ModelRegistry.open("postgresql://postgres@127.0.0.1:1/none", "/tmp/unused")
