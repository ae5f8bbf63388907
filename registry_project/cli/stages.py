"""Stage changes: promote, transition, rollback, approve. Each is one core call; the rules
(allowed transitions, compare-and-swap, four-eyes) are the core's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from registry_project.cli.app import (
    STAGES,
    CliState,
    RegistryGroup,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import clean, console, emit_json, stage_text
from registry_project.core import stages

if TYPE_CHECKING:
    # Records named in annotations only: importing one creates its dataclasses, which
    # `registry --help` does not need (issue #18).
    from registry_project.core.entities import ModelVersion

REASON_HELP = "Why; recorded in the audit log."


def _report(state: CliState, mv: ModelVersion, verb: str) -> None:
    if state.json:
        emit_json(mv)
        return
    line = Text(f"{verb} {clean(mv.ref)} -> ")
    line.append_text(stage_text(mv.stage.value))
    line.append(f" as {clean(state.who())} ({mv.id})")
    console().print(line)


def _expected(expect: str | None) -> dict[str, Any]:
    """--expect as the core's `expected_current`: absent means no compare-and-swap, `none`
    means "there must be no production version"."""
    if expect is None:
        return {}
    return {"expected_current": None if expect.lower() == "none" else expect}


@click.command(short_help="Make a version production; the previous one is archived.")
@click.argument("ref")
@click.option("--reason", required=True, help=REASON_HELP)
@click.option(
    "--expect",
    metavar="REF|none",
    help="Compare-and-swap: the production version you based the decision on, or 'none'.",
)
@json_option
@pass_state
@handles_errors
def promote(state: CliState, ref: str, reason: str, expect: str | None) -> None:
    """Make REF the production version of its model; the previous production version is
    archived in the same transaction.

    With --expect, the promotion is a compare-and-swap: if production is no longer the
    version you expected (or no longer empty, with `--expect none`), nothing changes and
    the command exits 1.

    \b
    Example:
      registry promote churn/7 --reason "auc 0.93 > 0.91" --expect churn/6
    """
    mv = state.registry().promote(ref, actor=state.who(), reason=reason, **_expected(expect))
    _report(state, mv, "promoted")


# Generated from the core's stage machine, so the help cannot drift from what the core allows.
TRANSITION_HELP = "\n".join(
    [
        "Move REF to STAGE. The moves the registry allows (moving to production is a promote):",
        "",
        "\b",
        *(f"  {line}" for line in stages.rule_lines()),
        "",
        "\b",
        "Example:",
        '  registry transition churn/7 staging --reason "passed offline checks"',
    ]
)


@click.command(short_help="Move a version to another stage.", help=TRANSITION_HELP)
@click.argument("ref")
@click.argument("stage", type=click.Choice(STAGES))
@click.option("--reason", required=True, help=REASON_HELP)
@json_option
@pass_state
@handles_errors
def transition(state: CliState, ref: str, stage: str, reason: str) -> None:
    mv = state.registry().transition(ref, stage, actor=state.who(), reason=reason)
    _report(state, mv, "moved")


@click.command(short_help="Re-promote the previous production version.")
@click.argument("name")
@click.option("--reason", required=True, help=REASON_HELP)
@json_option
@pass_state
@handles_errors
def rollback(state: CliState, name: str, reason: str) -> None:
    """Put back in production the version of model NAME that was there before the current
    one; the current one is archived.

    \b
    Example:
      registry rollback churn --reason "incident 42"
    """
    mv = state.registry().rollback(name, actor=state.who(), reason=reason)
    _report(state, mv, "rolled back to")


@click.command(short_help="Approve a version (four-eyes: not its registrant).")
@click.argument("ref")
@click.option("--reason", required=True, help="What you reviewed; recorded in the audit log.")
@json_option
@pass_state
@handles_errors
def approve(state: CliState, ref: str, reason: str) -> None:
    """Record your approval of REF, which a promotion policy with require_approval needs.
    The version's registrant cannot approve it.

    \b
    Example:
      registry --actor bob approve churn/7 --reason "reviewed the evaluation"
    """
    who = state.who()
    mv = state.registry().approve(ref, actor=who, reason=reason)
    if state.json:
        emit_json({"version": mv, "approved_by": who})
    else:
        console().print(f"approved {clean(mv.ref)} as {clean(who)} ({mv.id})")


def register(group: RegistryGroup) -> None:
    group.add_section("Stages", promote, transition, rollback, approve)
