"""The team deployment, started for real: Dagster's instance on PostgreSQL (a fresh
database), the QueuedRunCoordinator and the default run launcher (every run its own
process), `dagster-daemon` and `dagster-webserver` as separate processes, two code-location
servers (the churn demo and the Component example project) registering into one registry
on PostgreSQL (another fresh database) with blobs in moto's S3 server over HTTP. Both
models reach production."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry
from registry_project.core.errors import NotFoundError
from registry_project_tests.backends import postgres_base_url
from registry_project_tests.core.s3_server import create_bucket, moto_s3_server
from registry_project_tests.orchestration.test_dagster_services import (
    BIN,
    ROOT,
    _background,
    _free_port,
    _wait_for_http,
)

EXAMPLE = ROOT / "examples" / "cancer_component"
# The instance configuration the README documents for teams (lifecycle's move of it to the
# repository root had not reached main when this test was written).
POSTGRES_INSTANCE_YAML = ROOT / "dagster.postgres.yaml"
DEADLINE_SECONDS = 420


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[sa.URL]:
    """CREATE DATABASE with a unique name on the test server; dropped (forced) afterwards."""
    base = sa.make_url(postgres_base_url())
    name = f"{kind}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def graphql(base: str, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["data"]
    except urllib.error.HTTPError as exc:
        pytest.fail(f"GraphQL {exc.code}: {exc.read().decode()[:2000]}")


LAUNCH = """mutation($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } } } }"""
START_SENSOR = """mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }"""
LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename } } } } }"""


def _wait_for_locations(base: str, names: set[str], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        entries = graphql(base, LOCATIONS, {})["workspaceOrError"]["locationEntries"]
        loaded = {
            e["name"]
            for e in entries
            if (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
        }
        if names <= loaded:
            return
        time.sleep(2)
    pytest.fail(f"code locations {names} did not load:\n{log.read_text()[-3000:]}")


def _production_versions(registry: ModelRegistry, models: list[str]) -> dict[str, int]:
    found = {}
    for model in models:
        with contextlib.suppress(NotFoundError):
            found[model] = registry.get_version(f"{model}@production").version
    return found


@pytest.mark.slow
def test_team_deployment_drives_two_code_locations_to_production(tmp_path: Path) -> None:
    with (
        fresh_database("dagster") as dagster_url,
        fresh_database("registry") as registry_url,
        moto_s3_server() as endpoint,
    ):
        bucket = create_bucket(endpoint)
        home = tmp_path / "dagster_home"
        home.mkdir()
        shutil.copy(POSTGRES_INSTANCE_YAML, home / "dagster.yaml")
        env = dict(os.environ)  # moto's fake AWS credentials included
        env.update(
            DAGSTER_HOME=str(home),
            DAGSTER_PG_HOST=dagster_url.host or "127.0.0.1",
            DAGSTER_PG_USER=dagster_url.username or "postgres",
            DAGSTER_PG_PASSWORD=dagster_url.password or "trust-auth-ignores-it",
            DAGSTER_PG_DB=dagster_url.database or "",
            REGISTRY_DATABASE_URL=registry_url.render_as_string(hide_password=False),
            REGISTRY_ARTIFACT_ROOT=f"s3://{bucket}/registry",
            REGISTRY_S3_ENDPOINT_URL=endpoint,
            REGISTRY_DEMO_DAY="2026-11-02",
            PYTHONPATH=os.pathsep.join([str(ROOT), str(EXAMPLE)]),
        )
        # Create the registry's schema once, before two locations race to it.
        registry = ModelRegistry.open(
            env["REGISTRY_DATABASE_URL"], env["REGISTRY_ARTIFACT_ROOT"], s3_endpoint_url=endpoint
        )
        demo_port, example_port, web_port = _free_port(), _free_port(), _free_port()
        workspace = tmp_path / "workspace.yaml"
        workspace.write_text(
            "load_from:\n"
            f"  - grpc_server: {{host: 127.0.0.1, port: {demo_port}, "
            "location_name: registry_project}\n"
            f"  - grpc_server: {{host: 127.0.0.1, port: {example_port}, "
            "location_name: cancer_component}\n"
        )

        def code_server(module: str, port: int, name: str) -> list[str]:
            return [
                str(BIN / "dagster"),
                *("code-server", "start", "-h", "127.0.0.1", "-p", str(port)),
                *("-m", module, "--location-name", name),
            ]

        logs = {name: tmp_path / f"{name}.log" for name in ("demo", "example", "web", "daemon")}
        with contextlib.ExitStack() as stack:
            stack.enter_context(
                _background(
                    code_server("registry_project.definitions", demo_port, "registry_project"),
                    env,
                    logs["demo"],
                )
            )
            stack.enter_context(
                _background(
                    code_server("cancer_component.definitions", example_port, "cancer_component"),
                    env,
                    logs["example"],
                )
            )
            web = [
                str(BIN / "dagster-webserver"),
                *("-w", str(workspace), "-h", "127.0.0.1", "-p", str(web_port)),
            ]
            stack.enter_context(_background(web, env, logs["web"]))
            base = f"http://127.0.0.1:{web_port}"
            _wait_for_http(f"{base}/server_info", logs["web"])
            _wait_for_locations(base, {"registry_project", "cancer_component"}, logs["web"])
            daemon = [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)]
            stack.enter_context(_background(daemon, env, logs["daemon"]))

            # The demo's sensors run by default; the example's are STOPPED (the library's
            # default): start its promotion sensor and queue its retraining job.
            selector = {
                "repositoryLocationName": "cancer_component",
                "repositoryName": "__repository__",
            }
            started = graphql(
                base,
                START_SENSOR,
                {"selector": {**selector, "sensorName": "tumour_promotion_sensor"}},
            )["startSensor"]
            assert started["__typename"] == "Sensor", started
            launched = graphql(
                base,
                LAUNCH,
                {"params": {"selector": {**selector, "jobName": "tumour_retraining"}}},
            )["launchPipelineExecution"]
            assert launched["__typename"] == "LaunchRunSuccess", launched

            models = ["churn", "tumour"]
            deadline = time.monotonic() + DEADLINE_SECONDS
            production = _production_versions(registry, models)
            while time.monotonic() < deadline and set(production) != set(models):
                time.sleep(5)
                production = _production_versions(registry, models)
            assert set(production) == set(models), (
                logs["daemon"].read_text()[-4000:] + logs["example"].read_text()[-2000:]
            )

        # Everything went where the configuration says: Dagster's runs in its PostgreSQL
        # database (each a separate process of the default launcher), the registry's rows in
        # the other, the bytes in S3.
        dagster_engine = sa.create_engine(dagster_url)
        with dagster_engine.connect() as connection:
            statuses = dict(
                connection.exec_driver_sql(
                    "SELECT status, count(*) FROM runs GROUP BY status"
                ).all()
            )
        dagster_engine.dispose()
        assert statuses.get("SUCCESS", 0) >= 4, statuses
        for model in models:
            version = registry.get_version(f"{model}@production")
            assert version.dagster_run_id
            assert registry.blobs.root_uri == f"s3://{bucket}/registry"
            assert registry.blobs.check(version.artifact_digest) is None
        registry.close()
