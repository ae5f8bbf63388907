"""Experiment tracking: the calls of ops/tracking_ops.py (runs listed and compared, step
metrics, tags) and ops/run_artifact_ops.py (files, figures and models a run logs).

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's. `metric_history(run, key)` is in version_calls.py,
beside `metric_history(version)`: one name, told apart by the key.

ops/run_artifact_ops.py is imported in the calls that use it, not with this module:
a command that opens the registry for something else (`registry versions`) does not
pay for loading it (issue #18).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from registry_project.core.entities import RunArtifact, RunComparison, TrainingRun
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops import tracking_ops
from registry_project.core.ops.run_ops import RunRef


class TrackingCalls(FacadeBase):
    """Runs as first-class records: listing, comparing, step metrics, tags, artifacts."""

    def runs(
        self,
        experiment: str | None = None,
        *,
        filter: str | None = None,
        order_by: str = "-start_time",
        limit: int | None = None,
    ) -> list[TrainingRun]:
        """Runs of an experiment (every run when None), registered or not, in a fixed
        number of queries.

        `filter` joins conditions with `and`: `metrics.<key>`, `params.<key>`, `tags.<key>`,
        `status`, `experiment`, `name`, `created_by`, `start_time`, `end_time`, compared
        with = != < <= > >= to a number or quoted text (core/filters.py). A run lacking a
        metric, tag or param matches none of its conditions. `order_by` is a metric
        (`-metrics.val_auc`) or an attribute (`start_time`, ...); `-` for descending; runs
        lacking the metric come last.

        Example::

            best = reg.runs("churn", filter="metrics.val_auc > 0.8 and status = 'FINISHED'",
                            order_by="-metrics.val_auc", limit=10)
        """
        return tracking_ops.list_runs(
            self._w, experiment, filter=filter, order_by=order_by, limit=limit
        )

    def compare_runs(self, runs: Sequence[RunRef]) -> RunComparison:
        """Runs side by side: experiment, status, times, code, then every param, tag and
        latest metric; `.differing` lists the rows whose values differ, `.to_frame()` is a
        DataFrame (one column per run).

        Example::

            reg.compare_runs([r.id for r in reg.runs("churn", limit=3)]).to_frame()
        """
        return tracking_ops.compare_runs(self._w, runs)

    def log_run_metric_points(
        self, run: RunRef, points: Sequence[tuple[str, int, float, datetime]]
    ) -> None:
        """Write `(key, step, value, logged_at)` points in one transaction: what
        `ActiveRun.log_metric` buffers and flushes (call that instead)."""
        tracking_ops.log_points(self._w, run, points)

    def set_run_tags(self, run: RunRef, tags: Mapping[str, Any]) -> None:
        """Add or replace tags of a run (`run.set_tags({...})` inside the block)."""
        tracking_ops.set_tags(self._w, run, tags)

    def log_run_artifact(
        self,
        run: RunRef,
        path_or_bytes: str | os.PathLike[str] | bytes,
        *,
        name: str | None = None,
        media_type: str | None = None,
        actor: str | None = None,
    ) -> RunArtifact:
        """Store a file or bytes as an artifact of a run (`run.log_artifact` inside the
        block): bytes first, then its row and audit event. A name is never reused."""
        from registry_project.core.ops import run_artifact_ops

        return run_artifact_ops.log_artifact(
            self._w, run, path_or_bytes, name=name, media_type=media_type, actor=actor
        )

    def log_run_figure(
        self, run: RunRef, figure: Any, name: str, *, actor: str | None = None
    ) -> RunArtifact:
        """Store a matplotlib figure (anything with `savefig`) as a PNG artifact."""
        from registry_project.core.ops import run_artifact_ops

        return run_artifact_ops.log_figure(self._w, run, figure, name=name, actor=actor)

    def log_run_model(
        self,
        run: RunRef,
        model: object,
        *,
        name: str = "model",
        flavor: str | None = None,
        actor: str | None = None,
    ) -> RunArtifact:
        """Store a model as an artifact of a run, to register later if chosen:
        `register_model("churn", run=run_id, artifact=name)`."""
        from registry_project.core.ops import run_artifact_ops

        return run_artifact_ops.log_model(
            self._w, run, model, name=name, flavor=flavor, actor=actor
        )

    def run_artifacts(self, run: RunRef) -> list[RunArtifact]:
        """Every artifact of a run, by name."""
        from registry_project.core.ops import run_artifact_ops

        return run_artifact_ops.list_artifacts(self._w, run)

    def download_run_artifact(
        self,
        run: RunRef,
        name: str,
        destination: str | os.PathLike[str],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> RunArtifact:
        """Copy a run's artifact to a file, verified: the file appears only once the bytes
        matched their digest (`IntegrityCheckError` otherwise, and no file).

        Example::

            reg.download_run_artifact(run.id, "confusion.png", "/tmp/confusion.png")
        """
        from registry_project.core.ops import run_artifact_ops

        return run_artifact_ops.download(self._w, run, name, destination, on_bytes)
