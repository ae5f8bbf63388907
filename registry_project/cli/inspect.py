"""Read-only commands: models, versions, show, compare, lineage."""

from __future__ import annotations

import math
from typing import Any

import click
import pandas as pd
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table
from rich.tree import Tree

from registry_project.cli.app import CliState, handles_errors, json_option, pass_state
from registry_project.cli.output import (
    console,
    emit_json,
    metrics_text,
    number,
    stage_text,
    to_jsonable,
    when,
)
from registry_project.core.entities import Lineage, ModelVersion
from registry_project.core.errors import NotFoundError


def _production(state: CliState, name: str) -> ModelVersion | None:
    try:
        return state.registry().get_version(f"{name}@production")
    except NotFoundError:
        return None


@click.command()
@click.option("--metric", help="Metric to show [default: the first, alphabetically].")
@json_option
@pass_state
@handles_errors
def models(state: CliState, metric: str | None) -> None:
    """Each model with its latest version, production version and key metric.

    The key metric is read from the production version, else the latest one.

    Example: registry models --metric auc
    """
    registry = state.registry()
    rows = []
    for model in registry.models():
        shown = _production(state, model.name) or registry.get_version(f"{model.name}@latest")
        key = metric or (sorted(shown.metrics)[0] if shown.metrics else None)
        rows.append(
            {
                "name": model.name,
                "latest_version": model.latest_version,
                "production_version": model.production_version,
                "metric": key,
                "value": shown.metrics.get(key) if key else None,
                "metric_from_version": shown.version,
                "created_at": model.created_at,
            }
        )
    if state.json:
        emit_json(rows)
        return
    table = Table("model", "latest", "production", "key metric", title="Models")
    for row in rows:
        metric_cell = f"{row['metric']}={number(row['value'])}" if row["metric"] else "-"
        table.add_row(
            row["name"],
            str(row["latest_version"]),
            str(row["production_version"] or "-"),
            f"{metric_cell} (v{row['metric_from_version']})",
        )
    console().print(table)


def versions_table(items: list[ModelVersion], title: str) -> Table:
    table = Table("version", "stage", "metrics", "created", "by", "id", title=title)
    for mv in items:
        table.add_row(
            str(mv.version),
            stage_text(mv.stage.value),
            metrics_text(mv.metrics),
            when(mv.created_at),
            mv.created_by,
            mv.id,
        )
    return table


@click.command()
@click.argument("name")
@click.option("--stage", type=click.Choice(["experiment", "staging", "production", "archived"]))
@click.option("--order-by", default="-version", show_default=True, help="e.g. -metrics.auc")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many versions.")
@json_option
@pass_state
@handles_errors
def versions(
    state: CliState, name: str, stage: str | None, order_by: str, limit: int | None
) -> None:
    """List a model's versions, filtered by stage and ordered by any field or metric.

    Example: registry versions churn --order-by -metrics.auc --limit 5
    """
    found = state.registry().versions(name, stage=stage, order_by=order_by, limit=limit)
    if state.json:
        emit_json(found)
        return
    console().print(versions_table(found, f"{name} ({len(found)} shown)"))


@click.command()
@click.argument("ref")
@json_option
@pass_state
@handles_errors
def show(state: CliState, ref: str) -> None:
    """Show one version: stage, metrics, params, artifact and a lineage summary.

    REF is a version UUID, NAME/N or NAME@STAGE (NAME@latest for the newest).

    Example: registry show churn@production
    """
    registry = state.registry()
    lineage = registry.lineage(ref)
    approvals = registry.approvals(lineage.version)
    if state.json:
        emit_json({"version": lineage.version, "lineage": lineage, "approvals": approvals})
        return
    mv = lineage.version
    table = Table(show_header=False, title=f"{mv.ref}", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str]] = [
        ("id", mv.id),
        ("stage", f"{stage_text(mv.stage.value)} since {when(mv.stage_changed_at)}"),
        ("created", f"{when(mv.created_at)} by {mv.created_by}"),
        ("artifact", f"sha256:{mv.artifact_digest} ({mv.artifact_size:,} bytes)"),
        ("flavor", f"{mv.flavor} ({mv.python_class})"),
        ("metrics", metrics_text(mv.metrics, limit=50) or "-"),
    ]
    if lineage.run is not None:
        params = ", ".join(f"{k}={v}" for k, v in sorted(lineage.run.params.items()))
        rows.append(("params", params or "-"))
        rows.append(("run", f"{lineage.run.name} {lineage.run.id} ({lineage.run.status.value})"))
    if mv.signature:
        rows.append(("signature", ", ".join(f"{c.name}:{c.type}" for c in mv.signature)))
    datasets = ", ".join(
        f"{d.snapshot.name} ({d.relation}{', DELETED' if d.deleted else ''})"
        for d in lineage.datasets
    )
    rows.append(("datasets", datasets or "-"))
    if lineage.code is not None and lineage.code.commit:
        dirty = " (dirty)" if lineage.code.dirty else ""
        rows.append(("code", f"{lineage.code.commit}{dirty}"))
    rows.append(("dagster run", lineage.dagster_run_id or "-"))
    rows.append(("approved by", ", ".join(approvals) or "-"))
    if mv.trained_on_deleted_data:
        rows.append(("warning", "[red]trained or evaluated on data that was deleted[/]"))
    for key, value in rows:
        table.add_row(key, value)
    console().print(table)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, pd.Timestamp) or hasattr(value, "strftime"):
        return when(value)
    return str(value)


@click.command()
@click.argument("name")
@click.argument("versions", nargs=-1, required=True)
@json_option
@pass_state
@handles_errors
def compare(state: CliState, name: str, versions: tuple[str, ...]) -> None:
    """Params and metrics of versions side by side, differences highlighted, with each
    metric's delta to production.

    Example: registry compare churn 5 7
    """
    frame = state.registry().compare(name, list(versions))
    if state.json:
        emit_json(
            {
                "columns": list(frame.columns),
                "rows": {
                    row: {col: to_jsonable(_plain(frame.loc[row, col])) for col in frame.columns}
                    for row in frame.index
                },
            }
        )
        return
    version_columns = [c for c in frame.columns if str(c).startswith("v")]
    table = Table("field", *frame.columns, title=f"{name}: compare {' '.join(versions)}")
    for row in frame.index:
        values = [_cell(frame.loc[row, col]) for col in version_columns]
        differs = len(set(values)) > 1 and row not in ("created_at", "artifact_digest")
        cells = [_cell(frame.loc[row, col]) for col in frame.columns]
        style = "bold yellow" if differs else None
        table.add_row(str(row), *cells, style=style)
    console().print(table)
    console().print("[bold yellow]highlighted[/]: values that differ between the versions")


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def lineage_tree(lineage: Lineage) -> Tree:
    mv = lineage.version
    tree = Tree(f"[bold]{mv.ref}[/] {stage_text(mv.stage.value)}  sha256:{mv.artifact_digest[:16]}")
    data = tree.add("datasets")
    for item in lineage.datasets:
        snap = item.snapshot
        state = "[red]DELETED[/] " if item.deleted else ""
        role = f"/{item.role}" if item.role else ""
        data.add(
            f"{state}{snap.name} ({item.relation}{role})  {snap.id}  "
            f"rows={snap.row_count if snap.row_count is not None else '-'}  "
            f"sha256:{(snap.digest or '-')[:16]}"
        )
    if lineage.run is not None:
        run = lineage.run
        node = tree.add(f"run {run.name} {run.id} ({run.status.value})")
        node.add(f"params {dict(run.params)}")
    if lineage.code is not None:
        code = lineage.code
        tree.add(
            f"code {code.commit or 'unknown'}{' (dirty)' if code.dirty else ''} "
            f"{code.branch or ''} {code.remote or ''}".rstrip()
        )
    if lineage.environment is not None:
        env = lineage.environment
        node = tree.add(f"environment Python {env.python_version} on {env.platform}")
        node.add(f"{env.package_count} packages (sha256:{(env.packages_digest or '-')[:16]})")
        for item in env.files:
            node.add(f"{item.path} sha256:{item.digest[:16]}")
    tree.add(f"dagster run {lineage.dagster_run_id or '-'}")
    return tree


@click.command()
@click.argument("ref")
@json_option
@pass_state
@handles_errors
def lineage(state: CliState, ref: str) -> None:
    """Everything a version came from: datasets (digest, rows, deleted?), run, code,
    environment and Dagster run.

    Example: registry lineage churn@production
    """
    found = state.registry().lineage(ref)
    if state.json:
        emit_json(found)
        return
    console().print(lineage_tree(found))


@click.command()
@click.argument("ref")
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@json_option
@pass_state
@handles_errors
def download(state: CliState, ref: str, output: str) -> None:
    """Write a version's artifact bytes to a file, digest-verified (never unpickled).

    Example: registry download churn@production -o model.joblib
    """
    registry = state.registry()
    version = registry.get_version(ref)
    with Progress(
        *Progress.get_default_columns(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(f"downloading {version.ref}", total=version.artifact_size)
        registry.export_artifact(version, output, on_bytes=lambda n: progress.advance(task, n))
    if state.json:
        emit_json({"version": version, "path": output, "sha256": version.artifact_digest})
    else:
        console().print(
            f"wrote {version.ref} to {output} ({version.artifact_size:,} bytes, "
            f"sha256:{version.artifact_digest} verified)"
        )


def register(group: click.Group) -> None:
    for command in (models, versions, show, compare, lineage, download):
        group.add_command(command)
