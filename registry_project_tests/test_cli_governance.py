"""`registry protect`, `alias`, `tag` and the refusals of `promote` on a protected model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from registry_project import ModelRegistry, Stage
from registry_project.cli import cli


@pytest.fixture
def where(tmp_path: Path) -> tuple[str, str]:
    url, root = f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path / "artifacts")
    with ModelRegistry.open(url, root) as reg:
        reg.register_model("churn", {"C": 1}, metrics={"auc": 0.8}, actor="alice")
        reg.register_model("churn", {"C": 2}, metrics={"auc": 0.9}, actor="alice")
    return url, root


def run(where: tuple[str, str], *args: str, actor: str = "ops") -> Result:
    base = ["--database-url", where[0], "--artifact-root", where[1], "--actor", actor]
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


def _state(where: tuple[str, str]) -> tuple[object, ...]:
    with ModelRegistry.open(*where) as reg:
        versions = reg.versions("churn", order_by="version")
        return [(v.version, v.stage) for v in versions], reg.audit_count()


def test_promote_on_a_protected_model_is_refused_until_two_others_approve(
    where: tuple[str, str],
) -> None:
    protected = run(where, "protect", "churn", "--min-approvals", "2", "--reason", "SOX")
    assert protected.exit_code == 0, protected.output
    assert "2 approvals" in protected.output
    before = _state(where)
    for attempt in (
        ["promote", "churn/1", "--reason", "go"],
        ["transition", "churn/1", "production", "--reason", "go"],
    ):
        refused = run(where, *attempt)
        assert refused.exit_code == 1
        assert "needs 2 approvals" in refused.output and "has none" in refused.output
        assert "Traceback" not in refused.output
    assert _state(where) == before
    assert run(where, "approve", "churn/1", "--reason", "mine", actor="alice").exit_code == 1
    assert run(where, "approve", "churn/1", "--reason", "ok", actor="bob").exit_code == 0
    half = run(where, "promote", "churn/1", "--reason", "go")
    assert half.exit_code == 1 and "has 1 (bob); 1 missing" in half.output
    assert run(where, "approve", "churn/1", "--reason", "ok", actor="carol").exit_code == 0
    assert run(where, "promote", "churn/1", "--reason", "go").exit_code == 0
    with ModelRegistry.open(*where) as reg:
        assert reg.get_version("churn@production").version == 1


def test_rollback_on_a_protected_model_needs_the_restored_versions_approvals(
    where: tuple[str, str],
) -> None:
    assert run(where, "promote", "churn/1", "--reason", "before the rule").exit_code == 0
    assert run(where, "protect", "churn", "--reason", "four eyes").exit_code == 0
    assert run(where, "approve", "churn/2", "--reason", "ok", actor="bob").exit_code == 0
    assert run(where, "promote", "churn/2", "--reason", "approved").exit_code == 0
    before = _state(where)
    refused = run(where, "rollback", "churn", "--reason", "incident 42")
    assert refused.exit_code == 1 and "churn/1 cannot enter production" in refused.output
    assert "1 missing" in refused.output and "Traceback" not in refused.output
    assert _state(where) == before
    assert run(where, "approve", "churn/1", "--reason", "ok", actor="carol").exit_code == 0
    assert run(where, "rollback", "churn", "--reason", "incident 42").exit_code == 0
    with ModelRegistry.open(*where) as reg:
        assert reg.get_version("churn@production").version == 1


def test_promote_with_an_empty_reason_is_refused_like_transition(where: tuple[str, str]) -> None:
    before = _state(where)
    for attempt in (
        ["promote", "churn/1", "--reason", ""],
        ["promote", "churn/1", "--reason", "  "],
        ["transition", "churn/1", "staging", "--reason", ""],
    ):
        refused = run(where, *attempt)
        assert refused.exit_code == 1 and "is empty" in refused.output
    assert _state(where) == before


def test_show_lists_protection_aliases_and_tags(where: tuple[str, str]) -> None:
    assert run(where, "protect", "churn", "--alias", "champion", "--reason", "x").exit_code == 0
    assert (
        run(where, "alias", "set", "churn", "shadow", "churn/2", "--expect", "none").exit_code == 0
    )
    assert run(where, "tag", "set", "churn/2", "team", "risk").exit_code == 0
    assert run(where, "tag", "set", "churn", "owner", "ml-platform").exit_code == 0
    shown = run(where, "show", "churn@shadow")
    assert shown.exit_code == 0, shown.output
    for needle in ("churn/2", "churn@shadow", "team=risk", "owner=ml-platform", "@champion"):
        assert needle in shown.output
    data = json.loads(run(where, "--json", "show", "churn@shadow").stdout)
    assert data["aliases"] == ["shadow"] and data["tags"] == {"team": "risk"}
    assert data["model_tags"] == {"owner": "ml-platform"}
    assert data["protection"]["min_approvals"] == 1
    assert data["protection"]["protected_aliases"] == ["champion"]


def test_alias_commands_compare_and_swap_and_keep_history(where: tuple[str, str]) -> None:
    assert run(where, "alias", "set", "churn", "champion", "churn/1").exit_code == 0
    stale = run(where, "alias", "set", "churn", "champion", "churn/2", "--expect", "none")
    assert stale.exit_code == 1 and "it is now churn/1" in stale.output
    moved = run(where, "alias", "set", "churn", "champion", "churn/2", "--expect", "churn/1")
    assert moved.exit_code == 0 and "churn/2" in moved.output
    assert "churn/2" in run(where, "show", "churn@champion").output
    reserved = run(where, "alias", "set", "churn", "Production", "churn/1")
    assert reserved.exit_code == 1 and "cannot be an alias" in reserved.output
    assert run(where, "alias", "remove", "churn", "champion", "--reason", "done").exit_code == 0
    gone = run(where, "show", "churn@champion")
    assert gone.exit_code == 1 and "no alias 'champion'" in gone.output
    history = json.loads(run(where, "--json", "alias", "history", "churn").stdout)
    assert [(h["from_version"], h["to_version"]) for h in history] == [
        (None, 1),
        (1, 2),
        (2, None),
    ]


def test_tag_commands(where: tuple[str, str]) -> None:
    assert run(where, "tag", "set", "churn/1", "validated", "true").exit_code == 0
    assert run(where, "tag", "set", "churn/1", "validated", "false").exit_code == 0
    assert run(where, "tag", "remove", "churn/1", "validated").exit_code == 0
    missing = run(where, "tag", "remove", "churn/1", "validated")
    assert missing.exit_code == 1 and "has no tag 'validated'" in missing.output
    bad = run(where, "tag", "set", "churn/1", "bad key", "x")
    assert bad.exit_code == 1 and "invalid tag key" in bad.output
    with ModelRegistry.open(*where) as reg:
        actions = [e.action for e in reg.audit_log(model="churn")]
        assert actions.count("set_tag") == 2 and actions.count("remove_tag") == 1
        assert reg.get_version("churn/1").stage is Stage.EXPERIMENT


def test_search_across_models(where: tuple[str, str]) -> None:
    with ModelRegistry.open(*where) as reg:
        reg.register_model("fraud", [3], metrics={"auc": 0.95}, actor="bob")
        reg.set_tag("churn/2", "team", "risk", actor="ops")
    table = run(where, "search", "metrics.auc > 0.85", "--order-by", "-metrics.auc")
    assert table.exit_code == 0, table.output
    assert table.output.index("fraud/1") < table.output.index("churn/2")
    assert "churn/1" not in table.output
    found = json.loads(run(where, "--json", "search", "tags.team = 'risk'").stdout)
    assert [(v["model_name"], v["version"]) for v in found] == [("churn", 2)]
    every = json.loads(
        run(where, "--json", "search", "--limit", "2", "--order-by", "version").stdout
    )
    assert [(v["model_name"], v["version"]) for v in every] == [("churn", 1), ("fraud", 1)]
    bad = run(where, "search", "metrics.auc > 0.9; DROP TABLE models")
    assert bad.exit_code == 1
    assert "invalid filter at character 18" in bad.output, bad.output  # the ';'
    assert "Traceback" not in bad.output
    with ModelRegistry.open(*where) as reg:
        assert {m.name for m in reg.models()} == {"churn", "fraud"}
    assert bad.output.startswith("error: invalid filter at character 18 (at '; DROP TABLE models')")
    assert bad.output.count("\n") == 1 and "Traceback" not in bad.output
    with ModelRegistry.open(*where) as reg:
        assert len(reg.search()) == 3
