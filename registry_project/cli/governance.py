"""Governance: `protect`, `alias set|remove|history`, `tag set|remove`. Each is one core
call; the rules (approvals counted, compare-and-swap, reserved alias names) are the core's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import clean, console, emit_json, when
from registry_project.core import display

if TYPE_CHECKING:
    # Records named in annotations only: importing one creates its dataclasses, which
    # `registry --help` does not need (issue #18).
    from registry_project.core.entities import ProtectionRule

REASON_HELP = "Why; recorded in the audit log."


def protection_text(rule: ProtectionRule) -> str:
    return display.protection(rule)


@click.command(short_help="Store a model's protection rule: approvals needed to enter a stage.")
@click.argument("name")
@click.option(
    "--require-approval/--no-require-approval",
    default=True,
    show_default=True,
    help="Whether entering a protected stage or alias needs approvals (--no-... lifts it).",
)
@click.option("--min-approvals", type=int, default=1, show_default=True, help="Distinct approvers.")
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice(["staging", "production"]),
    help="A protected stage (repeatable; default: production).",
)
@click.option("--alias", "aliases", multiple=True, help="A protected alias (repeatable).")
@click.option("--reason", required=True, help=REASON_HELP)
@json_option
@pass_state
@handles_errors
def protect(
    state: CliState,
    name: str,
    require_approval: bool,
    min_approvals: int,
    stages: tuple[str, ...],
    aliases: tuple[str, ...],
    reason: str,
) -> None:
    """Store model NAME's protection rule. Every path that moves a version into a protected
    stage or alias (promote, transition, rollback, the Dagster promotion sensor and asset,
    alias set) then needs approvals by distinct people other than its registrant.

    \b
    Example:
      registry protect churn --min-approvals 2 --alias champion --reason "SOX control 4"
    """
    rule = state.registry().protect(
        name,
        require_approval=require_approval,
        min_approvals=min_approvals,
        protected_stages=stages or ("production",),
        protected_aliases=aliases,
        actor=state.who(),
        reason=reason,
    )
    if state.json:
        emit_json(rule)
    else:
        console().print(f"protection of {clean(name)}: {clean(protection_text(rule))}")


@click.group(short_help="Named pointers to versions: set, remove, history.")
def alias() -> None:
    """Aliases: `NAME@ALIAS` names one version of NAME wherever a reference is accepted.
    Stage names and `latest` keep their meaning and cannot be aliases.

    \b
    Example:
      registry alias set churn champion churn/7 --expect none
      registry show churn@champion
    """


def _expected(expect: str | None) -> dict[str, Any]:
    if expect is None:
        return {}
    return {"expected_current": None if expect.lower() == "none" else expect}


EXPECT_HELP = "Compare-and-swap: the version the alias points at now, or 'none' (unset)."


@alias.command("set", short_help="Point NAME@ALIAS at REF.")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("ref")
@click.option("--expect", metavar="REF|none", help=EXPECT_HELP)
@click.option("--reason", help=REASON_HELP)
@json_option
@pass_state
@handles_errors
def alias_set(
    state: CliState, name: str, alias_name: str, ref: str, expect: str | None, reason: str | None
) -> None:
    """Point NAME@ALIAS at REF (a version of NAME).

    \b
    Example:
      registry alias set churn champion churn/7 --expect churn/6 --reason "won the A/B test"
    """
    result = state.registry().set_alias(
        name, alias_name, ref, actor=state.who(), reason=reason, **_expected(expect)
    )
    if state.json:
        emit_json(result)
    else:
        console().print(
            f"{clean(name)}@{clean(alias_name)} -> {clean(name)}/{result.version} "
            f"as {clean(state.who())}"
        )


@alias.command("remove", short_help="Remove NAME@ALIAS.")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--expect", metavar="REF|none", help=EXPECT_HELP)
@click.option("--reason", help=REASON_HELP)
@pass_state
@handles_errors
def alias_remove(
    state: CliState, name: str, alias_name: str, expect: str | None, reason: str | None
) -> None:
    """Remove NAME@ALIAS (its history keeps the removal)."""
    state.registry().remove_alias(
        name, alias_name, actor=state.who(), reason=reason, **_expected(expect)
    )
    console().print(f"removed {clean(name)}@{clean(alias_name)}")


@alias.command("history", short_help="Every change of NAME's aliases.")
@click.argument("name")
@click.argument("alias_name", metavar="[ALIAS]", required=False)
@json_option
@pass_state
@handles_errors
def alias_history(state: CliState, name: str, alias_name: str | None) -> None:
    """Every change of NAME's aliases (or of one), oldest first."""
    changes = state.registry().alias_history(name, alias_name)
    if state.json:
        emit_json(changes)
        return
    for change in changes:
        old = f"/{change.from_version}" if change.from_version is not None else "(unset)"
        new = f"/{change.to_version}" if change.to_version is not None else "(removed)"
        console().print(
            f"{when(change.at)} @{clean(change.alias)}: {old} -> {new} by {clean(change.actor)}"
            + (f": {clean(change.reason)}" if change.reason else "")
        )


@click.group(short_help="Labels on models and versions: set, remove.")
def tag() -> None:
    """Tags: KEY=VALUE labels on a model (NAME) or a version (NAME/7, NAME@ALIAS, a UUID).

    \b
    Example:
      registry tag set churn/7 team risk
    """


@tag.command("set", short_help="Set tag KEY=VALUE on a model or version.")
@click.argument("subject", metavar="NAME|REF")
@click.argument("key")
@click.argument("value")
@json_option
@pass_state
@handles_errors
def tag_set(state: CliState, subject: str, key: str, value: str) -> None:
    """Set tag KEY to VALUE on model NAME or on version REF.

    \b
    Example:
      registry tag set churn/7 team risk
    """
    result = state.registry().set_tag(subject, key, value, actor=state.who())
    if state.json:
        emit_json(result)
    else:
        console().print(f"{clean(subject)}: {clean(key)}={clean(value)}")


@tag.command("remove", short_help="Remove tag KEY from a model or version.")
@click.argument("subject", metavar="NAME|REF")
@click.argument("key")
@pass_state
@handles_errors
def tag_remove(state: CliState, subject: str, key: str) -> None:
    """Remove tag KEY from model NAME or version REF."""
    state.registry().remove_tag(subject, key, actor=state.who())
    console().print(f"{clean(subject)}: removed {clean(key)}")


def register(group: RegistryGroup) -> None:
    group.add_section("Governance", protect, alias, tag)
