"""The Dagster code location: the churn demo, the registry resource, sensors and schedules.

`dagster dev` (workspace.yaml) loads `defs` from here. The registry location comes from
REGISTRY_DATABASE_URL / REGISTRY_ARTIFACT_ROOT, else ./.registry/.
"""

from __future__ import annotations

import dagster as dg

from registry_project.orchestration import ModelRegistryResource, registry_sync_sensor
from registry_project.pipelines.churn import DATASETS, PIPELINES

automation_sensor = dg.AutomationConditionSensorDefinition(
    "registry_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materializes the demo datasets when missing and retrains when they change.",
)


def _keys_with_role(pipeline: object, role: str) -> list[dg.AssetKey]:
    """The pipeline's asset keys tagged `registry/role=<role>` (whatever their names)."""
    return [
        key
        for asset in pipeline.assets  # type: ignore[attr-defined]
        for key in asset.keys
        if asset.tags_by_key.get(key, {}).get("registry/role") == role
    ]


# Promotions, rollbacks and archives made outside Dagster (`registry promote`, the Python
# API) reach each model's production asset within a tick, and its scores follow.
registry_sync = registry_sync_sensor(
    production_assets={p.model_name: _keys_with_role(p, "production")[0] for p in PIPELINES},
    downstream={p.model_name: _keys_with_role(p, "scoring") for p in PIPELINES},
    default_status=dg.DefaultSensorStatus.RUNNING,
)

defs = dg.Definitions(
    assets=[*DATASETS, *(asset for p in PIPELINES for asset in p.assets)],
    jobs=[job for p in PIPELINES for job in p.jobs],
    sensors=[
        automation_sensor,
        registry_sync,
        *(sensor for p in PIPELINES for sensor in p.sensors),
    ],
    schedules=[schedule for p in PIPELINES for schedule in p.schedules],
    resources={"registry": ModelRegistryResource()},
)
