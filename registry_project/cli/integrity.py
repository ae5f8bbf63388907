"""Audit and integrity: audit, verify, gc."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import click
from rich import box
from rich.table import Table
from rich.text import Text

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.evidence import Anchor
from registry_project.cli.output import clean, console, emit_json, number, text, when
from registry_project.core.entities import AuditAction
from registry_project.core.validation import MAX_GRACE_PERIOD, MAX_LIMIT

if TYPE_CHECKING:
    # Records named in annotations only: importing one creates its dataclasses, which
    # `registry --help` does not need (issue #18).
    from registry_project.core.entities import AuditEvent

CHANGE_WIDTH = 80


class IsoDate(click.ParamType):
    """YYYY-MM-DD or a full ISO 8601 timestamp; without a UTC offset it is UTC. A bad date
    is a usage error (exit 2)."""

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


def _short(value: Any) -> str:
    """A value of an audit record, cut to what identifies it (digests and ids to 8)."""
    if isinstance(value, Mapping):
        return "{" + " ".join(f"{clean(k)}={_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return ",".join(_short(v) for v in value)
    if isinstance(value, float):
        return number(value)
    shown = clean(value)
    return shown[:8] + "…" if isinstance(value, str) and len(shown) > 16 else shown


def change_summary(event: AuditEvent) -> str:
    """What an event changed: `stage staging->production` when before and after describe
    the same fields, else the new values (`digest=a53488e6… rows=2000`)."""
    before, after = dict(event.before or {}), dict(event.after or {})
    if before and before.keys() == after.keys():
        parts = [
            f"{clean(k)} {_short(before[k])}->{_short(after[k])}"
            for k in after
            if before[k] != after[k]
        ]
    else:  # a creation or a one-sided record; `version` is already in the subject column
        parts = [
            f"{clean(k)}={_short(v)}"
            for k, v in after.items()
            if v not in (None, "", [], {}) and not (k == "version" and event.model_name)
        ]
    summary = " ".join(parts)
    return summary if len(summary) <= CHANGE_WIDTH else summary[: CHANGE_WIDTH - 1] + "…"


def subject_text(event: AuditEvent) -> str:
    version = (event.after or {}).get("version")
    if event.model_name:
        return f"{event.model_name}/{version}" if version is not None else event.model_name
    return event.dataset_name or f"{event.subject_type} {event.subject_id[:8]}"


@click.command(short_help="The audit log: who did what, when and why.")
@click.option("--model", metavar="NAME", help="Only events about this model.")
@click.option("--dataset", metavar="NAME", help="Only events about this dataset name.")
@click.option("--actor", "who", metavar="WHO", help="Only events by this actor.")
@click.option(
    "--action",
    metavar="ACTION",
    help=f"Only this action: {', '.join(action.value for action in AuditAction)}.",
)
@click.option("--since", type=IsoDate(), help="Only events at or after this date (UTC).")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), metavar="N", help="At most N events.")
@click.option(
    "--newest-first", is_flag=True, help="Newest events first (with --limit: the latest N)."
)
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
    newest_first: bool,
) -> None:
    """The append-only, hash-chained audit log, oldest first: who did what, when and why.
    --since takes YYYY-MM-DD or an ISO 8601 timestamp (UTC unless it has an offset).

    \b
    Examples:
      registry audit --model churn --since 2026-11-01
      registry audit --newest-first --limit 10
    """
    # A SQLite registry is read without loading SQLAlchemy, as `versions` reads it.
    from registry_project.core.store import sqlite_reads

    filters = {
        "model": model,
        "dataset": dataset,
        "actor": who,
        "action": action,
        "since": since,
        "limit": limit,
        "newest_first": newest_first,
    }
    events = sqlite_reads.audit_log(state.config.database_url, **filters)
    if events is None:
        events = state.registry().audit_log(**filters)
    if state.json:
        emit_json(events)
        return
    if not events:
        console().print("no audit events match")
        return
    # Borderless, so the two free-text columns (change, reason) get the width.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("#", no_wrap=True)
    table.add_column("at (UTC)", no_wrap=True)
    for column in ("actor", "action", "subject"):
        table.add_column(column, overflow="fold")
    table.add_column("change", overflow="fold", ratio=1)
    table.add_column("reason", overflow="fold", ratio=1)  # folded, never cropped
    for event in events:
        table.add_row(
            str(event.seq),
            when(event.at, seconds=False),
            text(event.actor),
            text(event.action),
            text(subject_text(event)),
            change_summary(event),
            text(event.reason or ""),
        )
    console().print(table)


@click.command(short_help="Check every blob's digest and the audit chain; exit 1 on a problem.")
@click.option(
    "--anchor",
    "anchors",
    type=Anchor(),
    multiple=True,
    help="An audit head recorded outside the registry, SEQ:HASH (repeatable): a history "
    "rewritten whole no longer matches it.",
)
@click.option(
    "--anchor-file",
    type=click.File("r"),
    help="A file of anchors, one SEQ:HASH a line ('-': standard input), e.g. those Dagster "
    "recorded: python -m registry_project.orchestration.anchors.",
)
@json_option
@pass_state
@handles_errors
def verify(
    state: CliState, anchors: tuple[tuple[int, str], ...], anchor_file: TextIO | None
) -> None:
    """Re-hash every blob the metadata references and check the audit log's hash chain.
    Exit status 1, with the list of problems, when anything is missing, corrupt or
    tampered with. A progress bar runs on stderr (only on a terminal).

    \b
    Examples:
      registry verify
      registry verify --anchor 42:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      python -m registry_project.orchestration.anchors | registry verify --anchor-file -
    """
    # Only a command that shows progress loads rich.progress (start-up, issue #18).
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if anchor_file is not None:
        # Here, not at the top: core.anchors loads the store (and SQLAlchemy).
        from registry_project.core.anchors import parse_anchor_lines

        anchors = (*anchors, *parse_anchor_lines(anchor_file))
    progress_console = console(stderr=True)
    with Progress(
        TextColumn("verifying blobs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=progress_console,
        transient=True,
        disable=not progress_console.is_terminal,
    ) as progress:
        task = progress.add_task("verify", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = state.registry().verify(on_progress=advance, anchors=anchors)
    if state.json:
        emit_json(report)
    else:
        out = console()
        out.print(f"checked {report.blobs_checked} blobs and {report.events_checked} audit events")
        for problem in report.problems:
            line = Text(problem.kind, style="red")
            line.append(f" {clean(problem.subject)}: {clean(problem.detail)}")
            out.print(line)
        out.print(
            Text("ok", style="green")
            if report.ok
            else Text(f"{len(report.problems)} problem(s)", style="red")
        )
    if not report.ok:
        raise SystemExit(1)


@click.command(short_help="Find (and with --apply delete) unreferenced blobs.")
@click.option("--apply", is_flag=True, help="Delete them (default: a dry run that lists them).")
@click.option(
    "--grace-minutes",
    type=click.IntRange(0, MAX_GRACE_PERIOD.days * 24 * 60),
    default=60,
    show_default=True,
    help="Keep blobs younger than this: a registration may be writing its row.",
)
@json_option
@pass_state
@handles_errors
def gc(state: CliState, apply: bool, grace_minutes: int) -> None:
    """Find blobs that no record references; with --apply, delete them (and leftover
    temporary files). Without --apply nothing is deleted.

    \b
    Examples:
      registry gc
      registry gc --apply
    """
    status_console = console(stderr=True)
    # The core's gc reports no progress, so a spinner (on a terminal only) shows it is alive.
    spinner = (
        status_console.status("scanning the blob store")
        if status_console.is_terminal
        else contextlib.nullcontext()
    )
    with spinner:
        report = state.registry().gc(
            dry_run=not apply, grace_period=timedelta(minutes=grace_minutes), actor=state.who()
        )
    if state.json:
        emit_json(report)
        return
    found = f"{len(report.orphan_digests)} unreferenced blob(s), {report.bytes_reclaimable:,} bytes"
    if apply:
        console().print(f"deleted {found}")
    else:
        console().print(f"dry run, nothing deleted: {found}; `registry gc --apply` deletes them")
    for digest in report.orphan_digests:
        console().print(f"  {digest}")
    if report.temp_files_removed:
        console().print(f"removed {report.temp_files_removed} leftover temporary file(s)")


def register(group: RegistryGroup) -> None:
    group.add_section("Audit and integrity", audit, verify, gc)
