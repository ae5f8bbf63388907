"""`python -m benchmarks.row_floor`: what a row of W4's huge result costs at least in
CPython on this machine, beside what `dependents()` costs per row.

Examples:
    python -m benchmarks.row_floor                  # SQLite, 15 repeats
    python -m benchmarks.row_floor --postgres postgresql+psycopg://postgres@127.0.0.1/test
    python -m benchmarks.row_floor --shared 2000 --repeat 5 --json

On as many rows as W4's huge result (a snapshot `shared` versions were trained on, a tenth
of them also evaluated on it: 11,000 dependents by default), alternating within each
repeat so that a drift of the machine falls on all:

- `fetch`: the five columns a dependent is read with (version id, model, version, stage,
  role) from a plain table holding exactly those rows, in stored order, through the
  driver's own cursor (stdlib sqlite3; psycopg on PostgreSQL): no join, no sort, no index
  probe. No listing of these rows in Python can cost less.
- `fetch + build`: the same rows built into Dependents by the registry's own builder
  (`store/dependents._dependent`, which fills each instance's `__dict__`).
- `fetch + Dependent(...)`: built with the frozen dataclass's `__init__` instead, for scale.
- `dependents()`: `ModelRegistry.dependents` on W4's huge result
  (`benchmarks.ours.fill_dependents`), the whole listing.

Microseconds per row: the median and mean over the repeats, the first call apart. Issue
#18 asks for 2 µs per row; `fetch` says whether any registry written in Python could get
there on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.harness import machine_info, postgres_schema
from benchmarks.ours import fill_dependents
from registry_project import ModelRegistry
from registry_project.core.entities import Dependent, Stage
from registry_project.core.store.dependents import TRAINED, _dependent

_COLUMNS = "version_id, model_name, version, stage, role"
_CREATE = (
    "CREATE TABLE flat_dependents (version_id VARCHAR(36), model_name VARCHAR(256), "
    "version INTEGER, stage VARCHAR(16), role VARCHAR(64))"
)


def _flat_rows(count: int) -> list[tuple[str, str, int, str, str]]:
    """Rows shaped as W4's: random UUIDs, seven model names, the stage and role W4 has."""
    return [
        (str(uuid.uuid4()), f"m{i % 7}", i // 7 + 1, "experiment", "train") for i in range(count)
    ]


@contextmanager
def _flat_fetch_sqlite(path: Path, count: int) -> Iterator[Callable[[], list[Any]]]:
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        connection.execute(_CREATE)
        connection.executemany(
            "INSERT INTO flat_dependents VALUES (?, ?, ?, ?, ?)", _flat_rows(count)
        )
        connection.commit()
        query = f"SELECT {_COLUMNS} FROM flat_dependents"
        yield lambda: connection.execute(query).fetchall()
    finally:
        connection.close()


@contextmanager
def _flat_fetch_postgres(sqlalchemy_url: str, count: int) -> Iterator[Callable[[], list[Any]]]:
    import sqlalchemy as sa

    # psycopg's own connection, opened by SQLAlchemy from the URL (its password, host and
    # options, the schema's search_path among them) and then used directly.
    engine = sa.create_engine(sqlalchemy_url, poolclass=sa.pool.NullPool)
    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    try:
        with connection.cursor() as cursor:
            cursor.execute(_CREATE)
            cursor.executemany(
                "INSERT INTO flat_dependents VALUES (%s, %s, %s, %s, %s)", _flat_rows(count)
            )
        connection.commit()
        query = f"SELECT {_COLUMNS} FROM flat_dependents"

        def fetch() -> list[Any]:
            with connection.cursor() as cursor:
                cursor.execute(query, prepare=True)
                return cursor.fetchall()

        yield fetch
    finally:
        pooled.close()
        engine.dispose()


def _measure(
    url: str, flat: Callable[[], list[Any]], artifacts: Path, shared: int, repeat: int
) -> dict[str, Any]:
    registry = ModelRegistry.open(url, str(artifacts))
    try:
        target = fill_dependents(url, shared)
        expected = shared + shared // 10

        def built() -> list[Dependent]:
            return [_dependent(v, m, n, s, TRAINED, r) for v, m, n, s, r in flat()]

        def initialised() -> list[Dependent]:
            return [Dependent(v, m, n, Stage(s), TRAINED, r) for v, m, n, s, r in flat()]

        candidates: dict[str, Callable[[], list[Any]]] = {
            "fetch": flat,
            "fetch + build": built,
            "fetch + Dependent(...)": initialised,
            "dependents()": lambda: registry.dependents(target),
        }
        samples: dict[str, list[float]] = {name: [] for name in candidates}
        firsts: dict[str, float] = {}
        for round_number in range(repeat + 1):
            for name, call in candidates.items():
                start = time.perf_counter()
                rows = call()
                per_row = (time.perf_counter() - start) * 1e6 / len(rows)
                if len(rows) != expected:
                    raise AssertionError(f"{name}: {len(rows)} rows, not {expected}")
                if round_number == 0:
                    firsts[name] = per_row
                else:
                    samples[name].append(per_row)
    finally:
        registry.close()
    return {
        name: {
            "median_us": statistics.median(values),
            "mean_us": statistics.fmean(values),
            "first_us": firsts[name],
            "repeats": len(values),
        }
        for name, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shared", type=int, default=10_000, help="W4's shared versions")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--postgres", default=None, help="also on a fresh schema of this server")
    parser.add_argument("--dir", default=None, help="where the stores go (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = args.shared + args.shared // 10
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as parent:
        directory = Path(parent)
        with _flat_fetch_sqlite(directory / "flat.db", rows) as flat:
            results["SQLite"] = _measure(
                f"sqlite:///{directory / 'registry.db'}",
                flat,
                directory / "a",
                args.shared,
                args.repeat,
            )
        if args.postgres:
            with postgres_schema(args.postgres) as url, _flat_fetch_postgres(url, rows) as flat:
                results["PostgreSQL"] = _measure(
                    url, flat, directory / "b", args.shared, args.repeat
                )
    if args.json:
        print(json.dumps({"machine": machine_info(), "rows": rows, "results": results}, indent=2))
        return
    print("| backend | what | median µs/row | mean µs/row | first µs/row |")
    print("|---|---|---:|---:|---:|")
    for backend, figures in results.items():
        for name, row in figures.items():
            print(
                f"| {backend} | {name} | {row['median_us']:.2f} | {row['mean_us']:.2f} | "
                f"{row['first_us']:.2f} |"
            )
    print(f"\n{rows:,} rows, {args.repeat} repeats; machine: {machine_info()}")


if __name__ == "__main__":
    main()
