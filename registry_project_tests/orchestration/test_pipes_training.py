"""Training through Dagster Pipes: a real subprocess (PipesSubprocessClient) trains on the
snapshot it was handed and reports through `registry_project.pipes`; the registry records
the version with the process's own lineage. A crash or a NaN metric registers nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from registry_project import ModelRegistry, PromotionPolicy
from registry_project.core.environment import capture_code
from registry_project.orchestration import (
    ModelRegistryResource,
    build_model_pipeline,
    registry_dataset,
    registry_pipes_training,
)
from registry_project.orchestration import metadata as md
from registry_project.pipelines.churn_data import generate_customers

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("pipes_train_script.py")


@registry_dataset()
def pipes_customers() -> pd.DataFrame:
    return generate_customers(date(2026, 11, 2), 400, salt="pipes")


class PipesLogisticConfig(dg.Config):
    C: float = 0.5


@registry_pipes_training(model_name="pipes-churn", datasets={"train": pipes_customers})
def pipes_candidate(
    context: dg.AssetExecutionContext,
    config: PipesLogisticConfig,
    pipes_subprocess_client: dg.PipesSubprocessClient,
    extras: dict,
) -> dg.PipesClientCompletedInvocation:
    return pipes_subprocess_client.run(
        context=context, command=[sys.executable, str(SCRIPT)], extras=extras
    )


@pytest.fixture
def training_checkout(tmp_path: Path) -> Path:
    """Where the external process runs: its own git work tree and requirements file, so its
    lineage cannot be confused with the Dagster process's (this repository)."""
    checkout = tmp_path / "trainer"
    checkout.mkdir()
    (checkout / "requirements.txt").write_text("scikit-learn\n")
    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "trainer-main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "trainer"], check=True)
    return checkout


def _client(checkout: Path, mode: str) -> dg.PipesSubprocessClient:
    return dg.PipesSubprocessClient(
        cwd=str(checkout), env={"PIPES_TRAIN_MODE": mode, "PYTHONPATH": str(REPOSITORY)}
    )


def _run(
    instance: dg.DagsterInstance,
    resource: ModelRegistryResource,
    checkout: Path,
    mode: str,
) -> dg.ExecuteInProcessResult:
    dg.materialize([pipes_customers], instance=instance, resources={"registry": resource})
    return dg.materialize(
        [pipes_customers, pipes_candidate],
        selection=[pipes_candidate.key],
        instance=instance,
        resources={"registry": resource, "pipes_subprocess_client": _client(checkout, mode)},
        run_config=dg.RunConfig(ops={pipes_candidate.op.name: PipesLogisticConfig(C=0.25)}),
        raise_on_error=False,
    )


def test_a_subprocess_trains_and_the_version_has_the_processs_lineage(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
    training_checkout: Path,
) -> None:
    result = _run(instance, registry_resource, training_checkout, "ok")
    assert result.success

    version = registry.get_version("pipes-churn/1")
    lineage = registry.lineage(version)
    snapshot = registry.datasets("pipes_customers")[0]
    assert [(d.snapshot.id, d.role) for d in lineage.datasets] == [(snapshot.id, "train")]
    assert lineage.dagster_run_id == result.run_id
    assert lineage.run is not None and lineage.run.dagster_run_id == result.run_id
    # Captured in the external process: the trainer's commit and branch, its project files.
    trainer = capture_code(training_checkout)
    assert lineage.code is not None and lineage.code.commit == trainer.commit
    assert lineage.code.commit != capture_code(REPOSITORY).commit
    assert lineage.code.branch == "trainer-main"
    assert lineage.environment is not None
    assert [f.path for f in lineage.environment.files] == ["requirements.txt"]
    assert registry.blobs.read_bytes(lineage.environment.files[0].digest) == b"scikit-learn\n"
    # Params: the run config passed in, and what the process reported it chose.
    assert dict(lineage.run.params) == {"C": 0.25, "solver": "lbfgs", "seen_by_process": ["C"]}
    assert 0.5 < version.metrics["train_accuracy"] <= 1.0
    model = registry.load_model(version)  # the bytes the process stored, digest verified
    assert model.get_params()["C"] == 0.25
    assert [c.name for c in version.signature or ()] == [
        "tenure_months",
        "monthly_charges",
        "support_calls",
    ]
    recorded = md.recorded_metadata(instance, pipes_candidate.key)
    assert recorded is not None and recorded[md.VERSION_ID].value == version.id
    assert recorded[md.INPUTS].value == {f"train:{snapshot.name}": snapshot.id}


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("crash", "External execution process failed with code 1"),
        ("nan", "metric 'train_accuracy' is nan; NaN and infinity are refused"),
    ],
)
def test_a_crashing_process_or_a_nan_metric_registers_nothing(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
    training_checkout: Path,
    mode: str,
    message: str,
) -> None:
    result = _run(instance, registry_resource, training_checkout, mode)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert message in str(failure.step_failure_data.error)
    assert registry.models() == []
    # Not even a failed run: the report is checked before anything is written.
    assert {event.action for event in registry.audit_log()} == {"snapshot_dataset"}
    assert md.recorded_metadata(instance, pipes_candidate.key) is None
    # Bytes the process stored before failing are unreferenced: gc collects them.
    orphans = registry.gc(dry_run=True, grace_period=timedelta(0)).orphan_digests
    assert len(orphans) >= 1


def test_a_pipes_candidate_is_the_pipelines_training_asset() -> None:
    pipeline = build_model_pipeline(
        model_name="pipes-churn",
        datasets={"train": pipes_customers},
        holdout=pipes_customers,
        train=pipes_candidate,
        evaluate=lambda model, holdout: {"accuracy": 1.0},
        policy=PromotionPolicy("accuracy"),
    )
    assert pipeline.candidate is pipes_candidate
    graph = pipeline.definitions(
        extra_assets=[pipes_customers],
        resources={
            "registry": ModelRegistryResource(),
            "pipes_subprocess_client": dg.PipesSubprocessClient(),
        },
    ).resolve_asset_graph()
    assert pipes_candidate.key in graph.get(pipeline.evaluation.key).parent_keys
    assert pipes_candidate.key in pipeline.retraining_job.selection.resolve(graph)
