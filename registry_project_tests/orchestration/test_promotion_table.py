"""The promotion decision table (promotion_cases.py), driven through the promotion sensor.

Each row gets a fresh registry and a fresh Dagster instance with at most one production
version and exactly one candidate, built from the public factories: a dataset, a training
asset, an evaluation asset without gates (so the policy alone decides), the production
asset and `registry_promotion_sensor`. The row's decision is read from the sensor's tick:
a run request for that candidate (compare-and-swap against that production version), or
none at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from registry_project import ModelRegistry
from registry_project.orchestration import (
    ModelRegistryResource,
    TrainingResult,
    registry_dataset,
    registry_evaluation,
    registry_production_asset,
    registry_promotion_sensor,
    registry_training,
)
from registry_project_tests.promotion_cases import PARAMS, PromotionCase

MODEL = "table"


def _definitions(
    case: PromotionCase,
) -> tuple[list[dg.AssetsDefinition], dg.AssetsDefinition, dg.SensorDefinition]:
    """(data, candidate and evaluation), the production asset, and the sensor: only the
    public factories, their keys taken from the definitions (never spelled out here)."""

    @registry_dataset(name="table_data")
    def data() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2, 3]})

    @registry_training(model_name=MODEL, datasets={"train": data})
    def candidate(train: pd.DataFrame, params: Mapping[str, Any]) -> TrainingResult:
        return TrainingResult(model={"rows": len(train)})

    @registry_evaluation(model_name=MODEL, candidate=candidate, holdout=data)
    def evaluation(model: Any, holdout: pd.DataFrame) -> Mapping[str, float]:
        return case.candidate

    production = registry_production_asset(
        model_name=MODEL, evaluation=evaluation, policy=case.policy
    )
    sensor = registry_promotion_sensor(
        model_name=MODEL,
        evaluation=evaluation,
        production=production,
        policy=case.policy,
        job=dg.define_asset_job("table_promotion", selection=[production.key]),
    )
    return [data, candidate, evaluation], production, sensor


def _candidate_config(request: dg.RunRequest) -> Mapping[str, Any]:
    """The PromotionConfig the run request gives the production asset."""
    ops = request.run_config["ops"]
    [config] = [entry["config"] for entry in ops.values()]
    return config


@pytest.mark.parametrize("case", PARAMS)
def test_sensor_decides_each_row_of_the_table(case: PromotionCase, tmp_path: Path) -> None:
    resource = ModelRegistryResource(
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        artifact_root=str(tmp_path / "artifacts"),
    )
    with ModelRegistry.open(resource.database_url, resource.artifact_root) as registry:
        serving = None
        if case.production is not None:
            serving = registry.register_model(
                MODEL, {"serving": True}, metrics=case.production, actor="alice"
            )
            registry.promote(serving, actor="alice", reason="the baseline")
        upstream, production, sensor = _definitions(case)
        with dg.DagsterInstance.ephemeral() as instance:
            materialized = dg.materialize(
                [*upstream, production],
                instance=instance,
                resources={"registry": resource},
                selection=[asset.key for asset in upstream],
            )
            assert materialized.success
            with dg.build_sensor_context(
                instance=instance, resources={"registry": resource}
            ) as context:
                tick = sensor.evaluate_tick(context)
        candidate = registry.get_version(f"{MODEL}@latest")
        assert candidate.id != (serving.id if serving else None)
        assert dict(candidate.metrics) == dict(case.candidate)

        if case.promote:
            assert [_candidate_config(r)["candidate_version_id"] for r in tick.run_requests] == [
                candidate.id
            ], tick.skip_message
            expected_current = _candidate_config(tick.run_requests[0])["expected_production_id"]
            assert expected_current == (serving.id if serving else "")
            assert case.because in _candidate_config(tick.run_requests[0])["reason"]
        else:
            assert tick.run_requests == []
            assert candidate.ref in (tick.skip_message or "")
            assert case.because in (tick.skip_message or "")
        # The tick decided only: nothing was promoted or staged.
        after = registry.production_version(MODEL)
        assert (after.id if after else None) == (serving.id if serving else None)
