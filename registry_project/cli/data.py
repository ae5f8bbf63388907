"""Datasets and their governance: datasets, dependents, delete-dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import click
from rich.table import Table
from rich.text import Text

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    fail,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import (
    clean,
    console,
    emit_json,
    short_digest,
    stage_text,
    text,
    to_jsonable,
    when,
)
from registry_project.core.entities import DatasetKind
from registry_project.core.errors import DatasetInUseError
from registry_project.core.validation import MAX_LIMIT

if TYPE_CHECKING:
    # Records named in annotations only: importing one creates its dataclasses, which
    # `registry --help` does not need (issue #18).
    from registry_project.core.entities import DatasetSnapshot, Dependent, RetentionItem


def _status(snap: DatasetSnapshot) -> Text:
    if not snap.deleted:
        return Text("live")
    return text(f"deleted {when(snap.deleted_at, seconds=False)} by {snap.deleted_by}", "red")


def _verdict(item: RetentionItem | None) -> Text:
    """A snapshot's retention in a word or two (`registry retention show` says why)."""
    if item is None:
        return Text("-")
    if item.due:
        return text("due", "red")
    return Text(f"until {when(item.expires_at, seconds=False)}" if item.expires_at else "kept")


@click.command(short_help="Dataset snapshots and references, tombstones included.")
@click.argument("name", required=False)
@json_option
@pass_state
@handles_errors
def datasets(state: CliState, name: str | None) -> None:
    """List dataset snapshots and pinned references, newest first per name, optionally only
    those named NAME. Deleted ones are listed as tombstones.

    \b
    Example:
      registry datasets customers
    """
    found = state.registry().datasets(name)
    if state.json:
        emit_json(found)
        return
    if not found:
        console().print("no datasets" + (f" named {clean(name)}" if name else ""))
        return
    # The kind column only when there is a reference to tell apart: it keeps ids unbroken.
    with_kind = any(snap.kind is not DatasetKind.SNAPSHOT for snap in found)
    table = Table(title="Datasets")
    for column in ("name", "id", *(["kind"] if with_kind else []), "rows", "sha256"):
        table.add_column(column, no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("status")
    # A retention column only when a policy governs a listed snapshot (one plan for all).
    verdicts = {item.subject_id: item for item in state.registry().retention_plan()}
    with_retention = any(snap.id in verdicts for snap in found)
    if with_retention:
        table.add_column("retention")
    for snap in found:
        verdict = verdicts.get(snap.id)
        table.add_row(
            text(snap.name),
            snap.id,
            *([snap.kind.value] if with_kind else []),
            f"{snap.row_count:,}" if snap.row_count is not None else "-",
            text(short_digest(snap.digest or snap.version_id or snap.etag, 12)),
            when(snap.created_at, seconds=False),
            _status(snap),
            *([_verdict(verdict)] if with_retention else []),
        )
    console().print(table)


def dependents_table(found: list[Dependent] | tuple[Dependent, ...]) -> Table:
    table = Table("model", "version", "stage", "relation", "role")
    for dep in found:
        table.add_row(
            text(dep.model_name),
            str(dep.version),
            stage_text(dep.stage.value),
            dep.relation,
            text(dep.role or "-"),
        )
    return table


@click.command(short_help="Model versions trained or evaluated on a snapshot.")
@click.argument("snapshot")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), metavar="N", help="At most N (a page).")
@click.option(
    "--after",
    metavar="CURSOR",
    help="Start after this dependent: the cursor a previous page printed (model/version/relation).",
)
@json_option
@pass_state
@handles_errors
def dependents(state: CliState, snapshot: str, limit: int | None, after: str | None) -> None:
    """Model versions trained (as a run input) or evaluated (metrics logged) on dataset
    SNAPSHOT, given by its id (see `registry datasets`), ordered by model, version and
    relation.

    With --limit, one page: a full page ends with the command for the next one (--after
    the last dependent's cursor); every page costs what the first does. In --json mode
    each dependent carries its `cursor`.

    \b
    Examples:
      registry dependents 3f2c9a1e-8d4b-4c1e-9a7f-2b5d6e8f0a11
      registry dependents 3f2c9a1e-8d4b-4c1e-9a7f-2b5d6e8f0a11 --limit 500 --after churn/41/trained
    """
    found = state.registry().dependents(snapshot, limit=limit, after=after)
    if state.json:
        emit_json([{**to_jsonable(d), "cursor": d.cursor} for d in found])
        return
    if not found:
        console().print(
            f"no more dependents after {clean(after)}"
            if after
            else "no model version depends on it"
        )
        return
    console().print(dependents_table(found))
    if limit is not None and len(found) == limit:
        # Printed whole, not styled: it is meant to be copied.
        click.echo(
            f"next page: registry dependents {snapshot} --limit {limit} --after {found[-1].cursor}"
        )


def _refuse(state: CliState, exc: DatasetInUseError) -> NoReturn:
    """The refusal, naming the versions in the way: one error line and a table on stderr,
    and in --json mode `{"deleted": false, "dependents": [...]}` on stdout for scripts."""
    from registry_project.core.entities import Dependent

    found = [d for d in exc.dependents if isinstance(d, Dependent)]
    if not found:  # the core's message is then the only account of what is in the way
        fail(str(exc))
    if state.json:
        emit_json({"deleted": False, "error": str(exc), "dependents": found})
    click.echo(
        # Not "archive them first", as the core's message says: archived versions still
        # depend on the data, and the refusal stands until --force.
        f"error: {len(found)} model version(s) depend on this dataset; to delete it anyway, "
        "pass --force with a --reason (they are then marked as trained on deleted data)",
        err=True,
    )
    if not state.json:
        console(stderr=True).print(dependents_table(found))
    raise SystemExit(1)


@click.command("delete-dataset", short_help="Delete a snapshot, keeping a tombstone.")
@click.argument("snapshot")
@click.option("--reason", required=True, help="Why (e.g. the GDPR request); audited.")
@click.option("--force", is_flag=True, help="Delete even though model versions depend on it.")
@json_option
@pass_state
@handles_errors
def delete_dataset(state: CliState, snapshot: str, reason: str, force: bool) -> None:
    """Delete the bytes of dataset SNAPSHOT, keeping a tombstone (digest, schema, rows, who,
    when, why) so lineage still answers.

    Refused (exit 1, listing them) while model versions depend on it, unless --force:
    then they are marked as trained on deleted data.

    \b
    Example:
      registry delete-dataset 3f2c9a1e-8d4b-4c1e-9a7f-2b5d6e8f0a11 --reason "GDPR 17" --force
    """
    try:
        tombstone = state.registry().delete_dataset(
            snapshot, actor=state.who(), reason=reason, force=force
        )
    except DatasetInUseError as exc:
        _refuse(state, exc)
    if state.json:
        emit_json(tombstone)
    else:
        console().print(
            f"deleted {clean(tombstone.name)} {tombstone.id}; tombstone kept "
            f"(sha256:{tombstone.digest or '-'}, {tombstone.row_count or 0:,} rows)"
        )


def register(group: RegistryGroup) -> None:
    group.add_section("Datasets", datasets, dependents, delete_dataset)
