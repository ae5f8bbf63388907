"""Rendering: rich tables for people, stable JSON for scripts. No registry logic here."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import shutil
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import click
import pandas as pd
from rich.console import Console

MIN_WIDTH = 120


def console(*, stderr: bool = False) -> Console:
    # Created per call so click's test runner (which swaps sys.stdout) captures it; never
    # narrower than MIN_WIDTH so ids and digests are not cut in pipes and CI logs.
    width = max(MIN_WIDTH, shutil.get_terminal_size((MIN_WIDTH, 24)).columns)
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


def to_jsonable(value: Any) -> Any:
    """Entities, enums, datetimes and read-only mappings as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("ref", "deleted", "ok"):  # derived properties scripts want too
            attribute = getattr(type(value), name, None)
            if isinstance(attribute, property):
                data[name] = to_jsonable(getattr(value, name))
        return data
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4g}"


def metrics_text(metrics: Mapping[str, float], limit: int = 4) -> str:
    items = sorted(metrics.items())
    text = " ".join(f"{k}={number(v)}" for k, v in items[:limit])
    return text + (f" (+{len(items) - limit})" if len(items) > limit else "")


STAGE_STYLES = {
    "production": "bold green",
    "staging": "yellow",
    "experiment": "cyan",
    "archived": "dim",
}


def stage_text(stage: str) -> str:
    return f"[{STAGE_STYLES.get(stage, '')}]{stage}[/]"
