"""The workloads on registry_project."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import BinaryIO

from benchmarks.harness import Progress, time_each
from registry_project import ModelRegistry
from registry_project.core import flavors

PARAMS = {f"param_{j}": j for j in range(5)}


def metrics(i: int) -> dict[str, float]:
    rng = random.Random(i)
    return {f"metric_{j}": rng.random() for j in range(4)} | {"auc": rng.random()}


def open_registry(directory: Path, database_url: str | None = None) -> ModelRegistry:
    return ModelRegistry.open(
        database_url or f"sqlite:///{directory / 'registry.db'}", str(directory / "artifacts")
    )


def registration(
    directory: Path, count: int, artifact: bytes, database_url: str | None = None
) -> tuple[float, tuple[float, ...]]:
    """W1: a run with 5 params and 5 metrics and a 100 KB artifact, registered: the first
    call's milliseconds, then each of `count` more. On SQLite in `directory`, or on the
    (empty) PostgreSQL database or schema `database_url`."""
    with open_registry(directory, database_url) as registry:

        def register(i: int) -> None:
            with registry.start_run("bench", params=PARAMS) as run:
                registry.register_model(
                    "bench",
                    artifact + i.to_bytes(8, "big", signed=True),
                    run=run,
                    metrics=metrics(i),
                )

        # The first call warms what a long-lived process warms once (package list, SQL
        # compilation); it is reported on its own.
        [first] = time_each(lambda _: register(-1), 1)
        return first, time_each(register, count)


def populate(directory: Path, versions: int) -> ModelRegistry:
    """Setup for W2/W3: `versions` versions with an auc metric; version 1 in production."""
    registry = open_registry(directory)
    progress = Progress("registry_project versions", versions)
    for i in range(versions):
        registry.register_model("bench", i, metrics=metrics(i))
        progress(i + 1)
    registry.promote("bench/1", actor="bench", reason="setup")
    return registry


def production_lookup(registry: ModelRegistry, count: int) -> tuple[float, ...]:
    """W2."""
    return time_each(lambda _: registry.get_version("bench@production"), count)


def best_by_metric(registry: ModelRegistry, count: int) -> tuple[float, ...]:
    """W3."""
    return time_each(lambda _: registry.versions("bench", order_by="-metrics.auc", limit=1), count)


def dependents(directory: Path, versions: int, count: int) -> tuple[float, ...]:
    """W4: a snapshot used by 10 of `versions` versions; the others use other snapshots."""
    import pandas as pd

    with open_registry(directory) as registry:
        snapshots = [
            registry.snapshot_dataset(f"data-{k}", pd.DataFrame({"k": [k]}))
            for k in range(max(1, versions // 10))
        ]
        for i in range(versions):
            with registry.start_run(
                "bench", inputs=[snapshots[i % len(snapshots)]], capture_environment=False
            ) as run:
                registry.register_model("bench", i, run=run)
        target = snapshots[0]
        assert len(registry.dependents(target)) == versions // len(snapshots)
        return time_each(lambda _: registry.dependents(target), count)


class FileFlavor(flavors.Flavor):
    """Streams a file's bytes: the artifact is the file (as a model directory would be)."""

    name = "bench-file"
    pickle_based = False

    def can_handle(self, obj: object) -> bool:
        return isinstance(obj, Path)

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        with open(obj, "rb") as source:  # type: ignore[call-overload]
            while chunk := source.read(8 * 1024 * 1024):
                fileobj.write(chunk)

    def load(self, fileobj: BinaryIO) -> object:
        return fileobj


def large_artifact(directory: Path, source: Path) -> dict[str, float]:
    """W5, run in a fresh process: register then export a large file; seconds and peak RSS."""
    # VmHWM is this process's own high-water mark. (ru_maxrss is not: Linux carries it over
    # from the forking parent across exec, so it reported the benchmark driver's size.)
    baseline_mb = _status_mb("VmRSS")
    with open_registry(directory) as registry:
        start = time.perf_counter()
        version = registry.register_model("big", source, flavor=FileFlavor())
        registered = time.perf_counter() - start
        start = time.perf_counter()
        registry.export_artifact(version, directory / "exported.bin")
        loaded = time.perf_counter() - start
        os.remove(directory / "exported.bin")
        # Again: on a VM the first write into fresh page cache pays for the host handing
        # over memory; a serving process that loads models repeatedly does not.
        start = time.perf_counter()
        registry.export_artifact(version, directory / "exported.bin")
        reloaded = time.perf_counter() - start
    peak_mb = _status_mb("VmHWM")
    os.remove(directory / "exported.bin")
    return {
        "register_s": registered,
        "load_s": loaded,
        "reload_s": reloaded,
        "peak_rss_mb": peak_mb,
        "rss_above_baseline_mb": peak_mb - baseline_mb,
    }


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # reported in kB
    raise RuntimeError(f"/proc/self/status has no {field}")
