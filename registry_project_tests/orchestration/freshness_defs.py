"""A code location for the freshness test: one `<model>/production` asset whose translator
accepts a production model one hour old (loaded in-process by the test's workspace)."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from registry_project import PromotionPolicy
from registry_project.orchestration import (
    ModelRegistryResource,
    RegistryTranslator,
    RegistryTranslatorSettings,
    registry_production_asset,
)

translator = RegistryTranslator(
    RegistryTranslatorSettings(
        production_max_age=timedelta(hours=1), production_warn_age=timedelta(minutes=30)
    )
)
production = registry_production_asset(
    model_name="churn",
    evaluation="churn_evaluation",
    policy=PromotionPolicy(metric="auc"),
    translator=translator,
)
defs = dg.Definitions(
    assets=[production],
    resources={
        "registry": ModelRegistryResource(
            database_url=dg.EnvVar("REGISTRY_DATABASE_URL"),
            artifact_root=dg.EnvVar("REGISTRY_ARTIFACT_ROOT"),
        )
    },
)
