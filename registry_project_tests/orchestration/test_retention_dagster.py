"""Retention in Dagster (issue 21, 3): the retention schedule (STOPPED by default) runs the
sweep and records what it deleted as observations on the dataset assets; the freshness
policy of `<model>/production` marks a production model older than the accepted age as
stale, evaluated by Dagster's own freshness daemon over a real instance and workspace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon

from registry_project import ModelRegistry
from registry_project.orchestration import (
    ModelRegistryResource,
    RegistryAssetProps,
    RegistryTranslator,
    registry_data_age_check,
    registry_dataset,
    registry_retention_schedule,
)
from registry_project.orchestration import retention as retention_job
from registry_project_tests.core.test_retention import backdate_snapshot
from registry_project_tests.orchestration import freshness_defs


@registry_dataset(dataset_name="customers")
def customers() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "spend": [1.0, 2.0, 3.0]})


def _observations(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[dg.AssetObservation]:
    records = instance.fetch_observations(key, limit=100).records
    return [r.event_log_entry.asset_observation for r in records]  # type: ignore[misc]


def test_the_retention_schedule_sweeps_and_observes_the_dataset_assets(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    schedule = registry_retention_schedule()
    assert schedule.default_status is dg.DefaultScheduleStatus.STOPPED
    defs = dg.Definitions(
        assets=[customers], schedules=[schedule], resources={"registry": registry_resource}
    )
    assert dg.materialize([customers], instance=instance, resources=defs.resources).success
    snapshot = registry.datasets("customers")[0]
    assert snapshot.asset_key == "customers"  # recorded by the dataset asset
    backdate_snapshot(registry, snapshot.id)
    registry.set_retention(dataset="customers", keep_days=30, actor="dpo", reason="GDPR")

    # The schedule asks for the sweep; a dry run deletes nothing and observes nothing.
    context = dg.build_schedule_context(instance=instance)
    requests = schedule.evaluate_tick(context).run_requests
    assert requests is not None and len(requests) == 1
    job = defs.resolve_job_def(schedule.job_name)
    dry = job.execute_in_process(
        instance=instance,
        run_config={"ops": {"registry_retention_sweep": {"config": {"dry_run": True}}}},
    )
    assert dry.success and dry.output_for_node("registry_retention_sweep")["due"] == 1
    assert not registry.get_dataset(snapshot.id).deleted
    assert _observations(instance, customers.key) == []

    result = job.execute_in_process(instance=instance)
    assert result.success
    assert result.output_for_node("registry_retention_sweep")["deleted"] == 1
    tombstone = registry.get_dataset(snapshot.id)
    assert tombstone.deleted and tombstone.deleted_by == retention_job.ACTOR
    (observed,) = _observations(instance, customers.key)
    assert observed.metadata[retention_job.RULE].value.startswith("dataset customers: keep 30")
    assert snapshot.id in observed.metadata[retention_job.DELETED_BY].value
    assert "older than 30 days" in observed.metadata[retention_job.WHY].value


def test_production_assets_have_a_freshness_policy_from_the_translator() -> None:
    policy = next(iter(freshness_defs.production.specs)).freshness_policy
    assert policy is not None and policy.fail_window.to_timedelta() == timedelta(hours=1)
    default = RegistryTranslator().get_freshness_policy(_props())
    assert default is not None and default.fail_window.to_timedelta() == timedelta(days=30)
    assert RegistryTranslator().get_freshness_policy(_props("training")) is None


def _props(role: str = "production") -> RegistryAssetProps:
    return RegistryAssetProps(role, role, "churn")  # type: ignore[arg-type]


def _freshness(instance: dg.DagsterInstance, at: datetime) -> FreshnessState:
    """Dagster's freshness daemon evaluates the code location once, at `at`."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=freshness_defs.__file__, attribute="defs"),
        location_name="freshness",
    )
    with (
        freeze_time(at),
        WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace,
    ):
        list(FreshnessDaemon().run_iteration(workspace))
    key = freshness_defs.production.key
    return instance.get_freshness_state_records([key])[key].freshness_state


def test_a_stale_production_model_shows_stale_in_dagster(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", str(registry_resource.database_url))
    monkeypatch.setenv("REGISTRY_ARTIFACT_ROOT", str(registry_resource.artifact_root))
    version = registry.register_model("churn", {"w": 1}, metrics={"auc": 0.9})
    registry.promote(version, actor="alice", reason="first")
    promoted_at = datetime.now(UTC)
    assert dg.materialize(
        [freshness_defs.production], instance=instance, resources={"registry": registry_resource}
    ).success
    assert _freshness(instance, promoted_at + timedelta(minutes=5)) is FreshnessState.PASS
    assert _freshness(instance, promoted_at + timedelta(minutes=40)) is FreshnessState.WARN
    assert _freshness(instance, promoted_at + timedelta(hours=2)) is FreshnessState.FAIL


def test_the_demo_opts_in_to_the_retention_schedule() -> None:
    from registry_project.definitions import defs

    schedule = defs.resolve_schedule_def("registry_retention_schedule")
    assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING  # the library's: STOPPED
    assert defs.resolve_job_def(schedule.job_name).name == "registry_retention"


def test_the_data_age_check_warns_when_production_was_trained_on_old_data(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    snapshot = registry.snapshot_dataset("customers", pd.DataFrame({"a": [1, 2]}))
    with registry.start_run("training", inputs=[snapshot]) as run:
        version = registry.register_model("churn", {"w": 1}, run=run)
    registry.promote(version, actor="alice", reason="first")
    check = registry_data_age_check(
        model_name="churn", production=freshness_defs.production, max_age=timedelta(days=30)
    )

    def evaluate() -> dg.AssetCheckEvaluation:
        result = dg.materialize(
            [freshness_defs.production, check],
            instance=instance,
            resources={"registry": registry_resource},
        )
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation

    fresh = evaluate()
    assert fresh.passed and "churn/1 was trained on data from" in (fresh.description or "")
    backdate_snapshot(registry, snapshot.id)  # the training data is now 100 days old
    stale = evaluate()
    assert not stale.passed and stale.severity is dg.AssetCheckSeverity.WARN
    assert "100 days old" in (stale.description or "")


def test_every_pipeline_has_the_data_age_check_unless_no_age_is_accepted() -> None:
    from registry_project.core.policy import PromotionPolicy
    from registry_project.orchestration import RegistryTranslatorSettings, build_model_pipeline
    from registry_project.orchestration.retention import DATA_AGE_CHECK
    from registry_project.pipelines.churn import PIPELINES
    from registry_project_tests.orchestration.test_decorators import auc_of, customer_split, fit

    for pipeline in PIPELINES:  # the demo's, with the default accepted age
        assert pipeline.data_age_check in pipeline.asset_checks
        spec = next(iter(pipeline.data_age_check.check_specs))
        assert spec.name == DATA_AGE_CHECK and spec.asset_key == pipeline.production.key
        assert not spec.blocking  # a warning: staleness does not stop promotions

    def build(settings: RegistryTranslatorSettings) -> Any:
        return build_model_pipeline(
            model_name="aged",
            datasets={"train": customer_split},
            holdout=customer_split,
            train=lambda train: fit(train, 1.0),
            evaluate=auc_of,
            policy=PromotionPolicy("accuracy"),
            translator=RegistryTranslator(settings),
        )

    unlimited = build(RegistryTranslatorSettings(production_max_age=None))
    assert unlimited.data_age_check is None and len(unlimited.asset_checks) == 1
