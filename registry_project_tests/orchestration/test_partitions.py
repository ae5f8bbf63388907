"""A partitioned training asset: one version per region, each recording its partition key;
promotion and production stay per model. And the one-model-per-segment pattern."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pandas as pd
from sklearn.linear_model import LogisticRegression

from registry_project import ModelRegistry, PromotionPolicy
from registry_project.orchestration import (
    ModelRegistryResource,
    TrainingResult,
    build_model_pipeline,
    registry_dataset,
)
from registry_project.orchestration import metadata as md
from registry_project.pipelines.churn_data import FEATURES, LABEL, generate_customers

REGIONS = dg.StaticPartitionsDefinition(["eu", "us"])
DAY = date(2026, 11, 2)


@registry_dataset(partitions_def=REGIONS)
def regional_customers(partition_key: str) -> pd.DataFrame:
    return generate_customers(DAY, 400, salt=f"train-{partition_key}")


@registry_dataset(partitions_def=REGIONS)
def regional_holdout(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return generate_customers(DAY, 200, salt=f"holdout-{context.partition_key}")


def train(train: pd.DataFrame, partition_key: str) -> TrainingResult:
    model = LogisticRegression(max_iter=500).fit(train[FEATURES], train[LABEL])
    return TrainingResult(model, description=f"trained on {partition_key}")


def evaluate(model: Any, holdout: pd.DataFrame) -> dict[str, float]:
    return {"accuracy": float(model.score(holdout[FEATURES], holdout[LABEL]))}


regional = build_model_pipeline(
    model_name="regional",
    datasets={"train": regional_customers},
    holdout=regional_holdout,
    train=train,
    evaluate=evaluate,
    policy=PromotionPolicy("accuracy"),
    partitions_def=REGIONS,
)
ASSETS = [regional_customers, regional_holdout, *regional.assets]


def _run(
    instance: dg.DagsterInstance,
    resource: ModelRegistryResource,
    selection: Any,
    partition: str | None = None,
    run_config: Any = None,
) -> None:
    result = dg.materialize(
        ASSETS,
        instance=instance,
        resources={"registry": resource},
        selection=selection,
        partition_key=partition,
        run_config=run_config,
    )
    assert result.success


def test_each_partition_trains_a_version_that_records_its_key(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    for region in ("eu", "us"):
        _run(instance, registry_resource, regional.retraining_job.selection, region)
    versions = {v.version: v for v in registry.versions("regional")}
    assert set(versions) == {1, 2}
    for number, region in ((1, "eu"), (2, "us")):
        lineage = registry.lineage(versions[number])
        assert lineage.run is not None and lineage.run.params["partition_key"] == region
        assert versions[number].description == f"trained on {region}"
        (snapshot,) = [d.snapshot for d in lineage.datasets if d.relation == "trained"]
        recorded = md.recorded_metadata(instance, regional_customers.key, region)
        assert recorded is not None and recorded[md.SNAPSHOT_ID].value == snapshot.id
        assert recorded[md.PARTITION_KEY].value == region
    evaluated = md.recorded_metadata(instance, regional.evaluation.key, "us")
    assert evaluated is not None and evaluated[md.VERSION].value == 2
    assert evaluated[md.PARTITION_KEY].value == "us"

    # Production is per model (unpartitioned): one of the regions' candidates serves it.
    with dg.build_sensor_context(
        instance=instance, resources={"registry": registry_resource}
    ) as context:
        request = regional.promotion_sensor.evaluate_tick(context).run_requests[0]
    assert regional.production.partitions_def is None
    _run(instance, registry_resource, regional.promotion_job.selection, None, request.run_config)
    serving = registry.get_version("regional@production")
    assert request.tags["registry/candidate"] == serving.ref
    assert [v.version for v in registry.versions("regional", stage="production")] == [
        serving.version
    ]


def test_the_retraining_schedule_requests_every_partition(instance: dg.DagsterInstance) -> None:
    schedule = regional.retraining_schedule
    assert schedule is not None
    tick = datetime(2026, 11, 2, 6, tzinfo=UTC)
    defs = regional.definitions(
        extra_assets=[regional_customers, regional_holdout],
        resources={"registry": ModelRegistryResource()},
    )
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    ) as context:
        data = schedule.evaluate_tick(context)
    requests = data.run_requests or []
    assert [r.partition_key for r in requests] == ["eu", "us"]
    assert [r.run_key for r in requests] == [f"{tick.isoformat()}:eu", f"{tick.isoformat()}:us"]


def test_one_model_per_segment_from_a_partition_to_model_name_mapping() -> None:
    """The documented pattern: a pipeline per segment, each reading its region's partition."""
    models = {"eu": "churn-eu", "us": "churn-us"}
    pipelines = {
        region: build_model_pipeline(
            model_name=model_name,
            datasets={"train": regional_customers},
            holdout=regional_holdout,
            train=train,
            evaluate=evaluate,
            policy=PromotionPolicy("accuracy"),
            partitions_def=dg.StaticPartitionsDefinition([region]),
        )
        for region, model_name in models.items()
    }
    keys = {a.key.to_user_string() for p in pipelines.values() for a in p.assets}
    assert "churn-eu/churn_eu_candidate" in keys and "churn-us/churn_us_production" in keys
    assert len(keys) == 6
