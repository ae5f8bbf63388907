"""Reusing an identical version: same artifact digest, params and inputs register nothing new,
also when several processes register the same training at the same moment."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from registry_project import ModelRegistry
from registry_project.core.entities import DatasetSnapshot
from registry_project_tests.backends import postgres_schema_url

MODEL = {"weights": [0.25, 0.5], "bias": 1.0}  # pickles to the same bytes every time


def _frame(seed: int) -> pd.DataFrame:
    return pd.DataFrame({"x": [seed, seed + 1, seed + 2], "y": [0, 1, 0]})


def _train(
    registry: ModelRegistry,
    params: dict[str, object],
    inputs: list[DatasetSnapshot],
    model: object = MODEL,
):
    with registry.start_run("training", params=params, inputs=inputs) as run:
        return registry.register_or_reuse("churn", model, run=run, metrics={"auc": 0.8})


@pytest.fixture
def registry(tmp_path: Path):
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as opened:
        yield opened


def test_identical_training_reuses_the_existing_version(registry: ModelRegistry) -> None:
    data = registry.snapshot_dataset("customers", _frame(1))
    first = _train(registry, {"C": 1.0}, [data])
    events_before = len(registry.audit_log())
    again = _train(registry, {"C": 1.0}, [registry.snapshot_dataset("customers", _frame(1))])

    assert not first.reused
    assert again.reused and again.version.id == first.version.id
    assert [v.version for v in registry.versions("churn")] == [1]
    # Only the second run's start and end were written: no version, no register event.
    new_events = registry.audit_log()[events_before:]
    assert [e.action for e in new_events] == ["start_run", "end_run"]
    assert again.version.run_id == first.version.run_id  # points at the run that made it
    assert registry.verify().ok


@pytest.mark.parametrize(
    "change",
    ["params", "inputs", "artifact", "input role"],
)
def test_any_difference_registers_a_new_version(registry: ModelRegistry, change: str) -> None:
    data = registry.snapshot_dataset("customers", _frame(1))
    _train(registry, {"C": 1.0}, [data])
    params: dict[str, object] = {"C": 1.0}
    inputs: list = [data]
    model: object = MODEL
    if change == "params":
        params = {"C": 2.0}
    elif change == "inputs":
        inputs = [registry.snapshot_dataset("customers", _frame(2))]
    elif change == "artifact":
        model = {**MODEL, "bias": 2.0}
    else:
        inputs = [(data, "validation")]
    second = _train(registry, params, inputs, model)
    assert not second.reused
    assert [v.version for v in registry.versions("churn", order_by="version")] == [1, 2]


def test_pinned_references_compare_by_their_pin(registry: ModelRegistry) -> None:
    def reference() -> DatasetSnapshot:
        return registry.reference_dataset("events", "s3://lake/events.parquet", version_id="v7")

    first = _train(registry, {}, [reference()])
    again = _train(registry, {}, [reference()])  # a second reference row, same pinned object
    assert again.reused and again.version.id == first.version.id
    moved = registry.reference_dataset("events", "s3://lake/events.parquet", version_id="v8")
    assert not _train(registry, {}, [moved]).reused


def test_register_model_reuses_only_when_asked(registry: ModelRegistry) -> None:
    one = registry.register_model("churn", MODEL)
    two = registry.register_model("churn", MODEL)  # the default: a direct call registers
    assert (one.version, two.version) == (1, 2)
    three = registry.register_model("churn", MODEL, reuse_identical=True)
    assert three.id == one.id  # the oldest identical version (no run: no params, no inputs)
    assert len(registry.versions("churn")) == 2


def _register_at_once(
    database_url: str, artifact_root: str, barrier: multiprocessing.synchronize.Barrier
) -> None:
    registry = ModelRegistry.open(database_url, artifact_root)
    try:
        data = registry.snapshot_dataset("customers", _frame(1))
        with registry.start_run("training", params={"C": 1.0}, inputs=[data]) as run:
            barrier.wait(timeout=60)  # every process registers at the same moment
            registry.register_or_reuse("churn", MODEL, run=run)
    finally:
        registry.close()


PROCESSES = 6


def _race(database_url: str, artifact_root: str) -> None:
    with ModelRegistry.open(database_url, artifact_root) as registry:
        # The model exists already: its row is locked, not created, by the racers (creating
        # it would serialise them on the primary key by itself).
        registry.register_model("churn", {"an": "earlier model"})
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=_register_at_once, args=(database_url, artifact_root, barrier))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    with ModelRegistry.open(database_url, artifact_root) as registry:
        assert [v.version for v in registry.versions("churn", order_by="version")] == [1, 2]
        assert len(registry.audit_log(action="register_model")) == 2
        assert len(registry.audit_log(action="start_run")) == PROCESSES
        assert registry.verify().ok


@pytest.mark.slow
def test_identical_registrations_at_once_make_one_version_sqlite(tmp_path: Path) -> None:
    _race(f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path / "artifacts"))


@pytest.mark.slow
def test_identical_registrations_at_once_make_one_version_postgres(tmp_path: Path) -> None:
    with postgres_schema_url() as url:
        _race(url, str(tmp_path / "artifacts"))
