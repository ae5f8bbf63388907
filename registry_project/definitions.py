"""The Dagster code location: the churn demo, the registry resource, sensors and schedules.

`dagster dev` (workspace.yaml) loads `defs` from here. The registry location comes from
REGISTRY_DATABASE_URL / REGISTRY_ARTIFACT_ROOT, else ./.registry/.
"""

from __future__ import annotations

import dagster as dg

from registry_project.orchestration import (
    ModelRegistryResource,
    audit_chain_asset,
    registry_audit_anchor_sensor,
    registry_retention_schedule,
)
from registry_project.pipelines.churn import DATASETS, PIPELINES

# Each pipeline's own automation sensor retrains its model; this one snapshots the demo's
# data when it has never been materialized. RUNNING: the demo opts in (the default is STOPPED).
data_sensor = dg.AutomationConditionSensorDefinition(
    "registry_demo_data_sensor",
    target=dg.AssetSelection.assets(*DATASETS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Materializes the demo datasets when they are missing.",
)

# The audit chain's head, observed hourly into Dagster's event log: an anchor outside the
# registry database (`python -m registry_project.orchestration.anchors`).
anchor_sensor = registry_audit_anchor_sensor(default_status=dg.DefaultSensorStatus.RUNNING)

defs = dg.Definitions(
    assets=[*DATASETS, *(asset for p in PIPELINES for asset in p.assets), audit_chain_asset()],
    asset_checks=[check for p in PIPELINES for check in p.asset_checks],
    jobs=[job for p in PIPELINES for job in p.jobs],
    # Each pipeline's promotion, registry-sync and automation sensors (RUNNING: the demo
    # opts in), the demo's own data sensor and the audit anchor.
    sensors=[data_sensor, anchor_sensor, *(sensor for p in PIPELINES for sensor in p.sensors)],
    # The retention sweep, RUNNING like the demo's other schedules (the library default is
    # STOPPED): it deletes only what a stored policy (`registry retention set`) says is due.
    schedules=[
        *(schedule for p in PIPELINES for schedule in p.schedules),
        registry_retention_schedule(default_status=dg.DefaultScheduleStatus.RUNNING),
    ],
    resources={"registry": ModelRegistryResource()},
)
