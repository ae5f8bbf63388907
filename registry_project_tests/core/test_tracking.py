"""Experiment tracking on SQLite and PostgreSQL: runs that register nothing, listed,
filtered, ordered and compared; a version registered later from a finished run; step
metrics buffered and read back in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from registry_project import ModelRegistry
from registry_project.core import active_run
from registry_project.core.entities import RunStatus
from registry_project.core.errors import (
    InvalidInputError,
    InvalidMetricError,
    RunNotFoundError,
)
from registry_project_tests.conftest import open_registry


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    return open_registry(request.param, tmp_path, request)


def _sweep(reg: ModelRegistry) -> list[str]:
    """Four trials of experiment "churn" (one failed) and one run of another experiment."""
    ids = []
    for index, (c, auc, team) in enumerate(
        [(0.1, 0.75, "risk"), (1.0, 0.875, "risk"), (10.0, 0.8125, "growth")]
    ):
        with reg.start_run(
            f"trial-{index}",
            experiment="churn",
            params={"C": c, "solver": "lbfgs"},
            tags={"team": team},
            capture_environment=False,
        ) as run:
            run.log_metrics({"val_auc": auc, "train_auc": auc + 0.0625})
        ids.append(run.id)
    with (
        pytest.raises(RuntimeError),
        reg.start_run(
            "trial-3", experiment="churn", params={"C": 100.0}, capture_environment=False
        ) as run,
    ):
        run.log_metric("val_auc", 0.9375)
        raise RuntimeError("diverged")
    ids.append(run.id)
    with reg.start_run("other", params={"C": 1.0}, capture_environment=False) as run:
        run.log_metric("val_auc", 0.5)
    ids.append(run.id)
    return ids


def test_runs_without_versions_are_listed_filtered_ordered_and_limited(
    reg: ModelRegistry,
) -> None:
    ids = _sweep(reg)
    listed = reg.runs("churn")
    assert [r.id for r in listed] == ids[3::-1]  # newest first by default
    assert {r.experiment for r in listed} == {"churn"}
    assert reg.runs("other")[0].experiment == "other"  # the default: the run's name
    assert len(reg.runs()) == 5

    best = reg.runs("churn", order_by="-metrics.val_auc")
    assert [r.name for r in best] == ["trial-3", "trial-1", "trial-2", "trial-0"]
    assert [r.name for r in reg.runs("churn", order_by="metrics.val_auc", limit=2)] == [
        "trial-0",
        "trial-2",
    ]
    finished = reg.runs(
        "churn",
        filter="metrics.val_auc > 0.8 and status = 'FINISHED'",
        order_by="-metrics.val_auc",
    )
    assert [r.name for r in finished] == ["trial-1", "trial-2"]
    assert [
        r.name for r in reg.runs("churn", filter="metrics.val_auc >= 0.8125 and tags.team = 'risk'")
    ] == ["trial-1"]
    assert [r.name for r in reg.runs("churn", filter="params.C = 1.0")] == ["trial-1"]
    assert [r.name for r in reg.runs(filter="params.C = 1.0", order_by="name")] == [
        "other",
        "trial-1",
    ]
    assert [
        r.name for r in reg.runs("churn", filter="params.C > 0.5", order_by="name", limit=2)
    ] == [
        "trial-1",
        "trial-2",
    ]
    assert [
        r.name for r in reg.runs("churn", filter="params.solver = 'lbfgs' and params.C < 1")
    ] == ["trial-0"]
    assert [r.name for r in reg.runs("churn", filter="status = 'failed'")] == ["trial-3"]
    assert [r.name for r in reg.runs("churn", filter="tags.team != 'risk'")] == ["trial-2"]
    # no run lacks the metric here, but none has this one: every condition on it is false
    assert reg.runs("churn", filter="metrics.missing < 1") == []
    run = reg.runs("churn", filter="name = 'trial-1'")[0]
    assert dict(run.params) == {"C": 1.0, "solver": "lbfgs"}
    assert dict(run.tags) == {"team": "risk"}
    assert dict(run.metrics) == {"val_auc": 0.875, "train_auc": 0.9375}
    assert run.status is RunStatus.FINISHED
    assert reg.models() == []  # nothing was registered


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filter": "metrics.val_auc > 'high'"}, "is a number"),
        ({"filter": "tags.team = 3"}, "quote the value"),
        ({"filter": "status = 'DONE'"}, "not a run status"),
        ({"filter": "start_time > 'yesterday'"}, "ISO 8601"),
        ({"filter": "metrics.val_auc > 0.8 or status = 'FINISHED'"}, "'or'"),
        ({"order_by": "-params.C"}, "cannot order runs"),
        ({"order_by": "-colour"}, "'colour'"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_searches_are_refused_with_what_to_do(
    reg: ModelRegistry, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        reg.runs("churn", **kwargs)  # type: ignore[arg-type]


def test_runs_are_compared_side_by_side(reg: ModelRegistry) -> None:
    ids = _sweep(reg)
    comparison = reg.compare_runs(ids[:2])
    frame = comparison.to_frame()
    assert list(frame.columns) == [i[:8] for i in ids[:2]]
    assert frame.loc["param.C"].tolist() == [0.1, 1.0]
    assert frame.loc["metric.val_auc"].tolist() == [0.75, 0.875]
    assert frame.loc["tag.team"].tolist() == ["risk", "risk"]
    assert set(comparison.differing) == {"param.C", "metric.val_auc", "metric.train_auc"}
    assert comparison.run_ids == tuple(ids[:2])
    with pytest.raises(RunNotFoundError):
        reg.compare_runs([ids[0], "00000000-0000-0000-0000-000000000000"])
    with pytest.raises(InvalidInputError):
        reg.compare_runs([])


def test_a_version_is_registered_later_from_a_finished_runs_model(reg: ModelRegistry) -> None:
    with reg.start_run("trial", experiment="churn", capture_environment=False) as run:
        run.log_model({"weights": [1, 2, 3]}, name="model")
        run.log_artifact(b"a,b\n1,2\n", name="table.csv")
        with pytest.raises(InvalidInputError, match="finished"):
            reg.register_model("churn", run=run.id, artifact="model")
        run.log_metric("val_auc", 0.875)
    version = reg.register_model("churn", run=run.id, artifact="model", metrics={"auc": 0.875})
    assert (version.ref, version.run_id, version.flavor) == ("churn/1", run.id, "pickle")
    assert reg.load_model("churn/1") == {"weights": [1, 2, 3]}
    assert reg.lineage("churn/1").run.id == run.id  # type: ignore[union-attr]
    with pytest.raises(InvalidInputError, match="not both"):
        reg.register_model("churn", {"w": 1}, run=run.id, artifact="model")
    with pytest.raises(InvalidInputError, match="needs a model"):
        reg.register_model("churn", run=run.id)
    with pytest.raises(InvalidInputError, match="not a model"):
        reg.register_model("churn", run=run.id, artifact="table.csv")
    with pytest.raises(InvalidInputError, match="pass run="):
        reg.register_model("churn", artifact="model")
    assert [v.version for v in reg.versions("churn")] == [1]  # the refusals wrote nothing


def test_a_failed_runs_model_is_not_registered(reg: ModelRegistry) -> None:
    run = reg.start_run("trial", capture_environment=False)
    run.log_model({"w": 1})
    run.end(RunStatus.FAILED, "diverged")
    with pytest.raises(InvalidInputError, match="is failed"):
        reg.register_model("churn", run=run.id, artifact="model")


# --- step metrics --------------------------------------------------------------------------


def test_a_ten_thousand_step_loss_curve_reads_back_in_order(reg: ModelRegistry) -> None:
    losses = [1.0 / (step + 1) for step in range(10_000)]
    with reg.start_run("curve", capture_environment=False) as run:
        for step in reversed(range(10_000)):  # logged out of order, read in step order
            run.log_metric("loss", losses[step], step=step)
        run.log_metrics({"acc": 0.5})
        run.log_metrics({"acc": 0.75})  # no step: the key's next one
    history = reg.metric_history(run, "loss")
    assert [p.step for p in history] == list(range(10_000))
    assert [p.value for p in history] == losses
    frame = reg.metric_history(run.id, "loss").to_frame()
    assert list(frame.columns) == ["step", "value", "logged_at"] and len(frame) == 10_000
    assert [(p.step, p.value) for p in reg.metric_history(run, "acc")] == [(0, 0.5), (1, 0.75)]
    # the latest logged value of each key is the run's metric
    assert dict(reg.get_run(run.id).metrics) == {"loss": 1.0, "acc": 0.75}
    assert len(reg.metric_history(run, "never-logged")) == 0


def test_a_step_logged_twice_keeps_the_last_value(reg: ModelRegistry) -> None:
    with reg.start_run("rerun", capture_environment=False) as run:
        run.log_metrics({"loss": 0.5, "acc": 0.25}, step=3)
        run.flush()
        run.log_metrics({"loss": 0.375}, step=3)
        run.log_metrics({"loss": 0.25}, step=3)  # twice in one batch as well
    assert [(p.step, p.value) for p in reg.metric_history(run, "loss")] == [(3, 0.25)]
    assert reg.get_run(run.id).metrics["loss"] == 0.25


def test_points_are_buffered_until_a_batch_is_full(reg: ModelRegistry) -> None:
    run = reg.start_run("buffered", capture_environment=False)
    for step in range(active_run.FLUSH_POINTS - 1):
        run.log_metric("loss", 0.5, step=step)
    assert len(reg.metric_history(run.id, "loss")) == 0  # still in the buffer
    run.log_metric("loss", 0.25, step=active_run.FLUSH_POINTS - 1)
    assert len(reg.metric_history(run.id, "loss")) == active_run.FLUSH_POINTS
    run.log_metric("loss", 0.125, step=active_run.FLUSH_POINTS)
    assert run.info().metrics["loss"] == 0.125  # info() flushes
    run.end()


def test_points_older_than_the_flush_interval_are_written_on_the_next_call(
    reg: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(active_run.time, "monotonic", lambda: clock[0])
    run = reg.start_run("slow-loop", capture_environment=False)
    run.log_metric("loss", 0.5, step=0)
    clock[0] += active_run.FLUSH_SECONDS - 0.25
    run.log_metric("loss", 0.25, step=1)
    assert len(reg.metric_history(run.id, "loss")) == 0
    clock[0] += 0.25
    run.log_metric("loss", 0.125, step=2)
    assert len(reg.metric_history(run.id, "loss")) == 3
    run.end()


def test_bad_points_are_refused_at_the_call_and_leave_the_buffer_clean(
    reg: ModelRegistry,
) -> None:
    with reg.start_run("strict", capture_environment=False) as run:
        for value in (float("nan"), float("inf"), True, "0.5", None):
            with pytest.raises(InvalidMetricError):
                run.log_metric("loss", value)  # type: ignore[arg-type]
        for step in (-1, 1.5, True, 2**63):
            with pytest.raises(InvalidInputError):
                run.log_metric("loss", 0.5, step=step)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            run.log_metric("bad key!", 0.5)
        with pytest.raises(InvalidMetricError):
            run.log_metrics([("loss", 0.5)])  # type: ignore[arg-type]
        run.log_metric("loss", 0.5, step=7)
    assert [(p.step, p.value) for p in reg.metric_history(run, "loss")] == [(7, 0.5)]
    with pytest.raises(InvalidInputError, match="metric's name"):
        reg.metric_history(run)  # type: ignore[call-overload]
    with pytest.raises(RunNotFoundError):
        reg.metric_history("00000000-0000-0000-0000-000000000000", "loss")


def test_version_metric_history_still_works(reg: ModelRegistry) -> None:
    mv = reg.register_model("churn", {"w": 1}, metrics={"auc": 0.75})
    reg.log_metrics(mv, {"auc": 0.875})
    assert [r.value for r in reg.metric_history(mv)] == [0.875]
    assert [r.value for r in reg.metric_history("churn/1")] == [0.875]


def test_tags_are_added_after_the_start(reg: ModelRegistry) -> None:
    with reg.start_run(
        "tagged", tags={"team": "risk", "seed": 7}, capture_environment=False
    ) as run:
        run.set_tags({"team": "growth", "stage": "sweep"})
    assert dict(reg.get_run(run.id).tags) == {"team": "growth", "seed": "7", "stage": "sweep"}
    with pytest.raises(InvalidInputError):
        reg.start_run("bad", tags={"x": [1]}, capture_environment=False)
    with pytest.raises(InvalidInputError):
        reg.start_run("bad", experiment="no spaces allowed", capture_environment=False)


_CHILD = """
import os, signal, sys
from registry_project import ModelRegistry
reg = ModelRegistry.open(sys.argv[1], sys.argv[2])
run = reg.start_run("child", capture_environment=False)
print(run.id, flush=True)
for step in range(int(sys.argv[3])):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
if sys.argv[4] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
if sys.argv[4] == "drop":  # the handle dropped and collected, the run never ended
    import gc
    del run
    gc.collect()
# "exit" and "drop": the interpreter exits normally with the run never ended
"""


def _child(reg: ModelRegistry, tmp_path: Path, points: int, how: str) -> str:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(_CHILD))
    url = reg.engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, str(script), url, str(tmp_path / "artifacts"), str(points), how],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=300,
    )
    expected = -signal.SIGKILL if how == "kill" else 0
    assert done.returncode == expected, done.stderr
    return done.stdout.split()[0]


def test_a_killed_process_loses_at_most_the_unflushed_tail(
    reg: ModelRegistry, tmp_path: Path
) -> None:
    points = 2 * active_run.FLUSH_POINTS + 5_000
    run_id = _child(reg, tmp_path, points, "kill")
    kept = reg.metric_history(run_id, "loss")
    assert [p.step for p in kept] == list(range(2 * active_run.FLUSH_POINTS))


@pytest.mark.parametrize("how", ["exit", "drop"])
def test_buffered_points_survive_a_normal_exit(
    reg: ModelRegistry, tmp_path: Path, how: str
) -> None:
    run_id = _child(reg, tmp_path, 1_500, how)
    assert [p.step for p in reg.metric_history(run_id, "loss")] == list(range(1_500))


def test_listing_runs_takes_the_same_queries_for_3_runs_as_for_30(
    sqlite_registry: ModelRegistry,
) -> None:
    import sqlalchemy as sa

    reg = sqlite_registry

    def statements_for_listing() -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        sa.event.listen(reg.engine, "before_cursor_execute", count)
        try:
            listed = reg.runs("grid", filter="metrics.auc > 0", order_by="-metrics.auc")
        finally:
            sa.event.remove(reg.engine, "before_cursor_execute", count)
        assert all(r.tags["i"] for r in listed)
        return len(seen)

    def add(count: int) -> None:
        for i in range(count):
            with reg.start_run(
                "g", experiment="grid", tags={"i": str(i)}, capture_environment=False
            ) as run:
                run.log_metric("auc", 0.5 + i / 100)

    add(3)
    few = statements_for_listing()
    assert few >= 5  # the listing, then metrics, tags, inputs and files of every run at once
    add(27)
    assert len(reg.runs("grid")) == 30
    assert statements_for_listing() == few
