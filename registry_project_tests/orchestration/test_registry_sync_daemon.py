"""Under the real `dagster-daemon`: an out-of-band `registry promote` (the real CLI, in its
own process) reaches the `<model>/production` asset's history, and the scores re-run. And
`dagster dev` starts on the project's own dagster.yaml."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from registry_project import ModelRegistry
from registry_project.core.errors import NotFoundError
from registry_project.pipelines.churn import churn
from registry_project_tests.orchestration.test_dagster_services import (
    BIN,
    WORKSPACE,
    _background,
    _free_port,
    _wait_for_http,
    project_env,  # noqa: F401 (the fixture)
)

PRODUCTION = churn.production.key
assert churn.scores is not None
SCORES = churn.scores.key


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, object] | None:
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def _wait_for(condition, timeout: float, log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(3)
    pytest.fail(f"not reached within {timeout}s; daemon log:\n{log.read_text()[-5000:]}")


@pytest.mark.slow
def test_cli_promotion_reaches_the_production_asset_under_the_daemon(
    project_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = Path(project_env["DAGSTER_HOME"])
    # The project's dagster.yaml keeps storage under ./.dagster relative to the working
    # directory: read the instance from the home, as the daemon (started there) writes it.
    monkeypatch.chdir(home)
    log = tmp_path / "daemon.log"
    registry = ModelRegistry.open(
        project_env["REGISTRY_DATABASE_URL"], project_env["REGISTRY_ARTIFACT_ROOT"]
    )
    command = [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
    try:
        # The instance's SQLite storage is created here, before the daemon starts: two
        # processes creating it at once collide ("table secondary_indexes already exists").
        with (
            dg.DagsterInstance.from_config(str(home)) as instance,
            _background(command, project_env, log),
        ):

            def first_production() -> object:
                try:
                    registry.get_version("churn@production")
                except NotFoundError:
                    return None
                return _latest(instance, SCORES)  # promoted by Dagster, scores written

            _wait_for(first_production, 300, log)
            assert (home / ".dagster" / "history" / "runs.db").exists()  # storage in the home
            reported_by_dagster = _latest(instance, PRODUCTION)
            assert reported_by_dagster is not None
            assert reported_by_dagster["registry/version"] == 1

            # Outside Dagster: a hand-made churn/2 (the same model), promoted with the CLI.
            hotfix = registry.register_model(
                "churn", registry.load_model("churn/1"), actor="alice", description="hotfix"
            )
            promoted = subprocess.run(
                [
                    str(BIN / "registry"),
                    "--actor",
                    "alice",
                    "promote",
                    "churn/2",
                    "--reason",
                    "hotfix for incident 7",
                    "--expect",
                    "churn/1",
                ],
                env=project_env,
                cwd=home,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert promoted.returncode == 0, promoted.stderr
            promoted_at = time.monotonic()

            def reported() -> dict[str, object] | None:
                latest = _latest(instance, PRODUCTION)
                if latest and latest.get("registry/version_id") == hotfix.id:
                    return latest
                return None

            recorded = _wait_for(reported, 90, log)
            assert time.monotonic() - promoted_at < 60  # "within a minute"
            assert recorded["registry/actor"] == "alice"
            assert recorded["registry/reason"] == "hotfix for incident 7"
            head = registry.audit_log(newest_first=True, limit=1)[0]
            assert recorded["registry/audit_head_hash"] == head.hash

            # Exactly one report of the CLI promotion, none for Dagster's own promotion.
            history = instance.fetch_materializations(PRODUCTION, limit=20).records
            by_actor = [
                r.asset_materialization.metadata.get("registry/actor")
                for r in history
                if r.asset_materialization is not None
            ]
            assert [a.value for a in by_actor if a is not None] == ["alice"]

            # The scores re-run on the new production version.
            def rescored() -> dict[str, object] | None:
                latest = _latest(instance, SCORES)
                return latest if latest and latest["registry/scored_with"] == "churn/2" else None

            _wait_for(rescored, 120, log)
    finally:
        registry.close()


@pytest.mark.slow
def test_dagster_dev_runs_on_the_project_instance(
    project_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """`DAGSTER_HOME=$PWD dagster dev`, as the README says, with the root dagster.yaml: the
    webserver answers and the instance's storage is the yaml's `.dagster` folder."""
    home = Path(project_env["DAGSTER_HOME"])
    port = _free_port()
    log = tmp_path / "dev.log"
    command = [
        str(BIN / "dagster"),
        "dev",
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
            data=json.dumps({"query": "{ instance { info } }"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            info = json.load(response)["data"]["instance"]["info"]
        assert "base_dir: .dagster" in info and "telemetry:\n  enabled: false" in info
        assert (home / ".dagster" / "history" / "runs.db").exists()
