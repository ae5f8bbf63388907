"""The Dagster layer: a registry resource, asset factories, quality gates, the promotion
sensor and the retraining schedule. It maps Dagster concepts onto core calls and holds no
registry logic of its own."""

from registry_project.orchestration.datasets import registry_dataset
from registry_project.orchestration.evaluation import (
    MaxRegression,
    MetricThreshold,
    registry_evaluation,
)
from registry_project.orchestration.pipeline import ModelPipeline, build_model_pipeline
from registry_project.orchestration.promotion import (
    PromotionConfig,
    registry_production_asset,
    registry_promotion_sensor,
)
from registry_project.orchestration.registry_sync import registry_sync_sensor
from registry_project.orchestration.resource import ModelRegistryResource
from registry_project.orchestration.scoring import registry_scoring
from registry_project.orchestration.training import TrainingResult, registry_training

__all__ = [
    "MaxRegression",
    "MetricThreshold",
    "ModelPipeline",
    "ModelRegistryResource",
    "PromotionConfig",
    "TrainingResult",
    "build_model_pipeline",
    "registry_dataset",
    "registry_evaluation",
    "registry_production_asset",
    "registry_promotion_sensor",
    "registry_scoring",
    "registry_sync_sensor",
    "registry_training",
]
