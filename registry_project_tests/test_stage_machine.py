"""The stage machine (core/stages.py) and the audit actions are the one account of their
rules: the core obeys them move by move, and every place that shows them (CLI help, README,
CLI styles, UI colours and filters) is held to them."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from registry_project import ModelRegistry, PromotionPolicy, Stage
from registry_project.cli import cli
from registry_project.cli.app import STAGES as CLI_STAGES
from registry_project.cli.output import STAGE_STYLES
from registry_project.core import environment, errors, stages
from registry_project.core.entities import AuditAction, ModelVersion
from registry_project.orchestration.promotion import is_approved
from registry_project.ui.audit_pages import AUDIT_ACTIONS
from registry_project.ui.charts import STAGE_COLORS
from registry_project.ui.model_pages import STAGES as UI_STAGES
from registry_project_tests.core.test_retention import backdate_version

README = Path(__file__).resolve().parents[1] / "README.md"
E, S, P, A = Stage.EXPERIMENT, Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED


def test_the_machine_is_the_design_brief() -> None:
    # DESIGN.md: experiment -> staging -> production -> archived; experiment|staging ->
    # archived; archived -> production only through rollback/promote with a reason. A
    # promote takes an experiment straight to production (the demo's first model), and
    # leaving production needs a reason. Nothing returns to experiment.
    assert {(m.source, m.target): (m.via.value, m.needs_reason) for m in stages.MOVES} == {
        (E, S): ("transition", False),
        (E, P): ("promote", False),
        (E, A): ("transition", False),
        (S, P): ("promote", False),
        (S, A): ("transition", False),
        (P, A): ("transition", True),
        (A, P): ("promote or rollback", True),
    }
    assert set(stages.EXITS_NEEDING_A_REASON) == {P}
    assert stages.LIFE_CYCLE == (E, S, P, A)
    assert stages.find_move(S, E) is None


def _version_in(registry: ModelRegistry, stage: Stage, number: int) -> ModelVersion:
    mv = registry.register_model(f"m{number}", number, actor="carol")
    if stage is S:
        registry.transition(mv, S, actor="ci")
    elif stage is P:
        registry.promote(mv, actor="ci", reason="r")
    elif stage is A:
        registry.transition(mv, A, actor="ci")
    assert registry.get_version(mv).stage is stage
    return mv


def _attempt(registry: ModelRegistry, mv: ModelVersion, target: Stage, call: str, **reason):
    if call == "promote":
        return registry.promote(mv, actor="ci", **reason)
    return registry.transition(mv, target, actor="ci", **reason)


CASES = [
    (source, target, call)
    for source, target in itertools.product(Stage, Stage)
    for call in (("transition", "promote") if target is P else ("transition",))
]


def test_the_core_makes_exactly_the_machines_moves(sqlite_registry: ModelRegistry) -> None:
    for number, (source, target, call) in enumerate(CASES):
        mv = _version_in(sqlite_registry, source, number)
        move = stages.find_move(source, target)
        # transition(..., production) is a promote; the other moves only transition makes
        allowed = move is not None and (target is P or move.via is stages.Via.TRANSITION)
        case = f"{source} -> {target} by {call}"
        if stages.needs_reason(source, target):
            with pytest.raises(errors.InvalidInputError, match="needs a reason"):
                _attempt(sqlite_registry, mv, target, call)
        if allowed:
            moved = _attempt(sqlite_registry, mv, target, call, reason="why")
            assert moved.stage is target, case
            transitions = sqlite_registry.history(mv)[-1]
            assert (transitions.from_stage, transitions.to_stage) == (source, target), case
        else:
            with pytest.raises(errors.InvalidTransitionError):
                _attempt(sqlite_registry, mv, target, call, reason="why")
            assert sqlite_registry.get_version(mv).stage is source, case


def test_staging_never_returns_to_experiment(sqlite_registry: ModelRegistry) -> None:
    mv = _version_in(sqlite_registry, S, 1)
    with pytest.raises(errors.InvalidTransitionError, match="cannot move from staging"):
        sqlite_registry.transition(mv, E, actor="ci", reason="back")


def test_four_eyes_is_one_rule_for_the_core_and_the_dagster_layer(
    sqlite_registry: ModelRegistry,
) -> None:
    assert stages.independent_approvers("carol", ["carol", "bob", "dan"]) == ["bob", "dan"]
    assert stages.independent_approvers("carol", ["bob", "carol", "bob"]) == ["bob"]
    assert not stages.is_approved("carol", ["carol"])
    assert stages.is_approved("carol", ["bob", "dan"], 2)
    assert not stages.is_approved("carol", ["bob", "bob", "carol"], 2)
    mv = _version_in(sqlite_registry, S, 1)
    policy = PromotionPolicy("auc", require_approval=True)
    assert not is_approved(sqlite_registry, mv)
    with pytest.raises(errors.ApprovalRequiredError, match="other than its registrant 'carol'"):
        sqlite_registry.promote(mv, actor="ci", reason="r", policy=policy)
    with pytest.raises(errors.ApprovalError, match="cannot approve"):
        sqlite_registry.approve(mv, actor="carol", reason="mine")
    sqlite_registry.approve(mv, actor="bob", reason="reviewed")
    assert is_approved(sqlite_registry, mv)
    assert sqlite_registry.promote(mv, actor="ci", reason="r", policy=policy).stage is P
    # An archived version may be approved: on a protected model, a rollback to it needs
    # its approvals (core/test_protection.py).
    archived = _version_in(sqlite_registry, A, 2)
    sqlite_registry.approve(archived, actor="bob", reason="safe to restore")
    assert sqlite_registry.approvals(archived) == ["bob"]


def _readme_stage_block() -> list[str]:
    text = README.read_text()
    found = re.search(r"- \*\*Stages\*\*.*?```text\n(.*?)\n\s*```", text, re.DOTALL)
    assert found, "README.md lost its stage rules block (a ```text block under **Stages**)"
    return [line.strip() for line in found.group(1).splitlines()]


def test_the_readme_shows_the_machine() -> None:
    expected = [line.strip() for line in stages.rule_lines()]
    assert _readme_stage_block() == expected, (
        "README.md's stage rules differ from core/stages.py; paste these lines:\n"
        + "\n".join(f"  {line}" for line in stages.rule_lines())
    )


def test_registry_transition_help_shows_the_machine() -> None:
    result = CliRunner().invoke(cli, ["transition", "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    shown = [" ".join(line.split()) for line in result.output.splitlines()]
    for line in stages.rule_lines():
        assert " ".join(line.split()) in shown, f"`registry transition --help` lacks {line!r}"
    moves = {(m.source.value, m.target.value) for m in stages.MOVES}
    for source, target in re.findall(r"(\w+) -> (\w+)", result.output):
        assert (source, target) in moves, f"help offers {source} -> {target}, not a move"
    assert "staging -> experiment" not in result.output


def test_every_stage_has_a_cli_style_a_ui_colour_and_a_choice() -> None:
    assert set(STAGE_STYLES) == set(STAGE_COLORS) == set(stages.LIFE_CYCLE)
    assert CLI_STAGES == UI_STAGES == tuple(stage.value for stage in stages.LIFE_CYCLE)


def _reproduce_once(reg: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run from a clean git checkout, reproduced (what writes a `reproduce` event)."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "README").write_text("x\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=checkout,
            check=True,
        )
    monkeypatch.chdir(checkout)
    environment._recent_captures.clear()
    data = reg.snapshot_dataset("r", pd.DataFrame({"x": [1]}))
    with reg.start_run("train", inputs=[data]) as run:
        version = reg.register_model("m", [3], run=run, actor="carol")
    assert reg.reproduce(version, train=lambda inputs: [3]).reproduced


def test_every_audit_action_is_one_the_core_writes(
    sqlite_registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = sqlite_registry
    snap = reg.snapshot_dataset("d", pd.DataFrame({"x": [1, 2]}))
    spare = reg.snapshot_dataset("spare", pd.DataFrame({"y": [3]}))
    reg.reference_dataset("events", uri="s3://lake/events.parquet", version_id="v1")
    with reg.start_run("train", inputs=[snap]) as run:
        first = reg.register_model("m", 1, run=run, actor="carol")
        run.log_artifact(b"a,b\n", name="table.csv")
    second = reg.register_model("m", 2, actor="carol")
    reg.log_metrics(first, {"auc": 0.5}, dataset=snap)
    reg.transition(second, S, actor="ci")
    reg.promote(first, actor="ci", reason="r")
    reg.approve(second, actor="bob", reason="ok")
    reg.promote(second, actor="ci", reason="r")
    reg.rollback("m", actor="ci", reason="incident")
    reg.delete_dataset(spare, actor="dpo", reason="GDPR")
    reg.gc(dry_run=False, actor="ops")
    reg.set_model_card_text("m", intended_use="tests", actor="carol")
    _reproduce_once(reg, tmp_path, monkeypatch)
    reg.export_evidence(first, tmp_path / "pack.zip", actor="auditor")
    reg.protect("m", actor="admin", reason="four eyes")
    reg.set_alias("m", "champion", first, actor="ci")
    reg.remove_alias("m", "champion", actor="ci")
    reg.set_tag(first, "team", "risk", actor="carol")
    reg.remove_tag(first, "team", actor="carol")
    old = reg.register_model("m", 4, actor="carol")
    backdate_version(reg, old.id)
    reg.set_retention(model="m", keep_days=1, actor="owner", reason="cost")
    assert [item.label for item in reg.apply_retention(actor="sweeper").done] == [old.ref]
    from registry_project_tests.mlflow_store import build_store

    reg.import_mlflow(build_store(tmp_path / "mlflow").tracking_uri, models=["fraud"])
    written = {event.action for event in reg.audit_log()}
    assert written == {action.value for action in AuditAction}
    assert all(type(event.action) is str for event in reg.audit_log())
    assert set(AUDIT_ACTIONS) == written
