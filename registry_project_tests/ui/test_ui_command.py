"""`registry ui`: opens the registry of the global options and serves the UI with uvicorn."""

from __future__ import annotations

from typing import Any

import click
import pytest
import uvicorn
from click.testing import CliRunner
from starlette.testclient import TestClient

from registry_project import ModelRegistry
from registry_project.cli.app import CliState, RegistryGroup
from registry_project.cli.ui_command import allowed_hosts, register, ui
from registry_project.core.config import RegistryConfig
from registry_project_tests.ui.fill import Demo


def test_command_serves_the_registry_on_host_and_port(
    demo: Demo, demo_registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        served.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    config = RegistryConfig.resolve(
        demo_registry.config.database_url, demo_registry.config.artifact_root
    )
    state = CliState(config, actor=None, json=False)
    result = CliRunner().invoke(ui, ["--port", "3123"], obj=state, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:3123/" in result.stderr
    assert (served["host"], served["port"]) == ("127.0.0.1", 3123)
    with TestClient(served["app"], base_url="http://127.0.0.1:3123") as client:
        assert "churn" in client.get("/").text
    # Served on loopback, it refuses other Host names (DNS rebinding).
    with TestClient(served["app"], base_url="http://attacker.example") as client:
        assert client.get("/").status_code == 400


def test_command_rejects_a_bad_port() -> None:
    result = CliRunner().invoke(ui, ["--port", "70000"], obj=None)
    assert result.exit_code == 2 and "70000" in result.output


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", ["127.0.0.1", "localhost", "::1", "[::1]"]),
        ("localhost", ["127.0.0.1", "localhost", "::1", "[::1]"]),
        ("::1", ["127.0.0.1", "localhost", "::1", "[::1]"]),
        ("127.0.0.2", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"]),
        ("0.0.0.0", None),
        ("192.0.2.10", None),
        ("ui.internal", None),
    ],
)
def test_allowed_hosts(host: str, expected: list[str] | None) -> None:
    assert allowed_hosts(host) == expected


def test_register_adds_a_web_ui_section() -> None:
    group = RegistryGroup("registry")
    register(group)
    assert group.sections == {"Web UI": ["ui"]} and group.commands["ui"] is ui
    plain = click.Group("plain")
    register(plain)
    assert plain.commands["ui"] is ui
