"""Stages, compare-and-swap promotion, rollback and four-eyes approval (every backend)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry, PromotionPolicy, Stage
from registry_project.core import errors
from registry_project.core.store import schema


def _stages(registry: ModelRegistry, name: str = "churn") -> dict[int, str]:
    return {v.version: v.stage.value for v in registry.versions(name)}


def test_stage_path_experiment_staging_production_archived(registry: ModelRegistry) -> None:
    mv = registry.register_model("churn", 1)
    assert registry.transition(mv, Stage.STAGING, actor="ci", reason="ok").stage is Stage.STAGING
    assert registry.transition(mv, "production", actor="ci", reason="ok").stage is Stage.PRODUCTION
    with pytest.raises(errors.InvalidInputError, match="reason"):
        registry.transition(mv, Stage.ARCHIVED, actor="ci")
    assert (
        registry.transition(mv, Stage.ARCHIVED, actor="ci", reason="retired").stage
        is Stage.ARCHIVED
    )
    history = [(t.from_stage, t.to_stage) for t in registry.history(mv)]
    assert history == [
        (None, Stage.EXPERIMENT),
        (Stage.EXPERIMENT, Stage.STAGING),
        (Stage.STAGING, Stage.PRODUCTION),
        (Stage.PRODUCTION, Stage.ARCHIVED),
    ]


def test_archived_returns_to_production_only_through_promote_with_reason(
    registry: ModelRegistry,
) -> None:
    mv = registry.register_model("churn", 1)
    registry.transition(mv, Stage.ARCHIVED, actor="ci")
    with pytest.raises(errors.InvalidTransitionError, match="promote or rollback"):
        registry.transition(mv, Stage.STAGING, actor="ci", reason="x")
    with pytest.raises(errors.InvalidInputError, match="reason"):
        registry.promote(mv, actor="alice")
    assert registry.promote(mv, actor="alice", reason="incident 7").stage is Stage.PRODUCTION


def test_invalid_transitions_are_refused_without_change(registry: ModelRegistry) -> None:
    mv = registry.register_model("churn", 1)
    with pytest.raises(errors.InvalidTransitionError, match="already"):
        registry.transition(mv, Stage.EXPERIMENT, actor="ci")
    with pytest.raises(errors.InvalidInputError, match="unknown stage"):
        registry.transition(mv, "prod", actor="ci")
    registry.promote(mv, actor="ci", reason="go")
    with pytest.raises(errors.InvalidTransitionError):
        registry.transition(mv, Stage.STAGING, actor="ci", reason="back")
    assert registry.get_version(mv).stage is Stage.PRODUCTION


def test_promote_archives_previous_production_in_one_step(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", 1)
    second = registry.register_model("churn", 2)
    registry.promote(first, actor="alice", reason="first")
    registry.promote(second, actor="alice", reason="better", expected_current=first)
    assert _stages(registry) == {1: "archived", 2: "production"}
    assert registry.get_version("churn@production").id == second.id


def test_promote_compare_and_swap_refuses_stale_expectation(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", 1)
    second = registry.register_model("churn", 2)
    third = registry.register_model("churn", 3)
    registry.promote(first, actor="a", reason="r", expected_current=None)
    registry.promote(second, actor="b", reason="r", expected_current=first)
    events_before = len(registry.audit_log(model="churn"))
    with pytest.raises(errors.PromotionConflictError, match="churn/2") as caught:
        registry.promote(third, actor="c", reason="r", expected_current=first)
    assert caught.value.retriable
    with pytest.raises(errors.PromotionConflictError):
        registry.promote(third, actor="c", reason="r", expected_current=None)
    assert _stages(registry) == {1: "archived", 2: "production", 3: "experiment"}
    assert len(registry.audit_log(model="churn")) == events_before


def test_database_enforces_one_production_version(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", 1)
    second = registry.register_model("churn", 2)
    registry.promote(first, actor="a", reason="r")
    with pytest.raises(sa.exc.IntegrityError), registry.engine.begin() as connection:
        connection.execute(
            schema.model_versions.update()
            .where(schema.model_versions.c.id == second.id)
            .values(stage="production")
        )


def test_rollback_repromotes_the_previous_production_version(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", 1)
    second = registry.register_model("churn", 2)
    with pytest.raises(errors.InvalidTransitionError, match="no earlier"):
        registry.rollback("churn", actor="alice", reason="nothing yet")
    registry.promote(first, actor="a", reason="r")
    registry.promote(second, actor="a", reason="r")
    with pytest.raises(errors.InvalidInputError, match="reason"):
        registry.rollback("churn", actor="alice")
    restored = registry.rollback("churn", actor="alice", reason="incident 42")
    assert restored.id == first.id
    assert _stages(registry) == {1: "production", 2: "archived"}
    event = registry.audit_log(model="churn", action="rollback")[-1]
    assert (event.actor, event.reason) == ("alice", "incident 42")


def test_approval_is_four_eyes_and_gates_promotion(registry: ModelRegistry) -> None:
    policy = PromotionPolicy("auc", require_approval=True)
    mv = registry.register_model("churn", 1, actor="carol", metrics={"auc": 0.9})
    registry.transition(mv, Stage.STAGING, actor="carol")
    with pytest.raises(errors.ApprovalRequiredError, match="approve"):
        registry.promote(mv, actor="sensor", reason="r", policy=policy)
    with pytest.raises(errors.ApprovalError, match="cannot approve"):
        registry.approve(mv, actor="carol", reason="self")
    registry.approve(mv, actor="bob", reason="reviewed")
    assert registry.approvals(mv) == ["bob"]
    assert registry.promote(mv, actor="sensor", reason="r", policy=policy).stage is Stage.PRODUCTION
    approval = registry.audit_log(model="churn", action="approve")[-1]
    assert (approval.actor, approval.reason) == ("bob", "reviewed")


def test_conflict_message_names_versions_and_control_characters_in_actors_are_refused(
    sqlite_registry: ModelRegistry,
) -> None:
    first = sqlite_registry.register_model("churn", 1)
    second = sqlite_registry.register_model("churn", 2)
    sqlite_registry.promote(first, actor="a", reason="r")
    sqlite_registry.promote(second, actor="a", reason="r")
    third = sqlite_registry.register_model("churn", 3)
    with pytest.raises(errors.PromotionConflictError, match="expected churn/1, it is now churn/2"):
        sqlite_registry.promote(third, actor="c", reason="r", expected_current=first)
    with pytest.raises(errors.InvalidInputError, match="control characters"):
        sqlite_registry.promote(third, actor="mallory\n2026-01-01 alice promote", reason="r")
    with pytest.raises(errors.InvalidTransitionError):
        sqlite_registry.transition(
            sqlite_registry.transition(third, Stage.STAGING, actor="c"), Stage.EXPERIMENT, actor="c"
        )


def test_production_version_is_none_until_something_is_promoted(registry: ModelRegistry) -> None:
    assert registry.production_version("churn") is None  # no such model yet
    first = registry.register_model("churn", 1, metrics={"auc": 0.7})
    assert registry.production_version("churn") is None
    registry.promote(first, actor="a", reason="r")
    production = registry.production_version("churn")
    assert production is not None and production.id == first.id
    assert dict(production.metrics) == {"auc": 0.7}
    with pytest.raises(errors.InvalidNameError):
        registry.production_version("../churn")
