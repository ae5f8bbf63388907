"""W6: the registry's share of the wall time of a demo training materialization."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

from registry_project.core.registry import ModelRegistry

TIMED = (
    "snapshot_dataset",
    "get_dataset",
    "load_dataset",
    "start_run",
    "finish_run",
    "register_model",
    "get_version",
)


def measure(directory: Path, rounds: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(wall ms, registry ms) of materializing customers + churn/churn_candidate, per round."""
    import dagster as dg

    from registry_project.orchestration import ModelRegistryResource
    from registry_project.pipelines.churn import DATASETS, churn

    os.environ.setdefault("REGISTRY_DEMO_DAY", "2026-11-02")
    spent = [0.0]
    originals: dict[str, Any] = {}
    depth = [0]

    def timed(name: str) -> Any:
        original = getattr(ModelRegistry, name)
        originals[name] = original

        @functools.wraps(original)
        def wrapper(self: ModelRegistry, *args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            start = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:  # count nested registry calls once
                    spent[0] += time.perf_counter() - start

        return wrapper

    for name in TIMED:
        setattr(ModelRegistry, name, timed(name))
    walls, shares = [], []
    try:
        resource = ModelRegistryResource(
            database_url=f"sqlite:///{directory / 'registry.db'}",
            artifact_root=str(directory / "artifacts"),
        )
        with dg.instance_for_test() as instance:
            for _ in range(rounds + 1):
                spent[0] = 0.0
                start = time.perf_counter()
                result = dg.materialize(
                    [*DATASETS, *churn.assets],
                    instance=instance,
                    resources={"registry": resource},
                    selection=["customers", "churn/churn_candidate"],
                )
                assert result.success
                walls.append((time.perf_counter() - start) * 1000)
                shares.append(spent[0] * 1000)
    finally:
        for name, original in originals.items():
            setattr(ModelRegistry, name, original)
    return tuple(walls[1:]), tuple(shares[1:])  # the first round warms imports
