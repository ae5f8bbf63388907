"""Timing, alternation and reporting shared by every workload."""

from __future__ import annotations

import contextlib
import json
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote


@contextlib.contextmanager
def postgres_schema(server_url: str, prefix: str = "bench_") -> Iterator[str]:
    """A fresh schema on a PostgreSQL server, dropped afterwards: its URL (search_path set
    through libpq's options), so each system and round (and each test:
    registry_project_tests/backends.py) gets empty tables of its own on the same server."""
    import sqlalchemy as sa

    schema = f"{prefix}{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in server_url else "?"
        yield f"{server_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@dataclass(frozen=True)
class Measurement:
    workload: str
    size: str
    system: str  # "registry_project", "mlflow", "cp"
    metric: str  # what the numbers are, e.g. "ms per registration"
    samples: tuple[float, ...]
    # The first call on each fresh store (one per round), timed apart from `samples`: it
    # pays what a long-lived process pays once (statement compilation, package list, git).
    first: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def mean(self) -> float:
        """The mean over every call, the first calls included."""
        return statistics.fmean(self.samples + self.first)

    @property
    def first_median(self) -> float | None:
        return statistics.median(self.first) if self.first else None


@dataclass
class Report:
    machine: dict[str, str] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, measurement: Measurement) -> None:
        self.measurements.append(measurement)
        first = measurement.first_median
        print(
            f"  {measurement.workload} {measurement.size:>12} {measurement.system:>17}: "
            f"median {measurement.median:.4g} {measurement.metric}, mean {measurement.mean:.4g}"
            + (f", first call {first:.4g}" if first is not None else ""),
            flush=True,
        )

    def rows(self) -> list[dict[str, object]]:
        """One row per (workload, size): ours, MLflow (or baseline) and the ratio."""
        grouped: dict[tuple[str, str], dict[str, Measurement]] = {}
        for m in self.measurements:
            grouped.setdefault((m.workload, m.size), {})[m.system] = m
        rows = []
        for (workload, size), systems in grouped.items():
            ours = systems.get("registry_project")
            # The baseline: MLflow, else cp, else the one other system measured (W5's
            # durable copy or hashlib read).
            others = [m for k, m in systems.items() if k != "registry_project"]
            other = systems.get("mlflow") or systems.get("cp") or (others[0] if others else None)
            extra = {
                k: v
                for k, v in systems.items()
                if k != "registry_project" and (other is None or k != other.system)
            }
            row: dict[str, object] = {
                "workload": workload,
                "size": size,
                "metric": ours.metric if ours else (other.metric if other else ""),
                "registry_project": ours.median if ours else None,
                "registry_project_mean": ours.mean if ours else None,
                "registry_project_first": ours.first_median if ours else None,
                "baseline": other.system if other else None,
                "baseline_value": other.median if other else None,
                "baseline_mean": other.mean if other else None,
                "baseline_first": other.first_median if other else None,
            }
            if ours and other and ours.median > 0 and other.median > 0:
                # Always "how many times better are we": for throughput (MB/s) ours/theirs,
                # for latency theirs/ours.
                higher_is_better = ours.metric.endswith("/s")
                row["ratio"] = (
                    ours.median / other.median if higher_is_better else other.median / ours.median
                )
                row["ratio_mean"] = (
                    ours.mean / other.mean if higher_is_better else other.mean / ours.mean
                )
            for name, m in extra.items():
                row[name] = m.median
            rows.append(row)
        return rows

    def markdown(self) -> str:
        lines = [
            "| workload | size | metric | registry_project median | mean | first call "
            "| baseline | baseline median | mean | first call | x better (median) "
            "| x better (mean) |",
            "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for row in self.rows():
            ratio = f"{row['ratio']:.1f}x" if "ratio" in row else "-"
            ratio_mean = f"{row['ratio_mean']:.1f}x" if "ratio_mean" in row else "-"
            lines.append(
                f"| {row['workload']} | {row['size']} | {row['metric']} | "
                f"{_fmt(row['registry_project'])} | {_fmt(row['registry_project_mean'])} | "
                f"{_fmt(row['registry_project_first'])} | {row['baseline'] or '-'} | "
                f"{_fmt(row['baseline_value'])} | {_fmt(row['baseline_mean'])} | "
                f"{_fmt(row['baseline_first'])} | {ratio} | {ratio_mean} |"
            )
        machine = ", ".join(f"{k}: {v}" for k, v in self.machine.items())
        notes = "".join(f"\n- {note}" for note in self.notes)
        notes += (
            "\n- Medians leave out the first call on each fresh store (timed apart, its "
            "median under 'first call'); means include it."
        )
        return "\n".join(lines) + f"\n\nMachine: {machine}{notes}\n"

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        json_path = directory / "results.json"
        md_path = directory / "results.md"
        json_path.write_text(
            json.dumps(
                {
                    "machine": self.machine,
                    "rows": self.rows(),
                    "measurements": [
                        {**asdict(m), "median": m.median, "mean": m.mean} for m in self.measurements
                    ],
                    "notes": self.notes,
                },
                indent=2,
            )
        )
        md_path.write_text(self.markdown())
        return json_path, md_path


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "-"


def machine_info() -> dict[str, str]:
    import os

    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
    }
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory"] = f"{pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return info


def time_each(
    operation: Callable[[int], object],
    count: int,
    budget_s: float | None = None,
    minimum: int = 1,
) -> tuple[float, ...]:
    """Milliseconds of each call of `operation(i)`: `count` calls, or fewer (but at least
    `minimum`) once `budget_s` seconds are spent. MLflow's search_runs takes minutes per
    call at 100,000 runs; the rounds still give every measurement several samples."""
    samples = []
    began = time.perf_counter()
    for i in range(count):
        start = time.perf_counter()
        operation(i)
        samples.append((time.perf_counter() - start) * 1000)
        if budget_s is not None and i + 1 >= minimum and time.perf_counter() - began > budget_s:
            break
    return tuple(samples)


class Progress:
    """A line every `every` items (populating 100,000 versions takes a while)."""

    def __init__(self, label: str, total: int, every: int = 10_000) -> None:
        self.label, self.total, self.every = label, total, every
        self.began = time.perf_counter()

    def __call__(self, done: int) -> None:
        if done % self.every == 0 or done == self.total:
            elapsed = time.perf_counter() - self.began
            print(f"    {self.label}: {done}/{self.total} in {elapsed:.0f} s", flush=True)
