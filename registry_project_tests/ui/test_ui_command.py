"""`registry ui`: opens the registry of the global options and serves the UI with uvicorn."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from registry_project import ModelRegistry
from registry_project.cli.app import RegistryGroup
from registry_project.cli.ui_command import allowed_hosts, register, ui
from registry_project_tests.ui.fill import Demo

REGISTRY = Path(sys.executable).parent / "registry"


def _ui_command(registry: ModelRegistry, port: int) -> list[str]:
    return [
        str(REGISTRY),
        "--database-url",
        registry.config.database_url,
        "--artifact-root",
        registry.config.artifact_root,
        "ui",
        "--port",
        str(port),
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/")
    if host is not None:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_command_serves_the_registry_on_host_and_port(
    demo: Demo, demo_registry: ModelRegistry
) -> None:
    port = _free_port()
    server = subprocess.Popen(
        _ui_command(demo_registry, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(port)
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the UI did not start within 60 s"
                time.sleep(0.2)
        assert status == 200 and "churn" in body
        # Served on loopback, it refuses other Host names (DNS rebinding).
        assert _get(port, host="attacker.example")[0] == 400
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in stderr


def test_a_busy_port_is_one_error_line_before_any_banner(
    demo: Demo, demo_registry: ModelRegistry
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as occupied:
        port = occupied.getsockname()[1]
        done = subprocess.run(
            _ui_command(demo_registry, port), capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"error: port {port} is already in use on 127.0.0.1")
    assert done.stderr.count("\n") == 1 and "--port" in done.stderr
    assert "Traceback" not in done.stderr and "registry UI" not in done.stderr


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
