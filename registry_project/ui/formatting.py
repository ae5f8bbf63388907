"""How values look on the pages: numbers, deltas, times, sizes, params. No registry logic.

These return plain strings; Jinja2 escapes them where they are inserted, so nothing here
needs to (or may) produce markup.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

# Long values (params may be up to 1 MiB of JSON) are cut in tables; the full text is in
# the cell's title attribute and on the version page.
MAX_CELL_CHARS = 120


def plain(value: Any) -> Any:
    """A pandas / numpy cell as a plain Python value; None for NaN and NaT."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return plain(value.item())
    return value


def number(value: Any) -> str:
    """A metric value: 4 significant digits, thousands separated when large."""
    value = plain(value)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def signed(value: Any) -> str:
    """A difference with its sign always shown: +0.0079, -0.002, 0."""
    shown = number(value)
    value = plain(value)
    positive = isinstance(value, int | float) and value > 0
    return f"+{shown}" if positive and shown != "-" else shown


def when(value: datetime | None, *, seconds: bool = False) -> str:
    """A timestamp in UTC; the page headers say the times are UTC."""
    if value is None or value is pd.NaT:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def iso(value: datetime | None) -> str:
    """Machine-readable time for <time datetime=...> and tooltips."""
    return "" if value is None else value.isoformat()


def size(value: int | None) -> str:
    """Bytes in binary units: 1.5 KiB, 3.2 MiB."""
    if value is None:
        return "-"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def short(value: str | None, length: int = 12) -> str:
    """Digests, ids and commits cut to a recognisable prefix (the full value goes in title)."""
    if not value:
        return "-"
    return value[:length] + ("…" if len(value) > length else "")


def json_value(value: Any) -> str:
    """A param value as JSON, so 1.0 stays 1.0, strings are bare and nesting reads."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def truncate(text: str, length: int = MAX_CELL_CHARS) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def change(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """An audit event's change in one line: `stage experiment->production`, `k=v ...`."""
    before = dict(before or {})
    after = dict(after or {})
    parts = []
    for key in sorted(set(before) | set(after)):
        if key in before and key in after and before[key] != after[key]:
            parts.append(f"{key} {json_value(before[key])}->{json_value(after[key])}")
        elif key in after:
            if after[key] is not None and key not in before:
                parts.append(f"{key}={json_value(after[key])}")
        else:
            parts.append(f"{key} was {json_value(before[key])}")
    return " ".join(parts)
