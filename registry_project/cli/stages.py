"""Stage changes: promote, transition, rollback, approve."""

from __future__ import annotations

import click

from registry_project.cli.app import CliState, handles_errors, json_option, pass_state
from registry_project.cli.output import console, emit_json, stage_text
from registry_project.core.entities import ModelVersion

_UNSET = object()


def _report(state: CliState, mv: ModelVersion, verb: str) -> None:
    if state.json:
        emit_json(mv)
    else:
        console().print(f"{verb} [bold]{mv.ref}[/] -> {stage_text(mv.stage.value)} ({mv.id})")


@click.command()
@click.argument("ref")
@click.option("--reason", required=True, help="Why; recorded in the audit log.")
@click.option(
    "--expect",
    help="Compare-and-swap: the production version you expect (REF), or 'none'.",
)
@json_option
@pass_state
@handles_errors
def promote(state: CliState, ref: str, reason: str, expect: str | None) -> None:
    """Make REF the production version; the previous one is archived atomically.

    With --expect, refuse (exit 1, nothing changed) if production is no longer what you saw.

    Example: registry promote churn/7 --reason "auc 0.93 > 0.91" --expect churn/6
    """
    expected: object = _UNSET
    if expect is not None:
        expected = None if expect.lower() == "none" else expect
    registry = state.registry()
    if expected is _UNSET:
        mv = registry.promote(ref, actor=state.who(), reason=reason)
    else:
        mv = registry.promote(ref, actor=state.who(), reason=reason, expected_current=expected)  # type: ignore[arg-type]
    _report(state, mv, "promoted")


@click.command()
@click.argument("ref")
@click.argument("stage", type=click.Choice(["experiment", "staging", "production", "archived"]))
@click.option("--reason", required=True, help="Why; recorded in the audit log.")
@json_option
@pass_state
@handles_errors
def transition(state: CliState, ref: str, stage: str, reason: str) -> None:
    """Move REF to STAGE (experiment -> staging -> production -> archived).

    Example: registry transition churn/7 staging --reason "passed offline checks"
    """
    mv = state.registry().transition(ref, stage, actor=state.who(), reason=reason)
    _report(state, mv, "moved")


@click.command()
@click.argument("name")
@click.option("--reason", required=True, help="Why; recorded in the audit log.")
@json_option
@pass_state
@handles_errors
def rollback(state: CliState, name: str, reason: str) -> None:
    """Re-promote the version that was in production before the current one.

    Example: registry rollback churn --reason "incident 42"
    """
    mv = state.registry().rollback(name, actor=state.who(), reason=reason)
    _report(state, mv, "rolled back to")


@click.command()
@click.argument("ref")
@click.option("--reason", required=True, help="What you reviewed; recorded in the audit log.")
@json_option
@pass_state
@handles_errors
def approve(state: CliState, ref: str, reason: str) -> None:
    """Approve REF for production (four-eyes: not by its registrant).

    Example: registry --actor bob approve churn/7 --reason "reviewed the evaluation"
    """
    mv = state.registry().approve(ref, actor=state.who(), reason=reason)
    if state.json:
        emit_json({"version": mv, "approved_by": state.who()})
    else:
        console().print(f"approved [bold]{mv.ref}[/] as {state.who()}")


def register(group: click.Group) -> None:
    for command in (promote, transition, rollback, approve):
        group.add_command(command)
