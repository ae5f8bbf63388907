"""Anchors read from a real Dagster instance: the production asset's materialization and
the anchor sensor's observation record the audit head in Dagster's event log;
`dagster_anchors` reads them back, and a whole-chain rewrite of the registry database
(every event re-hashed consistently) is caught against them, by `verify` and through
`python -m registry_project.orchestration.anchors | registry verify --anchor-file -`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project.orchestration import (
    ModelRegistryResource,
    audit_chain_asset,
    dagster_anchors,
    registry_audit_anchor_sensor,
)
from registry_project.orchestration.anchors import AUDIT_CHAIN_KEY
from registry_project.pipelines.churn import DATASETS, churn
from registry_project_tests.core.test_anchors import _rewrite_history

PRODUCTION = churn.production.key


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME of its own: the instance `DagsterInstance.get()` opens, here and in
    another process."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _observe(instance: dg.DagsterInstance, resource: ModelRegistryResource, cursor: str | None):
    """One tick of the anchor sensor, its observation stored as the daemon stores it."""
    sensor = registry_audit_anchor_sensor()
    with dg.build_sensor_context(
        instance=instance, resources={"registry": resource}, cursor=cursor
    ) as context:
        data = sensor.evaluate_tick(context)
    for event in data.asset_events:
        instance.report_runless_asset_event(event)
    return data


def test_a_whole_chain_rewrite_is_caught_against_dagsters_anchors(
    dagster_home: Path, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    assert registry_audit_anchor_sensor().default_status is dg.DefaultSensorStatus.STOPPED
    instance = dg.DagsterInstance.get()
    assets = [*DATASETS, *churn.assets, audit_chain_asset()]
    resources = {"registry": registry_resource}
    training = [*(d.key for d in DATASETS), churn.candidate.key, churn.evaluation.key]
    assert dg.materialize(assets, instance=instance, resources=resources, selection=training)
    version = registry.get_version("churn/1")
    registry.approve(version, actor="bob", reason="reviewed the holdout metrics")
    config = {"candidate_version_id": version.id, "reason": "first"}
    promoted = dg.materialize(
        assets,
        instance=instance,
        resources=resources,
        selection=[PRODUCTION],
        run_config={"ops": {PRODUCTION.to_python_identifier(): {"config": config}}},
    )
    assert promoted.success
    head_at_promotion = registry.audit_head()
    registry.set_model_card_text("churn", intended_use="Rank retention offers", actor="ana")
    first = _observe(instance, registry_resource, None)
    [observation] = first.asset_events
    assert observation.asset_key == AUDIT_CHAIN_KEY
    assert _observe(instance, registry_resource, first.cursor).skip_message.startswith(
        "the audit head is still"
    )

    anchors = dagster_anchors(instance)
    assert head_at_promotion in anchors and registry.audit_head() in anchors
    assert registry.verify(anchors=anchors).ok

    _rewrite_history(registry, "nobody reviewed it")
    assert registry.verify().ok  # the chain alone cannot tell
    report = registry.verify(anchors=dagster_anchors(instance))
    assert report.problems and {p.kind for p in report.problems} == {"audit_rewritten"}
    assert f"event #{head_at_promotion[0]}" in {p.subject for p in report.problems}

    # The same from the shell: the anchors printed by another process reading DAGSTER_HOME.
    printed = subprocess.run(
        [sys.executable, "-m", "registry_project.orchestration.anchors"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=True,
    )
    assert f"{head_at_promotion[0]}:{head_at_promotion[1]}" in printed.stdout.splitlines()
    base = ["--database-url", registry_resource.database_url]
    base += ["--artifact-root", registry_resource.artifact_root]
    checked = CliRunner().invoke(cli, [*base, "verify", "--anchor-file", "-"], input=printed.stdout)
    assert checked.exit_code == 1 and "audit_rewritten" in checked.output
    bad = CliRunner().invoke(cli, [*base, "verify", "--anchor-file", "-"], input="7:nothex\n")
    assert bad.exit_code == 1 and "line 1:" in bad.output and "Traceback" not in bad.output


def test_no_anchors_in_an_empty_instance(dagster_home: Path) -> None:
    with dg.DagsterInstance.get() as instance:
        assert dagster_anchors(instance) == []
    from registry_project.orchestration.anchors import main

    assert main([]) == 1
