"""`python -m benchmarks`: every workload on registry_project and MLflow, alternating.

Examples:
    python -m benchmarks --scale tiny            # seconds; what CI runs
    python -m benchmarks --scale small           # minutes
    python -m benchmarks --scale medium          # ~20 minutes
    python -m benchmarks --scale full            # the README table: ~2 hours, nearly all MLflow
    python -m benchmarks --scale full --workloads W2,W3   # only some workloads
    python -m benchmarks --scale small --workloads W1,W4 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
                        # W1 on PostgreSQL (both systems), W4's huge result on both backends
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import dagster_overhead, mlflow_side, ours, tracking
from benchmarks.harness import Measurement, Report, machine_info, postgres_schema
from registry_project.core.blobs import CHUNK_SIZE


@dataclass(frozen=True)
class Scale:
    registrations: tuple[int, ...]
    lookup_versions: tuple[int, ...]
    lookups: int
    dependents_versions: int
    artifact_mb: int
    rounds: int
    # Seconds per round after which a query that takes seconds each (MLflow's search_runs
    # at 10,000+ runs) stops being repeated; each round keeps at least one sample.
    slow_query_budget_s: float = 60.0
    # W7: steps x keys metric points logged into one run.
    metric_points: tuple[int, int] = (1_000, 100)
    # W5: rounds of (durable copy, hashlib read, ours), alternating who goes first; the
    # first round is reported apart, so a median needs a few more.
    artifact_rounds: int = 3
    # W4's huge result: versions (each its own run) trained on one snapshot, a tenth of
    # them also evaluated on it (a multiple of 10); timed per row, whole and paged.
    shared_dependents: int = 10_000


SCALES = {
    "tiny": Scale(
        (20,),
        (50,),
        50,
        50,
        8,
        2,
        metric_points=(20, 10),
        artifact_rounds=2,
        shared_dependents=1_000,
    ),
    "small": Scale(
        (300,),
        (2_000,),
        300,
        2_000,
        256,
        3,
        metric_points=(200, 100),
        artifact_rounds=7,
        shared_dependents=10_000,
    ),
    "medium": Scale(
        (1_000,), (10_000,), 300, 10_000, 1024, 2, artifact_rounds=5, shared_dependents=20_000
    ),
    "full": Scale(
        (1_000, 10_000),
        (10_000, 100_000),
        1_000,
        10_000,
        1024,
        3,
        artifact_rounds=5,
        shared_dependents=50_000,
    ),
}
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7")


def _fresh(base: Path, name: str) -> Path:
    path = base / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def run(
    scale: Scale,
    workloads: set[str],
    workdir: Path,
    with_mlflow: bool,
    report: Report,
    postgres: str | None = None,
) -> None:
    systems = ["registry_project", "mlflow"] if with_mlflow else ["registry_project"]
    if "W1" in workloads:
        registrations(scale, systems, workdir, report, postgres)
    if workloads & {"W2", "W3"}:
        lookups(scale, systems, workloads, workdir, report)
    if "W4" in workloads:
        print("W4 dependents", flush=True)
        samples = ours.dependents(_fresh(workdir, "w4"), scale.dependents_versions, scale.lookups)
        report.add(
            Measurement(
                "W4 dependents",
                f"{scale.dependents_versions} versions",
                "registry_project",
                "ms each",
                samples,
            )
        )
        huge_dependents(scale, workdir, report, postgres)
    if "W5" in workloads:
        print("W5 large artifact", flush=True)
        large_artifact(scale, workdir, report)
    if "W6" in workloads:
        dagster_share(scale, workdir, report)
    if "W7" in workloads:
        step_metrics(scale, systems, workdir, report)


def huge_dependents(scale: Scale, workdir: Path, report: Report, postgres_url: str | None) -> None:
    """W4 on a huge result (one snapshot under `shared_dependents` versions): microseconds
    per row of the whole listing and of paging through it, on SQLite and, with
    --postgres, on a fresh schema of that server."""
    shared = scale.shared_dependents
    size = f"{shared + shared // 10:,} rows"
    backends = [("SQLite", None)] + ([("PostgreSQL", postgres_url)] if postgres_url else [])
    for backend, base in backends:
        print(f"W4 dependents, huge result ({size}, {backend})", flush=True)
        directory = _fresh(workdir, f"w4-huge-{backend.lower()}")
        with _database(directory, base) as url:
            found = ours.dependents_per_row(url, directory / "artifacts", shared, scale.rounds * 5)
        for label, samples, first in (
            ("W4 dependents per row, whole", found["listing"], found["listing_first"]),
            (f"W4 dependents per row, pages of {ours.PAGE}", found["pages"], found["first_page"]),
            (f"W4 dependents per row, all pages of {ours.PAGE}", found["paged_walk"], ()),
        ):
            report.add(
                Measurement(
                    f"{label} ({backend})", size, "registry_project", "µs per row", samples, first
                )
            )


@contextlib.contextmanager
def _database(directory: Path, postgres_base: str | None) -> Iterator[str]:
    """A SQLite file in `directory`, or a fresh schema on the PostgreSQL server."""
    if postgres_base is None:
        yield f"sqlite:///{directory / 'registry.db'}"
        return
    with postgres_schema(postgres_base) as url:
        yield url


def step_metrics(scale: Scale, systems: list[str], workdir: Path, report: Report) -> None:
    """W7 (benchmarks/tracking.py): points per second, each round a fresh store, rounds
    alternating; the first round and the mean go to the notes beside the median."""
    steps, keys = scale.metric_points
    points = steps * keys
    print(f"W7 step metrics ({steps} steps x {keys} keys)", flush=True)
    sides = {
        "registry_project": lambda d: tracking.ours(d, steps, keys),
        "mlflow": lambda d: tracking.mlflow(d, steps, keys, per_step=False),
        "mlflow per step": lambda d: tracking.mlflow(d, steps, keys, per_step=True),
    }
    chosen = [s for s in sides if s == "registry_project" or "mlflow" in systems]
    samples: dict[str, list[float]] = {s: [] for s in chosen}
    for round_ in range(scale.rounds):
        order = chosen if round_ % 2 == 0 else list(reversed(chosen))
        for system in order:
            directory = _fresh(workdir, f"w7-{system.replace(' ', '-')}-{round_}")
            samples[system].append(points / sides[system](directory))
    for system in chosen:
        values = samples[system]
        report.add(
            Measurement("W7 step metrics", f"{points:,} points", system, "points/s", tuple(values))
        )
        report.notes.append(
            f"W7 {system}: first round {values[0]:,.0f} points/s, mean "
            f"{sum(values) / len(values):,.0f}, median {statistics.median(values):,.0f} "
            f"over {len(values)} rounds"
        )


def registrations(
    scale: Scale, systems: list[str], workdir: Path, report: Report, postgres: str | None = None
) -> None:
    """W1; with `postgres` (a server URL) both systems keep their tables on that server,
    each round in a fresh schema of its own, artifacts still on local disk."""
    artifact = os.urandom(100 * 1024)
    where = "PostgreSQL" if postgres else "SQLite"
    print(f"W1 registration ({where})", flush=True)
    for count in scale.registrations:
        samples: dict[str, list[float]] = {s: [] for s in systems}
        firsts: dict[str, list[float]] = {s: [] for s in systems}
        for round_ in range(scale.rounds):
            order = systems if round_ % 2 == 0 else list(reversed(systems))  # alternate
            for system in order:
                directory = _fresh(workdir, f"w1-{system}-{count}-{round_}")
                side = ours if system == "registry_project" else mlflow_side
                with contextlib.ExitStack() as stack:
                    url = stack.enter_context(postgres_schema(postgres)) if postgres else None
                    first, rest = side.registration(directory, count, artifact, url)
                firsts[system].append(first)
                samples[system].extend(rest)
        for system in systems:
            report.add(
                Measurement(
                    "W1 registration",
                    f"N={count}" + (", PostgreSQL" if postgres else ""),
                    system,
                    "ms each",
                    tuple(samples[system]),
                    tuple(firsts[system]),
                )
            )


def lookups(
    scale: Scale, systems: list[str], workloads: set[str], workdir: Path, report: Report
) -> None:
    print("W2/W3 lookups", flush=True)
    for versions in scale.lookup_versions:
        found: dict[str, list[float]] = {s: [] for s in systems}
        best: dict[str, list[float]] = {s: [] for s in systems}
        registry = ours.populate(_fresh(workdir, f"w2-ours-{versions}"), versions)
        client = experiment = None
        if "mlflow" in systems:
            client, experiment = mlflow_side.populate(
                _fresh(workdir, f"w2-mlflow-{versions}"), versions
            )
        for round_ in range(scale.rounds):
            order = systems if round_ % 2 == 0 else list(reversed(systems))
            for system in order:
                if system == "registry_project":
                    if "W2" in workloads:
                        found[system].extend(ours.production_lookup(registry, scale.lookups))
                    if "W3" in workloads:
                        best[system].extend(ours.best_by_metric(registry, scale.lookups))
                else:
                    if "W2" in workloads:
                        found[system].extend(mlflow_side.production_lookup(client, scale.lookups))
                    if "W3" in workloads:
                        best[system].extend(
                            mlflow_side.best_by_metric(
                                client,
                                experiment,
                                max(10, scale.lookups // 10),
                                scale.slow_query_budget_s,
                            )
                        )
        registry.close()
        for system in systems:
            if "W2" in workloads:
                report.add(
                    Measurement(
                        "W2 production lookup",
                        f"{versions} versions",
                        system,
                        "ms each",
                        tuple(found[system]),
                    )
                )
            if "W3" in workloads:
                report.add(
                    Measurement(
                        "W3 best by metric",
                        f"{versions} versions",
                        system,
                        "ms each",
                        tuple(best[system]),
                    )
                )


def dagster_share(scale: Scale, workdir: Path, report: Report) -> None:
    print("W6 Dagster overhead", flush=True)
    walls, spent = dagster_overhead.measure(_fresh(workdir, "w6"), scale.rounds)
    report.add(
        Measurement("W6 Dagster training materialization", "demo", "dagster wall", "ms", walls)
    )
    report.add(
        Measurement(
            "W6 Dagster training materialization",
            "demo",
            "registry_project",
            "ms in registry calls",
            spent,
        )
    )
    share = 100 * sum(spent) / sum(walls)
    report.notes.append(f"W6: registry calls take {share:.1f}% of the materialization's wall time")


def large_artifact(scale: Scale, workdir: Path, report: Report) -> None:
    """W5: ours against the two baselines issue #18 names, on the same file, alternating
    within each round: registration against a durable copy (`cp` then `sync` of the copy:
    the registry makes every blob durable before its row commits), a load (`load_model`,
    verified) against reading and hashing the file with hashlib (every read is verified,
    so the hash is its floor), and an export (a verified copy written to a file) beside
    it. Plain `cp` (bytes left in the page cache) is kept beside too."""
    directory = _fresh(workdir, "w5")
    source = directory / "source.bin"
    with open(source, "wb") as out:
        block = os.urandom(8 * 1024 * 1024)
        for _ in range(max(1, scale.artifact_mb // 8)):
            out.write(block)
    size_mb = source.stat().st_size / 2**20
    seconds: dict[str, list[float]] = {
        k: [] for k in ("cp", "cp + sync", "hashlib", "register", "load", "reload", "export")
    }
    rss, rss_added = [], []
    for round_ in range(scale.artifact_rounds):
        baselines_first = round_ % 2 == 0  # alternate who runs first (the cache warms)
        if baselines_first:
            _w5_baselines(source, directory, seconds)
        result = _w5_ours(source, _fresh(workdir, "w5-store"))
        for key in ("register", "load", "reload", "export"):
            seconds[key].append(result[f"{key}_s"])
        rss.append(result["peak_rss_mb"])
        rss_added.append(result["rss_above_baseline_mb"])
        if not baselines_first:
            _w5_baselines(source, directory, seconds)
    label = f"{size_mb:.0f} MiB"

    def throughput(key: str) -> list[float]:
        return [size_mb / t for t in seconds[key]]

    # (workload, ours, baseline's name, baseline): each round's first call is reported
    # apart (`first`); medians leave it out, means include it.
    for workload, ours_key, baseline, baseline_key in (
        ("W5 register vs durable copy", "register", "cp + sync", "cp + sync"),
        ("W5 load vs hashlib read", "load", "hashlib sha256", "hashlib"),
        ("W5 load again vs hashlib read", "reload", "hashlib sha256", "hashlib"),
        ("W5 export (a verified copy) vs hashlib read", "export", "hashlib sha256", "hashlib"),
        ("W5 register vs plain cp", "register", "cp", "cp"),
    ):
        for system, key in (("registry_project", ours_key), (baseline, baseline_key)):
            values = throughput(key)
            report.add(
                Measurement(workload, label, system, "MB/s", tuple(values[1:]), (values[0],))
            )
        ours_mb, base_mb = throughput(ours_key), throughput(baseline_key)
        # As in the table: medians over the rounds after the first, means over all.
        ours_median = statistics.median(ours_mb[1:] or ours_mb)
        base_median = statistics.median(base_mb[1:] or base_mb)
        report.notes.append(
            f"{workload} ({label}, {len(ours_mb)} rounds): ours first {ours_mb[0]:.0f} MB/s, "
            f"median {ours_median:.0f}, mean {statistics.fmean(ours_mb):.0f}; "
            f"{baseline} first {base_mb[0]:.0f}, median {base_median:.0f}, "
            f"mean {statistics.fmean(base_mb):.0f}; ratio of medians "
            f"{ours_median / base_median:.2f}x, of means "
            f"{statistics.fmean(ours_mb) / statistics.fmean(base_mb):.2f}x, per round "
            + ", ".join(f"{o / b:.2f}x" for o, b in zip(ours_mb, base_mb, strict=True))
        )
    report.add(Measurement("W5 peak RSS", label, "registry_project", "MB", tuple(rss)))
    report.add(
        Measurement(
            "W5 RSS added by the artifact", label, "registry_project", "MB", tuple(rss_added)
        )
    )


def _w5_baselines(source: Path, directory: Path, seconds: dict[str, list[float]]) -> None:
    copy = directory / "copy.bin"
    start = time.perf_counter()
    subprocess.run(["cp", str(source), str(copy)], check=True)
    seconds["cp"].append(time.perf_counter() - start)
    copy.unlink()
    start = time.perf_counter()
    subprocess.run(["cp", str(source), str(copy)], check=True)
    subprocess.run(["sync", str(copy)], check=True)  # fsync of the copy
    seconds["cp + sync"].append(time.perf_counter() - start)
    copy.unlink()
    # Reading and hashing the file, in the registry's chunk size: what a verified read
    # cannot beat on one thread.
    start = time.perf_counter()
    digest = hashlib.sha256()
    with open(source, "rb") as stream:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
    digest.hexdigest()
    seconds["hashlib"].append(time.perf_counter() - start)


def _w5_ours(source: Path, store: Path) -> dict[str, float]:
    """Register, load and export the file, in a fresh process (so its peak RSS is its own)."""
    code = (
        "import json, sys; from pathlib import Path; from benchmarks import ours; "
        f"print(json.dumps(ours.large_artifact(Path({str(store)!r}), Path({str(source)!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--no-mlflow", action="store_true", help="Ours only (no mlflow-skinny).")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="Comma-separated subset of W1..W7 to run (default: all).",
    )
    parser.add_argument(
        "--workdir", type=Path, help="Where stores are created (default: a temp dir)."
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="Run W1 with both systems' databases on this PostgreSQL server (a fresh "
        "schema per system and round), and time W4's huge result there too, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1/test.",
    )
    parser.add_argument(
        "--shared-dependents",
        type=int,
        metavar="N",
        help="W4's huge result: N versions on one snapshot (a multiple of 10; default: by scale).",
    )
    args = parser.parse_args(argv)
    workloads = {w.strip().upper() for w in args.workloads.split(",") if w.strip()}
    if not workloads or not workloads <= set(WORKLOADS):
        parser.error(f"--workloads takes a comma-separated subset of {', '.join(WORKLOADS)}")
    with_mlflow = not args.no_mlflow
    if with_mlflow:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            parser.error("MLflow is not installed: pip install -e '.[bench]' (or pass --no-mlflow)")
    if args.workdir is not None:
        try:
            args.workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"cannot create --workdir {args.workdir}: {exc.strerror or exc}")
    report = Report(machine=machine_info())
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        scale = SCALES[args.scale]
        if args.shared_dependents is not None:
            scale = dataclasses.replace(scale, shared_dependents=args.shared_dependents)
        run(scale, workloads, Path(workdir), with_mlflow, report, args.postgres)
    json_path, md_path = report.write(args.out)
    print()
    print(report.markdown())
    print(f"written {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
