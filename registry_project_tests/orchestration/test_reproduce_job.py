"""The `<model>_reproduce` job on the demo model, run by Dagster (`execute_in_process` on a
real instance): trained from a clean clone of this repository, the version reproduces
bit-identically with the pipeline's own training function, first in process (the tree is
the recorded commit), then, after the clone moved on, from the recorded commit's worktree
in a child process (the demo's code imported from that commit). The outcome is recorded on
the version (audited) and shown in the run and on the candidate asset."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg
import pytest

from registry_project import ModelRegistry
from registry_project.core import environment
from registry_project.orchestration import ModelRegistryResource
from registry_project.pipelines.churn import DATASETS, churn, churn_forest
from registry_project_tests.gitrepo import git

ROOT = Path(__file__).resolve().parents[2]
CANDIDATE = dg.AssetKey(["churn", "churn_candidate"])
TRAINING = ["customers", "customers_holdout", "churn/churn_candidate", "churn/churn_evaluation"]


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean checkout of this repository's HEAD as the working directory."""
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(target)], check=True)
    git(target, "checkout", "-q", "--detach", git(ROOT, "rev-parse", "HEAD"))
    monkeypatch.chdir(target)
    environment._recent_captures.clear()
    return target


def run_reproduce(
    defs: dg.Definitions, instance: dg.DagsterInstance, ref: str
) -> dg.ExecuteInProcessResult:
    config = {"ops": {"churn_reproduce_version": {"config": {"version": ref}}}}
    return defs.resolve_job_def("churn_reproduce").execute_in_process(
        run_config=config, instance=instance, raise_on_error=False
    )


def observed(instance: dg.DagsterInstance) -> dict[str, object]:
    [record] = instance.fetch_observations(CANDIDATE, limit=1).records
    assert record.asset_observation is not None
    return {k: v.value for k, v in record.asset_observation.metadata.items()}


def test_the_demo_model_reproduces_bit_identically_through_its_job(
    clone: Path,
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    assert churn.reproduce_job is not None and churn.reproduce_job.name == "churn_reproduce"
    defs = churn.definitions(extra_assets=DATASETS, resources={"registry": registry_resource})
    trained = dg.materialize(
        [*DATASETS, *churn.assets],
        instance=instance,
        resources={"registry": registry_resource},
        selection=TRAINING,
    )
    assert trained.success
    recorded = registry.lineage("churn/1").code
    assert recorded.commit == git(clone, "rev-parse", "HEAD") and recorded.dirty is False

    here = run_reproduce(defs, instance, "churn/1")
    assert here.success
    shown = observed(instance)
    assert shown["registry/reproduction"] == "identical" and shown["registry/reproduced"] is True
    assert shown["registry/reproduced_digest"] == registry.get_version("churn/1").artifact_digest
    assert "in process at commit" in str(shown["registry/reproduction_detail"])
    [success] = here.get_step_success_events()
    assert success.step_key == "churn_reproduce_version"

    # The clone moves on: the job checks out the recorded commit and the demo's own code
    # (registry_project/pipelines/churn.py of that commit) trains in a child process.
    (clone / "NOTES.md").write_text("moved on\n")
    git(clone, "add", "NOTES.md")
    git(clone, "commit", "-q", "-m", "moved on")
    environment._recent_captures.clear()
    there = run_reproduce(defs, instance, "churn/1")
    assert there.success
    shown = observed(instance)
    assert shown["registry/reproduction"] == "identical"
    detail = str(shown["registry/reproduction_detail"])
    assert f"in a child process at commit {recorded.commit[:12]}" in detail
    assert "outside the recorded commit" not in detail  # churn.py came from the worktree
    latest = registry.latest_reproduction("churn/1")
    assert latest is not None and latest.actor == "dagster:churn_reproduce"
    events = registry.audit_log(action="reproduce")
    assert [e.after["outcome"] for e in events] == ["identical", "identical"]


def test_the_job_refuses_what_it_cannot_rebuild(
    clone: Path,
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
) -> None:
    defs = churn.definitions(extra_assets=DATASETS, resources={"registry": registry_resource})
    everything = [*DATASETS, *churn.assets, *churn_forest.assets]
    selection = [*TRAINING, "churn-forest/churn_forest_candidate"]
    assert dg.materialize(
        everything,
        instance=instance,
        resources={"registry": registry_resource},
        selection=selection,
    ).success
    other = run_reproduce(defs, instance, "churn-forest/1")
    assert not other.success
    [failure] = other.get_step_failure_events()
    assert "is a version of churn-forest" in failure.event_specific_data.error.message
    [customers] = registry.datasets("customers")
    registry.delete_dataset(customers, actor="dpo", reason="GDPR request 17", force=True)
    refused = run_reproduce(defs, instance, "churn/1")
    assert not refused.success
    [failure] = refused.get_step_failure_events()
    message = failure.event_specific_data.error.message
    assert "ReproductionRefusedError" in message and "GDPR request 17" in message
    assert registry.latest_reproduction("churn/1") is None
