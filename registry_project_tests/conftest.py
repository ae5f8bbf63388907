"""Shared fixtures: a registry on each real backend combination."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_project import ModelRegistry
from registry_project_tests.backends import postgres_schema_url
from registry_project_tests.core.s3_server import moto_s3_server

BACKENDS = ["sqlite-local", "postgres-local", "sqlite-s3"]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """One moto S3 server over HTTP for the session; yields its endpoint URL."""
    with moto_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A fresh, empty bucket on the moto server."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The registry reads these; a developer's own settings must not leak into tests.
    for name in ("REGISTRY_DATABASE_URL", "REGISTRY_ARTIFACT_ROOT", "REGISTRY_ACTOR"):
        monkeypatch.delenv(name, raising=False)


def open_registry(backend: str, tmp_path: Path, request: pytest.FixtureRequest, **kwargs):
    database, blobs = backend.split("-")
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        schema = postgres_schema_url()
        url = schema.__enter__()
        request.addfinalizer(lambda: schema.__exit__(None, None, None))
    if blobs == "local":
        registry = ModelRegistry.open(url, str(tmp_path / "artifacts"), **kwargs)
    else:
        endpoint = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        registry = ModelRegistry.open(
            url, f"s3://{bucket}/registry", s3_endpoint_url=endpoint, **kwargs
        )
    request.addfinalizer(registry.close)
    return registry


@pytest.fixture(params=BACKENDS)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    """A fresh registry on every backend combination."""
    return open_registry(request.param, tmp_path, request)


@pytest.fixture
def sqlite_registry(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    """A fresh registry on a SQLite file and local disk, for backend-independent logic."""
    return open_registry("sqlite-local", tmp_path, request)


def pytest_report_header() -> str:
    # CI runs the suite twice; the header says which way this run executes statements.
    from registry_project.core.store.prepared import prepared_statements_enabled

    way = "driver's cursor" if prepared_statements_enabled(os.environ) else "SQLAlchemy (off)"
    return f"registry prepared statements: {way} (REGISTRY_PREPARED_STATEMENTS)"
