"""The real Dagster tools on the project's workspace: validate, webserver (+ Chromium), daemon."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_project import ModelRegistry
from registry_project.core.errors import NotFoundError
from registry_project_tests.browser import render_page
from registry_project_tests.docs_pictures import publish

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / "workspace.yaml"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def project_env(tmp_path: Path) -> dict[str, str]:
    """A fresh DAGSTER_HOME with the project's own dagster.yaml, and a fresh registry.

    The Dagster tools run with DAGSTER_HOME as their working directory (see `_home`), as
    `DAGSTER_HOME=$PWD dagster dev` does at the project root: the yaml's relative `.dagster`
    storage then lands in this temporary home, not in the checkout.
    """
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        REGISTRY_DATABASE_URL=f"sqlite:///{tmp_path / 'registry.db'}",
        REGISTRY_ARTIFACT_ROOT=str(tmp_path / "artifacts"),
        REGISTRY_DEMO_DAY="2026-11-02",
    )
    return env


def _home(env: dict[str, str]) -> Path:
    return Path(env["DAGSTER_HOME"])


@contextlib.contextmanager
def _background(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """Run a server in its own process group; stop the whole group afterwards."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command,
            cwd=_home(env),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_for_http(url: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    pytest.fail(f"{url} did not come up within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize(
    "target",
    [["-w", str(WORKSPACE)], ["-m", "examples.breast_cancer.definitions"]],
    ids=["workspace", "walk-through"],
)
def test_definitions_validate(project_env: dict[str, str], target: list[str]) -> None:
    done = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", *target],
        cwd=_home(project_env),
        env=project_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr


ASSET_QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } groupName kinds } }"


@pytest.mark.slow
def test_webserver_serves_the_lineage_graph(project_env: dict[str, str], tmp_path: Path) -> None:
    # Materialize the training side first, so the graph shows real runs and passing checks.
    selection = "customers,customers_holdout,churn/churn_candidate,churn/churn_evaluation"
    materialized = subprocess.run(
        [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "registry_project.definitions",
            "--select",
            selection,
        ],
        cwd=_home(project_env),
        env=project_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert materialized.returncode == 0, materialized.stdout[-3000:] + materialized.stderr[-3000:]
    port = _free_port()
    log = tmp_path / "webserver.log"
    command = [
        str(BIN / "dagster-webserver"),
        "-w",
        str(WORKSPACE),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with _background(command, project_env, log):
        base = f"http://127.0.0.1:{port}"
        _wait_for_http(f"{base}/server_info", log)
        request = urllib.request.Request(
            f"{base}/graphql",
            data=json.dumps({"query": ASSET_QUERY}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            nodes = json.load(response)["data"]["assetNodes"]
        edges = {
            ("/".join(dep["path"]), "/".join(node["assetKey"]["path"]))
            for node in nodes
            for dep in node["dependencyKeys"]
        }
        for model in ("churn", "churn-forest"):
            label = model.replace("-", "_")
            assert ("customers", f"{model}/{label}_candidate") in edges
            assert (f"{model}/{label}_candidate", f"{model}/{label}_evaluation") in edges
            assert ("customers_holdout", f"{model}/{label}_evaluation") in edges
            assert (f"{model}/{label}_evaluation", f"{model}/{label}_production") in edges
            assert (f"{model}/{label}_production", f"{model}/{label}_scores") in edges
        # The graph labels a node with its key's last part: no two may be the same.
        labels = [node["assetKey"]["path"][-1] for node in nodes]
        assert len(labels) == len(set(labels)) == 11, sorted(labels)  # with registry/audit_chain
        kinds = {"/".join(n["assetKey"]["path"]): set(n["kinds"]) for n in nodes}
        assert "parquet" in kinds["customers"]

        page = f"{base}/locations/__repository__@registry_project/asset-groups/churn_demo"
        shot = tmp_path / "asset-graph.png"
        rendered = render_page(page, shot, expect=("candidate", "evaluation", "production"))
        for name in ("customers", "candidate", "evaluation", "production", "scores"):
            assert name in rendered, f"{name!r} not rendered in the asset graph page"
        assert shot.stat().st_size > 10_000
        publish(shot, "asset-graph.png")  # only under `python -m ...docs_pictures`


@pytest.mark.slow
def test_daemon_runs_the_life_cycle_to_production(
    project_env: dict[str, str], tmp_path: Path
) -> None:
    """Under the real daemon, with nothing materialized: the automation sensor snapshots the
    data and trains, then the promotion sensor's run puts a version in production."""
    log = tmp_path / "daemon.log"
    command = [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
    with _background(command, project_env, log):
        registry = ModelRegistry.open(
            project_env["REGISTRY_DATABASE_URL"], project_env["REGISTRY_ARTIFACT_ROOT"]
        )
        try:
            deadline = time.monotonic() + 300
            production = None
            while time.monotonic() < deadline and production is None:
                time.sleep(5)
                try:
                    production = registry.get_version("churn@production")
                except NotFoundError:
                    continue
            assert production is not None, log.read_text()[-5000:]
            assert production.version == 1
            event = registry.audit_log(model="churn", action="promote")[-1]
            assert event.actor == "dagster:churn/production"
            assert production.dagster_run_id
        finally:
            registry.close()
