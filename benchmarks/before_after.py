"""`python -m benchmarks.before_after`: the same workloads on two commits of the package, paired.

A refactoring that promises "no behaviour change" must also show no slowdown. This runs
`python -m benchmarks` (this checkout's harness and workloads) against the package as it
was at two commits, in turns (before, after, after, before, ... so a drift of the machine's
speed falls on both sides), then once more on the `after` code with MLflow beside it, so
the figures can be read against MLflow's on the same machine in the same session. It
also counts the SQL statements and commits of one W1 registration on each side
(benchmarks/statement_count.py): a figure no noise can move.

Example:
    python -m benchmarks.before_after --before 1dc61a1^ --after HEAD --scale small \\
        --workloads W1,W2,W3 --pairs 3 --out benchmarks/results/before_after

Each side's package is taken with `git archive` into a temporary directory, and the
harness runs from another temporary directory with `PYTHONPATH=<that package>:<this
checkout>`, so the workloads are this checkout's and only `registry_project` differs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _export_package(revision: str, destination: Path) -> str:
    """Unpack `registry_project/` as of `revision` into `destination`; its full commit id."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "registry_project"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    return commit


def _run_harness(
    package_dir: Path,
    scale: str,
    workloads: str,
    out: Path,
    with_mlflow: bool,
    postgres: str | None = None,
) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": f"{package_dir}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "benchmarks", "--scale", scale, "--workloads", workloads]
    command += ["--out", str(out)] + ([] if with_mlflow else ["--no-mlflow"])
    command += ["--postgres", postgres] if postgres else []
    with tempfile.TemporaryDirectory() as cwd:  # not ROOT: its registry_project would win
        subprocess.run(command, check=True, cwd=cwd, env=env)
    return json.loads((out / "results.json").read_text())


def _statement_count(package_dir: Path, postgres: str | None = None) -> dict[str, object]:
    """SQL statements and commits per registration (benchmarks/statement_count.py); with
    `postgres`, round trips on that server instead."""
    env = {**os.environ, "PYTHONPATH": f"{package_dir}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "benchmarks.statement_count"] + (
        [postgres] if postgres else []
    )
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run(command, check=True, cwd=cwd, env=env, capture_output=True)
    return json.loads(done.stdout)


def _samples(results: list[dict[str, object]], system: str) -> dict[tuple[str, str], list]:
    """(workload, size) -> the sample lists of each run, in run order."""
    grouped: dict[tuple[str, str], list] = {}
    for result in results:
        for m in result["measurements"]:  # type: ignore[union-attr]
            if m["system"] == system:
                grouped.setdefault((m["workload"], m["size"]), []).append(m)
    return grouped


def _figures(runs: list[dict]) -> tuple[float, float, float | None, str]:
    """Median of the calls, mean of the calls with the first calls, first calls' median."""
    calls = [s for m in runs for s in m["samples"]]
    firsts = [s for m in runs for s in m.get("first", ())]
    first = statistics.median(firsts) if firsts else None
    return statistics.median(calls), statistics.fmean(calls + firsts), first, runs[0]["metric"]


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _table(before: list, after: list, mlflow: list) -> str:
    lines = [
        "| workload | size | metric | before median | after median | after / before "
        "| before mean | after mean | before first | after first | MLflow median "
        "| MLflow mean | MLflow first |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    mine_before, mine_after = (
        _samples(before, "registry_project"),
        _samples(after, "registry_project"),
    )
    theirs = _samples(mlflow, "mlflow")
    for key, runs in mine_before.items():
        if key not in mine_after:
            continue
        b_med, b_mean, b_first, metric = _figures(runs)
        a_med, a_mean, a_first, _ = _figures(mine_after[key])
        m = _figures(theirs[key]) if key in theirs else None
        mlflow_cells = " | ".join(_cell(x) for x in m[:3]) if m else "- | - | -"
        lines.append(
            f"| {key[0]} | {key[1]} | {metric} | {b_med:.4g} | {a_med:.4g} | "
            f"{a_med / b_med:.3f} | {b_mean:.4g} | {a_mean:.4g} | {_cell(b_first)} | "
            f"{_cell(a_first)} | {mlflow_cells} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.before_after", description=__doc__)
    parser.add_argument("--before", required=True, help="git revision of the 'before' package")
    parser.add_argument("--after", default="HEAD", help="git revision of the 'after' package")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--workloads", default="W1,W2,W3")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each side (alternating)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/before_after")
    parser.add_argument(
        "--postgres", metavar="URL", help="W1 on this PostgreSQL server (python -m benchmarks)"
    )
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")

    results: dict[str, list] = {"before": [], "after": [], "mlflow": []}
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        commits = {
            side: _export_package(revision, base / side)
            for side, revision in (("before", args.before), ("after", args.after))
        }
        counted = {side: _statement_count(base / side) for side in commits}
        trips = (
            {side: _statement_count(base / side, args.postgres) for side in commits}
            if args.postgres
            else None
        )
        for pair in range(args.pairs):
            order = ("before", "after") if pair % 2 == 0 else ("after", "before")
            for side in order:
                print(f"== pair {pair + 1}/{args.pairs}: {side} ({commits[side][:10]})", flush=True)
                out = base / f"{side}-{pair}"
                results[side].append(
                    _run_harness(base / side, args.scale, args.workloads, out, False, args.postgres)
                )
        if not args.no_mlflow:
            print("== MLflow beside the 'after' code", flush=True)
            results["mlflow"].append(
                _run_harness(
                    base / "after",
                    args.scale,
                    args.workloads,
                    base / "mlflow",
                    True,
                    args.postgres,
                )
            )

    table = _table(results["before"], results["after"], results["mlflow"])
    table += "\n\n| per W1 registration (SQLite) | before | after |\n|---|---:|---:|\n"
    table += "\n".join(
        f"| {label} | {counted['before'][key]:g} | {counted['after'][key]:g} |"
        for key, label in (("statements", "SQL statements"), ("commits", "commits"))
    )
    if trips is not None:
        table += (
            f"\n| PostgreSQL round trips | {trips['before']['round_trips']:g} "
            f"| {trips['after']['round_trips']:g} |"
        )
    machine = ", ".join(f"{k}: {v}" for k, v in results["after"][0]["machine"].items())
    text = (
        f"# Before / after: {args.before} ({commits['before'][:10]}) vs {args.after} "
        f"({commits['after'][:10]})\n\nScale {args.scale}, workloads {args.workloads}, "
        f"{args.pairs} alternating runs per side. Medians leave out the first call on each "
        "fresh store (W1 times it apart: the 'first' columns); means include it. An after / "
        "before ratio above 1 means slower for milliseconds, faster for throughput.\n\n"
        f"{table}\n\nMachine: {machine}\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(text)
    (args.out / "results.json").write_text(
        json.dumps({"commits": commits, "statement_count": counted, **results}, indent=2)
    )
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
