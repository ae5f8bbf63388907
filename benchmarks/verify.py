"""`python -m benchmarks.verify`: `ModelRegistry.verify()` on a registry of N versions.

Examples:
    python -m benchmarks.verify --versions 10000
    python -m benchmarks.verify --versions 10000,100000 --repeat 5

Each registry (N versions of one model, each with its own small pickled artifact and five
metrics, built by `benchmarks.ours.populate`) is built once and cached under
`--cache-dir`, keyed by N: building 100,000 versions takes minutes, and verify only reads,
so later runs reuse it. Then verify() runs `--repeat` times in a fresh process-wide
registry object: the first call (SQL compilation, cold page cache for the blobs) is
reported on its own, and the rest as a median and a mean; each call is also given per
audit event checked and as MB/s of blob bytes re-hashed.

MLflow has no equivalent to compare with: it keeps no hash chain and never re-hashes its
artifacts, so this workload has only our own before/after figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import ours


def _built(cache: Path, versions: int) -> Path:
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
    return sum(
        p.stat().st_size for p in (directory / "artifacts" / "blobs").rglob("*") if p.is_file()
    )


def measure(directory: Path, repeat: int) -> dict[str, float]:
    """Seconds of each verify() call; the figures the report prints."""
    blob_mb = _blob_bytes(directory) / 1e6
    with ours.open_registry(directory) as registry:
        seconds = []
        for _ in range(repeat):
            began = time.perf_counter()
            report = registry.verify()
            seconds.append(time.perf_counter() - began)
            if report.problems:
                raise SystemExit(f"verify found problems in the benchmark registry: {report}")
    first, rest = seconds[0], seconds[1:] or seconds
    median = statistics.median(rest)
    return {
        "events": report.events_checked,
        "blobs": report.blobs_checked,
        "blob_mb": blob_mb,
        "first_s": first,
        "median_s": median,
        "mean_s": statistics.fmean(seconds),
        "us_per_event": median / report.events_checked * 1e6,
        "mb_per_s": blob_mb / median,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", default="10000", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=5, help="verify() calls per size")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "registry_project_bench",
        help="where built registries are kept between runs",
    )
    args = parser.parse_args(argv)
    for versions in (int(v) for v in args.versions.split(",")):
        result = measure(_built(args.cache_dir, versions), args.repeat)
        print(
            f"verify {versions:>7} versions: {result['events']:.0f} events, "
            f"{result['blobs']:.0f} blobs ({result['blob_mb']:.1f} MB): "
            f"first call {result['first_s']:.3f} s, median {result['median_s']:.3f} s, "
            f"mean {result['mean_s']:.3f} s (all calls); "
            f"{result['us_per_event']:.1f} µs per event, {result['mb_per_s']:.1f} MB/s of blobs",
            flush=True,
        )


if __name__ == "__main__":
    main()
