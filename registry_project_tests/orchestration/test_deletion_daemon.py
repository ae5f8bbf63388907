"""Under the real `dagster-daemon`, on the demo's code location: the demo runs its life
cycle to a production churn model; the training data is force-deleted with the real CLI
(a GDPR request); the next day's daemon records the failure of `trained_on_live_data`
on churn/production, runs the retraining job on that day's data, and the new candidate goes
through its gates and the promotion sensor to production, where the check passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg
import pytest

from registry_project import ModelRegistry
from registry_project.core.errors import NotFoundError
from registry_project.orchestration.deletion import CHECK_NAME
from registry_project.pipelines.churn import churn
from registry_project_tests.orchestration.test_dagster_services import (
    BIN,
    WORKSPACE,
    _background,
    project_env,  # noqa: F401 (the fixture)
)
from registry_project_tests.orchestration.test_registry_sync_daemon import _latest, _wait_for

PRODUCTION = churn.production.key
CHECK = dg.AssetCheckKey(PRODUCTION, CHECK_NAME)
assert churn.scores is not None
SCORES = churn.scores.key


def _check_history(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    """(status, description) of every execution of the check, newest first."""
    found = []
    for record in instance.event_log_storage.get_asset_check_execution_history(CHECK, limit=50):
        data = record.event.dagster_event.event_specific_data if record.event else None
        found.append((record.status.value, getattr(data, "description", None) or ""))
    return found


@pytest.mark.slow
def test_deleted_training_data_is_retrained_away_under_the_daemon(
    project_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = Path(project_env["DAGSTER_HOME"])
    monkeypatch.chdir(home)  # the project's dagster.yaml keeps storage under ./.dagster
    command = [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
    registry = ModelRegistry.open(
        project_env["REGISTRY_DATABASE_URL"], project_env["REGISTRY_ARTIFACT_ROOT"]
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            first_log = tmp_path / "daemon-day1.log"
            with _background(command, project_env, first_log):

                def first_production() -> object:
                    try:
                        registry.get_version("churn@production")
                    except NotFoundError:
                        return None
                    return _latest(instance, SCORES)

                _wait_for(first_production, 420, first_log)
            stale = registry.get_version("churn@production")
            [customers] = [
                d.snapshot
                for d in registry.lineage(stale).datasets
                if d.snapshot.name == "customers"
            ]
            deleted = subprocess.run(
                [
                    str(BIN / "registry"),
                    "--actor",
                    "dpo",
                    "delete-dataset",
                    customers.id,
                    "--force",
                    "--reason",
                    "GDPR request 17",
                ],
                env=project_env,
                cwd=home,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert deleted.returncode == 0, deleted.stderr
            assert registry.get_version(stale.id).trained_on_deleted_data

            # The next day: the daemon finds production trained on deleted data.
            next_day = dict(project_env, REGISTRY_DEMO_DAY="2026-11-03")
            second_log = tmp_path / "daemon-day2.log"
            with _background(command, next_day, second_log):

                def replaced() -> object:
                    serving = registry.get_version("churn@production")
                    if serving.id == stale.id:
                        return None
                    history = _check_history(instance)
                    return serving if history and history[0][0] == "SUCCEEDED" else None

                serving = _wait_for(replaced, 600, second_log)  # 2 shared cores: generous
            history = _check_history(instance)
            failed = [text for status, text in history if status == "FAILED"]
            assert failed and "deleted by dpo for GDPR request 17" in failed[-1]
            trained_on = [d.snapshot for d in registry.lineage(serving).datasets]
            assert trained_on and not any(s.deleted for s in trained_on)
            assert customers.digest not in {s.digest for s in trained_on}
            [promotion] = [
                e for e in registry.audit_log(action="promote") if e.subject_id == serving.id
            ]
            assert f"replaces {stale.ref}, trained on deleted data" in (promotion.reason or "")
            runs = instance.get_runs(
                filters=dg.RunsFilter(
                    tags={"registry/retrain_reason": f"{stale.ref} was trained on deleted data"}
                )
            )
            assert [run.job_name for run in runs] == ["churn_retraining"]
    finally:
        registry.close()
