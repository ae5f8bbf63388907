"""A horizontal bar chart as a standalone SVG document, with no plotting library: the
autologged feature importances and coefficients get a chart on every installation (the
registry does not depend on matplotlib).

Labels are XML-escaped (a feature name is whatever the data's columns were called);
negative values (coefficients) grow left of a zero line.
"""

from __future__ import annotations

from collections.abc import Sequence

ROW_HEIGHT = 18
LABEL_WIDTH = 220
BAR_WIDTH = 360
MARGIN = 12


def escape(text: str) -> str:
    """&, <, > and both quotes as entities (& first): safe in text and in a quoted
    attribute (the title is also the aria-label). Not `xml.sax.saxutils`: it loads
    urllib.request, about 30 ms of every command's start-up, since registering a model
    can autolog a chart (issue #18)."""
    return (
        text.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def horizontal_bars(rows: Sequence[tuple[str, float]], title: str) -> bytes:
    """`rows` (label, value), drawn top to bottom in the order given."""
    values = [value for _, value in rows]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    zero_x = LABEL_WIDTH + MARGIN + BAR_WIDTH * (0.0 - low) / span
    height = MARGIN * 3 + ROW_HEIGHT * (len(rows) + 1)
    width = LABEL_WIDTH + BAR_WIDTH + MARGIN * 3 + 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11" role="img" aria-label="{escape(title)}">',
        f'<text x="{MARGIN}" y="{MARGIN + 11}" font-weight="bold">{escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(rows):
        y = MARGIN * 2 + ROW_HEIGHT * (index + 1)
        x_end = LABEL_WIDTH + MARGIN + BAR_WIDTH * (value - low) / span
        left, right = sorted((zero_x, x_end))
        shown = label if len(label) <= 34 else label[:33] + "…"
        parts += [
            f'<text x="{LABEL_WIDTH}" y="{y + 12}" text-anchor="end">{escape(shown)}</text>',
            f'<rect x="{left:.1f}" y="{y + 2}" width="{max(right - left, 0.5):.1f}" '
            f'height="{ROW_HEIGHT - 4}" fill="#4c78a8"/>',
            f'<text x="{right + 4:.1f}" y="{y + 12}">{value:.4g}</text>',
        ]
    top, bottom = MARGIN * 2 + ROW_HEIGHT, height - MARGIN
    parts.append(
        f'<line x1="{zero_x:.1f}" y1="{top}" x2="{zero_x:.1f}" y2="{bottom}" stroke="#333"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts).encode()
