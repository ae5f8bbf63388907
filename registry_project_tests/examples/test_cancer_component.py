"""The Component example project (examples/cancer_component): the `dg` CLI scaffolds,
checks and lists it; its YAML-built assets put a version in production; and the same model
declared with the Python factory builds the same definitions."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from registry_project import ModelRegistry, PromotionPolicy
from registry_project.core.policy import GuardMetric
from registry_project.orchestration import (
    MetricThreshold,
    ModelRegistryResource,
    RegistryTranslator,
    RegistryTranslatorSettings,
    build_model_pipeline,
    registry_dataset,
)

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE = REPOSITORY / "examples" / "cancer_component"
DG_TIMEOUT_SECONDS = 180


def dg_cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(project)])}
    return subprocess.run(
        ["dg", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=DG_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project, so scaffolding never writes into the repository."""
    copy = tmp_path / "cancer_component"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture
def component_defs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dg.Definitions:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("REGISTRY_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    return importlib.import_module("cancer_component.definitions").defs


@pytest.mark.slow
def test_dg_scaffolds_checks_and_lists_the_component(project: Path) -> None:
    scaffolded = dg_cli(
        project, "scaffold", "defs", "registry_project.components.ModelPipelineComponent", "iris-v2"
    )
    assert scaffolded.returncode == 0, scaffolded.stderr
    assert (project / "cancer_component/defs/iris-v2/defs.yaml").is_file()
    second = dg_cli(
        project, "scaffold", "defs", "registry_project.components.ModelPipelineComponent", "wine"
    )
    assert second.returncode == 0, second.stderr  # a second scaffold shares no asset key

    checked = dg_cli(project, "check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    listed = dg_cli(project, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    keys = {asset["asset_key"] for asset in found["assets"]}
    assert {"tumour/tumour_candidate", "tumour/tumour_production", "tumour_train"} <= keys
    assert {
        "iris-v2/iris_v2_candidate",
        "iris-v2/iris_v2_evaluation",
        "iris_v2_train",
        "iris_v2_test",
        "iris_v2_data",
        "wine_data",
        "wine/wine_candidate",
    } <= keys
    checks = {check["key"] for check in found["asset_checks"]}
    assert {
        "tumour/tumour_evaluation:auc_threshold",
        "tumour/tumour_evaluation:accuracy_regression",
        "iris-v2/iris_v2_evaluation:auc_threshold",
    } <= checks
    assert {s["name"] for s in found["sensors"]} >= {
        "tumour_promotion_sensor",
        "iris_v2_promotion_sensor",
        "iris_v2_automation_sensor",
    }
    assert {s["name"] for s in found["schedules"]} == {
        "tumour_retraining_schedule",
        "iris_v2_retraining_schedule",
        "wine_retraining_schedule",
    }

    # A schema error: Dagster's own message names the field and the line of the YAML.
    defs_yaml = project / "cancer_component/defs/cancer/defs.yaml"
    defs_yaml.write_text(defs_yaml.read_text().replace("min_delta: 0.001", "min_delta: lots"))
    broken = dg_cli(project, "check", "defs")
    assert broken.returncode != 0
    output = broken.stdout + broken.stderr
    assert "attributes.policy.PolicyModel.min_delta" in output
    assert "cancer/defs.yaml:" in output and "valid number" in output


def test_component_assets_put_a_version_in_production(
    component_defs: dg.Definitions, tmp_path: Path
) -> None:
    with dg.instance_for_test() as instance:
        retraining = component_defs.resolve_job_def("tumour_retraining")
        assert retraining.execute_in_process(instance=instance).success
        sensor = component_defs.resolve_sensor_def("tumour_promotion_sensor")
        resources = {"registry": component_defs.resources["registry"]}  # the YAML's own
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            tick = sensor.evaluate_tick(context)
        assert tick.run_requests, tick.skip_message
        promotion = component_defs.resolve_job_def("tumour_promotion")
        run_config = tick.run_requests[0].run_config
        assert promotion.execute_in_process(instance=instance, run_config=run_config).success
    with ModelRegistry.open(
        f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path / "artifacts")
    ) as registry:
        production = registry.get_version("tumour@production")
        assert production.version == 1 and production.metrics["auc"] >= 0.9


def test_the_component_and_the_python_factory_build_the_same_definitions(
    component_defs: dg.Definitions,
) -> None:
    model = importlib.import_module("cancer_component.model")
    pipeline = build_model_pipeline(
        model_name="tumour",
        datasets={"train": "tumour_train"},
        holdout="tumour_test",
        train=model.train_forest,
        evaluate=model.evaluate,
        policy=PromotionPolicy(
            "auc", min_delta=0.001, guards=(GuardMetric("accuracy", True, 0.05),)
        ),
        gates=[MetricThreshold("auc", minimum=0.9)],
        retrain_cron="0 4 * * 1",
        translator=RegistryTranslator(
            RegistryTranslatorSettings(enable_automatic_retraining=False)
        ),
    )
    python_defs = pipeline.definitions(
        extra_assets=[
            registry_dataset()(model.tumours),
            registry_dataset(outs=["tumour_train", "tumour_test"])(model.tumour_split),
        ],
        resources={"registry": ModelRegistryResource()},
    )

    def shape(defs: dg.Definitions) -> dict[str, object]:
        graph = defs.resolve_asset_graph()
        return {
            "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
            "checks": sorted(str(key) for key in graph.asset_check_keys),
            "jobs": sorted(
                (job.name, sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys))
                for job in defs.resolve_all_job_defs()
                if job.name != "__ASSET_JOB"
            ),
            "sensors": sorted(s.name for s in defs.sensors or ()),
            "schedules": sorted((s.name, s.cron_schedule) for s in defs.schedules or ()),
            "groups": sorted(
                (key.to_user_string(), graph.get(key).group_name)
                for key in graph.get_all_asset_keys()
            ),
        }

    assert shape(component_defs) == shape(python_defs)
