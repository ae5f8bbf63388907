"""`registry runs`, `registry run ID`, `registry download-artifact` on a real registry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project_tests.corruption import damage_blob


@dataclass(frozen=True)
class Tracked:
    database_url: str
    artifact_root: str
    run_ids: list[str]


@pytest.fixture
def tracked(tmp_path: Path) -> Tracked:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    root = str(tmp_path / "artifacts")
    ids = []
    with ModelRegistry.open(url, root) as reg:
        for index, (c, auc) in enumerate([(0.1, 0.75), (1.0, 0.875), (10.0, 0.8125)]):
            with reg.start_run(
                f"trial-{index}",
                experiment="churn",
                params={"C": c},
                tags={"team": "risk"},
                capture_environment=False,
            ) as run:
                for step in range(3):
                    run.log_metric("loss", 1.0 / (step + 1), step=step)
                run.log_metric("val_auc", auc)
                run.log_artifact(f"C={c}\n".encode(), name="notes.txt")
            ids.append(run.id)
        with reg.start_run("other", capture_environment=False):
            pass
    return Tracked(url, root, ids)


def invoke(tracked: Tracked, *args: str) -> Result:
    base = ["--database-url", tracked.database_url, "--artifact-root", tracked.artifact_root]
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


def test_runs_lists_filters_orders_and_limits(tracked: Tracked) -> None:
    result = invoke(
        tracked,
        "--json",
        "runs",
        "churn",
        "--filter",
        "metrics.val_auc > 0.8 and status = 'FINISHED'",
        "--order-by",
        "-metrics.val_auc",
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [r["name"] for r in listed] == ["trial-1", "trial-2"]
    assert listed[0]["params"] == {"C": 1.0} and listed[0]["tags"] == {"team": "risk"}
    assert listed[0]["metrics"] == {"loss": 1 / 3, "val_auc": 0.875}
    limited = json.loads(invoke(tracked, "runs", "--limit", "1", "--json").stdout)
    assert [r["name"] for r in limited] == ["other"]
    table = invoke(tracked, "runs", "churn")
    assert table.exit_code == 0
    assert all(i in table.output for i in tracked.run_ids) and "trial-0" in table.output


def test_run_shows_params_tags_metrics_and_artifacts(tracked: Tracked) -> None:
    result = invoke(tracked, "run", tracked.run_ids[1])
    assert result.exit_code == 0, result.output
    for expected in ("C=1.0", "team=risk", "val_auc", "0.875", "notes.txt", "text/plain"):
        assert expected in result.output
    shown = json.loads(invoke(tracked, "run", tracked.run_ids[1], "--json").stdout)
    assert shown["run"]["experiment"] == "churn"
    assert [a["name"] for a in shown["artifacts"]] == ["notes.txt"]


def test_compare_runs_marks_the_rows_that_differ(tracked: Tracked) -> None:
    result = invoke(tracked, "compare-runs", *tracked.run_ids[:2])
    assert result.exit_code == 0, result.output
    assert "param.C" in result.output and "metric.val_auc" in result.output
    shown = json.loads(invoke(tracked, "compare-runs", *tracked.run_ids[:2], "--json").stdout)
    assert shown["run_ids"] == tracked.run_ids[:2]
    assert shown["rows"]["param.C"] == dict(zip(shown["columns"], [0.1, 1.0], strict=True))
    assert set(shown["differs"]) == {"param.C", "metric.val_auc"}


def test_download_artifact_is_verified(tracked: Tracked, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    result = invoke(
        tracked, "download-artifact", tracked.run_ids[2], "notes.txt", "-o", str(target)
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == b"C=10.0\n"
    with ModelRegistry.open(tracked.database_url, tracked.artifact_root) as reg:
        damage_blob(reg, reg.run_artifacts(tracked.run_ids[0])[0].digest)
    damaged = tmp_path / "damaged.txt"
    result = invoke(
        tracked, "download-artifact", tracked.run_ids[0], "notes.txt", "-o", str(damaged)
    )
    assert result.exit_code == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.output and not damaged.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "churn", "--filter", "metrics.val_auc >> 1"],
        ["runs", "churn", "--filter", "colour = 'red'"],
        ["runs", "churn", "--order-by", "-params.C"],
        ["runs", "not a name"],
        ["run", "nope"],
        ["compare-runs", "nope"],
        ["run", "00000000-0000-0000-0000-000000000000"],
        ["download-artifact", "00000000-0000-0000-0000-000000000000", "x", "-o", "x"],
        ["download-artifact", "RUN", "../x", "-o", "x"],
    ],
)
def test_bad_input_is_one_error_line(tracked: Tracked, args: list[str]) -> None:
    args = [tracked.run_ids[0] if a == "RUN" else a for a in args]
    result = invoke(tracked, *args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
