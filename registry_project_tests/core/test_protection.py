"""Protection rules stored per model: every path that moves a version obeys them, on
SQLite and PostgreSQL; each refusal names what is missing and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from registry_project import ModelRegistry, PromotionPolicy, Stage
from registry_project.core import errors
from registry_project_tests.conftest import open_registry


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    return open_registry(request.param, tmp_path, request)


def _state(reg: ModelRegistry, name: str = "churn") -> tuple[object, ...]:
    """Everything a refused move could have changed."""
    versions = reg.versions(name, order_by="version")
    return (
        [(v.version, v.stage) for v in versions],
        reg.audit_count(),
        [len(reg.history(v)) for v in versions],
        [(a.alias, a.version) for a in reg.aliases(name)],
    )


def _refused(reg: ModelRegistry, move: Callable[[], object], *needles: str) -> None:
    before = _state(reg)
    with pytest.raises(errors.ApprovalRequiredError) as refused:
        move()
    for needle in needles:
        assert needle in str(refused.value)
    assert _state(reg) == before


def test_every_path_into_production_needs_the_stored_approvals(reg: ModelRegistry) -> None:
    mv = reg.register_model("churn", [1], actor="alice")
    rule = reg.protect("churn", min_approvals=2, actor="admin", reason="SOX control 4")
    assert rule.require_approval and rule.min_approvals == 2
    assert rule.protected_stages == (Stage.PRODUCTION,)
    paths: list[Callable[[], object]] = [
        lambda: reg.promote(mv, actor="alice", reason="go"),
        lambda: reg.promote(mv, actor="ops", reason="go", expected_current=None),
        lambda: reg.transition(mv, Stage.PRODUCTION, actor="ops", reason="go"),
        lambda: reg.transition(mv, "production", actor="ops", reason="go"),
    ]
    for path in paths:
        _refused(reg, path, "churn/1 cannot enter production", "2 approvals", "has none")
    # The registrant cannot approve; the same approver twice counts once.
    with pytest.raises(errors.ApprovalError):
        reg.approve(mv, actor="alice", reason="mine")
    reg.approve(mv, actor="bob", reason="reviewed")
    reg.approve(mv, actor="bob", reason="reviewed again")
    for path in paths:
        _refused(reg, path, "has 1 (bob)", "1 missing")
    reg.approve(mv, actor="carol", reason="reviewed")
    assert reg.promote(mv, actor="ops", reason="two reviews").stage is Stage.PRODUCTION


def test_transition_into_production_obeys_the_rule_once_approved(reg: ModelRegistry) -> None:
    mv = reg.register_model("churn", [1], actor="alice")
    reg.protect("churn", actor="admin", reason="four eyes")
    reg.transition(mv, Stage.STAGING, actor="alice")  # staging is not protected here
    _refused(
        reg, lambda: reg.transition(mv, Stage.PRODUCTION, actor="ops", reason="x"), "1 missing"
    )
    reg.approve(mv, actor="bob", reason="ok")
    assert reg.transition(mv, Stage.PRODUCTION, actor="ops", reason="x").stage is Stage.PRODUCTION


def test_rollback_needs_the_approvals_of_the_version_it_restores(reg: ModelRegistry) -> None:
    first = reg.register_model("churn", [1], actor="alice")
    reg.promote(first, actor="alice", reason="before the rule")  # not protected yet
    reg.protect("churn", actor="admin", reason="four eyes")
    second = reg.register_model("churn", [2], actor="alice")
    reg.approve(second, actor="bob", reason="ok")
    reg.promote(second, actor="ops", reason="approved")
    _refused(
        reg,
        lambda: reg.rollback("churn", actor="ops", reason="incident 42"),
        "churn/1 cannot enter production",
        "1 missing",
    )
    reg.approve(first, actor="carol", reason="safe to restore")
    assert reg.rollback("churn", actor="ops", reason="incident 42").version == 1


def test_a_protected_staging_stage_and_alias(reg: ModelRegistry) -> None:
    mv = reg.register_model("churn", [1], actor="alice")
    reg.protect(
        "churn",
        protected_stages=["staging", "production"],
        protected_aliases=["champion"],
        actor="admin",
        reason="all of it",
    )
    _refused(reg, lambda: reg.transition(mv, "staging", actor="ops"), "cannot enter staging")
    _refused(
        reg,
        lambda: reg.set_alias("churn", "champion", mv, actor="ops"),
        "cannot enter alias 'champion'",
    )
    reg.set_alias("churn", "shadow", mv, actor="ops")  # not protected
    reg.approve(mv, actor="bob", reason="ok")
    assert reg.transition(mv, "staging", actor="ops").stage is Stage.STAGING
    assert reg.set_alias("churn", "champion", mv, actor="ops").version == 1


def test_a_policy_requiring_approval_uses_the_same_check(reg: ModelRegistry) -> None:
    mv = reg.register_model("churn", [1], actor="alice")
    policy = PromotionPolicy("auc", require_approval=True)
    _refused(reg, lambda: reg.promote(mv, actor="ops", reason="x", policy=policy), "1 missing")
    reg.approve(mv, actor="bob", reason="ok")
    assert reg.promote(mv, actor="ops", reason="x", policy=policy).stage is Stage.PRODUCTION


def test_protect_is_audited_shown_and_can_be_lifted(reg: ModelRegistry) -> None:
    mv = reg.register_model("churn", [1], actor="alice")
    assert not reg.protection("churn").stored
    reg.protect("churn", min_approvals=2, actor="admin", reason="SOX")
    reg.protect("churn", require_approval=False, actor="admin", reason="retired control")
    events = reg.audit_log(model="churn", action="protect")
    assert [(e.actor, e.reason) for e in events] == [("admin", "SOX"), ("admin", "retired control")]
    assert events[0].before is None and events[0].after["min_approvals"] == 2
    assert events[1].before["require_approval"] is True
    assert events[1].after["require_approval"] is False
    rule = reg.protection("churn")
    assert rule.stored and not rule.require_approval and rule.updated_by == "admin"
    assert reg.promote(mv, actor="ops", reason="lifted").stage is Stage.PRODUCTION
    assert reg.verify().ok


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"min_approvals": 0}, "min_approvals must be a whole number from 1 to 10"),
        ({"min_approvals": 11}, "from 1 to 10"),
        ({"min_approvals": True}, "from 1 to 10"),
        ({"min_approvals": 1.5}, "from 1 to 10"),
        ({"require_approval": "yes"}, "require_approval must be True or False"),
        ({"protected_stages": ["archived"]}, "cannot be protected"),
        ({"protected_stages": ["experiment"]}, "cannot be protected"),
        ({"protected_stages": ["prod"]}, "stage"),
        ({"protected_stages": "production"}, "lists of names"),
        ({"protected_aliases": ["production"]}, "cannot be an alias"),
        ({"protected_aliases": ["bad name"]}, "invalid alias"),
        ({"reason": None}, "needs a reason"),
        ({"reason": "  "}, "is empty"),
    ],
)
def test_protect_refuses_bad_rules_and_writes_nothing(
    sqlite_registry: ModelRegistry, arguments: dict[str, object], message: str
) -> None:
    reg = sqlite_registry
    reg.register_model("churn", [1], actor="alice")
    before = reg.audit_count()
    given: dict[str, object] = {"actor": "admin", "reason": "x", **arguments}
    with pytest.raises(errors.InvalidInputError, match=message):
        reg.protect("churn", **given)  # type: ignore[arg-type]
    assert reg.audit_count() == before and not reg.protection("churn").stored


def test_protect_an_unknown_model_is_refused(sqlite_registry: ModelRegistry) -> None:
    with pytest.raises(errors.ModelNotFoundError, match="register a version first"):
        sqlite_registry.protect("nope", actor="admin", reason="x")
    assert sqlite_registry.audit_count() == 0
