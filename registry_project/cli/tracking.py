"""Experiment tracking: `runs [EXPERIMENT]`, `run ID`, `compare-runs ID...`,
`download-artifact RUN NAME -o FILE`."""

from __future__ import annotations

from datetime import datetime

import click
from rich.table import Table

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.lineage import params_text
from registry_project.cli.output import clean, console, emit_json, metrics_text, number, text, when
from registry_project.core.validation import MAX_LIMIT


@click.command(short_help="Runs of an experiment, filtered and ordered.")
@click.argument("experiment", required=False)
@click.option(
    "--filter",
    "filter_text",
    metavar="FILTER",
    help="Conditions joined by 'and': metrics.X, params.X, tags.X, status, name, ... "
    "compared with = != < <= > >= to a number or 'quoted text'.",
)
@click.option(
    "--order-by",
    default="-start_time",
    show_default=True,
    metavar="FIELD",
    help="metrics.NAME, start_time, end_time, name, experiment, status or created_by; "
    "a leading - sorts descending.",
)
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), metavar="N", help="At most N runs.")
@json_option
@pass_state
@handles_errors
def runs(
    state: CliState,
    experiment: str | None,
    filter_text: str | None,
    order_by: str,
    limit: int | None,
) -> None:
    """List the runs of EXPERIMENT (every run without it), registered or not.

    \b
    Example:
      registry runs churn --filter "metrics.val_auc > 0.8 and status = 'FINISHED'" \\
          --order-by -metrics.val_auc --limit 10
    """
    found = state.registry().runs(experiment, filter=filter_text, order_by=order_by, limit=limit)
    if state.json:
        emit_json(found)
        return
    if not found:
        console().print("no runs match" if filter_text or experiment else "no runs yet")
        return
    table = Table("experiment", "name", "status", "metrics", "started (UTC)", title="Runs")
    # The whole id, never folded: `registry run ID` and download-artifact take it.
    table.add_column("run", no_wrap=True, min_width=36)
    for run in found:
        table.add_row(
            text(run.experiment),
            text(run.name),
            run.status.value,
            metrics_text(run.metrics),
            when(run.started_at, seconds=False),
            run.id,
        )
    console().print(table)


@click.command(short_help="One run: params, tags, latest metrics, artifacts.")
@click.argument("run_id", metavar="ID")
@json_option
@pass_state
@handles_errors
def run(state: CliState, run_id: str) -> None:
    """Show run ID (its UUID): status, times, params, tags, the latest value of each
    metric, and its artifacts.

    \b
    Example:
      registry run 0b6f3c1e-...
    """
    registry = state.registry()
    found = registry.get_run(run_id)
    artifacts = registry.run_artifacts(found.id)
    if state.json:
        emit_json({"run": found, "artifacts": artifacts})
        return
    out = console()
    out.print(f"run {found.id}")
    out.print(f"  experiment  {clean(found.experiment)}   name {clean(found.name)}")
    out.print(f"  status      {found.status.value}   by {clean(found.created_by)}")
    out.print(f"  started     {when(found.started_at)}   ended {when(found.ended_at)}")
    if found.code.commit:
        out.print(
            f"  code        {clean(found.code.commit[:12])}{' (dirty)' if found.code.dirty else ''}"
        )
    out.print(f"  params      {clean(params_text(found.params)) if found.params else '-'}")
    tags = " ".join(f"{clean(k)}={clean(v)}" for k, v in sorted(found.tags.items()))
    out.print(f"  tags        {tags or '-'}")
    if found.metrics:
        table = Table("metric", "latest", title="Metrics")
        for key, value in sorted(found.metrics.items()):
            table.add_row(text(key), number(value))
        out.print(table)
    if artifacts:
        table = Table("artifact", "type", "bytes", "sha256", title="Artifacts")
        for item in artifacts:
            table.add_row(
                text(item.name), text(item.media_type), f"{item.size_bytes:,}", item.digest[:16]
            )
        out.print(table)
    if found.error:
        out.print(f"  error       {clean(found.error.strip().splitlines()[-1])}")


@click.command("compare-runs", short_help="Runs side by side, differences marked.")
@click.argument("run_ids", metavar="ID...", nargs=-1, required=True)
@json_option
@pass_state
@handles_errors
def compare_runs(state: CliState, run_ids: tuple[str, ...]) -> None:
    """Params, tags and latest metrics of runs side by side (each column is a run, named
    by the start of its id); rows whose value differs are marked with *.

    \b
    Example:
      registry compare-runs 0b6f3c1e-... 5d2a9f70-...
    """
    comparison = state.registry().compare_runs(list(run_ids))
    if state.json:
        emit_json(
            {
                "columns": list(comparison.columns),
                "run_ids": list(comparison.run_ids),
                "rows": {
                    row: {label: comparison.value(row, label) for label in comparison.columns}
                    for row in comparison.rows
                },
                "differs": list(comparison.differing),
            }
        )
        return
    table = Table("", "field", *comparison.columns, title="Runs compared")
    for row in comparison.rows:
        marked = row in comparison.differing
        cells = [_cell(comparison.value(row, label)) for label in comparison.columns]
        table.add_row(
            "*" if marked else "", clean(row), *cells, style="bold yellow" if marked else None
        )
    console().print(table)
    console().print("* differs between the runs")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, datetime):
        return when(value)
    return clean(value)


@click.command("download-artifact", short_help="Write a run's artifact to a file, verified.")
@click.argument("run_id", metavar="RUN")
@click.argument("name")
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@json_option
@pass_state
@handles_errors
def download_artifact(state: CliState, run_id: str, name: str, output: str) -> None:
    """Write artifact NAME of run RUN to a file; the file appears only once its bytes
    matched their SHA-256 digest.

    \b
    Example:
      registry download-artifact 0b6f3c1e-... confusion.png -o confusion.png
    """
    artifact = state.registry().download_run_artifact(run_id, name, output)
    if state.json:
        emit_json({"artifact": artifact, "path": output})
    else:
        console().print(
            f"wrote {clean(artifact.name)} of run {artifact.run_id} to {clean(output)} "
            f"({artifact.size_bytes:,} bytes, sha256:{artifact.digest} verified)"
        )


def register(group: RegistryGroup) -> None:
    group.add_section("Experiment tracking", runs, run, compare_runs, download_artifact)
