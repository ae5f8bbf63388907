"""`python -m benchmarks.verify`: `ModelRegistry.verify()` on a registry of N versions.

Examples:
    python -m benchmarks.verify --versions 10000
    python -m benchmarks.verify --versions 10000,100000 --repeat 5
    python -m benchmarks.verify --versions 100000 --before 54ce0f8 --pairs 2

Each registry (N versions of one model, each with its own small pickled artifact and five
metrics, built by `benchmarks.ours.populate`) is built once and cached under
`--cache-dir`, keyed by N: building 100,000 versions takes many minutes, and verify only
reads, so later runs (and the `--before` code) reuse it. verify() then runs `--repeat`
times on one registry object: the first call (SQL compilation, a cold page cache) is
reported on its own, the others as a median, and the mean is over every call; each is
also given per audit event checked and as MB/s of blob bytes re-hashed, with the process's
CPU seconds beside the wall-clock ones (the machine is shared: CPU time is steadier).

With `--before REV`, the package as it was at REV and this checkout's run in turns
(before, after, after, before, ...) in subprocesses on the same cached registry, so a
drift of the machine's speed falls on both sides; read the ratio.

MLflow has no equivalent to compare with: it keeps no hash chain and never re-hashes its
artifacts, so this workload has only our own before/after figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import ours
from benchmarks.before_after import _export_package

ROOT = Path(__file__).resolve().parents[1]


def built(cache: Path, versions: int) -> Path:
    """The cached registry of `versions` versions, built first if it is not there."""
    directory = cache / f"verify-{versions}"
    done = directory / "BUILT"
    if not done.exists():
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.iterdir():
            if stale.is_file():
                stale.unlink()
        print(f"building a registry of {versions} versions in {directory}", flush=True)
        began = time.perf_counter()
        ours.populate(directory, versions).close()
        done.write_text(f"{versions}\n")
        print(f"  built in {time.perf_counter() - began:.0f} s", flush=True)
    return directory


def _blob_bytes(directory: Path) -> int:
    blobs = directory / "artifacts" / "blobs"
    return sum(path.stat().st_size for path in blobs.rglob("*") if path.is_file())


def measure(directory: Path, repeat: int) -> dict[str, object]:
    """Wall and CPU seconds of each verify() call, and what it checked."""
    with ours.open_registry(directory) as registry:
        wall, cpu = [], []
        for _ in range(repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            report = registry.verify()
            wall.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            if report.problems:
                raise SystemExit(f"verify found problems in the benchmark registry: {report}")
    return {
        "events": report.events_checked,
        "blobs": report.blobs_checked,
        "blob_mb": _blob_bytes(directory) / 1e6,
        "wall": wall,
        "cpu": cpu,
    }


def summary(label: str, versions: int, runs: list[dict[str, object]]) -> str:
    """One line: first calls, median of the others, mean of all; per event and MB/s."""
    first = [run["wall"][0] for run in runs]  # type: ignore[index]
    rest = [s for run in runs for s in run["wall"][1:]] or first  # type: ignore[index]
    cpu_rest = [s for run in runs for s in run["cpu"][1:]] or [  # type: ignore[index]
        run["cpu"][0]  # type: ignore[index]
        for run in runs
    ]
    median = statistics.median(rest)
    events, blob_mb = runs[0]["events"], runs[0]["blob_mb"]
    return (
        f"{label:>6} verify {versions:>7} versions ({events} events, {runs[0]['blobs']} blobs, "
        f"{blob_mb:.1f} MB): median {median:.3f} s, mean {statistics.fmean(first + rest):.3f} s, "
        f"first call {statistics.median(first):.3f} s; "
        f"CPU median {statistics.median(cpu_rest):.3f} s; "
        f"{median / events * 1e6:.1f} µs per event, {blob_mb / median:.2f} MB/s of blobs"  # type: ignore[operator]
    )


def _subprocess_measure(package: Path, directory: Path, repeat: int) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": f"{package}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "benchmarks.verify", "--measure-only", str(directory)]
    command += ["--repeat", str(repeat)]
    with tempfile.TemporaryDirectory() as cwd:  # not ROOT: its registry_project would win
        done = subprocess.run(command, check=True, cwd=cwd, env=env, capture_output=True)
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--versions", default="10000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=5, help="verify() calls per process")
    parser.add_argument("--before", help="a commit to compare with, run in turns")
    parser.add_argument("--pairs", type=int, default=2, help="with --before: turns per side")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "registry_project_bench",
        help="where built registries are kept between runs",
    )
    parser.add_argument("--measure-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_only is not None:  # one side of --before, in its own process
        print(json.dumps(measure(args.measure_only, args.repeat)))
        return
    sizes = [int(v) for v in args.versions.split(",")]
    if args.before is None:
        for versions in sizes:
            print(summary("", versions, [measure(built(args.cache_dir, versions), args.repeat)]))
        return
    with tempfile.TemporaryDirectory() as before_dir:
        _export_package(args.before, Path(before_dir))
        packages = {"before": Path(before_dir), "after": ROOT}
        for versions in sizes:
            directory = built(args.cache_dir, versions)
            runs: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
            for turn in range(args.pairs):
                order = ("before", "after") if turn % 2 == 0 else ("after", "before")
                for side in order:
                    runs[side].append(_subprocess_measure(packages[side], directory, args.repeat))
            for side in ("before", "after"):
                print(summary(side, versions, runs[side]), flush=True)
            ratio = (
                statistics.median(
                    [s for run in runs["after"] for s in run["wall"][1:]]  # type: ignore[index]
                )
                / statistics.median(
                    [s for run in runs["before"] for s in run["wall"][1:]]  # type: ignore[index]
                )
            )
            print(f"  after / before (median wall): {ratio:.3f}", flush=True)


if __name__ == "__main__":
    main()
