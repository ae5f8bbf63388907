"""A demo registry and a Starlette TestClient over the UI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from registry_project import ModelRegistry
from registry_project.ui import create_app
from registry_project_tests.ui.fill import Demo, fill_demo

DAGSTER_URL = "http://dagster.example:3000"


@pytest.fixture
def demo_registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path / "art")) as reg:
        yield reg


@pytest.fixture
def demo(demo_registry: ModelRegistry) -> Demo:
    return fill_demo(demo_registry)


@pytest.fixture
def client(demo_registry: ModelRegistry, demo: Demo) -> Iterator[TestClient]:
    app = create_app(demo_registry, dagster_url=DAGSTER_URL, verify_max_age=0)
    with TestClient(app) as test_client:
        yield test_client
