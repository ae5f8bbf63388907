"""`python -m benchmarks.floor`: what a W1 registration costs at least on this machine.

Examples:
    python -m benchmarks.floor                  # 300 registrations of each, 3 rounds
    python -m benchmarks.floor --count 500 --rounds 5 --json

Three figures, alternating within each round so that a drift of the machine falls on all:

- `floor`: the physical work of one registration under the storage rules and nothing
  else, written with the standard library: pickle the 100 KB object, SHA-256 it, write a
  temp file and fsync it, rename it into a fresh two-level fan-out directory, fsync that
  directory and its parent, then two `synchronous=FULL` WAL commits of a small row (the
  version, the run's end; the run start commits unsynced and costs no fsync).
- `ours`: W1 itself (`benchmarks.ours.registration`'s loop: a run with 5 params, a version
  with 5 metrics and the same object).
- `ours without syncs`: the same in a process whose `os.fsync` does nothing and whose
  SQLite commits are `synchronous=OFF`: what is left is the registration's own CPU time
  (Python, SQLite's statements and WAL page writes). Not a setting anyone may run with: a
  measurement of where the time goes.

Each prints the median and mean per registration (wall ms) and the median CPU time of the
calling thread, the first call apart. MLflow's W1 is in `python -m benchmarks --workloads
W1`; its ratio to `floor` says how far any registry keeping these rules could go here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.harness import machine_info

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = b"x" * 100_000

# Run in a child process: (wall seconds, thread CPU seconds) of each registration, as JSON.
_OURS = """
import json, os, sys, tempfile, time
if sys.argv[2] == "nosync":
    os.fsync = lambda descriptor: None
    from registry_project.core.store import engine
    engine.SQLITE_SYNCHRONOUS = engine.SQLITE_SYNCHRONOUS_LATER = "OFF"
from benchmarks.ours import PARAMS, metrics
from registry_project import ModelRegistry
directory = tempfile.mkdtemp(dir=sys.argv[3])
os.chdir(directory)
registry = ModelRegistry.open(f"sqlite:///{directory}/r.db", f"{directory}/artifacts")
artifact = b"x" * 100_000
def register(i):
    with registry.start_run("bench", params=PARAMS) as run:
        payload = artifact + i.to_bytes(8, "big", signed=True)
        registry.register_model("bench", payload, run=run, metrics=metrics(i))
times = []
for i in range(-1, int(sys.argv[1])):
    wall, cpu = time.perf_counter(), time.thread_time()
    register(i)
    times.append((time.perf_counter() - wall, time.thread_time() - cpu))
registry.close()
print(json.dumps(times))
"""


def _floor(count: int, parent: Path) -> list[tuple[float, float]]:
    directory = Path(tempfile.mkdtemp(dir=parent))
    (directory / "tmp").mkdir()
    (directory / "blobs").mkdir()
    database = sqlite3.connect(directory / "floor.db", isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=FULL")
    database.execute("CREATE TABLE versions (id TEXT PRIMARY KEY, row BLOB)")

    def sync_directory(path: Path) -> None:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def register(i: int) -> None:
        data = pickle.dumps(ARTIFACT + i.to_bytes(8, "big", signed=True))
        digest = hashlib.sha256(data).hexdigest()
        temp = directory / "tmp" / f"{uuid.uuid4().hex}.part"
        with open(temp, "xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        leaf = directory / "blobs" / digest[:2] / digest[2:4]
        leaf.mkdir(parents=True, exist_ok=True)
        os.replace(temp, leaf / digest)
        sync_directory(leaf)
        sync_directory(leaf.parent)
        for _ in range(2):  # the version's commit and the run end's
            database.execute("BEGIN IMMEDIATE")
            database.execute("INSERT INTO versions VALUES (?, ?)", (uuid.uuid4().hex, b"r" * 300))
            database.execute("COMMIT")

    times = []
    for i in range(-1, count):
        wall, cpu = time.perf_counter(), time.thread_time()
        register(i)
        times.append((time.perf_counter() - wall, time.thread_time() - cpu))
    database.close()
    return times


def _ours(count: int, parent: Path, mode: str) -> list[tuple[float, float]]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _OURS, str(count), mode, str(parent)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return [tuple(pair) for pair in json.loads(done.stdout)]  # type: ignore[misc]


def _summary(times: list[list[tuple[float, float]]]) -> dict[str, float]:
    firsts = [round_times[0][0] for round_times in times]
    rest = [pair for round_times in times for pair in round_times[1:]]
    walls = [wall for wall, _ in rest]
    return {
        "median_ms": statistics.median(walls) * 1e3,
        "mean_ms": statistics.fmean(walls + firsts) * 1e3,
        "first_ms": statistics.median(firsts) * 1e3,
        "cpu_median_ms": statistics.median(cpu for _, cpu in rest) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="registrations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the stores go (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, list[list[tuple[float, float]]]] = {
        "floor": [],
        "ours": [],
        "ours without syncs": [],
    }
    with tempfile.TemporaryDirectory(dir=args.dir) as parent:
        for _ in range(args.rounds):
            results["floor"].append(_floor(args.count, Path(parent)))
            results["ours"].append(_ours(args.count, Path(parent), "durable"))
            results["ours without syncs"].append(_ours(args.count, Path(parent), "nosync"))
    summary = {name: _summary(times) for name, times in results.items()}
    if args.json:
        print(json.dumps({"machine": machine_info(), "results": summary}, indent=2))
        return
    print("| what | median ms | mean ms | first ms | thread CPU median ms |")
    print("|---|---:|---:|---:|---:|")
    for name, figures in summary.items():
        print(
            f"| {name} | {figures['median_ms']:.3f} | {figures['mean_ms']:.3f} | "
            f"{figures['first_ms']:.3f} | {figures['cpu_median_ms']:.3f} |"
        )
    print(f"\n{args.rounds} rounds x {args.count} registrations; machine: {machine_info()}")


if __name__ == "__main__":
    main()
