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


# W4's huge result: a snapshot that `shared` versions were trained on (each its own run),
# a tenth of them also evaluated on it, among as many again that use other snapshots.
HUGE_MODELS = 7
PAGE = 500


def fill_dependents(url: str, shared: int) -> str:
    """Write W4's huge-result rows into an empty registry database at head (SQLite or
    PostgreSQL) with bulk inserts into the registry's own tables (the rows `start_run`
    with an input, `register_model` and `log_metrics(dataset=)` write, minus the audit
    chain, which `dependents` never reads): through the public API 10,000 registrations
    take minutes here. The database's triggers fill `dataset_dependents` from these rows as
    they would from the registry's own (migration 0010). Ids are random UUIDs, as the
    registry's are. The shared snapshot's id."""
    import uuid
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from registry_project.core.store import schema as s

    rng = random.Random(shared)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    total = 2 * shared
    snapshot_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(11)]
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(
            s.models.insert(),
            [
                {"name": f"m{m}", "created_at": start, "created_by": "bench", "last_version": 0}
                for m in range(HUGE_MODELS)
            ],
        )
        c.execute(
            s.datasets.insert(),
            [
                {
                    "id": snapshot_id,
                    "name": f"data-{k}",
                    "kind": "snapshot",
                    "digest": f"{k:064x}",
                    "uri": f"blob:{k:064x}",
                    "columns_json": "[]",
                    "created_at": start,
                    "created_by": "bench",
                }
                for k, snapshot_id in enumerate(snapshot_ids)
            ],
        )
        numbers = [0] * HUGE_MODELS
        for first in range(0, total, 5000):
            runs, inputs, versions, evaluated = [], [], [], []
            for i in range(first, min(total, first + 5000)):
                # Every other version uses the shared snapshot, the rest one of ten others.
                dataset = snapshot_ids[0] if i % 2 == 0 else snapshot_ids[1 + i % 10]
                run_id, version_id = (
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in "rv"
                )
                at = start + timedelta(seconds=i)
                model = i % HUGE_MODELS
                numbers[model] += 1
                runs.append(
                    {
                        "id": run_id,
                        "name": "bench",
                        "experiment": "bench",
                        "status": "finished",
                        "params_json": "{}",
                        "started_at": at,
                        "ended_at": at,
                        "created_by": "bench",
                        "package_count": 0,
                    }
                )
                inputs.append({"run_id": run_id, "dataset_id": dataset, "role": "train"})
                versions.append(
                    {
                        "id": version_id,
                        "model_name": f"m{model}",
                        "version": numbers[model],
                        "stage": "experiment",
                        "flavor": "pickle",
                        "python_class": "builtins.int",
                        "artifact_digest": f"{i:064x}",
                        "artifact_size": 8,
                        "run_id": run_id,
                        "created_at": at,
                        "created_by": "bench",
                        "stage_changed_at": at,
                    }
                )
                if i % 20 == 0:
                    evaluated.append(
                        {
                            "version_id": version_id,
                            "key": "auc",
                            "dataset_id": snapshot_ids[0],
                            "value": rng.random(),
                            "logged_at": at,
                            "logged_by": "bench",
                        }
                    )
            c.execute(s.runs.insert(), runs)
            c.execute(s.run_inputs.insert(), inputs)
            c.execute(s.model_versions.insert(), versions)
            if evaluated:
                c.execute(s.version_metrics.insert(), evaluated)
        for model, last in enumerate(numbers):
            c.execute(
                s.models.update().where(s.models.c.name == f"m{model}").values(last_version=last)
            )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            # As autovacuum does after such a load (an insert-only table is vacuumed once
            # its inserts pass autovacuum_vacuum_insert_threshold): the statistics, and the
            # visibility map, without which every index-only scan still reads the heap.
            c.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return snapshot_ids[0]


def dependents_per_row(
    url: str, artifacts: Path, shared: int, repeats: int
) -> dict[str, tuple[float, ...]]:
    """W4 on a huge result: microseconds per row of the whole listing, and of paging
    through it `PAGE` at a time (each page after the previous one's last dependent);
    the first call of each apart."""
    registry = ModelRegistry.open(url, str(artifacts))
    try:
        target = fill_dependents(url, shared)
        expected = shared + shared // 10

        def listing() -> float:
            start = time.perf_counter()
            found = registry.dependents(target)
            elapsed = time.perf_counter() - start
            assert len(found) == expected, (len(found), expected)
            return elapsed * 1e6 / len(found)

        def paging() -> tuple[float, list[float]]:
            pages, rows = [], 0
            start = time.perf_counter()
            page = registry.dependents(target, limit=PAGE)
            pages.append((time.perf_counter() - start) * 1e6 / len(page))
            while page:
                rows += len(page)
                start = time.perf_counter()
                page = registry.dependents(target, limit=PAGE, after=page[-1])
                if page:
                    pages.append((time.perf_counter() - start) * 1e6 / len(page))
            assert rows == expected, (rows, expected)
            return pages[0], pages[1:]

        first_listing = listing()
        listings = [listing() for _ in range(repeats)]
        first_pages, later_pages, walks = [], [], []
        for _ in range(max(2, repeats // 4)):
            start = time.perf_counter()
            first_page, rest = paging()
            walks.append((time.perf_counter() - start) * 1e6 / expected)
            first_pages.append(first_page)
            later_pages.extend(rest)
        return {
            "listing": tuple(listings),
            "listing_first": (first_listing,),
            "pages": tuple(later_pages),
            "first_page": tuple(first_pages),
            "paged_walk": tuple(walks),
        }
    finally:
        registry.close()


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
    """W5, run in a fresh process: register a large file, load it (verified, twice), and
    export it (a verified copy); seconds and peak RSS."""
    # VmHWM is this process's own high-water mark. (ru_maxrss is not: Linux carries it over
    # from the forking parent across exec, so it reported the benchmark driver's size.)
    baseline_mb = _status_mb("VmRSS")
    flavors.register_flavor(FileFlavor(), replace=True)  # load_model finds it by name
    with open_registry(directory) as registry:
        start = time.perf_counter()
        version = registry.register_model("big", source, flavor=FileFlavor())
        registered = time.perf_counter() - start
        # A load hands the flavor the verified bytes: a flavor that runs no code from them
        # gets the stored file itself, hashed whole first (open_verified(in_place=True)).
        start = time.perf_counter()
        registry.load_model(version)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        registry.load_model(version)
        reloaded = time.perf_counter() - start
        # An export writes a verified copy: on a VM the first write into fresh page cache
        # also pays for the host handing memory over, which hashlib's read never does.
        start = time.perf_counter()
        registry.export_artifact(version, directory / "exported.bin")
        exported = time.perf_counter() - start
    peak_mb = _status_mb("VmHWM")
    os.remove(directory / "exported.bin")
    return {
        "register_s": registered,
        "load_s": loaded,
        "reload_s": reloaded,
        "export_s": exported,
        "peak_rss_mb": peak_mb,
        "rss_above_baseline_mb": peak_mb - baseline_mb,
    }


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # reported in kB
    raise RuntimeError(f"/proc/self/status has no {field}")
