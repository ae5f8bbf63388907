"""Audit and integrity: audit, verify, gc."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from rich.progress import Progress
from rich.table import Table

from registry_project.cli.app import CliState, handles_errors, json_option, pass_state
from registry_project.cli.output import console, emit_json, when


class IsoDate(click.ParamType):
    """YYYY-MM-DD or a full ISO 8601 timestamp; naive means UTC."""

    name = "date"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date: use YYYY-MM-DD or 2026-11-26T14:00:00", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command()
@click.option("--model", help="Only events about this model.")
@click.option("--dataset", help="Only events about this dataset name.")
@click.option("--actor", "who", help="Only events by this actor.")
@click.option("--action", help="Only this action (promote, register_model, delete_dataset, ...).")
@click.option("--since", type=IsoDate(), help="Only events at or after this date (UTC).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many events.")
@json_option
@pass_state
@handles_errors
def audit(
    state: CliState,
    model: str | None,
    dataset: str | None,
    who: str | None,
    action: str | None,
    since: datetime | None,
    limit: int | None,
) -> None:
    """The append-only, hash-chained audit log: who did what, when and why.

    Example: registry audit --model churn --since 2026-11-01
    """
    events = state.registry().audit_log(
        model=model, dataset=dataset, actor=who, action=action, since=since, limit=limit
    )
    if state.json:
        emit_json(events)
        return
    table = Table("#", "at", "actor", "action", "subject", "change", "reason", title="Audit log")
    for event in events:
        subject = event.model_name or event.dataset_name or event.subject_type
        change = ""
        if event.before or event.after:
            change = f"{dict(event.before or {})} -> {dict(event.after or {})}"
        table.add_row(
            str(event.seq),
            when(event.at),
            event.actor,
            event.action,
            subject,
            change[:80],
            event.reason or "",
        )
    console().print(table)


@click.command()
@json_option
@pass_state
@handles_errors
def verify(state: CliState) -> None:
    """Re-hash every referenced blob and check the audit chain; exit 1 on any problem.

    Example: registry verify
    """
    with Progress(console=console(stderr=True), transient=True) as progress:
        task = progress.add_task("verifying blobs", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = state.registry().verify(on_progress=advance)
    if state.json:
        emit_json(report)
    else:
        out = console()
        out.print(f"checked {report.blobs_checked} blobs and {report.events_checked} audit events")
        for problem in report.problems:
            out.print(f"[red]{problem.kind}[/] {problem.subject}: {problem.detail}")
        out.print("[green]ok[/]" if report.ok else f"[red]{len(report.problems)} problem(s)[/]")
    if not report.ok:
        raise SystemExit(1)


@click.command()
@click.option("--apply", is_flag=True, help="Delete the orphans (default: only list them).")
@click.option(
    "--grace-minutes",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Keep blobs younger than this (a registration may be writing its row).",
)
@json_option
@pass_state
@handles_errors
def gc(state: CliState, apply: bool, grace_minutes: int) -> None:
    """Find blobs no record references; with --apply, delete them.

    Example: registry gc            (dry run)   registry gc --apply
    """
    with console(stderr=True).status("scanning the blob store"):
        report = state.registry().gc(
            dry_run=not apply, grace_period=timedelta(minutes=grace_minutes), actor=state.who()
        )
    if state.json:
        emit_json(report)
        return
    verb = "deleted" if apply else "would delete"
    console().print(
        f"{verb} {len(report.orphan_digests)} unreferenced blob(s), "
        f"{report.bytes_reclaimable:,} bytes"
    )
    for digest in report.orphan_digests:
        console().print(f"  {digest}")


def register(group: click.Group) -> None:
    for command in (audit, verify, gc):
        group.add_command(command)
