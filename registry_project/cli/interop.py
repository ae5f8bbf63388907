"""`import mlflow` (an MLflow registry moved in) and `export REF --format mlflow -o DIR`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.text import Text

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import clean, console, emit_json

if TYPE_CHECKING:
    from registry_project.core.mlflow_import import ImportReport


@click.group(name="import", short_help="Move another registry in (MLflow).")
def import_group() -> None:
    """Import models from another registry, keeping their history.

    \b
    Example:
      registry import mlflow --tracking-uri sqlite:///mlflow.db
    """


@import_group.command(name="mlflow", short_help="Import MLflow's registered models.")
@click.option(
    "--tracking-uri", required=True, metavar="URI", help="MLflow tracking server or store."
)
@click.option(
    "--registry-uri", metavar="URI", help="MLflow model registry, if not the tracking URI."
)
@click.option(
    "--model", "models", multiple=True, metavar="NAME", help="Only this model (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Read MLflow and say what would be imported.")
@json_option
@pass_state
@handles_errors
def import_mlflow(
    state: CliState,
    tracking_uri: str,
    registry_uri: str | None,
    models: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Import MLflow's registered models: descriptions and tags, every version with its
    number, creator, time, description, tags, stage and aliases, its source run (params,
    latest metrics, status, times, dataset inputs as pinned references) and its model
    directory (stored content-addressed, flavor and signature kept).

    Running it again imports nothing twice and continues an interrupted import. A version
    that cannot be read is reported and skipped (exit status 1), never half imported.
    A progress bar runs on stderr (only on a terminal).

    \b
    Examples:
      registry import mlflow --tracking-uri sqlite:///mlflow.db --dry-run
      registry import mlflow --tracking-uri http://mlflow:5000 --model churn --json
    """
    # Only a command that shows progress loads rich.progress (start-up, issue #18).
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # MLflow's own download bars would interleave with ours.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    progress_console = console(stderr=True)
    with Progress(
        TextColumn("importing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=progress_console,
        transient=True,
        disable=not progress_console.is_terminal,
    ) as progress:
        task = progress.add_task("versions", total=None)

        def advance(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=what)

        report = state.registry().import_mlflow(
            tracking_uri,
            registry_uri=registry_uri,
            models=list(models) or None,
            dry_run=dry_run,
            actor=state.who(),
            progress=advance,
        )
    if state.json:
        emit_json(report.to_json())
    else:
        _print_report(report)
    if report.failed:
        raise SystemExit(1)


def _print_report(report: ImportReport) -> None:
    out = console()
    verb = "would import" if report.dry_run else "imported"
    for item in report.imported:
        line = Text(f"{verb} ", style="green")
        line.append(f"{item.kind} {clean(item.mlflow_id)}")
        if item.ref and item.ref != item.mlflow_id:
            line.append(f" as {clean(item.ref)}")
        if item.note and item.note != "would import":
            line.append(f" ({clean(item.note)})", style="yellow")
        out.print(line)
    for failure in report.failed:
        line = Text("failed ", style="red")
        line.append(f"{failure.kind} {clean(failure.mlflow_id)}: {clean(failure.reason)}")
        out.print(line)
    out.print(
        f"{len(report.imported)} {verb}, {len(report.skipped)} already imported, "
        f"{len(report.failed)} failed (from {clean(report.source)})"
    )


@click.command(short_help="Write a version for serving (an MLflow model directory).")
@click.argument("reference", metavar="REF")
@click.option(
    "--format", "format_", type=click.Choice(["mlflow"]), default="mlflow", show_default=True
)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), metavar="DIR")
@json_option
@pass_state
@handles_errors
def export(state: CliState, reference: str, format_: str, output: Path) -> None:
    """Write a version as an MLflow model directory that `mlflow.pyfunc.load_model` loads
    (MLflow's `models serve`, KServe, MLServer and BentoML take one): the sklearn flavor
    for scikit-learn estimators, else python_function; signature, requirements recorded
    with its run, and the version's id and digest in the MLmodel metadata.

    \b
    Example:
      registry export churn@production --format mlflow -o serving/churn
    """
    registry = state.registry()
    version = registry.get_version(reference)
    written = registry.export_model(version, output, format=format_)
    if state.json:
        emit_json({"ref": version.ref, "id": version.id, "format": format_, "directory": written})
    else:
        console().print(f"wrote {clean(version.ref)} as an MLflow model to {clean(written)}")


def register(group: RegistryGroup) -> None:
    group.add_section("Interoperability", import_group, export)
