"""`ModelRegistry.finish_run`: the public call a run's context manager finishes through."""

from __future__ import annotations

import pytest

from registry_project import ModelRegistry
from registry_project.core.entities import RunStatus


def test_a_run_started_without_a_block_is_finished_by_the_public_call(
    registry: ModelRegistry,
) -> None:
    run = registry.start_run("training", capture_environment=False)
    assert registry.get_run(run).status is RunStatus.RUNNING
    registry.finish_run(run.id, status=RunStatus.FAILED, error="out of memory")
    finished = registry.get_run(run)
    assert finished.status is RunStatus.FAILED and finished.error == "out of memory"
    assert finished.ended_at is not None
    [event] = [e for e in registry.audit_log(action="end_run") if e.subject_id == run.id]
    assert event.after["status"] == "failed"


def test_leaving_the_block_goes_through_finish_run(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, RunStatus]] = []
    original = registry.finish_run

    def spy(run: str, *, status: RunStatus = RunStatus.FINISHED, error: str | None = None) -> None:
        calls.append((run, status))
        original(run, status=status, error=error)

    monkeypatch.setattr(registry, "finish_run", spy)
    with registry.start_run("training", capture_environment=False) as run:
        pass
    assert calls == [(run.id, RunStatus.FINISHED)]
    assert registry.get_run(run).status is RunStatus.FINISHED
