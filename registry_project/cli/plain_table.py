"""A table written as rich writes it, without importing rich (issue #18).

Importing rich and rendering one table through it was ~0.08 s of `registry versions`. A
rich table of left-justified columns whose every cell fits on one line is simple text:
boxes, cells padded by one space, the title centred above; on a terminal, each run of
styled text wrapped in its SGR escape (the title in italics, the header in bold, a stage
in its colour). This module writes exactly that text, for a pipe or a file (no styles)
and for a terminal of the kind rich colours on Linux and macOS (standard, 256 and
true-colour terminals all get the same codes for the eight named colours used here).
Anything else returns False and the caller renders with rich as before: a cell rich would
wrap or measure otherwise (non-ASCII text among them), a style this module does not know,
NO_COLOR, a dumb terminal, Windows, Jupyter, a stream that is not UTF-8.
`test_cli_plain_table` holds the text equal to rich's for every case it takes.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

# A cell: plain text, or (base style, ((text, style of that run), ...)) with rich's style
# strings ("bold green"; "" for the base style alone); the padding gets the base style.
Cell = str | tuple[str, tuple[tuple[str, str], ...]]

# rich's box.HEAVY_HEAD (Table's default): left, horizontal, divider, right.
_TOP = ("┏", "━", "┳", "┓")
_HEADER = ("┃", " ", "┃", "┃")
_HEAD_RULE = ("┡", "━", "╇", "┩")
_ROW = ("│", " ", "│", "│")
_BOTTOM = ("└", "─", "┴", "┘")

# rich's order of attributes in an SGR sequence, and the eight standard colours.
_ATTRIBUTES = {"bold": "1", "dim": "2", "italic": "3"}
_COLOURS = {
    name: str(30 + n)
    for n, name in enumerate(
        ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
    )
}
_TITLE_STYLE = "italic"  # rich's "table.title"
_HEADER_STYLE = "bold"  # rich's "table.header"

PLAIN, ANSI = "plain", "ansi"


def output_mode(stream: TextIO, environ: Mapping[str, str]) -> str | None:
    """How rich's Console (no force_terminal) would write to `stream`: PLAIN (no styles),
    ANSI (a colour terminal), or None where this module does not follow it (see above)."""
    if hasattr(builtins, "get_ipython") or sys.platform == "win32":
        return None
    if not (getattr(stream, "encoding", None) or "utf-8").lower().startswith("utf"):
        return None
    if not _is_terminal(stream, environ):
        return PLAIN
    if environ.get("TERM", "").lower() in ("dumb", "unknown") or environ.get("NO_COLOR", ""):
        return None
    return ANSI


def _is_terminal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """rich's Console.is_terminal (rich 13-15), for a console given no force_terminal."""
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


def sgr(*styles: str) -> str | None:
    """The SGR parameters rich writes for `styles` combined (later colours win), e.g.
    sgr("bold green", "red") == "1;31"; None for a word this module does not know."""
    attributes: set[str] = set()
    colour = ""
    for style in styles:
        for word in style.split():
            if word in _ATTRIBUTES:
                attributes.add(_ATTRIBUTES[word])
            elif word in _COLOURS:
                colour = _COLOURS[word]
            else:
                return None
    return ";".join([*sorted(attributes), *([colour] if colour else [])])


def _simple(value: str) -> bool:
    """Text that rich measures and renders as its length in columns, on one line:
    printable ASCII, no space at either end (rich trims those when it lays a cell out)."""
    return value.isascii() and value.isprintable() and value == value.strip()


def _plain(cell: Cell) -> str:
    return cell if isinstance(cell, str) else "".join(text for text, _ in cell[1])


def _styled(text: str, codes: str) -> str:
    return f"\x1b[{codes}m{text}\x1b[0m" if codes and text else text


def _cell(cell: Cell, width: int, ansi: bool) -> str | None:
    """A cell's text padded to `width`, in rich's runs of styled text on a terminal: one
    run per span, the padding joining the last run when that has the base style alone."""
    plain = _plain(cell)
    padding = " " * (width - len(plain))
    if not ansi or isinstance(cell, str):
        return plain + padding
    base, spans = cell
    runs: list[tuple[str, str]] = []
    for i, (text, style) in enumerate(spans):
        codes = sgr(base, style)
        if codes is None:
            return None
        if i and style == "" and spans[i - 1][1] == "":
            runs[-1] = (runs[-1][0] + text, codes)  # rich has no boundary between them
        else:
            runs.append((text, codes))
    base_codes = sgr(base)
    if base_codes is None:
        return None
    if runs and spans[-1][1] == "":
        runs[-1] = (runs[-1][0] + padding, runs[-1][1])
    else:
        runs.append((padding, base_codes))
    return "".join(_styled(text, codes) for text, codes in runs)


def render(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    width: int,
    *,
    ansi: bool = False,
) -> str | None:
    """The text rich prints for `Table(*headers, title=title)` with `rows` added (a
    styled cell as a Text of that base style with those spans), on a console `width`
    columns wide that draws no styles, or (`ansi`) a colour terminal's; None where rich
    would lay it out differently (a cell wrapped or not simple text, see `_simple`)."""
    texts = [list(headers), *([_plain(cell) for cell in row] for row in rows)]
    if any(len(row) != len(headers) for row in texts):
        return None
    if not all(_simple(text) for row in texts for text in row) or not _simple(title):
        return None
    widths = [max(len(row[i]) for row in texts) for i in range(len(headers))]
    table_width = sum(widths) + 3 * len(widths) + 1
    if table_width > width or len(title) > table_width:
        return None

    def rule(box: tuple[str, str, str, str]) -> str:
        left, horizontal, divider, right = box
        return left + divider.join(horizontal * (w + 2) for w in widths) + right

    def header() -> str:
        left, _, divider, right = _HEADER
        if not ansi:
            padded = [f" {text.ljust(w)} " for text, w in zip(headers, widths, strict=True)]
        else:
            pad = _styled(" ", _ATTRIBUTES[_HEADER_STYLE])
            padded = [
                pad + _styled(text.ljust(w), _ATTRIBUTES[_HEADER_STYLE]) + pad
                for text, w in zip(headers, widths, strict=True)
            ]
        return left + divider.join(padded) + right

    lines = []
    if title:
        excess = table_width - len(title)
        centred = " " * (excess // 2) + title + " " * (excess - excess // 2)
        lines.append(_styled(centred, _ATTRIBUTES[_TITLE_STYLE]) if ansi else centred)
    lines += [rule(_TOP), header(), rule(_HEAD_RULE)]
    left, _, divider, right = _ROW
    for row in rows:
        cells = [_cell(cell, w, ansi) for cell, w in zip(row, widths, strict=True)]
        if any(cell is None for cell in cells):
            return None
        lines.append(left + divider.join(f" {cell} " for cell in cells) + right)
    lines.append(rule(_BOTTOM))
    return "\n".join(lines) + "\n"


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]], width: int
) -> bool:
    """Write the table to stdout as rich would and return True, or return False (nothing
    written) where rich must render it: see the module's docstring."""
    stream = sys.stdout
    mode = output_mode(stream, os.environ)
    if mode is None:
        return False
    text = render(title, headers, rows, width, ansi=mode == ANSI)
    if text is None:
        return False
    stream.write(text)
    stream.flush()
    return True
