"""The whole demo materialized with Dagster's own `materialize` against a real registry."""

from __future__ import annotations

import dagster as dg
import pytest

from registry_project import ModelRegistry, Stage
from registry_project.orchestration import ModelRegistryResource
from registry_project.pipelines.churn import DATASETS, churn, churn_forest

TRAINING_SELECTION = [
    "customers",
    "customers_holdout",
    "churn/churn_candidate",
    "churn/churn_evaluation",
]


def _all_assets() -> list[dg.AssetsDefinition]:
    return [*DATASETS, *churn.assets, *churn_forest.assets]


def _materialize(
    instance: dg.DagsterInstance,
    resource: ModelRegistryResource,
    selection: list[str],
    run_config: dg.RunConfig | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        _all_assets(),
        instance=instance,
        resources={"registry": resource},
        selection=selection,
        run_config=run_config,
        raise_on_error=False,
    )


def test_training_and_evaluation_record_lineage_and_metadata(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    result = _materialize(instance, registry_resource, TRAINING_SELECTION)
    assert result.success

    version = registry.get_version("churn/1")
    assert version.stage is Stage.EXPERIMENT
    assert version.flavor == "joblib"
    assert version.dagster_run_id == result.run_id
    assert version.asset_key == "churn/churn_candidate"
    assert set(version.metrics) >= {"auc", "log_loss", "accuracy", "train_accuracy"}

    lineage = registry.lineage(version)
    by_name = {d.snapshot.name: d for d in lineage.datasets}
    assert by_name["customers"].relation == "trained"
    assert by_name["customers_holdout"].relation == "evaluated"
    assert lineage.run is not None and lineage.run.dagster_run_id == result.run_id
    assert dict(lineage.run.params) == {"C": 1.0}
    assert lineage.environment is not None and lineage.environment.packages_digest
    assert lineage.code is not None

    snapshot_event = instance.get_latest_materialization_event(dg.AssetKey("customers"))
    assert snapshot_event is not None and snapshot_event.asset_materialization is not None
    recorded = snapshot_event.asset_materialization.metadata
    snapshot = registry.get_dataset(recorded["registry/snapshot_id"].value)
    assert recorded["dagster/row_count"].value == snapshot.row_count == 2000
    assert recorded["registry/digest"].value == by_name["customers"].snapshot.digest
    assert [c.name for c in recorded["dagster/column_schema"].value.columns][:2] == [
        "customer_id",
        "tenure_months",
    ]
    assert snapshot.dagster_run_id == result.run_id

    candidate_event = instance.get_latest_materialization_event(
        dg.AssetKey(["churn", "churn_candidate"])
    )
    assert candidate_event is not None and candidate_event.asset_materialization is not None
    candidate_meta = candidate_event.asset_materialization.metadata
    assert candidate_meta["registry/version"].value == 1
    assert candidate_meta["registry/version_id"].value == version.id
    assert isinstance(candidate_meta["metric/train_accuracy"].value, float)

    evaluation = instance.get_latest_materialization_event(
        dg.AssetKey(["churn", "churn_evaluation"])
    )
    assert evaluation is not None and evaluation.asset_materialization is not None
    evaluation_meta = evaluation.asset_materialization.metadata
    assert evaluation_meta["registry/gates_passed"].value is True
    assert "| auc |" in evaluation_meta["comparison"].value
    checks = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == evaluation.asset_materialization.asset_key
    ]
    assert {c.check_name for c in checks} == {
        "auc_threshold",
        "accuracy_threshold",
        "log_loss_regression",
    }
    assert all(c.passed for c in checks)


def test_same_day_rematerialization_reuses_the_snapshot(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    _materialize(instance, registry_resource, ["customers"])
    _materialize(instance, registry_resource, ["customers"])
    assert len(registry.datasets("customers")) == 1
    versions = [
        event.asset_materialization.tags.get("dagster/data_version")
        for event in instance.fetch_materializations(dg.AssetKey("customers"), limit=10).records
        if event.asset_materialization is not None
    ]
    assert len(versions) == 2 and versions[0] == versions[1]


def test_full_life_cycle_promotes_and_scores(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    assert _materialize(instance, registry_resource, TRAINING_SELECTION).success
    candidate = registry.get_version("churn/1")
    config = dg.RunConfig(
        ops={
            "churn__churn_production": {
                "config": {
                    "candidate_version_id": candidate.id,
                    "expected_production_id": "",
                    "reason": "first model",
                }
            }
        }
    )
    promoted = _materialize(
        instance, registry_resource, ["churn/churn_production", "churn/churn_scores"], config
    )
    assert promoted.success
    assert registry.get_version("churn@production").id == candidate.id
    scores = registry.datasets("churn-scores")
    assert len(scores) == 1 and scores[0].row_count == 2000
    event = registry.audit_log(model="churn", action="promote")[-1]
    assert event.actor == "dagster:churn/production"


@pytest.mark.parametrize("pipeline", [churn, churn_forest], ids=lambda p: p.model_name)
def test_both_models_come_from_the_same_factories(pipeline: object) -> None:
    keys = {a.key.to_user_string() for a in pipeline.assets}  # type: ignore[attr-defined]
    name = pipeline.model_name  # type: ignore[attr-defined]
    ident = name.replace("-", "_")
    assert keys == {
        f"{name}/{ident}_candidate",
        f"{name}/{ident}_evaluation",
        f"{name}/{ident}_production",
        f"{name}/{ident}_scores",
    }


def test_materializations_link_to_the_registry_ui_when_configured(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGISTRY_UI_URL", "http://127.0.0.1:3001/")
    assert _materialize(instance, registry_resource, TRAINING_SELECTION[:3]).success
    event = instance.get_latest_materialization_event(dg.AssetKey(["churn", "churn_candidate"]))
    assert event is not None and event.asset_materialization is not None
    link = event.asset_materialization.metadata["registry/ui"]
    assert link.value == "http://127.0.0.1:3001/models/churn/versions/1"


# Dagster's own automation tester passes a beta parameter internally.
@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_retraining_follows_changed_training_data_not_every_snapshot(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defs = dg.Definitions(assets=_all_assets(), resources={"registry": registry_resource})
    candidate = dg.AssetKey(["churn", "churn_candidate"])
    assert _materialize(instance, registry_resource, TRAINING_SELECTION).success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # the baseline

    # Same day, same rows: the snapshot is the same, its data version too. No retraining.
    assert _materialize(instance, registry_resource, ["customers"]).success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(candidate) == set()

    # A new day's data: a new data version, so the candidate retrains (and only then).
    monkeypatch.setenv("REGISTRY_DEMO_DAY", "2026-11-03")
    assert _materialize(instance, registry_resource, ["customers"]).success
    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
    assert tick.get_requested_partitions(candidate) == {None}


def test_the_demo_models_reproduce_bit_identically_at_the_recorded_commit(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess

    from registry_project.core import environment
    from registry_project.core.entities import ReproductionOutcome
    from registry_project.pipelines.churn import reproduce_forest, reproduce_logistic

    # Trained from a clean checkout, as a reproducible version must be.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "README").write_text("demo\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "demo"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=checkout,
            check=True,
        )
    monkeypatch.chdir(checkout)
    environment._recent_captures.clear()
    selection = [*TRAINING_SELECTION, "churn-forest/churn_forest_candidate"]
    assert _materialize(instance, registry_resource, selection).success
    for ref, train in (("churn/1", reproduce_logistic), ("churn-forest/1", reproduce_forest)):
        assert registry.lineage(ref).code.dirty is False
        result = registry.reproduce(ref, train=train, actor="auditor")
        assert result.outcome is ReproductionOutcome.IDENTICAL, result.detail
        assert result.environment_differences == ()


def test_force_deleting_productions_training_data_fails_the_blocking_check(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    assert _materialize(instance, registry_resource, TRAINING_SELECTION).success
    registry.promote("churn/1", actor="alice", reason="first")
    check = churn.deleted_data_check
    assert check is not None and check in churn.asset_checks

    def run_check() -> dg.AssetCheckEvaluation:
        result = dg.materialize(
            [*_all_assets(), check],
            instance=instance,
            resources={"registry": registry_resource},
            selection=dg.AssetSelection.checks(check),
            raise_on_error=False,
        )
        [evaluation] = result.get_asset_check_evaluations()
        return evaluation

    assert run_check().passed
    customers = next(
        d.snapshot for d in registry.lineage("churn/1").datasets if d.snapshot.name == "customers"
    )
    registry.delete_dataset(customers, actor="dpo", reason="GDPR request 17", force=True)
    failed = run_check()
    assert not failed.passed and failed.severity is dg.AssetCheckSeverity.ERROR
    assert failed.description.startswith("churn/1 was trained on deleted data: ")
    assert (
        f"customers@{customers.digest[:12]} (trained), deleted by dpo for GDPR request 17"
        in failed.description
    )
    spec = next(iter(check.check_specs))
    assert spec.blocking and spec.asset_key == churn.production.key
