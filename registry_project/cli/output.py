"""Rendering: rich tables for people, stable JSON for scripts. No registry logic here.

Everything stored in the registry (names, reasons, actors, params) is untrusted text: the
console parses no markup and no emoji codes, and `clean` escapes control characters, so a
reason such as "[/]" or "ok\\nalice promoted churn/9" can neither crash the table nor forge
a line of it (`registry_project.core.display.inert`, shared with the web UI).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import shutil
import sys
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from registry_project.core import display
from registry_project.core.display import inert
from registry_project.core.entities import Stage

if TYPE_CHECKING:
    # Imported where a console or a styled text is made: rich is ~0.05 s of start-up, and
    # `--help`, `--json` and the plain tables (plain_table.py) never need it (issue #18).
    from rich.console import Console
    from rich.text import Text

    from registry_project.cli.plain_table import Cell

MIN_WIDTH = 120

# Keyed by Stage, which equals its value, so `STAGE_STYLES.get("production")` works too;
# tests check that every stage of the machine (core/stages.py) has a style.
STAGE_STYLES = {
    Stage.PRODUCTION: "bold green",
    Stage.STAGING: "yellow",
    Stage.EXPERIMENT: "cyan",
    Stage.ARCHIVED: "dim",
}


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr), created per call so click's test runner, which swaps
    sys.stdout, captures it; never narrower than MIN_WIDTH so ids and digests are not cut in
    pipes and CI logs."""
    from rich.console import Console

    return Console(
        stderr=stderr,
        width=console_width(),
        highlight=False,
        soft_wrap=False,
        markup=False,
        emoji=False,
    )


def console_width() -> int:
    """The width every console (and plain_table.py) lays its output out for."""
    return max(MIN_WIDTH, shutil.get_terminal_size((MIN_WIDTH, 24)).columns)


def clean(value: object) -> str:
    """`value` as one line of inert text: the escaping the web UI uses too (controls,
    U+0085, U+2028, bidi overrides and zero-width characters shown as escapes)."""
    return inert(value)


def text(value: object, style: str = "") -> Text:
    from rich.text import Text

    return Text(clean(value), style=style)


def cell_text(cell: Cell) -> Text:
    """A plain_table.py cell as the rich Text that renders it: plain text as is (never
    read as markup), a styled cell as its runs on the cell's base style."""
    from rich.text import Text

    if isinstance(cell, str):
        return Text(cell)
    base, spans = cell
    rendered = Text(style=base)
    for run, style in spans:
        rendered.append(run, style=style or None)
    return rendered


def stage_text(stage: str) -> Text:
    from rich.text import Text

    return Text(stage, style=STAGE_STYLES.get(stage, ""))


def is_nat(value: Any) -> bool:
    """Whether `value` is pandas' missing timestamp. Checked without importing pandas
    (~0.5 s, which every command would pay): if pandas is not loaded, nothing is NaT."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and value is pandas.NaT


def to_jsonable(value: Any) -> Any:
    """Entities, enums, datetimes and read-only mappings as plain JSON values.

    Dataclasses become objects with one key per field, plus the derived properties scripts
    want too (`ref` of a version, `deleted` of a snapshot or gc report, `ok` of a verify
    report). Datetimes are ISO 8601 with their UTC offset; non-finite floats are null.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("ref", "deleted", "ok"):
            attribute = getattr(type(value), name, None)
            if isinstance(attribute, property):
                data[name] = to_jsonable(getattr(value, name))
        return data
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):  # pd.Timestamp is a datetime too
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if is_nat(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        return to_jsonable(value.item())
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2))


# One way to show numbers and deltas, on the terminal and on the pages.
number = display.number
signed = display.signed


def when(value: datetime | None, *, seconds: bool = True) -> str:
    """A timestamp in UTC (the output says so), to the second or, in listings, the minute."""
    return display.when(value, seconds=seconds)


def metrics_text(metrics: Mapping[str, float], limit: int = 4) -> str:
    items = sorted(metrics.items())
    shown = " ".join(f"{clean(k)}={number(v)}" for k, v in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def short_digest(digest: str | None, length: int = 16) -> str:
    return digest[:length] if digest else "-"
