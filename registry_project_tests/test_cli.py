"""The `registry` command line, on a real registry filled through the Python API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project.core.store import migrate


@dataclass(frozen=True)
class Filled:
    database_url: str
    artifact_root: str
    train_id: str
    holdout_id: str
    scratch_id: str


@pytest.fixture
def filled(tmp_path: Path) -> Filled:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    root = str(tmp_path / "artifacts")
    with ModelRegistry.open(url, root) as reg:
        train = reg.snapshot_dataset("customers", pd.DataFrame({"x": range(10), "y": [0, 1] * 5}))
        holdout = reg.snapshot_dataset("holdout", pd.DataFrame({"x": range(5), "y": [1] * 5}))
        scratch = reg.snapshot_dataset("scratch", pd.DataFrame({"z": [1]}))
        for c, auc in [(0.1, 0.80), (1.0, 0.86), (10.0, 0.83)]:
            with reg.start_run("churn-training", params={"C": c}, inputs=[train]) as run:
                reg.register_model("churn", {"C": c}, run=run, metrics={"auc": auc}, actor="carol")
        reg.log_metrics("churn/2", {"auc": 0.87}, dataset=holdout, actor="eval")
        reg.promote("churn/1", actor="alice", reason="baseline")
        reg.register_model("fraud", {"w": 1}, metrics={"recall": 0.7}, actor="carol")
    return Filled(url, root, train.id, holdout.id, scratch.id)


def run(filled: Filled, *args: str, actor: str = "tester") -> Result:
    base = ["--database-url", filled.database_url, "--artifact-root", filled.artifact_root]
    return CliRunner().invoke(cli, [*base, "--actor", actor, *args], catch_exceptions=False)


def run_json(filled: Filled, *args: str) -> object:
    result = run(filled, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_models(filled: Filled) -> None:
    table = run(filled, "models")
    assert table.exit_code == 0
    assert "churn" in table.output and "fraud" in table.output and "auc=0.8" in table.output
    rows = run_json(filled, "models")
    assert rows == [
        {
            "name": "churn",
            "latest_version": 3,
            "production_version": 1,
            "metric": "auc",
            "value": 0.8,
            "metric_from_version": 1,
            "created_at": rows[0]["created_at"],  # type: ignore[index]
        },
        {
            "name": "fraud",
            "latest_version": 1,
            "production_version": None,
            "metric": "recall",
            "value": 0.7,
            "metric_from_version": 1,
            "created_at": rows[1]["created_at"],  # type: ignore[index]
        },
    ]


def test_versions_order_filter_limit(filled: Filled) -> None:
    table = run(filled, "versions", "churn", "--order-by", "-metrics.auc")
    assert table.exit_code == 0 and "production" in table.output
    found = run_json(filled, "versions", "churn", "--order-by", "-metrics.auc", "--limit", "2")
    assert [v["version"] for v in found] == [2, 3]  # type: ignore[index]
    assert found[0]["metrics"] == {"auc": 0.87}  # type: ignore[index]
    staged = run_json(filled, "versions", "churn", "--stage", "production")
    assert [v["ref"] for v in staged] == ["churn/1"]  # type: ignore[index]
    per_command = run(filled, "versions", "churn", "--json")
    assert json.loads(per_command.stdout)[0]["version"] == 3


def test_show_by_every_reference(filled: Filled) -> None:
    table = run(filled, "show", "churn@production")
    assert table.exit_code == 0
    for text in ("churn/1", "production", "C=0.1", "customers (trained)", "sha256:"):
        assert text in table.output
    shown = run_json(filled, "show", "churn/2")
    assert shown["version"]["version"] == 2  # type: ignore[index]
    assert shown["lineage"]["run"]["params"] == {"C": 1.0}  # type: ignore[index]
    by_id = run_json(filled, "show", shown["version"]["id"])  # type: ignore[index]
    assert by_id["version"]["ref"] == "churn/2"  # type: ignore[index]


def test_compare_highlights_and_deltas(filled: Filled) -> None:
    table = run(filled, "compare", "churn", "2", "3")
    assert table.exit_code == 0
    assert "Δ v2" in table.output and "production (v1)" in table.output
    data = run_json(filled, "compare", "churn", "2", "3")
    assert data["columns"] == ["v2", "v3", "production (v1)", "Δ v2", "Δ v3"]  # type: ignore[index]
    assert data["rows"]["metric.auc"]["Δ v2"] == pytest.approx(0.07)  # type: ignore[index]
    assert data["rows"]["param.C"]["v3"] == 10.0  # type: ignore[index]


def test_lineage_tree_and_json(filled: Filled) -> None:
    table = run(filled, "lineage", "churn/2")
    assert table.exit_code == 0
    for text in ("datasets", "customers (trained/train)", "holdout (evaluated)", "environment"):
        assert text in table.output
    data = run_json(filled, "lineage", "churn/2")
    names = {d["snapshot"]["name"] for d in data["datasets"]}  # type: ignore[index]
    assert names == {"customers", "holdout"}


def test_stage_commands_and_compare_and_swap(filled: Filled) -> None:
    moved = run(filled, "transition", "churn/3", "staging", "--reason", "checks passed")
    assert moved.exit_code == 0 and "staging" in moved.output
    stale = run(filled, "promote", "churn/2", "--reason", "better", "--expect", "none")
    assert stale.exit_code == 1
    assert stale.stderr.startswith("error: production of 'churn' changed")
    assert "Traceback" not in stale.output
    promoted = run_json(filled, "promote", "churn/2", "--reason", "better", "--expect", "churn/1")
    assert promoted["stage"] == "production"  # type: ignore[index]
    rolled = run_json(filled, "rollback", "churn", "--reason", "incident 42")
    assert rolled["ref"] == "churn/1"  # type: ignore[index]
    own = run(filled, "approve", "churn/3", "--reason", "mine", actor="carol")
    assert own.exit_code == 1 and "cannot approve" in own.stderr
    approved = run(filled, "approve", "churn/3", "--reason", "reviewed", actor="bob")
    assert approved.exit_code == 0 and "approved churn/3 as bob" in approved.output
    events = run_json(filled, "audit", "--model", "churn", "--action", "rollback")
    assert [(e["actor"], e["reason"]) for e in events] == [("tester", "incident 42")]  # type: ignore[index]


def test_datasets_dependents_and_deletion(filled: Filled) -> None:
    table = run(filled, "datasets")
    assert table.exit_code == 0 and "customers" in table.output and "live" in table.output
    listed = run_json(filled, "datasets", "customers")
    assert [d["id"] for d in listed] == [filled.train_id]  # type: ignore[index]
    deps = run_json(filled, "dependents", filled.train_id)
    assert sorted(d["version"] for d in deps) == [1, 2, 3]  # type: ignore[index]
    refused = run(filled, "delete-dataset", filled.train_id, "--reason", "GDPR 17")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: 3 model version(s) depend on this dataset")
    assert "│ churn │ 1       │ production │ trained" in refused.stderr
    forced = run_json(filled, "delete-dataset", filled.train_id, "--reason", "GDPR 17", "--force")
    assert forced["deleted"] is True and forced["deleted_by"] == "tester"  # type: ignore[index]
    assert "deleted" in run(filled, "datasets", "customers").output
    plain = run(filled, "delete-dataset", filled.scratch_id, "--reason", "unused")
    assert plain.exit_code == 0


def test_dependents_in_pages_with_the_next_command_printed(filled: Filled) -> None:
    first = run(filled, "dependents", filled.train_id, "--limit", "2")
    assert (
        first.exit_code == 0
        and "│ churn │ 1 " in first.output
        and "│ churn │ 3 " not in first.output
    )
    follow = f"registry dependents {filled.train_id} --limit 2 --after churn/2/trained"
    assert first.output.rstrip().endswith(f"next page: {follow}")
    last = run(filled, "dependents", filled.train_id, "--limit", "2", "--after", "churn/2/trained")
    assert last.exit_code == 0 and "│ churn │ 3 " in last.output and "next page" not in last.output
    done = run(filled, "dependents", filled.train_id, "--after", "churn/3/trained")
    assert done.output == "no more dependents after churn/3/trained\n"
    # --json: the same rows as without paging, each with its cursor for --after.
    pages = [run_json(filled, "dependents", filled.train_id, "--limit", "2")]
    pages.append(
        run_json(
            filled, "dependents", filled.train_id, "--limit", "2", "--after", pages[0][-1]["cursor"]
        )  # type: ignore[index]
    )
    whole = run_json(filled, "dependents", filled.train_id)
    assert [d for page in pages for d in page] == whole  # type: ignore[union-attr]
    assert [d["cursor"] for d in whole] == [f"churn/{v}/trained" for v in (1, 2, 3)]  # type: ignore[index]
    holdout = run_json(filled, "dependents", filled.holdout_id, "--after", "churn/1/trained")
    assert [(d["version"], d["relation"]) for d in holdout] == [(2, "evaluated")]  # type: ignore[index]


def test_dependents_refuses_bad_pages_in_one_line(filled: Filled) -> None:
    for cursor in (
        "churn/2",
        "churn/two/trained",
        "churn/2/used",
        "bad name/2/trained",
        "x" * 5000,
    ):
        bad = run(filled, "dependents", filled.train_id, "--after", cursor)
        assert bad.exit_code == 1 and bad.stdout == "", cursor
        assert bad.stderr.startswith("error: invalid ") and "cursor" in bad.stderr, bad.stderr
        assert len(bad.stderr.splitlines()) == 1 and len(bad.stderr) < 400
    for limit in ("0", "-3", "many"):
        bad = run(filled, "dependents", filled.train_id, "--limit", limit)
        assert bad.exit_code == 2 and "--limit" in bad.output


def test_audit_since_and_bad_dates(filled: Filled) -> None:
    events = run_json(filled, "audit", "--since", "2000-01-01")
    assert len(events) >= 10  # type: ignore[arg-type]
    assert run_json(filled, "audit", "--since", "2999-01-01") == []
    table = run(filled, "audit", "--model", "churn")
    assert table.exit_code == 0 and "promote" in table.output and "alice" in table.output
    bad = run(filled, "audit", "--since", "yesterday-ish")
    assert bad.exit_code == 2 and "is not a date" in bad.output


def test_audit_newest_first_shows_the_latest_events(filled: Filled) -> None:
    everything = run_json(filled, "audit")
    latest = run_json(filled, "audit", "--newest-first", "--limit", "3")
    assert [e["seq"] for e in latest] == [e["seq"] for e in everything][::-1][:3]  # type: ignore[index]
    oldest = run_json(filled, "audit", "--limit", "3")
    assert [e["seq"] for e in oldest] == [1, 2, 3]  # type: ignore[index]


def test_verify_and_gc(filled: Filled) -> None:
    ok = run(filled, "verify")
    assert ok.exit_code == 0 and "ok" in ok.output
    with ModelRegistry.open(filled.database_url, filled.artifact_root) as reg:
        orphan = reg.blobs.put_bytes(b"orphan")
        mv = reg.get_version("fraud/1")
        Path(reg.blobs.uri_for(mv.artifact_digest)).write_bytes(b"tampered")
    dry = run_json(filled, "gc", "--grace-minutes", "0")
    assert dry["dry_run"] is True and orphan.digest in dry["orphan_digests"]  # type: ignore[index]
    applied = run(filled, "gc", "--apply", "--grace-minutes", "0")
    assert applied.exit_code == 0 and "deleted 1" in applied.output
    broken = run(filled, "verify")
    assert broken.exit_code == 1 and "blob_corrupt" in broken.output
    report = run(filled, "--json", "verify")
    assert report.exit_code == 1 and json.loads(report.stdout)["ok"] is False


def test_download_writes_verified_bytes(filled: Filled, tmp_path: Path) -> None:
    target = tmp_path / "model.pkl"
    result = run(filled, "download", "churn@production", "-o", str(target))
    assert result.exit_code == 0 and "verified" in result.output
    with ModelRegistry.open(filled.database_url, filled.artifact_root) as reg:
        expected = reg.blobs.read_bytes(reg.get_version("churn/1").artifact_digest)
    assert target.read_bytes() == expected
    data = run_json(filled, "download", "fraud/1", "-o", str(tmp_path / "f.pkl"))
    assert data["version"]["ref"] == "fraud/1"  # type: ignore[index]


def test_db_commands(filled: Filled) -> None:
    current = run(filled, "db", "current")
    assert current.exit_code == 0 and "up to date" in current.output
    upgraded = run(filled, "db", "upgrade")
    assert upgraded.exit_code == 0 and f"-> {migrate.head_revision()}" in upgraded.output


def test_errors_are_one_line_and_usage_errors_exit_2(filled: Filled) -> None:
    missing = run(filled, "show", "nomodel/1")
    assert missing.exit_code == 1
    assert missing.stderr.strip().count("\n") == 0 and "registry models" in missing.stderr
    bad_ref = run(filled, "show", "../etc")
    assert bad_ref.exit_code == 1 and bad_ref.stderr.startswith("error: invalid")
    usage = run(filled, "promote", "churn/2")
    assert usage.exit_code == 2 and "--reason" in usage.output
    bad_order = run(filled, "versions", "churn", "--order-by", "name; DROP TABLE models")
    assert bad_order.exit_code == 1 and "order_by" in bad_order.stderr


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    # list_commands: every command, loaded or not (the group imports one when invoked).
    for name in cli.list_commands(click.Context(cli)):
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        if name != "db":
            assert "Example" in result.output, f"{name} --help has no example"


def test_installed_executable(filled: Filled) -> None:
    executable = Path(sys.executable).parent / "registry"
    env = dict(
        os.environ,
        REGISTRY_DATABASE_URL=filled.database_url,
        REGISTRY_ARTIFACT_ROOT=filled.artifact_root,
    )
    done = subprocess.run(
        [str(executable), "--json", "versions", "churn"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [v["version"] for v in json.loads(done.stdout)] == [3, 2, 1]
    failed = subprocess.run(
        [str(executable), "show", "churn/99"], capture_output=True, text=True, env=env, timeout=120
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: no model version") and "Traceback" not in failed.stderr


def test_listing_commands_do_not_import_pandas(filled: Filled) -> None:
    """pandas and pyarrow take about half a second to import; `versions`, `show` and
    `audit` never need them, so they must not pay for them."""
    script = (
        "import sys\n"
        "from registry_project.cli import main\n"
        "for argv in (['versions', 'churn'], ['show', 'churn/1'], ['audit', '--limit', '3']):\n"
        "    sys.argv = ['registry', '--json', *argv]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exit:\n"
        "        assert not exit.code, (argv, exit.code)\n"
        "print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules), file=sys.stderr)\n"
    )
    env = dict(
        os.environ,
        REGISTRY_DATABASE_URL=filled.database_url,
        REGISTRY_ARTIFACT_ROOT=filled.artifact_root,
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert '"version": 3' in done.stdout  # the commands did run
