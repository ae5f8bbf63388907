"""Fixtures for the Dagster layer: a real temporary Dagster instance and a real registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from registry_project import ModelRegistry
from registry_project.orchestration import ModelRegistryResource

DEMO_DAY = "2026-11-02"


@pytest.fixture(autouse=True)
def _pinned_demo_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_DEMO_DAY", DEMO_DAY)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A real Dagster instance with SQLite storage in a temporary DAGSTER_HOME."""
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture
def registry_resource(tmp_path: Path) -> ModelRegistryResource:
    return ModelRegistryResource(
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        artifact_root=str(tmp_path / "artifacts"),
    )


@pytest.fixture
def registry(registry_resource: ModelRegistryResource) -> Iterator[ModelRegistry]:
    with ModelRegistry.open(
        registry_resource.database_url, registry_resource.artifact_root
    ) as opened:
        yield opened
