"""Reading versions, their metrics, artifacts, lineage and comparisons: the calls of
ops/version_ops.py and ops/comparison.py.

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, overload

from registry_project.core.active_run import ActiveRun
from registry_project.core.entities import (
    Comparison,
    Lineage,
    MetricRecord,
    MetricSteps,
    Model,
    ModelSummary,
    ModelVersion,
    Stage,
    TrainingRun,
)
from registry_project.core.errors import InvalidInputError
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops import comparison, tracking_ops, version_ops
from registry_project.core.ops.dataset_ops import DatasetRef
from registry_project.core.ops.run_ops import RunRef
from registry_project.core.ops.version_ops import VersionRef

if TYPE_CHECKING:
    import pandas as pd


class VersionCalls(FacadeBase):
    """Reading versions: lookups, lists, metrics, artifacts, lineage, comparison."""

    def log_metrics(
        self,
        version: VersionRef,
        metrics: Mapping[str, float],
        *,
        dataset: DatasetRef | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Record evaluation metrics on a version, per dataset (e.g. the holdout snapshot).
        The newest value of each metric is what ordering and promotion read."""
        return version_ops.log_metrics(self._w, version, metrics, dataset=dataset, actor=actor)

    @overload
    def metric_history(self, target: VersionRef) -> list[MetricRecord]: ...
    @overload
    def metric_history(self, target: RunRef, key: str) -> MetricSteps: ...

    def metric_history(
        self, target: VersionRef | RunRef, key: str | None = None
    ) -> list[MetricRecord] | MetricSteps:
        """One name, two histories, told apart by `key`:

        - `metric_history(version)`: every metric logged on a version, by dataset (None =
          training), as `MetricRecord`s;
        - `metric_history(run, "loss")`: every point of a run's step metric in step order
          (`MetricSteps`: a sequence of `MetricStep(step, value, logged_at)`, and
          `.to_frame()`). `run` is the ActiveRun, the TrainingRun or its id.

        Example::

            curve = reg.metric_history(run, "loss").to_frame()  # columns step, value, logged_at
        """
        if key is not None:
            return tracking_ops.metric_history(self._w, target, key)  # type: ignore[arg-type]
        if isinstance(target, ActiveRun | TrainingRun):
            raise InvalidInputError(
                "metric_history of a run needs the metric's name: metric_history(run, 'loss')"
            )
        return version_ops.metric_history(self._w, target)

    def get_version(self, reference: VersionRef) -> ModelVersion:
        """A version by ModelVersion, UUID, `name/7`, `name@production` or `name@latest`."""
        return version_ops.get(self._w, reference)

    def production_version(self, name: str) -> ModelVersion | None:
        """The version of model `name` in production, or None (no such model, or none in
        production yet). Example: `reg.production_version("churn")`."""
        return version_ops.production(self._w, name)

    def versions(
        self,
        name: str,
        *,
        stage: Stage | str | None = None,
        order_by: str = "-version",
        limit: int | None = None,
    ) -> list[ModelVersion]:
        """Versions of a model, e.g. `versions("churn", order_by="-metrics.auc", limit=10)`.
        Versions lacking the ordering metric come last."""
        return version_ops.list_versions(self._w, name, stage=stage, order_by=order_by, limit=limit)

    def models(self) -> list[Model]:
        """Every model with its version count and production version."""
        return version_ops.models(self._w)

    def model_summaries(self) -> list[ModelSummary]:
        """Every model with its production and latest version (metrics included) and when
        it last changed, in one read however many models there are.

        Example::

            for s in reg.model_summaries():
                s.model.name, s.shown.version, s.key_metric("auc")
        """
        return version_ops.summaries(self._w)

    def load_model(self, reference: VersionRef) -> object:
        """Deserialise a version's artifact, after verifying its SHA-256 digest."""
        return version_ops.load(self._w, reference)

    def export_artifact(
        self,
        reference: VersionRef,
        destination: str | os.PathLike[str],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> ModelVersion:
        """Copy a version's artifact bytes to a file, verified, without deserialising them
        (for serving images or inspection). The file appears only once its digest matched.

        Example::

            reg.export_artifact("churn@production", "/srv/model.joblib")
        """
        return version_ops.export(self._w, reference, destination, on_bytes)

    def lineage(self, reference: VersionRef) -> Lineage:
        """Everything needed to recreate a version: datasets (with digests and whether they
        were deleted), the run, its code and environment, the Dagster run, stage history."""
        return version_ops.lineage(self._w, reference)

    # --- comparison (ops/comparison.py) --------------------------------------------------

    def compare(self, name: str, versions: Sequence[int | str | ModelVersion]) -> pd.DataFrame:
        """Params and metrics of several versions side by side, with each metric's delta to
        the production version. Rows: `stage`, `param.<name>`, `metric.<name>`, ...;
        columns: `v5`, `v7`, ..., `production (v3)`, `Δ v5`, ..."""
        return comparison.compare(self._w, name, versions).to_frame()

    def comparison(self, name: str, versions: Sequence[int | str | ModelVersion]) -> Comparison:
        """What `compare` shows, as a value: its rows, its columns (each with the version
        it shows and whether it is a delta), every cell, and the rows that differ between
        the versions; `.to_frame()` is `compare`'s DataFrame.

        Example::

            c = reg.comparison("churn", [5, 7])
            c.differing, c.value("metric.auc", "Δ v7")
        """
        return comparison.compare(self._w, name, versions)
