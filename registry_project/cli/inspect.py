"""Read-only commands about models and versions: models, versions, show, compare, download.

(`lineage` lives in lineage.py, with the tree it draws.)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click

from registry_project.cli import plain_table
from registry_project.cli.app import (
    STAGES,
    CliState,
    RegistryGroup,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import (
    STAGE_STYLES,
    cell_text,
    clean,
    console,
    console_width,
    emit_json,
    is_nat,
    metrics_text,
    number,
    signed,
    stage_text,
    text,
    to_jsonable,
    when,
)
from registry_project.core.validation import MAX_LIMIT

# rich, and the other command modules `show` borrows from, are imported in the commands
# that use them: `registry versions` prints a plain table without them (issue #18).
if TYPE_CHECKING:
    from rich.table import Table

    # Records named in annotations only: importing one creates its dataclasses, which
    # `registry --help` does not need (issue #18).
    from registry_project.core.entities import ModelSummary, ModelVersion


def _model_row(summary: ModelSummary, metric: str | None) -> dict[str, Any]:
    """One line of `models`; the key metric comes from production, else the latest version."""
    shown = summary.shown
    key = metric or summary.key_metric()
    return {
        "name": summary.model.name,
        "latest_version": summary.model.latest_version,
        "production_version": summary.model.production_version,
        "metric": key,
        "value": shown.metrics.get(key) if shown is not None and key else None,
        "metric_from_version": shown.version if shown is not None else None,
        "created_at": summary.model.created_at,
    }


@click.command(short_help="Each model: latest and production version, key metric.")
@click.option(
    "--metric",
    metavar="NAME",
    help="The key metric [default: the alphabetically first metric of the version shown].",
)
@json_option
@pass_state
@handles_errors
def models(state: CliState, metric: str | None) -> None:
    """Each model with its latest version, its production version and one key metric.

    The key metric is read from the production version, or from the latest version when
    there is no production version; it is --metric NAME, else the first metric name in
    alphabetical order.

    \b
    Example:
      registry models --metric auc
    """
    # A SQLite registry is read without loading SQLAlchemy, as `versions` reads it.
    from registry_project.core.store import sqlite_reads

    summaries = sqlite_reads.model_summaries(state.config.database_url)
    if summaries is None:
        summaries = state.registry().model_summaries()
    rows = [_model_row(summary, metric) for summary in summaries]
    if state.json:
        emit_json(rows)
        return
    if not rows:
        console().print("no models yet: register one with ModelRegistry.register_model")
        return
    from rich.table import Table

    table = Table("model", "latest", "production", "key metric", "from", title="Models")
    for row in rows:
        key = f"{clean(row['metric'])}={number(row['value'])}" if row["metric"] else "-"
        table.add_row(
            text(row["name"]),
            str(row["latest_version"]),
            str(row["production_version"] or "-"),
            key,
            f"v{row['metric_from_version']}",
        )
    console().print(table)


# No id column: NAME/N refers to a version everywhere; `show` and --json give the UUID.
VERSION_COLUMNS = ("version", "stage", "metrics", "created (UTC)", "by")


def version_cells(mv: ModelVersion) -> list[plain_table.Cell]:
    """A row of versions_table for plain_table.py: the same text, the stage in its style."""
    spans: tuple[tuple[str, str], ...] = ((mv.stage.value, ""),)
    if mv.trained_on_deleted_data:
        spans += ((" (data deleted)", "red"),)
    return [
        str(mv.version),
        (STAGE_STYLES.get(mv.stage, ""), spans),
        metrics_text(mv.metrics),
        when(mv.created_at, seconds=False),
        clean(mv.created_by),
    ]


def versions_table(items: list[ModelVersion], title: str) -> Table:
    """The versions as a rich table: `version_cells`' rows, for what plain_table.py does
    not lay out as rich does."""
    from rich.table import Table

    table = Table(*VERSION_COLUMNS, title=title)
    for mv in items:
        table.add_row(*(cell_text(cell) for cell in version_cells(mv)))
    return table


@click.command(short_help="A model's versions, filtered and ordered.")
@click.argument("name")
@click.option("--stage", type=click.Choice(STAGES), help="Only versions in this stage.")
@click.option(
    "--order-by",
    default="-version",
    show_default=True,
    metavar="FIELD",
    help="version, created_at, stage_changed_at or metrics.NAME; a leading - sorts descending.",
)
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), metavar="N", help="At most N versions.")
@json_option
@pass_state
@handles_errors
def versions(
    state: CliState, name: str, stage: str | None, order_by: str, limit: int | None
) -> None:
    """List the versions of model NAME, optionally in one stage, ordered by a field or a
    metric (versions without that metric come last).

    \b
    Example:
      registry versions churn --order-by -metrics.auc --limit 5
    """
    # A SQLite registry is listed without loading SQLAlchemy, most of this command's
    # start-up (core/store/sqlite_reads.py); anything else opens the registry. Imported
    # here: the records it builds are no part of `--help`.
    from registry_project.core.store import sqlite_reads

    found = sqlite_reads.list_versions(
        state.config.database_url, name, stage=stage, order_by=order_by, limit=limit
    )
    if found is None:
        found = state.registry().versions(name, stage=stage, order_by=order_by, limit=limit)
    if state.json:
        emit_json(found)
        return
    title = f"{name}: {len(found)} version(s), by {order_by}"
    # The same text rich prints, without loading rich (plain_table.py); through rich for
    # whatever plain_table does not lay out as rich does.
    cells = [version_cells(mv) for mv in found]
    if not plain_table.print_table(title, VERSION_COLUMNS, cells, console_width()):
        console().print(versions_table(found, title))


@click.command(short_help="One version: stage, metrics, params, artifact, lineage.")
@click.argument("ref")
@json_option
@pass_state
@handles_errors
def show(state: CliState, ref: str) -> None:
    """Show one version: stage, metrics, params, artifact and a summary of its lineage.

    REF is a version UUID, NAME/N, NAME@STAGE (NAME@latest for the newest) or NAME@ALIAS.
    Shows the model's protection rule, the version's aliases and tags, and the model's
    tags.

    \b
    Example:
      registry show churn@production
    """
    from rich.table import Table
    from rich.text import Text

    from registry_project.cli.governance import protection_text
    from registry_project.cli.lineage import lineage_summary, params_text, reproduction_text
    from registry_project.cli.retention import item_text

    registry = state.registry()
    found = registry.lineage(ref)
    approvals = registry.approvals(found.version)
    name = found.version.model_name
    protection = registry.protection(name)
    aliases = registry.version_aliases(found.version)
    version_tags = registry.tags(found.version)
    model_tags = registry.tags(name)
    kept = registry.version_retention(found.version)
    data_kept = {
        d.snapshot.id: registry.dataset_retention(d.snapshot)
        for d in found.datasets
        if not d.snapshot.deleted
    }
    if state.json:
        emit_json(
            {
                "version": found.version,
                "lineage": found,
                "approvals": approvals,
                "protection": protection,
                "aliases": aliases,
                "tags": {t.key: t.value for t in version_tags},
                "model_tags": {t.key: t.value for t in model_tags},
                "retention": kept,
                "dataset_retention": data_kept,
            }
        )
        return
    mv = found.version
    table = Table(show_header=False, title=mv.ref, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    stage = stage_text(mv.stage.value)
    stage.append(f" since {when(mv.stage_changed_at)} UTC")
    rows: list[tuple[str, str | Text]] = [
        ("id", mv.id),
        ("stage", stage),
        ("created", text(f"{when(mv.created_at)} UTC by {mv.created_by}")),
        ("artifact", f"sha256:{mv.artifact_digest} ({mv.artifact_size:,} bytes)"),
        ("flavor", text(f"{mv.flavor} ({mv.python_class})")),
        ("metrics", metrics_text(mv.metrics, limit=50) or "-"),
    ]
    if mv.description:
        rows.append(("description", text(mv.description)))
    if found.run is not None:
        rows.append(("params", text(params_text(found.run.params) or "-")))
    if mv.signature:
        rows.append(("signature", text(", ".join(f"{c.name}:{c.type}" for c in mv.signature))))
    rows.extend(lineage_summary(found))
    rows.append(("approved by", text(", ".join(approvals) or "-")))
    rows.append(("protection", text(protection_text(protection))))
    rows.append(("aliases", text(", ".join(f"{name}@{a}" for a in aliases) or "-")))
    rows.append(("tags", text(", ".join(f"{t.key}={t.value}" for t in version_tags) or "-")))
    rows.append(("model tags", text(", ".join(f"{t.key}={t.value}" for t in model_tags) or "-")))
    rows.append(("reproduced", reproduction_text(registry.latest_reproduction(mv))))
    rows.append(("retention", text(item_text(kept) if kept else "no policy: kept")))
    for snapshot_id, item in data_kept.items():
        if item is not None:
            rows.append(("data retention", text(f"{snapshot_id}: {item_text(item)}")))
    if mv.trained_on_deleted_data:
        rows.append(("warning", Text("trained or evaluated on data that was deleted", "red")))
    for key, value in rows:
        table.add_row(key, value)
    console().print(table)


def _plain(value: Any) -> Any:
    """A DataFrame cell as a plain Python value (None for NaN/NaT)."""
    if value is None or is_nat(value) or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _cell(row: str, column: str, value: Any) -> str:
    value = _plain(value)
    if value is None or value == "":
        return "-"
    if column.startswith("Δ"):
        return signed(value)
    if row.startswith("metric.") and isinstance(value, float | int):
        return number(value)
    if hasattr(value, "strftime"):
        return when(value)
    return clean(value)


@click.command(short_help="Versions side by side, differences marked, delta to production.")
@click.argument("name")
@click.argument("versions", nargs=-1, required=True)
@json_option
@pass_state
@handles_errors
def compare(state: CliState, name: str, versions: tuple[str, ...]) -> None:
    """Params and metrics of versions of NAME side by side, with each metric's delta to the
    production version. Rows whose value differs between the versions (production
    included) are marked with * and highlighted.

    VERSIONS are numbers (7) or references (churn@staging).

    \b
    Example:
      registry compare churn 6 7
    """
    comparison = state.registry().comparison(name, list(versions))
    frame = comparison.to_frame()
    differing = comparison.differing
    if state.json:
        rows = {
            str(row): {str(col): to_jsonable(_plain(frame.loc[row, col])) for col in frame.columns}
            for row in frame.index
        }
        emit_json(
            {"columns": [str(c) for c in frame.columns], "rows": rows, "differs": list(differing)}
        )
        return
    from rich.table import Table

    table = Table("", "field", title=clean(f"{name}: {' vs '.join(versions)}"))
    for column in frame.columns:
        table.add_column(str(column), justify="right" if str(column).startswith("Δ") else "left")
    for row in frame.index:
        marked = str(row) in differing
        cells = [_cell(str(row), str(col), frame.loc[row, col]) for col in frame.columns]
        table.add_row(
            "*" if marked else "", clean(row), *cells, style="bold yellow" if marked else None
        )
    console().print(table)
    console().print("* differs between the versions (production included)")


@click.command(short_help="Write a version's artifact to a file, digest-verified.")
@click.argument("ref")
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@json_option
@pass_state
@handles_errors
def download(state: CliState, ref: str, output: str) -> None:
    """Write the artifact bytes of version REF to a file, verified against their SHA-256
    digest; they are never unpickled.

    \b
    Example:
      registry download churn@production -o model.joblib
    """
    # Only a command that shows progress loads rich.progress (start-up, issue #18).
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    registry = state.registry()
    version = registry.get_version(ref)
    progress_console = console(stderr=True)
    with Progress(
        *Progress.get_default_columns(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=progress_console,
        transient=True,
        disable=not progress_console.is_terminal,
    ) as progress:
        task = progress.add_task(f"downloading {version.ref}", total=version.artifact_size)
        registry.export_artifact(version, output, on_bytes=lambda n: progress.advance(task, n))
    if state.json:
        emit_json({"version": version, "path": output, "sha256": version.artifact_digest})
    else:
        console().print(
            f"wrote {version.ref} to {clean(output)} ({version.artifact_size:,} bytes, "
            f"sha256:{version.artifact_digest} verified)"
        )


def register(group: RegistryGroup) -> None:
    from registry_project.cli.lineage import lineage

    group.add_section("Models and versions", models, versions, show, compare, lineage, download)
