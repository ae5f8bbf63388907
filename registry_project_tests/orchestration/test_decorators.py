"""The decorators as asset bodies: inputs, `dg.Config`, resources, multi-asset splits,
non-registry upstream assets, partitions, the translator and the library's defaults."""

from __future__ import annotations

from datetime import date
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from registry_project import ModelRegistry, PromotionPolicy
from registry_project.core.entities import DatasetKind
from registry_project.core.errors import InvalidInputError
from registry_project.orchestration import (
    ModelRegistryResource,
    RegistryAssetProps,
    RegistryTranslator,
    RegistryTranslatorSettings,
    TrainingResult,
    build_model_pipeline,
    registry_dataset,
    registry_promotion_sensor,
    registry_training,
)
from registry_project.orchestration import metadata as md
from registry_project.pipelines.churn_data import FEATURES, LABEL, generate_customers

DAY = date(2026, 11, 2)


class Offset(dg.ConfigurableResource):
    """A user resource, to show resources reach the function next to the registry's."""

    rows: int = 300


@dg.asset
def raw_customers(offset: Offset) -> pd.DataFrame:
    """An ordinary asset of the user's project (not a registry snapshot)."""
    return generate_customers(DAY, offset.rows, salt="raw")


class SplitConfig(dg.Config):
    holdout_share: float = 0.25


@registry_dataset(outs=["customers_train", "customers_test"], group_name="split")
def customer_split(config: SplitConfig, raw_customers: pd.DataFrame) -> Any:
    cut = int(len(raw_customers) * (1 - config.holdout_share))
    return raw_customers.iloc[:cut], raw_customers.iloc[cut:]


class LogisticConfig(dg.Config):
    C: float = 1.0


def fit(frame: pd.DataFrame, c: float) -> TrainingResult:
    model = LogisticRegression(C=c, max_iter=500).fit(frame[FEATURES], frame[LABEL])
    return TrainingResult(
        model, metrics={"train_accuracy": model.score(frame[FEATURES], frame[LABEL])}
    )


def auc_of(model: Any, holdout: pd.DataFrame) -> dict[str, float]:
    return {"accuracy": float(model.score(holdout[FEATURES], holdout[LABEL]))}


def _materialize(
    assets: list[Any], resource: ModelRegistryResource, instance: dg.DagsterInstance, **kw: Any
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, instance=instance, resources={"registry": resource, "offset": Offset()}, **kw
    )


def test_multi_asset_split_snapshots_each_output_from_a_user_asset(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    result = _materialize(
        [raw_customers, customer_split],
        registry_resource,
        instance,
        run_config=dg.RunConfig(ops={"customer_split": SplitConfig(holdout_share=0.5)}),
    )
    assert result.success
    train = registry.datasets("customers_train")
    test = registry.datasets("customers_test")
    assert [s.row_count for s in train] == [150] and [s.row_count for s in test] == [150]
    assert train[0].asset_key == "customers_train" and test[0].asset_key == "customers_test"
    for key, snapshot in (("customers_train", train[0]), ("customers_test", test[0])):
        recorded = md.recorded_metadata(instance, dg.AssetKey(key))
        assert recorded is not None and recorded[md.SNAPSHOT_ID].value == snapshot.id
    assert len(customer_split.keys) == 2  # one multi-asset, two snapshots
    assert customer_split.group_names_by_key[dg.AssetKey("customers_train")] == "split"


def test_training_body_gets_config_resources_and_a_non_registry_input(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    seen: dict[str, Any] = {}

    @registry_training(model_name="points")
    def points_candidate(
        context: dg.AssetExecutionContext,
        config: LogisticConfig,
        offset: Offset,
        raw_customers: pd.DataFrame,
    ) -> TrainingResult:
        seen.update(run_id=context.run.run_id, rows=offset.rows, frame_rows=len(raw_customers))
        return fit(raw_customers, config.C)

    result = _materialize(
        [raw_customers, points_candidate],
        registry_resource,
        instance,
        run_config=dg.RunConfig(ops={points_candidate.op.name: LogisticConfig(C=0.25)}),
    )
    assert result.success
    assert seen == {"run_id": result.run_id, "rows": 300, "frame_rows": 300}
    version = registry.get_version("points/1")
    lineage = registry.lineage(version)
    assert lineage.run is not None and dict(lineage.run.params) == {"C": 0.25}
    (pinned,) = lineage.datasets
    assert pinned.snapshot.kind is DatasetKind.REFERENCE and pinned.role == "train"
    upstream = instance.get_latest_materialization_event(dg.AssetKey("raw_customers"))
    assert upstream is not None and upstream.asset_materialization is not None
    data_version = upstream.asset_materialization.tags["dagster/data_version"]
    assert pinned.snapshot.name == "raw_customers" and pinned.snapshot.version_id == data_version
    recorded = md.recorded_metadata(instance, points_candidate.key)
    assert recorded is not None and recorded[md.PARAMS].value == {"C": 0.25}


def test_training_refuses_a_non_registry_asset_named_as_a_snapshot(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource
) -> None:
    @registry_training(model_name="points", datasets={"train": raw_customers})
    def points_candidate(train: pd.DataFrame) -> TrainingResult:
        return fit(train, 1.0)

    result = _materialize(
        [raw_customers, points_candidate], registry_resource, instance, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "has no materialization recording 'registry/snapshot_id'" in str(
        failure.event_specific_data.error  # type: ignore[union-attr]
    )


def test_pipeline_accepts_a_split_multi_asset_and_asset_keys() -> None:
    for datasets, holdout in (
        ({"train": customer_split}, customer_split),
        ({"train": dg.AssetKey("customers_train")}, "customers_test"),
    ):
        pipeline = build_model_pipeline(
            model_name="split-model",
            datasets=datasets,
            holdout=holdout,
            train=lambda train: fit(train, 1.0),
            evaluate=auc_of,
            policy=PromotionPolicy("accuracy"),
        )
        defs = pipeline.definitions(
            extra_assets=[raw_customers, customer_split],
            resources={"registry": ModelRegistryResource(), "offset": Offset()},
        )
        graph = defs.resolve_asset_graph()
        deps = {k.to_user_string() for k in graph.get(pipeline.evaluation.key).parent_keys}
        assert deps == {"split-model/split_model_candidate", "customers_test"}
        job = defs.resolve_job_def(pipeline.retraining_job.name)
        assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
            "raw_customers",
            "customers_train",
            "customers_test",
            "split-model/split_model_candidate",
            "split-model/split_model_evaluation",
        }
    with pytest.raises(InvalidInputError, match="is a multi-asset"):
        build_model_pipeline(
            model_name="x",
            datasets={"validation": customer_split},
            holdout=customer_split,
            train=lambda train: fit(train, 1.0),
            evaluate=auc_of,
            policy=PromotionPolicy("accuracy"),
        )


class TeamTranslator(RegistryTranslator):
    def get_asset_key(self, props: RegistryAssetProps) -> dg.AssetKey:
        return super().get_asset_key(props).with_prefix("ml")

    def get_group_name(self, props: RegistryAssetProps) -> str | None:
        return "ml_models"

    def get_owners(self, props: RegistryAssetProps) -> list[str]:
        return ["team:ml"]


def test_translator_renames_keys_and_groups_and_the_life_cycle_still_runs(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    pipeline = build_model_pipeline(
        model_name="team",
        datasets={"train": customer_split},
        holdout=customer_split,
        train=lambda train: fit(train, 1.0),
        evaluate=auc_of,
        score=lambda model, data: data.assign(p=model.predict_proba(data[FEATURES])[:, 1]),
        policy=PromotionPolicy("accuracy"),
        translator=TeamTranslator(RegistryTranslatorSettings(enable_automatic_retraining=False)),
    )
    assert {a.key.to_user_string() for a in pipeline.assets} == {
        "ml/team/team_candidate",
        "ml/team/team_evaluation",
        "ml/team/team_production",
        "ml/team/team_scores",
    }
    for asset in pipeline.assets:
        assert set(asset.group_names_by_key.values()) == {"ml_models"}
        assert asset.specs_by_key[asset.key].owners == ["team:ml"]
        assert asset.automation_conditions_by_key.get(asset.key) is None
    assert pipeline.automation_sensor is None

    assets = [raw_customers, customer_split, *pipeline.assets]
    assert _materialize(
        assets, registry_resource, instance, selection=pipeline.retraining_job.selection
    ).success
    with dg.build_sensor_context(
        instance=instance, resources={"registry": registry_resource}
    ) as context:
        request = pipeline.promotion_sensor.evaluate_tick(context).run_requests[0]
    promoted = _materialize(
        assets,
        registry_resource,
        instance,
        selection=pipeline.promotion_job.selection,
        run_config=request.run_config,
    )
    assert promoted.success
    assert registry.get_version("team@production").version == 1
    scores = md.recorded_metadata(instance, dg.AssetKey(["ml", "team", "team_scores"]))
    assert scores is not None and scores[md.SCORED_WITH].value == "team/1"

    # Every key a registry asset recorded is a documented, public one.
    registry_keys = [*customer_split.keys, *(a.key for a in pipeline.assets)]
    recorded = set()
    for key in registry_keys:
        metadata = md.recorded_metadata(instance, key)
        assert metadata is not None, key
        for k in metadata:
            for prefix in (md.METRIC_PREFIX, md.RUN_METRIC_PREFIX):
                k = f"{prefix}<name>" if k.startswith(prefix) else k
            recorded.add(k)
    recorded.discard("path")  # the IO manager's (where it pickled the value), not ours
    assert recorded <= set(md.METADATA_KEYS), recorded - set(md.METADATA_KEYS)
    assert {md.VERSION_ID, md.SNAPSHOT_ID, md.GATES, md.STATUS, md.SCORED_WITH} <= recorded
    production = md.recorded_metadata(instance, dg.AssetKey(["ml", "team", "team_production"]))
    assert production is not None
    assert production[md.MODEL_CARD].value == registry.model_card("team/1")


def test_asset_checks_can_be_switched_off() -> None:
    from registry_project.orchestration import MetricThreshold

    def build(settings: RegistryTranslatorSettings) -> Any:
        return build_model_pipeline(
            model_name="gated",
            datasets={"train": customer_split},
            holdout=customer_split,
            train=lambda train: fit(train, 1.0),
            evaluate=auc_of,
            policy=PromotionPolicy("accuracy"),
            gates=[MetricThreshold("accuracy", minimum=0.5)],
            translator=RegistryTranslator(settings),
        )

    with_checks = build(RegistryTranslatorSettings()).evaluation
    assert [spec.name for spec in with_checks.check_specs] == ["accuracy_threshold"]
    without = build(RegistryTranslatorSettings(enable_asset_checks=False)).evaluation
    assert list(without.check_specs) == []


def test_library_sensors_and_schedules_default_to_stopped() -> None:
    pipeline = build_model_pipeline(
        model_name="quiet",
        datasets={"train": customer_split},
        holdout=customer_split,
        train=lambda train: fit(train, 1.0),
        evaluate=auc_of,
        policy=PromotionPolicy("accuracy"),
    )
    stopped = dg.DefaultSensorStatus.STOPPED
    assert pipeline.promotion_sensor.default_status == stopped
    assert pipeline.deleted_data_sensor is not None
    assert pipeline.deleted_data_sensor.default_status == stopped
    assert pipeline.automation_sensor is not None
    assert pipeline.automation_sensor.default_status == stopped
    assert pipeline.retraining_schedule is not None
    assert pipeline.retraining_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    bare = registry_promotion_sensor(
        model_name="quiet",
        evaluation=pipeline.evaluation,
        production=pipeline.production,
        policy=PromotionPolicy("accuracy"),
        job=pipeline.promotion_job,
    )
    assert bare.default_status == stopped
    # definitions() brings the automation sensor, so eager retraining works out of the box.
    defs = pipeline.definitions(
        extra_assets=[raw_customers, customer_split],
        resources={"registry": ModelRegistryResource(), "offset": Offset()},
    )
    sensor = defs.resolve_sensor_def("quiet_automation_sensor")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)


def test_demo_labels_are_unique_and_the_demo_opts_in_to_running() -> None:
    from registry_project.definitions import defs

    graph = defs.resolve_asset_graph()
    labels = [key.path[-1] for key in graph.get_all_asset_keys()]
    assert len(labels) == len(set(labels)) == 11  # with registry/audit_chain
    running = dg.DefaultSensorStatus.RUNNING
    assert all(s.default_status == running for s in defs.sensors or ())
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in defs.schedules or ())
