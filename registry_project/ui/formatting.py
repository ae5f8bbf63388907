"""How values look on the pages: numbers, deltas, times, sizes, params. No registry logic.

These return plain strings; Jinja2 escapes them where they are inserted, so nothing here
needs to (or may) produce markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from registry_project.core import display

# One way to show numbers, deltas and missing cells, on the pages and on the terminal.
plain = display.plain
number = display.number
signed = display.signed

# Long values (params may be up to 1 MiB of JSON) are cut in tables; the full text is in
# the cell's title attribute and on the version page.
MAX_CELL_CHARS = 120


def when(value: datetime | None, *, seconds: bool = False) -> str:
    """A timestamp in UTC, to the minute unless `seconds`; the page headers say the times
    are UTC."""
    return display.when(value, seconds=seconds)


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
