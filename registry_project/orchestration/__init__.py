"""The Dagster layer: a registry resource, asset decorators, a translator, quality gates,
the promotion sensor, the registry-sync sensor (changes made outside Dagster), the
retraining and retention schedules. It maps Dagster concepts onto core calls and holds
no registry logic of its own."""

from registry_project.orchestration.anchors import (
    audit_chain_asset,
    dagster_anchors,
    registry_audit_anchor_sensor,
)
from registry_project.orchestration.datasets import registry_dataset
from registry_project.orchestration.evaluation import (
    MaxRegression,
    MetricThreshold,
    registry_evaluation,
)
from registry_project.orchestration.pipeline import ModelPipeline, build_model_pipeline
from registry_project.orchestration.pipes_training import registry_pipes_training
from registry_project.orchestration.promotion import (
    PromotionConfig,
    registry_production_asset,
    registry_promotion_sensor,
)
from registry_project.orchestration.registry_sync import registry_sync_sensor
from registry_project.orchestration.resource import ModelRegistryResource
from registry_project.orchestration.retention import (
    registry_data_age_check,
    registry_retention_job,
    registry_retention_schedule,
)
from registry_project.orchestration.scoring import registry_scoring
from registry_project.orchestration.training import TrainingResult, registry_training
from registry_project.orchestration.translator import (
    RegistryAssetProps,
    RegistryTranslator,
    RegistryTranslatorSettings,
    evaluate_on_changed_candidate,
    retrain_on_changed_data,
)

__all__ = [
    "MaxRegression",
    "MetricThreshold",
    "ModelPipeline",
    "ModelRegistryResource",
    "PromotionConfig",
    "RegistryAssetProps",
    "RegistryTranslator",
    "RegistryTranslatorSettings",
    "TrainingResult",
    "audit_chain_asset",
    "build_model_pipeline",
    "dagster_anchors",
    "evaluate_on_changed_candidate",
    "registry_audit_anchor_sensor",
    "registry_data_age_check",
    "registry_dataset",
    "registry_evaluation",
    "registry_pipes_training",
    "registry_production_asset",
    "registry_promotion_sensor",
    "registry_retention_job",
    "registry_retention_schedule",
    "registry_scoring",
    "registry_sync_sensor",
    "registry_training",
    "retrain_on_changed_data",
]
