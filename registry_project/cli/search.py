"""`search`: versions across models that match a filter (the language is the core's,
core/filters.py)."""

from __future__ import annotations

import click
from rich.table import Table

from registry_project.cli.app import (
    CliState,
    RegistryGroup,
    handles_errors,
    json_option,
    pass_state,
)
from registry_project.cli.output import console, emit_json, metrics_text, stage_text, text, when
from registry_project.core.validation import MAX_LIMIT


@click.command(short_help="Versions across models that match a filter.")
@click.argument("filter_text", metavar="FILTER", required=False, default="")
@click.option(
    "--order-by",
    default="-created_at",
    show_default=True,
    metavar="FIELD",
    help="version, created_at, stage_changed_at, name or metrics.NAME; '-' sorts descending.",
)
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=100, show_default=True)
@json_option
@pass_state
@handles_errors
def search(state: CliState, filter_text: str, order_by: str, limit: int) -> None:
    """Versions of every model that match FILTER, which compares name, version, stage,
    alias, creator, created_at, dataset (trained on it: a name or snapshot id),
    metrics.KEY, params.KEY, tags.KEY and model_tags.KEY with =, !=, <, <=, >, >=,
    in (...) and like, joined by and, or, not and parentheses. Text is quoted. A
    malformed filter is refused with the position of the error.

    \b
    Example:
      registry search "metrics.auc > 0.9 and tags.team = 'risk'" --order-by -metrics.auc
      registry search "dataset = 'customers' and created_at > '2026-11-01'"
    """
    found = state.registry().search(filter_text, order_by=order_by, limit=limit)
    if state.json:
        emit_json(found)
        return
    table = Table("version", "stage", "metrics", "created (UTC)", "by", title=f"{len(found)} found")
    for mv in found:
        table.add_row(
            text(mv.ref),
            stage_text(mv.stage.value),
            metrics_text(mv.metrics),
            when(mv.created_at, seconds=False),
            text(mv.created_by),
        )
    console().print(table)


def register(group: RegistryGroup) -> None:
    group.add_section("Search", search)
