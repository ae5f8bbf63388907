"""Search across models at 10,000 and 100,000 versions: a table of typical filters, each
ordered by a metric with a limit, timed on registry_project and (its nearest equivalent)
on MLflow.

    python -m benchmarks.search --versions 10000,100000            # ours, both sizes
    python -m benchmarks.search --versions 10000 --mlflow          # and MLflow at 10,000

The registries are built once and cached under `--workdir` (delete it to rebuild). Ours is
written with bulk inserts into the registry's own tables (the rows registration, tagging
and aliasing write, minus the audit chain, which search never reads): 100,000 versions
through the public API take tens of minutes on a 2-core machine, and the search only
reads those tables. A cached database at an older schema revision is upgraded first (the
upgrade's time is printed: it is what `registry db upgrade` costs on such a registry).
MLflow's store is filled through `MlflowClient`, the only way it documents.

Layout, per version i of N, over 50 models m0..m49: model m{i % 50}; metrics auc (uniform
in [0, 1)), metric_1..metric_3; tag team in risk/growth/ops/core (a quarter each); params
C (uniform) and depth; one input dataset of 200 (ds-0..ds-199); created one second after
the previous; per model the newest version in production, the one before in staging,
alias champion on the production one.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.harness import Progress, time_each

MODELS = 50
DATASETS = 200
TEAMS = ("risk", "growth", "ops", "core")
START = datetime(2026, 1, 1, tzinfo=UTC)
LAYOUT = "v1"  # bump when the layout changes: the cache directory is named by it


@dataclass(frozen=True)
class Case:
    label: str
    filter: str | None  # our filter language
    order_by: str
    limit: int
    mlflow: str | None  # MLflow's nearest equivalent, "runs:<filter>" or "versions:<filter>"


def cases(versions: int) -> list[Case]:
    recent = (START + timedelta(seconds=int(versions * 0.99))).isoformat()
    recent_ms = int((START + timedelta(seconds=int(versions * 0.99))).timestamp() * 1000)
    table: list[tuple[str | None, str | None]] = [
        ("metrics.auc > 0.99", "runs:metrics.auc > 0.99"),
        ("metrics.auc > 0.9", "runs:metrics.auc > 0.9"),
        (
            "metrics.auc > 0.99 and tags.team = 'risk'",
            "runs:metrics.auc > 0.99 and tags.team = 'risk'",
        ),
        ("tags.team = 'risk'", "runs:tags.team = 'risk'"),
        ("name = 'm7' and stage = 'production'", None),
        ("stage = 'production'", None),
        ("name = 'm7'", "versions:name = 'm7'"),
        (f"created_at > '{recent}'", f"runs:attributes.start_time > {recent_ms}"),
        ("dataset = 'ds-3'", None),
        ("alias = 'champion'", None),
        ("params.C > 0.99", None),
        (None, "runs:"),
    ]
    found = []
    for limit in (10, 100):
        for text, theirs in table:
            # One label for every size (the table's rows pair sizes by label), though the
            # recent-time filter's moment depends on the size.
            label = "created_at > (the newest 1%)" if text and "created_at" in text else text
            found.append(Case(label or "(no filter)", text, "-metrics.auc", limit, theirs))
    found.append(
        Case("metrics.auc > 0.99 (newest first)", "metrics.auc > 0.99", "-created_at", 100, None)
    )
    return found


# --- building registry_project's registry ----------------------------------------------


def _ids(prefix: str, n: int) -> list[str]:
    # Deterministic ids: the same N gives the same registry (and the same results).
    return [str(uuid.UUID(int=random.Random(f"{prefix}{i}").getrandbits(128))) for i in range(n)]


def build_ours(directory: Path, versions: int) -> Path:
    from registry_project import ModelRegistry

    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{directory / 'registry.db'}"
    ModelRegistry.open(url, str(directory / "artifacts")).close()
    fill(url, versions)
    (directory / "built").write_text(str(versions))
    return directory


def fill(url: str, versions: int) -> None:
    """Write the layout's rows into an empty registry database at head (SQLite or
    PostgreSQL; `core/test_search_plans.py` uses it too)."""
    from registry_project.core.store import schema as s

    engine = sa.create_engine(url)
    rng = random.Random(versions)
    run_ids, version_ids, dataset_ids = (
        _ids("run", versions),
        _ids("ver", versions),
        _ids("ds", DATASETS),
    )
    per_model = [versions // MODELS + (1 if m < versions % MODELS else 0) for m in range(MODELS)]
    progress = Progress("registry_project rows", versions)
    with engine.begin() as c:
        c.execute(
            s.models.insert(),
            [
                {
                    "name": f"m{m}",
                    "created_at": START,
                    "created_by": "bench",
                    "last_version": per_model[m],
                }
                for m in range(MODELS)
            ],
        )
        c.execute(
            s.datasets.insert(),
            [
                {
                    "id": dataset_ids[d],
                    "name": f"ds-{d}",
                    "kind": "reference",
                    "uri": f"s3://bench/ds-{d}",
                    "columns_json": "[]",
                    "created_at": START,
                    "created_by": "bench",
                }
                for d in range(DATASETS)
            ],
        )
        for chunk in _chunks(range(versions), 5000):
            runs, inputs, rows, latest, tags, aliases = [], [], [], [], [], []
            for i in chunk:
                m, number = i % MODELS, i // MODELS + 1
                at = START + timedelta(seconds=i)
                name = f"m{m}"
                params = {"C": rng.random(), "depth": rng.randrange(2, 12)}
                runs.append(
                    {
                        "id": run_ids[i],
                        "name": f"{name}-training",
                        "experiment": f"{name}-training",
                        "status": "finished",
                        "params_json": json.dumps(params, sort_keys=True, separators=(",", ":")),
                        "started_at": at,
                        "ended_at": at,
                        "created_by": "bench",
                        "package_count": 0,
                    }
                )
                inputs.append(
                    {
                        "run_id": run_ids[i],
                        "dataset_id": dataset_ids[rng.randrange(DATASETS)],
                        "role": "train",
                    }
                )
                stage = (
                    "production"
                    if number == per_model[m]
                    else "staging"
                    if number == per_model[m] - 1
                    else "experiment"
                )
                rows.append(
                    {
                        "id": version_ids[i],
                        "model_name": name,
                        "version": number,
                        "stage": stage,
                        "flavor": "pickle",
                        "python_class": "builtins.int",
                        "artifact_digest": f"{i:064x}",
                        "artifact_size": 8,
                        "run_id": run_ids[i],
                        "created_at": at,
                        "created_by": f"user{i % 7}",
                        "stage_changed_at": at,
                    }
                )
                values = {"auc": rng.random()} | {f"metric_{j}": rng.random() for j in (1, 2, 3)}
                latest += [
                    {"version_id": version_ids[i], "key": k, "model_name": name, "value": v}
                    for k, v in values.items()
                ]
                tags.append(
                    {
                        "version_id": version_ids[i],
                        "key": "team",
                        "model_name": name,
                        "value": TEAMS[rng.randrange(len(TEAMS))],
                        "set_at": at,
                        "set_by": "bench",
                    }
                )
                if stage == "production":
                    aliases.append(
                        {
                            "model_name": name,
                            "alias": "champion",
                            "version_id": version_ids[i],
                            "set_at": at,
                            "set_by": "bench",
                        }
                    )
            c.execute(s.runs.insert(), runs)
            c.execute(s.run_inputs.insert(), inputs)
            c.execute(s.model_versions.insert(), rows)
            c.execute(
                s.version_metrics.insert(),
                [
                    {
                        "version_id": r["version_id"],
                        "key": r["key"],
                        "value": r["value"],
                        "dataset_id": "",
                        "logged_at": START,
                        "logged_by": "bench",
                    }
                    for r in latest
                ],
            )
            c.execute(s.version_metric_latest.insert(), latest)
            c.execute(s.version_tags.insert(), tags)
            if aliases:
                c.execute(s.model_aliases.insert(), aliases)
            progress(chunk[-1] + 1)
    engine.dispose()


def _chunks(items: range, size: int) -> Iterator[range]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def open_ours(workdir: Path, versions: int) -> Any:
    from registry_project import ModelRegistry
    from registry_project.core.store import migrate
    from registry_project.core.store.engine import create_registry_engine

    directory = workdir / f"ours-{LAYOUT}-{versions}"
    if not (directory / "built").exists():
        build_ours(directory, versions)
    url = f"sqlite:///{directory / 'registry.db'}"
    engine = create_registry_engine(url)
    if migrate.current_revision(engine) != migrate.head_revision():
        began = time.perf_counter()
        migrate.upgrade(engine)
        print(f"  upgraded {versions} versions to head in {time.perf_counter() - began:.1f} s")
    engine.dispose()
    return ModelRegistry.open(url, str(directory / "artifacts"))


# --- MLflow ------------------------------------------------------------------------------


def open_mlflow(workdir: Path, versions: int) -> tuple[Any, str]:
    import logging

    import mlflow
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    directory = workdir / f"mlflow-{LAYOUT}-{versions}"
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    built = (directory / "built").exists()
    # Before the client: opening it creates an empty mlflow.db, which is not a build.
    interrupted = not built and (directory / "mlflow.db").exists()
    directory.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if built:
        return client, client.get_experiment_by_name("bench").experiment_id
    if interrupted:  # finish it in SQL
        experiment = client.get_experiment_by_name("bench").experiment_id
        _copy_mlflow_rows(directory / "mlflow.db", versions, random.Random(versions))
        (directory / "built").write_text(str(versions))
        return client, experiment
    from mlflow.entities import Metric, Param, RunTag

    experiment = client.create_experiment("bench", artifact_location=str(directory / "artifacts"))
    for m in range(MODELS):
        client.create_registered_model(f"m{m}")
    rng = random.Random(versions)
    through_client = min(versions, CLIENT_VERSIONS)
    progress = Progress("mlflow versions through MlflowClient", through_client, every=100)
    for i in range(through_client):
        at_ms = int((START + timedelta(seconds=i)).timestamp() * 1000)
        team = TEAMS[rng.randrange(len(TEAMS))]
        run = client.create_run(experiment, start_time=at_ms)
        values = {"auc": rng.random()} | {f"metric_{j}": rng.random() for j in (1, 2, 3)}
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, at_ms, 0) for k, v in values.items()],
            params=[Param("C", str(rng.random())), Param("depth", str(rng.randrange(2, 12)))],
            tags=[RunTag("team", team)],
        )
        client.create_model_version(
            f"m{i % MODELS}", f"{run.info.artifact_uri}/model", run.info.run_id, tags={"team": team}
        )
        progress(i + 1)
    _copy_mlflow_rows(directory / "mlflow.db", versions, rng)
    (directory / "built").write_text(str(versions))
    return client, experiment


# MLflow's client writes ~2-20 versions a second on a loaded 2-core machine (a run, a
# batch and a version: several transactions each), so past the first CLIENT_VERSIONS the
# rows are copied in SQL from those the client wrote, in exactly their shape (same
# columns, same tables; new ids, values and times), which is what its searches read.
CLIENT_VERSIONS = 300


def _copy_mlflow_rows(path: Path, versions: int, rng: random.Random) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    done = db.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    if done >= versions:
        db.close()
        return
    template = {
        table: dict(db.execute(f"SELECT * FROM {table} LIMIT 1").fetchone())
        for table in ("runs", "model_versions", "model_version_tags")
    }
    last = dict(
        db.execute("SELECT name, max(version) FROM model_versions GROUP BY name").fetchall()
    )
    rows: dict[str, list[dict[str, Any]]] = {
        t: []
        for t in (
            "runs",
            "metrics",
            "latest_metrics",
            "params",
            "tags",
            "model_versions",
            "model_version_tags",
        )
    }
    for i in range(done, versions):
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex
        at_ms = int((START + timedelta(seconds=i)).timestamp() * 1000)
        team = TEAMS[rng.randrange(len(TEAMS))]
        name = f"m{i % MODELS}"
        last[name] = number = last.get(name, 0) + 1
        artifacts = template["runs"]["artifact_uri"].rsplit("/", 2)[0] + f"/{run_id}/artifacts"
        rows["runs"].append(
            {
                **template["runs"],
                "run_uuid": run_id,
                "name": f"run-{i}",
                "start_time": at_ms,
                "artifact_uri": artifacts,
            }
        )
        values = {"auc": rng.random()} | {f"metric_{j}": rng.random() for j in (1, 2, 3)}
        for key, value in values.items():
            metric = {
                "key": key,
                "value": value,
                "timestamp": at_ms,
                "run_uuid": run_id,
                "step": 0,
                "is_nan": 0,
            }
            rows["metrics"].append(metric)
            rows["latest_metrics"].append(metric)
        rows["params"] += [
            {"key": "C", "value": str(rng.random()), "run_uuid": run_id},
            {"key": "depth", "value": str(rng.randrange(2, 12)), "run_uuid": run_id},
        ]
        rows["tags"] += [
            {"key": "team", "value": team, "run_uuid": run_id},
            {"key": "mlflow.runName", "value": f"run-{i}", "run_uuid": run_id},
        ]
        rows["model_versions"].append(
            {
                **template["model_versions"],
                "name": name,
                "version": number,
                "run_id": run_id,
                "creation_time": at_ms,
                "last_updated_time": at_ms,
                "source": f"{artifacts}/model",
                "storage_location": f"{artifacts}/model",
            }
        )
        rows["model_version_tags"].append(
            {
                **template["model_version_tags"],
                "key": "team",
                "value": team,
                "name": name,
                "version": number,
            }
        )
    for table, found in rows.items():
        columns = list(found[0])
        db.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)})",
            found,
        )
    db.commit()
    db.close()


def mlflow_call(client: Any, experiment: str, case: Case) -> Callable[[int], object]:
    assert case.mlflow is not None
    kind, _, text = case.mlflow.partition(":")
    if kind == "versions":
        return lambda _: client.search_model_versions(text, max_results=case.limit)
    return lambda _: client.search_runs(
        [experiment], filter_string=text, order_by=["metrics.auc DESC"], max_results=case.limit
    )


# --- timing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    first: float
    samples: tuple[float, ...]
    found: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def mean(self) -> float:
        return statistics.fmean((self.first, *self.samples))


def timed(call: Callable[[int], object], count: int, budget_s: float | None) -> Timing:
    start = time.perf_counter()
    result = call(-1)
    first = (time.perf_counter() - start) * 1000
    found = len(result) if hasattr(result, "__len__") else -1  # type: ignore[arg-type]
    return Timing(first, time_each(call, count, budget_s), found)


def interleaved(calls: dict[int, Callable[[int], object]], count: int) -> dict[int, Timing]:
    """Each call's first time, then `count` rounds calling each once in turn."""
    first, found, samples = {}, {}, {n: [] for n in calls}  # type: ignore[var-annotated]
    for n, call in calls.items():
        start = time.perf_counter()
        result = call(-1)
        first[n] = (time.perf_counter() - start) * 1000
        found[n] = len(result) if hasattr(result, "__len__") else -1  # type: ignore[arg-type]
    for i in range(count):
        for n, call in calls.items():
            start = time.perf_counter()
            call(i)
            samples[n].append((time.perf_counter() - start) * 1000)
    return {n: Timing(first[n], tuple(samples[n]), found[n]) for n in calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", default="10000,100000")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument(
        "--mlflow",
        action="store_true",
        help="also time MLflow (at the smallest size unless --mlflow-versions)",
    )
    parser.add_argument("--mlflow-versions", default=None)
    parser.add_argument("--mlflow-budget-s", type=float, default=30.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/registry-search-bench"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/search.md"))
    args = parser.parse_args()
    sizes = [int(v) for v in args.versions.split(",")]
    registries = {n: open_ours(args.workdir, n) for n in sizes}
    mlflow_sizes = (
        [int(v) for v in args.mlflow_versions.split(",")]
        if args.mlflow_versions
        else sizes[:1]
        if args.mlflow
        else []
    )
    clients = {n: open_mlflow(args.workdir, n) for n in mlflow_sizes}
    results: dict[tuple[str, int, str], Timing] = {}
    for case_index in range(len(cases(sizes[0]))):
        # Our sizes alternate call by call (a loaded machine's bursts then fall on both
        # sides of each ratio); MLflow, seconds a call, follows case by case.
        calls = {}
        for n in sizes:
            case, reg = cases(n)[case_index], registries[n]
            calls[n] = lambda _, reg=reg, case=case: reg.search(
                case.filter, order_by=case.order_by, limit=case.limit
            )
        for n, timing in interleaved(calls, args.calls).items():
            case = cases(n)[case_index]
            results[(f"`{case.label}` | {case.order_by} | {case.limit}", n, "ours")] = timing
            print(f"  ours {n:>7} {_line(case, timing)}, {timing.found} found", flush=True)
        for n in sizes:
            case = cases(n)[case_index]
            if n in clients and case.mlflow is not None:
                client, experiment = clients[n]
                theirs = timed(
                    mlflow_call(client, experiment, case), args.calls, args.mlflow_budget_s
                )
                results[(f"`{case.label}` | {case.order_by} | {case.limit}", n, "mlflow")] = theirs
                print(f"  mlflow {n:>7} {_line(case, theirs)} ({case.mlflow})", flush=True)
    table = markdown(results, sizes, mlflow_sizes)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)


def _line(case: Case, t: Timing) -> str:
    return (
        f"{case.label} {case.order_by} limit {case.limit}: median {t.median:.4g} ms, "
        f"mean {t.mean:.4g}, first {t.first:.4g}"
    )


def markdown(
    results: dict[tuple[str, int, str], Timing], sizes: list[int], mlflow_sizes: list[int]
) -> str:
    labels = list(dict.fromkeys(label for label, _, _ in results))
    head = ["filter", "order_by", "limit"]
    for n in sizes:
        head += [f"{n:,} median ms", "mean", "first", "found"]
    if len(sizes) > 1:
        head.append(f"{sizes[-1]:,} / {sizes[0]:,} (median)")
    for n in mlflow_sizes:
        head += [f"MLflow {n:,} median ms", "mean", "first", "x ours (median)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in labels:
        cells = [label]  # filter | order_by | limit (filters here contain no "|")
        for n in sizes:
            t = results.get((label, n, "ours"))
            cells += (
                [f"{t.median:.3g}", f"{t.mean:.3g}", f"{t.first:.3g}", str(t.found)]
                if t
                else ["-"] * 4
            )
        if len(sizes) > 1:
            a, b = results.get((label, sizes[0], "ours")), results.get((label, sizes[-1], "ours"))
            cells.append(f"{b.median / a.median:.2f}" if a and b else "-")
        for n in mlflow_sizes:
            t, o = results.get((label, n, "mlflow")), results.get((label, n, "ours"))
            cells += (
                [
                    f"{t.median:.4g}",
                    f"{t.mean:.4g}",
                    f"{t.first:.4g}",
                    f"{t.median / o.median:.0f}x",
                ]
                if t and o
                else ["-"] * 4
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
