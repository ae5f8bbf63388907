"""The resource in a plain user job, and the retraining schedule."""

from __future__ import annotations

import dagster as dg

from registry_project import ModelRegistry
from registry_project.orchestration import ModelRegistryResource
from registry_project.pipelines.churn import churn


@dg.op
def register_rules(registry: ModelRegistryResource) -> str:
    mv = registry.get_registry().register_model("rules", {"threshold": 0.5})
    return mv.id


@dg.job
def rules_job() -> None:
    register_rules()


def test_plain_job_records_its_dagster_run_id(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    result = rules_job.execute_in_process(
        instance=instance, resources={"registry": registry_resource}
    )
    assert result.success
    version = registry.get_version(result.output_for_node("register_rules"))
    assert version.dagster_run_id == result.run_id
    assert registry.load_model(version) == {"threshold": 0.5}


@dg.op
def load_champion(registry: ModelRegistryResource) -> tuple[int, object]:
    reg = registry.get_registry()
    return reg.get_version("rules@champion").version, reg.load_model("rules@champion")


@dg.job
def champion_job() -> None:
    load_champion()


def test_an_alias_is_a_reference_through_the_resource(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    # Issue #15: aliases work wherever a reference is accepted, the Dagster resource too.
    registry.register_model("rules", {"threshold": 0.5}, actor="alice")
    registry.register_model("rules", {"threshold": 0.7}, actor="alice")
    registry.set_alias("rules", "champion", "rules/1", actor="ops", expected_current=None)
    result = champion_job.execute_in_process(
        instance=instance, resources={"registry": registry_resource}
    )
    assert result.success
    assert result.output_for_node("load_champion") == (1, {"threshold": 0.5})


def test_retraining_schedule_requests_the_retraining_job(instance: dg.DagsterInstance) -> None:
    (schedule,) = churn.schedules
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.job_name == "churn_retraining"
    context = dg.build_schedule_context(instance=instance)
    data = schedule.evaluate_tick(context)
    assert data.run_requests is not None and len(data.run_requests) == 1
    (retraining_job,) = [job for job in churn.jobs if job.name == "churn_retraining"]
    selected = {
        key.to_user_string()
        for key in retraining_job.selection.resolve(
            dg.Definitions(
                assets=_demo_assets(), resources={"registry": ModelRegistryResource()}
            ).resolve_asset_graph()
        )
    }
    assert selected == {
        "customers",
        "customers_holdout",
        "churn/churn_candidate",
        "churn/churn_evaluation",
    }


def _demo_assets() -> list[dg.AssetsDefinition]:
    from registry_project.pipelines.churn import DATASETS, churn_forest

    return [*DATASETS, *churn.assets, *churn_forest.assets]
