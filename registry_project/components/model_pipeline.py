"""`ModelPipelineComponent`: one model's life cycle declared in a `defs.yaml`.

It only translates YAML into the arguments of `build_model_pipeline` (and `registry_dataset`
for dataset functions) and calls it, so a model declared in YAML and the same model
declared in Python build the same definitions: the two cannot drift.
"""

# No `from __future__ import annotations`: Dagster's Resolvable reads the real annotations.

import functools
import importlib
from collections.abc import Callable
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from registry_project.components.scaffolder import ModelPipelineScaffolder
from registry_project.core.errors import InvalidInputError
from registry_project.core.policy import GuardMetric, PromotionPolicy
from registry_project.orchestration import (
    MetricThreshold,
    ModelRegistryResource,
    RegistryTranslator,
    RegistryTranslatorSettings,
    build_model_pipeline,
    registry_dataset,
)


class DatasetModel(dg.Model):
    """A dataset asset: a function (wrapped with `registry_dataset`) or an assets definition."""

    function: str = Field(description="Import path; `.module.name` is relative to this folder.")
    name: str | None = Field(default=None, description="Asset key (default: function name).")
    outs: list[str] | None = Field(default=None, description="Output keys of a split.")
    ins: dict[str, str] = Field(
        default_factory=dict, description="Function parameter -> upstream asset key."
    )
    group_name: str | None = None


class GuardModel(dg.Model):
    name: str
    higher_is_better: bool = True
    max_regression: float = 0.0


class PolicyModel(dg.Model):
    """The promotion policy: `metric` must beat production by `min_delta`, no guard may
    regress by more than its allowance; `require_approval` asks for a second person."""

    metric: str
    higher_is_better: bool = True
    min_delta: float = 0.0
    guards: list[GuardModel] = Field(default_factory=list)
    require_approval: bool = False


class GateModel(dg.Model):
    """A blocking asset check on the evaluation: `metric` within [minimum, maximum]."""

    metric: str
    minimum: float | None = None
    maximum: float | None = None


class TranslatorModel(dg.Model):
    """The `RegistryTranslatorSettings` switches."""

    enable_asset_checks: bool = True
    enable_automatic_retraining: bool = True
    record_non_registry_inputs: bool = True


class RegistryModel(dg.Model):
    """Where the registry lives (default: REGISTRY_DATABASE_URL / REGISTRY_ARTIFACT_ROOT)."""

    database_url: str | None = None
    artifact_root: str | None = None
    s3_endpoint_url: str | None = None


@dg.scaffold_with(ModelPipelineScaffolder)
class ModelPipelineComponent(dg.Component, dg.Resolvable, dg.Model):
    """A model's life cycle: dataset snapshots -> candidate -> evaluation (+ gates) ->
    production -> scores, with the promotion sensor, retraining job and schedule.

    Functions are named by import path (`my_project.model.train`, or `.model.train` for a
    module beside the defs.yaml) and are asset bodies exactly as in `build_model_pipeline`.

    Example defs.yaml::

        type: registry_project.components.ModelPipelineComponent
        attributes:
          model_name: cancer
          datasets:
            - function: .model.breast_cancer
            - function: .model.cancer_split
              outs: [cancer_train, cancer_test]
          training_data: {train: cancer_train}
          holdout: cancer_test
          train: .model.train_forest
          evaluate: .model.evaluate
          policy: {metric: auc, min_delta: 0.001}
          gates: [{metric: auc, minimum: 0.9}]
          retrain_cron: "0 4 * * 1"
    """

    model_name: str = Field(description="The registry model name.")
    datasets: list[DatasetModel] = Field(
        default_factory=list, description="Dataset assets this component defines."
    )
    training_data: dict[str, str] = Field(
        description="Input role (train, validation, test) -> dataset asset key."
    )
    holdout: str = Field(description="Asset key of the holdout dataset.")
    train: str = Field(description="Import path of the training function.")
    evaluate: str = Field(description="Import path of the evaluation function.")
    score: str | None = Field(default=None, description="Import path of the scoring function.")
    scoring_dataset: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="Fixed run params.")
    policy: PolicyModel
    gates: list[GateModel] = Field(default_factory=list)
    retrain_cron: str | None = "0 6 * * *"
    sensor_status: Literal["RUNNING", "STOPPED"] = "STOPPED"
    schedule_status: Literal["RUNNING", "STOPPED"] = "STOPPED"
    translator: TranslatorModel = Field(default_factory=TranslatorModel)
    group_name: str | None = None
    owners: list[str] | None = None
    resource_key: str = "registry"
    registry: RegistryModel = Field(default_factory=RegistryModel)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        def load(path: str) -> Any:
            return import_object(context, path)

        datasets = [self._dataset(load(entry.function), entry) for entry in self.datasets]
        pipeline = build_model_pipeline(
            model_name=self.model_name,
            datasets=dict(self.training_data),
            holdout=self.holdout,
            train=load(self.train),
            evaluate=load(self.evaluate),
            score=load(self.score) if self.score else None,
            scoring_dataset=self.scoring_dataset,
            params=self.params or None,
            policy=PromotionPolicy(
                self.policy.metric,
                higher_is_better=self.policy.higher_is_better,
                min_delta=self.policy.min_delta,
                guards=tuple(
                    GuardMetric(g.name, g.higher_is_better, g.max_regression)
                    for g in self.policy.guards
                ),
                require_approval=self.policy.require_approval,
            ),
            gates=[MetricThreshold(g.metric, g.minimum, g.maximum) for g in self.gates],
            retrain_cron=self.retrain_cron,
            sensor_status=dg.DefaultSensorStatus[self.sensor_status],
            schedule_status=dg.DefaultScheduleStatus[self.schedule_status],
            translator=RegistryTranslator(
                RegistryTranslatorSettings(**self.translator.model_dump())
            ),
            group_name=self.group_name,
            owners=self.owners,
            resource_key=self.resource_key,
        )
        return pipeline.definitions(
            extra_assets=datasets,
            resources={self.resource_key: shared_resource(**self.registry.model_dump())},
        )

    def _dataset(self, found: Any, entry: DatasetModel) -> dg.AssetsDefinition:
        if isinstance(found, dg.AssetsDefinition):
            return found
        return registry_dataset(
            name=entry.name,
            outs=entry.outs,
            ins={
                parameter: dg.AssetIn(dg.AssetKey.from_user_string(key))
                for parameter, key in entry.ins.items()
            }
            or None,
            group_name=entry.group_name,
            resource_key=self.resource_key,
        )(found)


@functools.cache
def shared_resource(
    database_url: str | None, artifact_root: str | None, s3_endpoint_url: str | None
) -> ModelRegistryResource:
    """One resource object per configuration: several components in one project then hand
    Dagster the same `registry` resource, which it merges instead of refusing as a clash."""
    return ModelRegistryResource(
        database_url=database_url, artifact_root=artifact_root, s3_endpoint_url=s3_endpoint_url
    )


def import_object(context: dg.ComponentLoadContext, path: str) -> Callable[..., Any]:
    """`package.module.name`, or `.module.name` relative to the component's folder."""
    module_path, _, attribute = path.rpartition(".")
    if path.startswith("."):
        module_path = context.normalize_component_type_str(path).rpartition(".")[0]
    if not module_path or not attribute:
        raise InvalidInputError(f"{path!r} is not an import path like my_project.model.train")
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise InvalidInputError(f"cannot import {module_path!r} (from {path!r}): {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise InvalidInputError(
            f"module {module_path!r} has no {attribute!r} (from {path!r})"
        ) from exc
