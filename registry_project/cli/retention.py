"""Retention: `retention set|show|apply`. Each is one core call; what a policy keeps and
deletes, and the re-checks that make the sweep safe, are the core's (ops/retention_ops.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    fail,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import clean, console, emit_json, text, to_jsonable, when

if TYPE_CHECKING:
    # Records named in annotations only: importing one creates its dataclasses, which
    # `registry --help` does not need (issue #18).
    from registry_project.core.entities import RetentionItem, RetentionPolicy, RetentionReport


def policy_json(policy: RetentionPolicy) -> dict[str, Any]:
    return {**to_jsonable(policy), "rule": policy.rule}


def item_text(item: RetentionItem) -> str:
    """One item's verdict in a line, for `show` of a version or a snapshot."""
    verdict = "due for deletion" if item.due else item.why
    if item.due:
        verdict += f": {item.why}"
    return f"{verdict} (rule: {item.rule})"


@click.group(short_help="Retention policies: set, show, apply.")
def retention() -> None:
    """Retention policies: how long a dataset's snapshots and a model's artifacts are kept.

    \b
    Examples:
      registry retention set --dataset customers --keep-days 30 --reason "GDPR art. 5"
      registry retention set --model churn --keep-days 90 --keep-last 5 --reason cost
      registry retention apply --dry-run
    """


@retention.command("set", short_help="Store a dataset's or a model's retention policy.")
@click.option("--dataset", metavar="NAME", help="The dataset name the policy governs.")
@click.option("--model", metavar="NAME", help="The model the policy governs.")
@click.option(
    "--keep-days",
    type=int,
    help="Days a snapshot or an experiment/archived artifact is kept (a dataset without "
    "it: until each snapshot's expires_at).",
)
@click.option("--keep-last", type=int, default=0, show_default=True, help="Newest kept always.")
@click.option(
    "--rollback-days",
    type=int,
    help="Models: a version out of production for less is kept [default 30].",
)
@click.option("--reason", required=True, help="Why; recorded in the audit log.")
@json_option
@pass_state
@handles_errors
def retention_set(
    state: CliState,
    dataset: str | None,
    model: str | None,
    keep_days: int | None,
    keep_last: int,
    rollback_days: int | None,
    reason: str,
) -> None:
    """Store the retention policy of a dataset name (--dataset) or a model (--model);
    `registry retention apply` enforces it. A version in staging or production, holding an
    alias, approved, or inside the rollback window is never retired."""
    if (dataset is None) == (model is None):
        fail("give exactly one of --dataset NAME or --model NAME")
    policy = state.registry().set_retention(
        dataset=dataset,
        model=model,
        keep_days=keep_days,
        keep_last=keep_last,
        rollback_days=rollback_days,
        actor=state.who(),
        reason=reason,
    )
    if state.json:
        emit_json(policy_json(policy))
    else:
        console().print(f"retention set: {clean(policy.rule)}")


def _items_table(title: str, items: Sequence[RetentionItem]) -> Table:
    table = Table(title=title)
    for column in ("item", "verdict", "why", "expires", "dependents"):
        table.add_column(column)
    for item in items:
        table.add_row(
            clean(item.label),
            text("due", "red") if item.due else text("kept", "green"),
            clean(item.why),
            when(item.expires_at, seconds=False),
            clean(", ".join(item.dependents)) or "-",
        )
    return table


@retention.command("show", short_help="The policies and what each keeps or deletes.")
@json_option
@pass_state
@handles_errors
def retention_show(state: CliState) -> None:
    """List every retention policy, then every snapshot and artifact they govern with its
    verdict: due (and why), or what keeps it and until when."""
    registry = state.registry()
    found = registry.retention_policies()
    plan = registry.retention_plan()
    if state.json:
        emit_json({"policies": [policy_json(p) for p in found], "items": plan})
        return
    if not found:
        console().print("no retention policies: everything is kept")
        return
    policies = Table(title="Retention policies")
    for column in ("rule", "set by", "at", "reason"):
        policies.add_column(column)
    for policy in found:
        policies.add_row(
            clean(policy.rule),
            clean(policy.updated_by),
            when(policy.updated_at, seconds=False),
            clean(policy.reason or "-"),
        )
    console().print(policies)
    console().print(_items_table("What the policies decide", plan))


def _report_text(report: RetentionReport) -> None:
    if not report.due:
        console().print("nothing is due: every policy is satisfied")
        return
    if report.dry_run:
        console().print(_items_table("Due (dry run: nothing deleted)", report.due))
        return
    console().print(_items_table("Deleted", report.done))
    if report.skipped:
        console().print(
            _items_table("Kept after all (protected or deleted meanwhile)", report.skipped)
        )
    console().print(f"{len(report.done)} item(s) deleted, {report.deleted_blobs} blob(s) removed")


@retention.command("apply", short_help="Delete what the policies say is due.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; change nothing.")
@json_option
@pass_state
@handles_errors
def retention_apply(state: CliState, dry_run: bool) -> None:
    """Delete what the retention policies say is due: expired snapshots (tombstones kept,
    dependents marked as trained on deleted data) and the artifacts of old unprotected
    versions (records kept). Each deletion is one audit event naming the policy.

    \b
    Example:
      registry retention apply --dry-run
    """
    report = state.registry().apply_retention(dry_run=dry_run, actor=state.who())
    if state.json:
        emit_json(report)
    else:
        _report_text(report)


def register(group: RegistryGroup) -> None:
    group.add_section("Retention", retention)
