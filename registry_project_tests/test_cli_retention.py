"""`registry retention set|show|apply` and the retention lines of `registry show`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project_tests.core.test_retention import backdate_version


@pytest.fixture
def where(tmp_path: Path) -> tuple[str, str]:
    url, root = f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path / "artifacts")
    with ModelRegistry.open(url, root) as reg:
        past = datetime.now(UTC) - timedelta(days=1)
        expired = reg.snapshot_dataset("customers", pd.DataFrame({"a": [1, 2]}), expires_at=past)
        with reg.start_run("training", inputs=[expired]) as run:
            pass
        old = reg.register_model("churn", {"C": 1}, run=run, actor="alice")
        reg.register_model("churn", {"C": 2}, actor="alice")
        backdate_version(reg, old.id)
    return url, root


def run(where: tuple[str, str], *args: str) -> Result:
    base = ["--database-url", where[0], "--artifact-root", where[1], "--actor", "dpo"]
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


def test_retention_set_show_apply(where: tuple[str, str]) -> None:
    set_data = run(where, "retention", "set", "--dataset", "customers", "--reason", "GDPR")
    assert set_data.exit_code == 0, set_data.output
    assert "dataset customers: keep or until expires_at" in set_data.output
    set_model = run(
        where, "--json", "retention", "set", "--model", "churn", "--keep-days", "30",
        "--keep-last", "1", "--reason", "cost",
    )  # fmt: skip
    assert set_model.exit_code == 0, set_model.output
    assert json.loads(set_model.output)["rollback_days"] == 30

    shown = run(where, "--json", "retention", "show")
    assert shown.exit_code == 0, shown.output
    listing = json.loads(shown.output)
    assert [p["name"] for p in listing["policies"]] == ["customers", "churn"]
    due = {item["label"] for item in listing["items"] if item["due"]}
    assert due == {"churn/1"} | {i["label"] for i in listing["items"] if i["kind"] == "dataset"}
    assert "due" in run(where, "retention", "show").output

    listed = run(where, "datasets", "customers")
    assert listed.exit_code == 0 and "due" in listed.output  # the retention column

    version_shown = run(where, "show", "churn/1")
    assert "due for deletion" in version_shown.output and "data retention" in version_shown.output
    assert "kept: one of the newest 1 versions" in run(where, "show", "churn/2").output

    dry = run(where, "--json", "retention", "apply", "--dry-run")
    assert dry.exit_code == 0, dry.output
    dry_report = json.loads(dry.output)
    assert dry_report["dry_run"] and dry_report["done"] == []
    planned = sorted(item["subject_id"] for item in dry_report["due"])
    assert len(planned) == 2

    applied = run(where, "--json", "retention", "apply")
    assert applied.exit_code == 0, applied.output
    assert sorted(item["subject_id"] for item in json.loads(applied.output)["done"]) == planned
    assert "nothing is due" in run(where, "retention", "apply").output
    retired = run(where, "show", "churn/1")
    assert "retired on" in retired.output and "trained or evaluated on data" in retired.output
    download = run(where, "download", "churn/1", "-o", str(Path(where[1]).parent / "m.bin"))
    assert download.exit_code == 1 and "retired by retention policy" in download.output
    assert "Traceback" not in download.output
    with ModelRegistry.open(*where) as reg:
        assert reg.verify().ok


def test_retention_refusals_are_one_line(where: tuple[str, str]) -> None:
    for args, message in (
        (["retention", "set", "--reason", "x"], "exactly one of --dataset"),
        (["retention", "set", "--model", "churn", "--reason", "x"], "needs keep_days"),
        (["retention", "set", "--model", "nope", "--keep-days", "3", "--reason", "x"], "no model"),
        (["retention", "set", "--dataset", "a", "--keep-days", "0", "--reason", "x"], "keep_days"),
    ):
        refused = run(where, *args)
        assert refused.exit_code == 1, refused.output
        assert message in refused.output and "Traceback" not in refused.output
    assert "no retention policies" in run(where, "retention", "show").output
