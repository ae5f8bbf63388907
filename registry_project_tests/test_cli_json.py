"""The `registry` command line: the documented --json shape of every command, both --json
spellings, stored text that must not crash or forge a table, and the schema workflow.

test_cli.py covers what each command does; this file covers the contract around it.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project.core.store import migrate
from registry_project.core.store.engine import create_registry_engine

HOSTILE_REASON = "see [/] and [bold]x[/bold] :smile:\nforged line"
HOSTILE_ACTOR = "[red]eve"


@dataclass(frozen=True)
class Demo:
    database_url: str
    artifact_root: str
    train_id: str
    scratch_id: str
    reference_id: str


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    """churn/1 (production, promoted with a hostile reason), churn/2 (experiment, better),
    fraud/1 (no run, no production); a snapshot, a holdout, a scratch set and a reference."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    root = str(tmp_path / "artifacts")
    with ModelRegistry.open(url, root) as reg:
        train = reg.snapshot_dataset("customers", pd.DataFrame({"x": range(6), "y": [0, 1] * 3}))
        holdout = reg.snapshot_dataset("holdout", pd.DataFrame({"x": [1, 2], "y": [1, 0]}))
        scratch = reg.snapshot_dataset("scratch", pd.DataFrame({"z": [1]}))
        events = reg.reference_dataset("events", "s3://lake/events.parquet", version_id="v1")
        for c, auc in [(0.5, 0.80), (2.0, 0.85)]:
            with reg.start_run("churn-training", params={"C": c}, inputs=[train]) as run:
                reg.register_model("churn", {"C": c}, run=run, metrics={"auc": auc}, actor="carol")
        reg.log_metrics("churn/2", {"auc": 0.86}, dataset=holdout, actor="ci")
        reg.promote("churn/1", actor=HOSTILE_ACTOR, reason=HOSTILE_REASON)
        reg.register_model("fraud", {"w": 1}, metrics={"recall": 0.7}, actor="carol")
    return Demo(url, root, train.id, scratch.id, events.id)


def invoke(demo: Demo, *args: str, actor: str | None = "tester", **env: str) -> Result:
    base = ["--database-url", demo.database_url, "--artifact-root", demo.artifact_root]
    if actor is not None:
        base += ["--actor", actor]
    return CliRunner(env=env or None).invoke(cli, [*base, *args], catch_exceptions=False)


def as_json(demo: Demo, *args: str) -> Any:
    """The command's --json document; it must exit 0 and print nothing on stderr."""
    result = invoke(demo, "--json", *args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no progress bar or spinner leaks into machine output
    return json.loads(result.stdout)


VERSION_KEYS = {
    "id",
    "model_name",
    "version",
    "ref",
    "stage",
    "flavor",
    "python_class",
    "artifact_digest",
    "artifact_size",
    "created_at",
    "created_by",
    "stage_changed_at",
    "run_id",
    "metrics",
    "signature",
    "description",
    "trained_on_deleted_data",
    "dagster_run_id",
    "asset_key",
}
DATASET_KEYS = {"id", "name", "kind", "digest", "uri", "row_count", "columns", "created_at"}
DATASET_KEYS |= {"created_by", "version_id", "deleted", "deleted_at", "deleted_by"}
DATASET_KEYS |= {"deletion_reason"}
DEPENDENT_KEYS = {"version_id", "model_name", "version", "stage", "relation", "role", "cursor"}
EVENT_KEYS = {"seq", "id", "at", "actor", "action", "subject_type", "subject_id", "model_name"}
EVENT_KEYS |= {"dataset_name", "before", "after", "reason", "prev_hash", "hash"}


def test_read_commands_json_shapes(demo: Demo) -> None:
    models = as_json(demo, "models")
    assert set(models[0]) == {
        "name",
        "latest_version",
        "production_version",
        "metric",
        "value",
        "metric_from_version",
        "created_at",
    }
    assert models[0]["created_at"].endswith("+00:00")  # ISO 8601 with the UTC offset

    versions = as_json(demo, "versions", "churn")
    assert set(versions[0]) >= VERSION_KEYS

    shown = as_json(demo, "show", "churn@production")
    assert set(shown) == {
        "version",
        "lineage",
        "approvals",
        "protection",
        "aliases",
        "tags",
        "model_tags",
        "retention",
        "dataset_retention",
    }
    assert shown["lineage"]["transitions"][-1]["reason"] == HOSTILE_REASON

    lineage = as_json(demo, "lineage", "churn/2")
    assert {"version", "run", "datasets", "code", "environment", "dagster_run_id"} <= set(lineage)
    assert {"snapshot", "relation", "role", "deleted"} == set(lineage["datasets"][0])

    compared = as_json(demo, "compare", "churn", "2")
    assert set(compared) == {"columns", "rows", "differs"}
    assert compared["columns"] == ["v2", "production (v1)", "Δ v2"]
    assert compared["differs"] == ["param.C", "metric.auc"]
    assert compared["rows"]["metric.auc"]["Δ v2"] == pytest.approx(0.06)
    assert compared["rows"]["stage"]["Δ v2"] is None  # NaN becomes null, never NaN

    datasets = as_json(demo, "datasets")
    assert all(set(d) >= DATASET_KEYS for d in datasets)
    assert {d["kind"] for d in datasets} == {"snapshot", "reference"}

    dependents = as_json(demo, "dependents", demo.train_id)
    assert all(set(d) == DEPENDENT_KEYS for d in dependents)

    events = as_json(demo, "audit", "--model", "churn")
    assert all(set(e) >= EVENT_KEYS for e in events)

    assert set(as_json(demo, "verify")) == {"blobs_checked", "events_checked", "problems", "ok"}
    gc = as_json(demo, "gc")
    assert set(gc) == {"dry_run", "orphan_digests", "bytes_reclaimable", "temp_files_removed"} | {
        "deleted"
    }
    assert as_json(demo, "db", "current") == {
        "database": migrate.head_revision(),
        "package": migrate.head_revision(),
        "up_to_date": True,
    }


def test_json_after_the_command_name_is_the_same_document(demo: Demo) -> None:
    for args in (["versions", "churn"], ["datasets", "customers"], ["db", "current"]):
        after = invoke(demo, *args, "--json")
        assert after.exit_code == 0
        assert json.loads(after.stdout) == as_json(demo, *args), args


def test_write_commands_json_shapes(demo: Demo, tmp_path: Path) -> None:
    moved = as_json(demo, "transition", "churn/2", "staging", "--reason", "checks passed")
    assert set(moved) >= VERSION_KEYS and moved["stage"] == "staging"
    approved = as_json(demo, "approve", "churn/2", "--reason", "reviewed")
    assert set(approved) == {"version", "approved_by"} and approved["approved_by"] == "tester"
    promoted = as_json(demo, "promote", "churn/2", "--reason", "better", "--expect", "churn/1")
    assert promoted["ref"] == "churn/2" and promoted["stage"] == "production"
    rolled = as_json(demo, "rollback", "churn", "--reason", "incident 42")
    assert rolled["ref"] == "churn/1" and rolled["stage"] == "production"
    first = as_json(demo, "promote", "fraud/1", "--reason", "first", "--expect", "none")
    assert first["stage"] == "production"
    target = tmp_path / "model.bin"
    downloaded = as_json(demo, "download", "fraud/1", "-o", str(target))
    assert set(downloaded) == {"version", "path", "sha256"} and target.exists()
    tombstone = as_json(demo, "delete-dataset", demo.scratch_id, "--reason", "unused")
    assert set(tombstone) >= DATASET_KEYS and tombstone["deleted"] is True
    assert tombstone["deletion_reason"] == "unused"
    head = migrate.head_revision()
    assert as_json(demo, "db", "upgrade") == {"before": head, "after": head, "package": head}


def test_refused_deletion_lists_dependents_in_both_forms(demo: Demo) -> None:
    table = invoke(demo, "delete-dataset", demo.train_id, "--reason", "GDPR 17")
    assert table.exit_code == 1 and table.stdout == ""
    assert table.stderr.startswith("error: 2 model version(s) depend on this dataset")
    assert "churn" in table.stderr and "production" in table.stderr
    data = invoke(demo, "--json", "delete-dataset", demo.train_id, "--reason", "GDPR 17")
    assert data.exit_code == 1 and data.stderr.startswith("error: ")
    refusal = json.loads(data.stdout)
    assert refusal["deleted"] is False and "churn/1" in refusal["error"]
    assert sorted(d["version"] for d in refusal["dependents"]) == [1, 2]
    assert as_json(demo, "datasets", "customers")[0]["deleted"] is False  # nothing changed


def test_table_forms_not_covered_elsewhere(demo: Demo) -> None:
    promoted = invoke(demo, "promote", "churn/2", "--reason", "better")
    assert promoted.exit_code == 0
    assert promoted.stdout.startswith("promoted churn/2 -> production as tester (")
    rolled = invoke(demo, "rollback", "churn", "--reason", "incident 42")
    assert rolled.stdout.startswith("rolled back to churn/1 -> production as tester")
    dependents = invoke(demo, "dependents", demo.train_id)
    assert dependents.exit_code == 0 and "trained" in dependents.stdout
    assert "no model version depends" in invoke(demo, "dependents", demo.scratch_id).stdout
    datasets = invoke(demo, "datasets")
    assert "reference" in datasets.stdout and demo.reference_id in datasets.stdout
    compared = invoke(demo, "compare", "churn", "1", "2")
    marked = [line for line in compared.stdout.splitlines() if line.startswith("│ * ")]
    assert [line.split("│")[2].strip() for line in marked] == ["param.C", "metric.auc"]
    assert "+0.06" in compared.stdout  # delta of v2 to production, signed
    lineage = invoke(demo, "lineage", "churn/1")
    assert "stage history (UTC)" in lineage.stdout and "experiment -> production" in lineage.stdout
    audit = invoke(demo, "audit", "--model", "churn", "--action", "promote").stdout
    assert "churn/1" in audit and "stage experiment->production" in audit
    assert "no audit events match" in invoke(demo, "audit", "--actor", "nobody").stdout


def test_stored_text_is_shown_literally_and_cannot_forge_lines(demo: Demo) -> None:
    for args in (["audit"], ["audit", "--action", "promote"], ["lineage", "churn/1"]):
        result = invoke(demo, *args)
        assert result.exit_code == 0, result.output
        # Tables wrap at spaces, so look for each space-free token of the reason.
        for token in ("[/]", "[bold]x[/bold]", ":smile:\\nforged", HOSTILE_ACTOR):
            assert token in result.stdout, (args, token)
        assert not any(line.startswith("forged") for line in result.stdout.splitlines())


def test_actor_comes_from_option_then_environment_then_os_user(demo: Demo) -> None:
    invoke(demo, "transition", "churn/2", "staging", "--reason", "a", actor="opt")
    invoke(
        demo, "transition", "churn/2", "archived", "--reason", "b", actor=None, REGISTRY_ACTOR="env"
    )
    invoke(demo, "approve", "fraud/1", "--reason", "c", actor=None)
    events = as_json(demo, "audit", "--since", "2000-01-01T00:00:00+02:00")
    assert [e["actor"] for e in events[-3:]] == ["opt", "env", getpass.getuser()]
    naive = as_json(demo, "audit", "--since", "2999-01-01T00:00:00")
    assert naive == []


def test_schema_workflow_old_database_is_refused_until_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_registry_engine(url)
    try:
        migrate.upgrade(engine, "0001")
    finally:
        engine.dispose()
    old = Demo(url, str(tmp_path / "artifacts"), "", "", "")
    refused = invoke(old, "models")
    assert refused.exit_code == 1 and "registry db upgrade" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.output
    current = invoke(old, "db", "current")
    assert current.exit_code == 0 and "database: 0001" in current.stdout
    assert "registry db upgrade" in current.stdout
    assert invoke(old, "db", "upgrade").stdout.startswith("schema upgraded: 0001 -> ")
    assert invoke(old, "models").stdout.startswith("no models yet")


def test_schema_commands_fail_in_one_line(tmp_path: Path, demo: Demo) -> None:
    unreachable = Demo(f"sqlite:///{tmp_path}", demo.artifact_root, "", "", "")  # a directory
    for args in (["db", "current"], ["db", "upgrade"], ["models"]):
        result = invoke(unreachable, *args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, args
    bad = invoke(demo, "db", "upgrade", "--revision", "nope")
    assert bad.exit_code == 1 and "Can't locate revision" in bad.stderr
    unsupported = invoke(Demo("mysql://x/y", demo.artifact_root, "", "", ""), "models")
    assert unsupported.exit_code == 1 and "not supported" in unsupported.stderr


def test_help_groups_commands_by_purpose() -> None:
    text = CliRunner().invoke(cli, ["--help"]).stdout
    sections = ["Models and versions:", "Stages:", "Datasets:", "Audit and integrity:", "Schema:"]
    positions = [text.index(title) for title in sections]
    assert positions == sorted(positions)
    assert "..." not in text[positions[0] :]  # short help is written, not truncated
    for args in (["db", "current"], ["db", "upgrade"], ["db"]):
        assert "Example" in CliRunner().invoke(cli, [*args, "--help"]).stdout
