"""W7 step metrics: STEPS x KEYS metric points logged into one run, as a training loop
would (one call per step), on registry_project and on MLflow; points per second.

Ours: `ActiveRun.log_metrics({...}, step=s)` once per step; the points are buffered and
written in executemany batches, and the timing includes the last flush (leaving the
block), so every point is committed when the clock stops.

MLflow: `MlflowClient.log_batch` with the points grouped 1,000 per call (the most one call
accepts, so its fastest way; "mlflow per step" is one log_batch per step, what a loop that
logs as it goes does). Both on SQLite with the same durability MLflow's store uses by
default, on the same machine; one fresh store per round, rounds alternating.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.mlflow_side import client_for
from benchmarks.ours import open_registry

MLFLOW_BATCH_LIMIT = 1000  # MLflow refuses more than 1,000 metrics in one log_batch


def _value(step: int, key: int) -> float:
    return 1.0 / (step + 1) + key * 1e-3


def ours(directory: Path, steps: int, keys: int) -> float:
    """Seconds to log and commit every point."""
    names = [f"metric_{k}" for k in range(keys)]
    with open_registry(directory) as registry:
        with registry.start_run("warm-up", capture_environment=False) as run:
            run.log_metrics({name: 0.5 for name in names}, step=0)
        run = registry.start_run("bench", capture_environment=False)
        start = time.perf_counter()
        with run:
            for step in range(steps):
                run.log_metrics({name: _value(step, k) for k, name in enumerate(names)}, step=step)
        elapsed = time.perf_counter() - start
        assert len(registry.metric_history(run.id, names[-1])) == steps
        return elapsed


def mlflow(directory: Path, steps: int, keys: int, *, per_step: bool) -> float:
    """Seconds to log every point through log_batch."""
    from mlflow.entities import Metric

    client, experiment = client_for(directory)
    names = [f"metric_{k}" for k in range(keys)]
    warm = client.create_run(experiment)
    client.log_batch(warm.info.run_id, metrics=[Metric(n, 0.5, 0, 0) for n in names])
    run_id = client.create_run(experiment).info.run_id
    start = time.perf_counter()
    pending: list[Any] = []
    for step in range(steps):
        at = int(time.time() * 1000)
        pending.extend(Metric(n, _value(step, k), at, step) for k, n in enumerate(names))
        if per_step:
            client.log_batch(run_id, metrics=pending)
            pending = []
        while len(pending) >= MLFLOW_BATCH_LIMIT:
            client.log_batch(run_id, metrics=pending[:MLFLOW_BATCH_LIMIT])
            pending = pending[MLFLOW_BATCH_LIMIT:]
    if pending:
        client.log_batch(run_id, metrics=pending)
    client.set_terminated(run_id)
    elapsed = time.perf_counter() - start
    assert len(client.get_metric_history(run_id, names[-1])) == steps
    return elapsed
