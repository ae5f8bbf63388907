"""`build_model_pipeline`: one model's whole life cycle, as a `ModelPipeline` with named
members, from the user's training, evaluation and scoring functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from registry_project.core.policy import GuardMetric, PromotionPolicy
from registry_project.orchestration._common import AssetRef, to_asset_key
from registry_project.orchestration.deletion import (
    registry_deleted_data_check,
    registry_deleted_data_sensor,
)
from registry_project.orchestration.evaluation import Gate, MaxRegression, registry_evaluation
from registry_project.orchestration.promotion import (
    registry_production_asset,
    registry_promotion_sensor,
)
from registry_project.orchestration.registry_sync import registry_sync_sensor
from registry_project.orchestration.reproduction import registry_reproduce_job
from registry_project.orchestration.retention import registry_data_age_check
from registry_project.orchestration.scoring import registry_scoring
from registry_project.orchestration.sweeps import SweepArg
from registry_project.orchestration.training import TrainingResult, registry_training
from registry_project.orchestration.translator import RegistryTranslator, identifier

Selection = dg.AssetSelection | Sequence[AssetRef]


def _selection(selection: Selection | None) -> dg.AssetSelection | None:
    if selection is None or isinstance(selection, dg.AssetSelection):
        return selection
    return dg.AssetSelection.assets(*(to_asset_key(ref) for ref in selection))


@dataclass(frozen=True)
class ModelPipeline:
    """The Dagster definitions of one model's life cycle, by name.

    `candidate` (training) -> `evaluation` (+ blocking gate checks) -> `production` ->
    `scores`; `promotion_job` (production, scores and your `downstream` assets) run by
    `promotion_sensor`; `retraining_job` (the datasets, everything upstream of them by
    default, candidate, evaluation) run by `retraining_schedule`; `automation_sensor`
    retrains when the training data changes (None when automatic retraining is off);
    `sync_sensor` reports promotions, rollbacks and archives made outside Dagster on
    `production` and re-runs what the promotion job would re-run after it;
    `reproduce_job` rebuilds a version (run config: its reference) from its record with
    the pipeline's own training function and records the result; `deleted_data_sensor`
    fails `deleted_data_check` and requests `retraining_job` when production was trained
    on data deleted since.

    Example::

        defs = cancer.definitions(
            extra_assets=[raw_cancer, cancer_split, cancer_report],
            resources={"registry": ModelRegistryResource()},
        )
        cancer.production.key      # AssetKey(["cancer", "cancer_production"])
    """

    model_name: str
    candidate: dg.AssetsDefinition
    evaluation: dg.AssetsDefinition
    production: dg.AssetsDefinition
    scores: dg.AssetsDefinition | None
    promotion_job: Any  # an unresolved asset job (define_asset_job)
    retraining_job: Any
    promotion_sensor: dg.SensorDefinition
    retraining_schedule: dg.ScheduleDefinition | None
    automation_sensor: dg.AutomationConditionSensorDefinition | None
    sync_sensor: dg.SensorDefinition
    # Blocking: production fails it while it was trained on deleted data (deletion.py).
    deleted_data_check: dg.AssetChecksDefinition | None = None
    # Rebuild a version from its record with `train` (reproduction.py); None when the
    # candidate was built already (trained elsewhere, e.g. through Pipes).
    reproduce_job: dg.JobDefinition | None = None
    # Requests `retraining_job` once production was trained on deleted data (deletion.py).
    deleted_data_sensor: dg.SensorDefinition | None = None
    # Warns while production was trained on data older than the translator's accepted age
    # (retention.py): the half of staleness the freshness policy (its promotion time)
    # cannot see. None when `production_max_age` is None.
    data_age_check: dg.AssetChecksDefinition | None = None

    @property
    def assets(self) -> tuple[dg.AssetsDefinition, ...]:
        produced = (self.candidate, self.evaluation, self.production, self.scores)
        return tuple(asset for asset in produced if asset is not None)

    @property
    def asset_checks(self) -> tuple[dg.AssetChecksDefinition, ...]:
        checks = (self.deleted_data_check, self.data_age_check)
        return tuple(check for check in checks if check is not None)

    @property
    def jobs(self) -> tuple[Any, ...]:
        jobs = (self.promotion_job, self.retraining_job, self.reproduce_job)
        return tuple(job for job in jobs if job is not None)

    @property
    def sensors(self) -> tuple[dg.SensorDefinition, ...]:
        sensors = (
            self.promotion_sensor,
            self.sync_sensor,
            self.automation_sensor,
            self.deleted_data_sensor,
        )
        return tuple(sensor for sensor in sensors if sensor is not None)

    @property
    def schedules(self) -> tuple[dg.ScheduleDefinition, ...]:
        return (self.retraining_schedule,) if self.retraining_schedule is not None else ()

    def definitions(
        self,
        *,
        extra_assets: Sequence[Any] = (),
        resources: Mapping[str, Any] | None = None,
        jobs: Sequence[Any] = (),
        sensors: Sequence[dg.SensorDefinition] = (),
        schedules: Sequence[dg.ScheduleDefinition] = (),
    ) -> dg.Definitions:
        """Definitions for a code location: this pipeline's assets, jobs, sensors (the
        automation sensor included when automatic retraining is on) and schedules, plus your
        own assets (the datasets, their upstream assets, the `downstream` ones) and
        resources."""
        return dg.Definitions(
            assets=[*extra_assets, *self.assets],
            asset_checks=list(self.asset_checks),
            jobs=[*self.jobs, *jobs],
            sensors=[*self.sensors, *sensors],
            schedules=[*self.schedules, *schedules],
            resources=dict(resources or {}),
        )


def build_model_pipeline(
    *,
    model_name: str,
    datasets: Mapping[str, AssetRef],
    holdout: AssetRef,
    train: Callable[..., TrainingResult] | dg.AssetsDefinition,
    evaluate: Callable[..., Mapping[str, float]],
    policy: PromotionPolicy,
    score: Callable[..., Any] | None = None,
    scoring_dataset: AssetRef | None = None,
    params: Mapping[str, Any] | None = None,
    gates: Sequence[Gate] = (),
    partitions_def: dg.PartitionsDefinition | None = None,
    downstream: Selection | None = None,
    retraining_selection: Selection | None = None,
    retrain_cron: str | None = "0 6 * * *",
    sensor_status: dg.DefaultSensorStatus | None = None,
    schedule_status: dg.DefaultScheduleStatus | None = None,
    translator: RegistryTranslator | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    resource_key: str = "registry",
    reuse_identical: bool = True,
    experiment: str | None = None,
    autolog: bool = False,
    sweep: SweepArg = None,
    sweep_metric: str | None = None,
    sweep_higher_is_better: bool = True,
) -> ModelPipeline:
    """candidate (training) -> evaluation (+ gates) -> production -> scores, with a promotion
    sensor, a retraining job and schedule, and retraining when the training data changes.

    `train`, `evaluate` and `score` are asset bodies (see `registry_training`,
    `registry_evaluation`, `registry_scoring`): they may take `context`, upstream assets,
    a `config: dg.Config`, resources and `partition_key`. `train` may also be a candidate
    asset built already (`@registry_pipes_training` for training in another process); then
    `params` and `partitions_def` are that asset's business. `datasets` and `holdout` name
    registry dataset assets: an assets definition, an `AssetKey` or a key string; of a
    split multi-asset, the output whose key ends in the role (`train`; `test` for the
    holdout) or its key. `downstream` selects your own assets that use the production
    model: the promotion job materializes them after a promotion (default: production and
    every asset downstream of it, scores included). `retraining_selection`
    is what the retraining job materializes before training (default: the datasets and
    everything upstream of them). With `partitions_def`, training and evaluation are
    partitioned (each version records its `partition_key`); production stays per model.
    A training identical to an existing version (artifact digest, params, inputs)
    registers nothing new and names that version; `reuse_identical=False` registers every
    training (see `registry_training`). `experiment`, `autolog` and `sweep` (with
    `sweep_metric`, `sweep_higher_is_better`) are `registry_training`'s: a sweep trains
    every config as a run of the candidate's experiment and registers the best as the
    candidate that evaluation and promotion judge.

    Sensors and schedules are STOPPED unless `sensor_status` / `schedule_status` say
    otherwise, as in Dagster.

    Example::

        cancer = build_model_pipeline(
            model_name="cancer", datasets={"train": cancer_split}, holdout=cancer_split,
            train=train_forest, evaluate=evaluate_auc, policy=PromotionPolicy("auc"),
            gates=[MetricThreshold("auc", minimum=0.9)], downstream=[cancer_report])
        defs = cancer.definitions(extra_assets=[raw_cancer, cancer_split, cancer_report],
                                  resources={"registry": ModelRegistryResource()})
    """
    chosen = translator or RegistryTranslator()
    ident = identifier(model_name)
    common: dict[str, Any] = {
        "group_name": group_name,
        "owners": owners,
        "resource_key": resource_key,
        "translator": chosen,
    }
    reproduce_job = None
    if isinstance(train, dg.AssetsDefinition):
        candidate = train  # built already, e.g. by @registry_pipes_training
    else:
        candidate = registry_training(
            model_name=model_name,
            datasets=datasets,
            params=params,
            partitions_def=partitions_def,
            reuse_identical=reuse_identical,
            experiment=experiment,
            autolog=autolog,
            sweep=sweep,
            sweep_metric=sweep_metric,
            sweep_higher_is_better=sweep_higher_is_better,
            **common,
        )(train)
    if not isinstance(train, dg.AssetsDefinition):
        reproduce_job = registry_reproduce_job(
            model_name=model_name,
            train=train,
            evaluate=evaluate,
            candidate_key=candidate.key,
            resource_key=resource_key,
        )
    evaluation = registry_evaluation(
        model_name=model_name,
        candidate=candidate,
        holdout=holdout,
        gates=[*gates, *(_guard_gate(guard) for guard in policy.guards)],
        partitions_def=partitions_def,
        **common,
    )(evaluate)
    production = registry_production_asset(
        model_name=model_name, evaluation=evaluation, policy=policy, **common
    )
    scores = None
    if score is not None:
        scores = registry_scoring(
            model_name=model_name,
            production=production,
            dataset=scoring_dataset or holdout,
            **common,
        )(score)
    promoted = dg.AssetSelection.assets(production, *([scores] if scores else []))
    extra = _selection(downstream)
    # By default everything downstream of production: assets that use the model.
    promotion_selection = promoted | extra if extra is not None else promoted.downstream()
    promotion_job = dg.define_asset_job(
        f"{ident}_promotion",
        selection=promotion_selection,
        description=f"Promote a {model_name} candidate (compare-and-swap) and rematerialize "
        "what uses the production model.",
    )
    data_keys = [to_asset_key(ref, hint=role) for role, ref in datasets.items()]
    data_keys.append(to_asset_key(holdout, hint="test"))
    upstream = _selection(retraining_selection)
    if upstream is None:
        upstream = dg.AssetSelection.assets(*data_keys).upstream()
    retraining_job = dg.define_asset_job(
        f"{ident}_retraining",
        selection=upstream | dg.AssetSelection.assets(candidate, evaluation),
        description=f"Refresh the data, train a {model_name} candidate and evaluate it.",
    )
    sensor = registry_promotion_sensor(
        model_name=model_name,
        evaluation=evaluation,
        production=production,
        policy=policy,
        job=promotion_job,
        default_status=sensor_status or dg.DefaultSensorStatus.STOPPED,
        resource_key=resource_key,
    )
    sync_sensor = registry_sync_sensor(
        model_name=model_name,
        production=production,
        # What a promotion re-runs, except production: the sync reports that one itself.
        rescore=promotion_selection - dg.AssetSelection.assets(production),
        default_status=sensor_status or dg.DefaultSensorStatus.STOPPED,
        resource_key=resource_key,
    )
    schedule = None
    if retrain_cron:
        schedule = _retraining_schedule(
            ident, model_name, retraining_job, retrain_cron, partitions_def, schedule_status
        )
    automation = None
    if chosen.settings.enable_automatic_retraining:
        automation = dg.AutomationConditionSensorDefinition(
            f"{ident}_automation_sensor",
            target=dg.AssetSelection.assets(candidate, evaluation),
            default_status=sensor_status or dg.DefaultSensorStatus.STOPPED,
            minimum_interval_seconds=30,
            description=f"Retrains {model_name} when its training data's data version changes.",
        )
    return ModelPipeline(
        model_name=model_name,
        candidate=candidate,
        evaluation=evaluation,
        production=production,
        scores=scores,
        promotion_job=promotion_job,
        retraining_job=retraining_job,
        promotion_sensor=sensor,
        retraining_schedule=schedule,
        automation_sensor=automation,
        sync_sensor=sync_sensor,
        deleted_data_check=registry_deleted_data_check(
            model_name=model_name, production=production, resource_key=resource_key
        ),
        reproduce_job=reproduce_job,
        deleted_data_sensor=registry_deleted_data_sensor(
            model_name=model_name,
            production=production,
            retraining_job=retraining_job,
            default_status=sensor_status or dg.DefaultSensorStatus.STOPPED,
            resource_key=resource_key,
        ),
        data_age_check=_data_age_check(model_name, production, chosen, resource_key),
    )


def _data_age_check(
    model_name: str,
    production: dg.AssetsDefinition,
    translator: RegistryTranslator,
    resource_key: str,
) -> dg.AssetChecksDefinition | None:
    max_age = translator.settings.production_max_age
    if max_age is None:
        return None
    return registry_data_age_check(
        model_name=model_name, production=production, max_age=max_age, resource_key=resource_key
    )


def _retraining_schedule(
    ident: str,
    model_name: str,
    job: Any,
    cron: str,
    partitions_def: dg.PartitionsDefinition | None,
    status: dg.DefaultScheduleStatus | None,
) -> dg.ScheduleDefinition:
    options = {
        "name": f"{ident}_retraining_schedule",
        "cron_schedule": cron,
        "default_status": status or dg.DefaultScheduleStatus.STOPPED,
        "description": f"Retrain {model_name} on fresh data ({cron}).",
    }
    if partitions_def is None:
        return dg.ScheduleDefinition(job=job, **options)

    @dg.schedule(job=job, **options)
    def _every_partition(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        keys = partitions_def.get_partition_keys(dynamic_partitions_store=context.instance)
        tick = context.scheduled_execution_time.isoformat()
        return [dg.RunRequest(partition_key=key, run_key=f"{tick}:{key}") for key in keys]

    return _every_partition


def _guard_gate(guard: GuardMetric) -> Gate:
    return MaxRegression(guard.name, guard.higher_is_better, guard.max_regression)
