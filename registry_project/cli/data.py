"""Datasets and their governance: datasets, dependents, delete-dataset."""

from __future__ import annotations

import click
from rich.table import Table

from registry_project.cli.app import CliState, handles_errors, json_option, pass_state
from registry_project.cli.output import console, emit_json, when
from registry_project.core.errors import DatasetInUseError


@click.command()
@click.argument("name", required=False)
@json_option
@pass_state
@handles_errors
def datasets(state: CliState, name: str | None) -> None:
    """List dataset snapshots and references (deleted ones as tombstones).

    Example: registry datasets customers
    """
    found = state.registry().datasets(name)
    if state.json:
        emit_json(found)
        return
    table = Table("name", "id", "kind", "rows", "sha256", "created", "expires", "status")
    for snap in found:
        status = (
            f"[red]deleted {when(snap.deleted_at)} by {snap.deleted_by}[/]"
            if snap.deleted
            else "live"
        )
        table.add_row(
            snap.name,
            snap.id,
            snap.kind.value,
            str(snap.row_count) if snap.row_count is not None else "-",
            (snap.digest or snap.version_id or snap.etag or "-")[:16],
            when(snap.created_at),
            when(snap.expires_at),
            status,
        )
    console().print(table)


@click.command()
@click.argument("snapshot")
@json_option
@pass_state
@handles_errors
def dependents(state: CliState, snapshot: str) -> None:
    """Model versions trained or evaluated on SNAPSHOT (a dataset snapshot id).

    Example: registry dependents 3f2c9a1e-...
    """
    found = state.registry().dependents(snapshot)
    if state.json:
        emit_json(found)
        return
    table = Table("model", "version", "stage", "relation", "role")
    for dep in found:
        table.add_row(
            dep.model_name, str(dep.version), dep.stage.value, dep.relation, dep.role or "-"
        )
    console().print(table if found else "no model version depends on it")


@click.command("delete-dataset")
@click.argument("snapshot")
@click.option("--reason", required=True, help="Why (e.g. the GDPR request); audited.")
@click.option("--force", is_flag=True, help="Delete even though model versions depend on it.")
@json_option
@pass_state
@handles_errors
def delete_dataset(state: CliState, snapshot: str, reason: str, force: bool) -> None:
    """Delete a snapshot's bytes, keeping a tombstone; refused while versions depend on it
    unless --force.

    Example: registry delete-dataset 3f2c9a1e-... --reason "GDPR request 17" --force
    """
    try:
        tombstone = state.registry().delete_dataset(
            snapshot, actor=state.who(), reason=reason, force=force
        )
    except DatasetInUseError as exc:
        click.echo(f"error: {exc}", err=True)
        for dep in exc.dependents:
            click.echo(
                f"  {dep.model_name}/{dep.version} ({dep.stage.value}, {dep.relation})", err=True
            )  # type: ignore[attr-defined]
        raise SystemExit(1) from exc
    if state.json:
        emit_json(tombstone)
    else:
        console().print(
            f"deleted {tombstone.name} {tombstone.id}; tombstone kept (sha256:{tombstone.digest})"
        )


def register(group: click.Group) -> None:
    for command in (datasets, dependents, delete_dataset):
        group.add_command(command)
