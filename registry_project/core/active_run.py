"""The handle `ModelRegistry.start_run` returns: a context manager around one training run,
which buffers step metrics and writes them in batches."""

from __future__ import annotations

import atexit
import os
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from registry_project.core import autolog
from registry_project.core.autolog import AutologRecord
from registry_project.core.entities import RunArtifact, RunStatus, TrainingRun
from registry_project.core.errors import InvalidMetricError
from registry_project.core.validation import (
    validate_metric_key,
    validate_metric_value,
    validate_step,
)

if TYPE_CHECKING:
    from registry_project.core.registry import ModelRegistry

MAX_ERROR_TEXT = 20_000
# A buffered point reaches the database when the buffer holds FLUSH_POINTS points, when a
# log call comes FLUSH_SECONDS after the oldest buffered point, on `flush()`, `info()`,
# `end()`, leaving the `with` block, and at a normal interpreter exit. A killed process
# (SIGKILL, power loss) loses at most the unflushed tail: fewer than FLUSH_POINTS points,
# logged within FLUSH_SECONDS of each other.
FLUSH_POINTS = 10_000
FLUSH_SECONDS = 2.0


def _flush_at_exit(run: ActiveRun) -> Callable[[], None]:
    # A strong reference: a run whose handle was dropped without `end()` still has its
    # buffered points written at exit. `end()` unregisters it, which releases the handle.
    def hook() -> None:
        if run._pid == os.getpid():  # not in a forked child: the parent flushes its own
            run.flush()

    return hook


class ActiveRun:
    """A training run in progress.

    The run row exists from the start (status RUNNING), so versions can be registered
    against it inside the block. Leaving the block marks it FINISHED; an exception marks it
    FAILED with the exception recorded, and is re-raised.

    `log_metric` / `log_metrics` buffer their points (see FLUSH_POINTS and FLUSH_SECONDS)
    so that a training loop pays microseconds per point; invalid values are refused at the
    call. One ActiveRun is meant for one thread.
    """

    def __init__(
        self, registry: ModelRegistry, run_id: str, name: str, *, autolog: bool = False
    ) -> None:
        self._registry = registry
        self.id = run_id
        self.name = name
        # start_run(autolog=True): register_model records a scikit-learn model it is given
        # through autolog_estimator (core/autolog.py), once; off, nothing is recorded.
        self.autolog = autolog
        self.autologged = False
        self._ended = False
        self._buffer: list[tuple[str, int, float, datetime]] = []
        self._oldest = 0.0  # time.monotonic() of the oldest buffered point
        self._next_step: dict[str, int] = {}
        self._known_keys: set[str] = set()
        self._pid = os.getpid()
        self._exit_hook = _flush_at_exit(self)
        atexit.register(self._exit_hook)

    # --- metrics -----------------------------------------------------------------------

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """One point of a step metric (`step` None: the key's next step, from 0). The
        latest value is the run's metric; `reg.metric_history(run, key)` has every point."""
        self._add({key: value}, step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Several metrics at one step (`step` None: each key's next step)."""
        if not isinstance(metrics, Mapping):
            raise InvalidMetricError(
                f"metrics must be a mapping of name to number, got {type(metrics).__name__}"
            )
        self._add(metrics, step)

    def _add(self, metrics: Mapping[str, Any], step: int | None) -> None:
        if step is not None:
            step = validate_step(step)
        at = datetime.now(UTC)
        points = []
        for key, value in metrics.items():
            if key not in self._known_keys:
                validate_metric_key(key)
                self._known_keys.add(key)
            number = validate_metric_value(key, value)
            chosen = self._next_step.get(key, 0) if step is None else step
            self._next_step[key] = chosen + 1
            points.append((key, chosen, number, at))
        if not self._buffer:
            self._oldest = time.monotonic()
        self._buffer.extend(points)
        if len(self._buffer) >= FLUSH_POINTS or time.monotonic() - self._oldest >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered points now (one transaction, executemany)."""
        if self._buffer:
            points, self._buffer = self._buffer, []
            try:
                self._registry.log_run_metric_points(self.id, points)
            except BaseException:
                self._buffer = points + self._buffer  # kept for the next attempt
                raise

    # --- params, tags and artifacts ----------------------------------------------------

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Add params learnt during the run; a key the run has keeps its value (a different
        value is refused: params are never rewritten)."""
        self._registry.log_run_params(self.id, params)

    def autolog_estimator(
        self,
        estimator: Any,
        X_train: Any = None,
        y_train: Any = None,
        X_val: Any = None,
        y_val: Any = None,
    ) -> AutologRecord:
        """Record a fitted scikit-learn estimator on this run: its params (pipelines
        flattened as `step__param`), training and validation scores, feature importances
        or coefficients with feature names (CSV, and a chart: SVG always, PNG too when
        matplotlib is installed), the input signature, a confusion matrix or residual
        summary. See
        core/autolog.py. Explicit: nothing in scikit-learn is patched."""
        record = autolog.log_estimator(
            self._registry, self.id, estimator, X_train, y_train, X_val, y_val
        )
        self.autologged = True
        return record

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Add or replace tags of this run."""
        self._registry.set_run_tags(self.id, tags)

    def log_artifact(
        self,
        path_or_bytes: str | os.PathLike[str] | bytes,
        name: str | None = None,
        *,
        media_type: str | None = None,
    ) -> RunArtifact:
        """A file (named after it unless `name` says otherwise) or bytes (`name` needed),
        stored content-addressed and verified on download."""
        return self._registry.log_run_artifact(
            self.id, path_or_bytes, name=name, media_type=media_type
        )

    def log_figure(self, figure: Any, name: str) -> RunArtifact:
        """A matplotlib figure, saved as PNG (or the format of `name`'s extension)."""
        return self._registry.log_run_figure(self.id, figure, name)

    def log_model(
        self, model: object, name: str = "model", *, flavor: str | None = None
    ) -> RunArtifact:
        """A model serialised by its flavor, registered later if this trial is chosen:
        `reg.register_model("churn", run=run.id, artifact="model")`."""
        return self._registry.log_run_model(self.id, model, name=name, flavor=flavor)

    # --- the run -----------------------------------------------------------------------

    def info(self) -> TrainingRun:
        self.flush()
        return self._registry.get_run(self.id)

    def end(self, status: RunStatus = RunStatus.FINISHED, error: str | None = None) -> None:
        if not self._ended:
            try:
                self.flush()
            finally:
                self._registry.finish_run(self.id, status=status, error=error)
                self._ended = True
                atexit.unregister(self._exit_hook)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end(RunStatus.FINISHED)
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))[-MAX_ERROR_TEXT:]
            self.end(RunStatus.FAILED, text)

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r})"
