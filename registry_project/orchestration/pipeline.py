"""`build_model_pipeline`: the whole life cycle of one model from four plain functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from registry_project.core.policy import PromotionPolicy
from registry_project.orchestration.evaluation import Gate, registry_evaluation
from registry_project.orchestration.promotion import (
    registry_production_asset,
    registry_promotion_sensor,
)
from registry_project.orchestration.scoring import registry_scoring
from registry_project.orchestration.training import TrainingResult, registry_training


def _identifier(model_name: str) -> str:
    return model_name.replace("-", "_").replace(".", "_")


@dataclass(frozen=True)
class ModelPipeline:
    """The Dagster definitions of one model's life cycle."""

    model_name: str
    assets: tuple[dg.AssetsDefinition, ...]
    jobs: tuple[Any, ...]
    sensors: tuple[dg.SensorDefinition, ...]
    schedules: tuple[dg.ScheduleDefinition, ...] = field(default_factory=tuple)

    def definitions(self, resources: Mapping[str, Any] | None = None) -> dg.Definitions:
        return dg.Definitions(
            assets=list(self.assets),
            jobs=list(self.jobs),
            sensors=list(self.sensors),
            schedules=list(self.schedules),
            resources=dict(resources or {}),
        )


def retrain_on_changed_data() -> dg.AutomationCondition:
    """Dagster's `eager()`, except that an upstream dataset counts as updated only when its
    data version (the snapshot digest) changed: re-snapshotting identical data, which the
    registry stores once, does not retrain a model on it again."""
    condition = dg.AutomationCondition
    changed = condition.any_deps_match(condition.data_version_changed()).with_label(
        "training data changed"
    )
    return (
        condition.eager().replace("any_deps_updated", changed).with_label("retrain on changed data")
    )


def build_model_pipeline(
    *,
    model_name: str,
    datasets: Mapping[str, dg.AssetsDefinition],
    holdout: dg.AssetsDefinition,
    train: Callable[..., TrainingResult],
    evaluate: Callable[..., Mapping[str, float]],
    score: Callable[..., Any] | None = None,
    scoring_dataset: dg.AssetsDefinition | None = None,
    params: Mapping[str, Any] | None = None,
    policy: PromotionPolicy,
    gates: Sequence[Gate] = (),
    retrain_cron: str | None = "0 6 * * *",
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    retrain_on_new_data: bool = True,
    resource_key: str = "registry",
    reuse_identical: bool = True,
) -> ModelPipeline:
    """candidate (training) -> evaluation (+ gates) -> production -> scores, with a promotion
    sensor, a retraining job and schedule, and eager retraining when the training data's
    data version changes. `reuse_identical=False` makes every training register a version,
    even one identical to an existing version (see `registry_training`).

    Example::

        churn = build_model_pipeline(
            model_name="churn", datasets={"train": customers}, holdout=customers_holdout,
            train=train_logistic, evaluate=evaluate_auc, score=score_customers,
            scoring_dataset=customers, policy=PromotionPolicy("auc", min_delta=0.001),
            gates=[MetricThreshold("auc", minimum=0.6)])
        defs = churn.definitions(resources={"registry": ModelRegistryResource()})
    """
    group = group_name or _identifier(model_name)
    eager = dg.AutomationCondition.eager() if retrain_on_new_data else None
    common = {"group_name": group, "owners": owners, "resource_key": resource_key}
    candidate = registry_training(
        model_name=model_name,
        datasets=datasets,
        params=params,
        automation_condition=retrain_on_changed_data() if retrain_on_new_data else None,
        description=train.__doc__,
        reuse_identical=reuse_identical,
        **common,
    )(train)
    evaluation = registry_evaluation(
        model_name=model_name,
        candidate=candidate,
        holdout=holdout,
        gates=list(gates) + [_guard_gate(guard) for guard in policy.guards],
        automation_condition=eager,
        description=evaluate.__doc__,
        **common,
    )(evaluate)
    production = registry_production_asset(
        model_name=model_name, evaluation=evaluation, policy=policy, **common
    )
    assets: list[dg.AssetsDefinition] = [candidate, evaluation, production]
    promotion_selection = [production.key]
    if score is not None:
        scores = registry_scoring(
            model_name=model_name,
            production=production,
            dataset=scoring_dataset or holdout,
            description=score.__doc__,
            **common,
        )(score)
        assets.append(scores)
        promotion_selection.append(scores.key)
    identifier = _identifier(model_name)
    promotion_job = dg.define_asset_job(
        f"{identifier}_promotion",
        selection=dg.AssetSelection.assets(*promotion_selection),
        description=f"Promote a {model_name} candidate (compare-and-swap) and rescore.",
    )
    retraining_job = dg.define_asset_job(
        f"{identifier}_retraining",
        selection=dg.AssetSelection.assets(
            *{key for d in (*datasets.values(), holdout) for key in d.keys},
            candidate.key,
            evaluation.key,
        ),
        description=f"Snapshot fresh data, train a {model_name} candidate and evaluate it.",
    )
    sensor = registry_promotion_sensor(
        model_name=model_name,
        evaluation=evaluation,
        production=production,
        policy=policy,
        job=promotion_job,
        resource_key=resource_key,
    )
    schedules: tuple[dg.ScheduleDefinition, ...] = ()
    if retrain_cron:
        schedules = (
            dg.ScheduleDefinition(
                name=f"{identifier}_retraining_schedule",
                job=retraining_job,
                cron_schedule=retrain_cron,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description=f"Retrain {model_name} on fresh data ({retrain_cron}).",
            ),
        )
    return ModelPipeline(
        model_name=model_name,
        assets=tuple(assets),
        jobs=(promotion_job, retraining_job),
        sensors=(sensor,),
        schedules=schedules,
    )


def _guard_gate(guard: Any) -> Gate:
    from registry_project.orchestration.evaluation import MaxRegression

    return MaxRegression(guard.name, guard.higher_is_better, guard.max_regression)
