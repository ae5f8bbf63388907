"""The benchmark suite still runs end to end (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tiny_benchmark_runs_every_workload_against_mlflow(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--scale",
            "tiny",
            "--out",
            str(tmp_path),
            "--workdir",
            str(tmp_path / "not" / "yet" / "there"),  # created, as --out is
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    workloads = {row["workload"] for row in results["rows"]}
    assert {w.split()[0] for w in workloads} == {"W1", "W2", "W3", "W4", "W5", "W6", "W7"}
    compared = {row["workload"]: row for row in results["rows"] if row.get("baseline") == "mlflow"}
    assert set(compared) == {
        "W1 registration",
        "W2 production lookup",
        "W3 best by metric",
        "W7 step metrics",
    }
    assert compared["W7 step metrics"]["mlflow per step"] > 0
    assert all(row["ratio"] > 0 for row in compared.values())
    assert "| W1 registration |" in (tmp_path / "results.md").read_text()
    assert list((tmp_path / "not" / "yet" / "there").iterdir()) == []  # stores cleaned up


@pytest.mark.slow
def test_before_after_compares_two_commits_and_counts_their_statements(tmp_path: Path) -> None:
    # The same commit on both sides: the harness runs twice, alternating, and the one
    # figure that does not depend on the machine (statements per registration) is equal.
    arguments = ["--before", "HEAD", "--after", "HEAD", "--scale", "tiny", "--pairs", "1"]
    arguments += ["--workloads", "W1,W2", "--no-mlflow", "--out", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.before_after", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    counted = results["statement_count"]
    assert counted["before"] == counted["after"]
    assert counted["after"]["commits"] >= 1 and counted["after"]["by_kind"]["INSERT"] >= 1
    assert len(results["before"]) == len(results["after"]) == 1
    table = (tmp_path / "results.md").read_text()
    assert "| W1 registration | N=20 | ms each |" in table
    assert "| W2 production lookup |" in table and "| SQL statements |" in table


def test_mlflow_import_benchmark_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.mlflow_import", "--versions", "5", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["versions"] == 5 and result["versions_per_second"] > 0


@pytest.mark.slow
def test_startup_benchmark_times_our_cli_beside_mlflows(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.startup", "--runs", "2", "--json"],
        cwd=tmp_path,  # the child commands run in a directory of their own too
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    commands = json.loads(done.stdout)["commands"]
    assert set(commands) == {
        "registry --help",
        "mlflow --help",
        "registry versions bench --limit 20",
        "mlflow runs list --experiment-id",
        "registry models",
        "registry audit --newest-first --limit 20",
        "registry show bench/1",
        "python -c pass",
    }
    for row in commands.values():
        assert row["runs"] == 2 and row["first_ms"] > 0 and row["median_ms"] > 0


def test_floor_benchmark_times_the_floor_beside_w1(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.floor", "--count", "3", "--rounds", "1", "--json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(done.stdout)["results"]
    assert set(results) == {"floor", "ours", "ours without syncs"}
    for figures in results.values():
        assert figures["median_ms"] > 0 and figures["first_ms"] > 0
        assert figures["cpu_median_ms"] > 0


def test_row_floor_benchmark_times_the_rows_beside_dependents(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "benchmarks.row_floor", "--shared", "40", "--repeat", "1"]
    postgres = os.environ.get("REGISTRY_TEST_POSTGRES_URL")
    if postgres:
        command += ["--postgres", postgres]
    done = subprocess.run(
        [*command, "--json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["rows"] == 44  # 40 trained on the snapshot, 4 of them also evaluated on it
    assert set(report["results"]) == ({"SQLite", "PostgreSQL"} if postgres else {"SQLite"})
    for figures in report["results"].values():
        assert set(figures) == {"fetch", "fetch + build", "fetch + Dependent(...)", "dependents()"}
        for row in figures.values():
            assert row["repeats"] == 1 and row["median_us"] > 0 and row["first_us"] > 0
