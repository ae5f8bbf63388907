"""The handle `ModelRegistry.start_run` returns: a context manager around one training run."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING

from registry_project.core.entities import RunStatus, TrainingRun

if TYPE_CHECKING:
    from registry_project.core.registry import ModelRegistry

MAX_ERROR_TEXT = 20_000


class ActiveRun:
    """A training run in progress.

    The run row exists from the start (status RUNNING), so versions can be registered
    against it inside the block. Leaving the block marks it FINISHED; an exception marks it
    FAILED with the exception recorded, and is re-raised.
    """

    def __init__(self, registry: ModelRegistry, run_id: str, name: str) -> None:
        self._registry = registry
        self.id = run_id
        self.name = name
        self._ended = False

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Training metrics of the run itself (a version's metrics go to register_model)."""
        self._registry.log_run_metrics(self.id, metrics)

    def info(self) -> TrainingRun:
        return self._registry.get_run(self.id)

    def end(self, status: RunStatus = RunStatus.FINISHED, error: str | None = None) -> None:
        if not self._ended:
            self._registry.finish_run(self.id, status=status, error=error)
            self._ended = True

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
