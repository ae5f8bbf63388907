"""Several processes registering and promoting one model at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from registry_project import ModelRegistry
from registry_project.core import errors
from registry_project_tests.backends import postgres_schema_url

PROCESSES = 8
REGISTRATIONS_EACH = 4


def _worker(database_url: str, artifact_root: str, worker: int) -> tuple[int, int, int]:
    """Register versions and try to promote each with compare-and-swap.

    Returns (registered, promoted, conflicts)."""
    registry = ModelRegistry.open(database_url, artifact_root)
    promoted = conflicts = 0
    try:
        for i in range(REGISTRATIONS_EACH):
            mv = registry.register_model(
                "churn", {"worker": worker, "i": i}, metrics={"auc": worker + i / 10}
            )
            try:
                current = registry.get_version("churn@production")
            except errors.VersionNotFoundError:
                current = None
            try:
                registry.promote(
                    mv, actor=f"worker-{worker}", reason="race", expected_current=current
                )
                promoted += 1
            except errors.PromotionConflictError:
                conflicts += 1
    finally:
        registry.close()
    return REGISTRATIONS_EACH, promoted, conflicts


def _race(database_url: str, artifact_root: str) -> None:
    ModelRegistry.open(database_url, artifact_root).close()  # create the schema once
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(
            _worker, [(database_url, artifact_root, w) for w in range(PROCESSES)]
        )
    registry = ModelRegistry.open(database_url, artifact_root)
    try:
        versions = registry.versions("churn", order_by="version")
        total = PROCESSES * REGISTRATIONS_EACH
        assert [v.version for v in versions] == list(range(1, total + 1))
        assert len({v.id for v in versions}) == total
        production = [v for v in versions if v.stage.value == "production"]
        assert len(production) == 1
        promoted = sum(r[1] for r in results)
        assert promoted >= 1
        assert promoted + sum(r[2] for r in results) == total
        assert len(registry.audit_log(model="churn", action="promote")) == promoted
        assert len(registry.audit_log(model="churn", action="register_model")) == total
        assert registry.verify().ok
    finally:
        registry.close()


@pytest.mark.slow
def test_concurrent_registration_and_promotion_sqlite(tmp_path: Path) -> None:
    _race(f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path / "artifacts"))


@pytest.mark.slow
def test_concurrent_registration_and_promotion_postgres(tmp_path: Path) -> None:
    with postgres_schema_url() as url:
        _race(url, str(tmp_path / "artifacts"))
