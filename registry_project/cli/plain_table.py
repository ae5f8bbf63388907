"""A table written as rich writes it to a pipe or a file, without importing rich (issue #18).

Importing rich and rendering one table through it was ~0.08 s of `registry versions`. When
rich would print no styles (the output is not a terminal and nothing forces one) and every
cell fits its column on one line, a rich table of left-justified columns is plain text:
boxes, cells padded by one space, the title centred above. This module writes exactly that
text; anything else (a terminal, where rich adds colours; a cell that rich would wrap or
measure differently, non-ASCII text among them; a stream that is not UTF-8) returns False
and the caller renders with rich as before. `test_plain_table` holds the text equal to
rich's for the cases it takes.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

# rich's box.HEAVY_HEAD (Table's default): left, horizontal, divider, right.
_TOP = ("┏", "━", "┳", "┓")
_HEADER = ("┃", " ", "┃", "┃")
_HEAD_RULE = ("┡", "━", "╇", "┩")
_ROW = ("│", " ", "│", "│")
_BOTTOM = ("└", "─", "┴", "┘")


def _rich_would_style(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether rich's Console (no force_terminal) would treat `stream` as a terminal, or
    draw its boxes otherwise than in UTF-8: its rules for that (rich 13-15), or True where
    this module does not know them (Jupyter, Windows)."""
    if hasattr(builtins, "get_ipython") or sys.platform == "win32":
        return True
    if not (getattr(stream, "encoding", None) or "utf-8").lower().startswith("utf"):
        return True
    tty_compatible = environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:
        return False


def _simple(value: str) -> bool:
    """Text that rich measures and renders as its length in columns, on one line:
    printable ASCII, no space at either end (rich trims those when it lays a cell out)."""
    return value.isascii() and value.isprintable() and value == value.strip()


def render(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], width: int
) -> str | None:
    """The text rich prints for `Table(*headers, title=title)` with `rows` added, on a
    console `width` columns wide that draws no styles; None where rich would lay it out
    differently (a cell wrapped or not simple text, see `_simple`)."""
    cells = [list(headers), *(list(row) for row in rows)]
    if any(len(row) != len(headers) for row in cells):
        return None
    if not all(_simple(cell) for row in cells for cell in row) or not _simple(title):
        return None
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    table_width = sum(widths) + 3 * len(widths) + 1
    if table_width > width or len(title) > table_width:
        return None

    def rule(box: tuple[str, str, str, str]) -> str:
        left, horizontal, divider, right = box
        return left + divider.join(horizontal * (w + 2) for w in widths) + right

    def line(box: tuple[str, str, str, str], row: Sequence[str]) -> str:
        left, _, divider, right = box
        padded = (f" {cell.ljust(w)} " for cell, w in zip(row, widths, strict=True))
        return left + divider.join(padded) + right

    excess = table_width - len(title)
    lines = [" " * (excess // 2) + title + " " * (excess - excess // 2)] if title else []
    lines += [rule(_TOP), line(_HEADER, headers), rule(_HEAD_RULE)]
    lines += [line(_ROW, row) for row in rows]
    lines.append(rule(_BOTTOM))
    return "\n".join(lines) + "\n"


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], width: int
) -> bool:
    """Write the table to stdout as rich would and return True, or return False (nothing
    written) where rich must render it: see the module's docstring."""
    stream = sys.stdout
    if _rich_would_style(stream, os.environ):
        return False
    text = render(title, headers, rows, width)
    if text is None:
        return False
    stream.write(text)
    stream.flush()
    return True
