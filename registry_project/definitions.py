"""The Dagster code location: the churn demo, the registry resource, sensors and schedules.

`dagster dev` (workspace.yaml) loads `defs` from here. The registry location comes from
REGISTRY_DATABASE_URL / REGISTRY_ARTIFACT_ROOT, else ./.registry/.
"""

from __future__ import annotations

import dagster as dg

from registry_project.orchestration import ModelRegistryResource
from registry_project.pipelines.churn import DATASETS, PIPELINES

automation_sensor = dg.AutomationConditionSensorDefinition(
    "registry_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materializes the demo datasets when missing and retrains when they change.",
)

defs = dg.Definitions(
    assets=[*DATASETS, *(asset for p in PIPELINES for asset in p.assets)],
    jobs=[job for p in PIPELINES for job in p.jobs],
    sensors=[automation_sensor, *(sensor for p in PIPELINES for sensor in p.sensors)],
    schedules=[schedule for p in PIPELINES for schedule in p.schedules],
    resources={"registry": ModelRegistryResource()},
)
