"""Step-metric curves as inline SVG: one run's loss curve, or several runs overlaid.

Drawn on the server like charts.py (no JavaScript; registry text escaped, the markup
wrapped in `Markup` only here). A curve of any length is drawn with at most a few points
per pixel column: each column keeps its first, lowest, highest and last point, so a
10,000-step curve keeps its spikes and its ends while the page stays small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from registry_project.ui.formatting import number

# Distinguishable colours for overlaid runs (cycled past ten).
PALETTE = (
    "#0969da",
    "#cf222e",
    "#1a7f37",
    "#8250df",
    "#bc4c00",
    "#0550ae",
    "#a40e26",
    "#116329",
    "#6639ba",
    "#953800",
)
_INK = "#1f2328"
_MUTED = "#59636e"
_GRID = "#d0d7de"


@dataclass(frozen=True)
class Curve:
    """One run's points `(step, value)` in step order, and how to label it."""

    label: str
    points: Sequence[tuple[int, float]]
    href: str | None = None


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def thin(points: Sequence[tuple[int, float]], columns: int) -> list[tuple[int, float]]:
    """At most four points per pixel column (first, lowest, highest, last, in step order)
    of a curve whose steps span `columns` columns; shorter curves come back whole."""
    if len(points) <= 4 * columns or columns <= 0:
        return list(points)
    first, last = points[0][0], points[-1][0]
    span = (last - first) or 1
    kept: list[tuple[int, float]] = []
    bucket: list[tuple[int, float]] = []
    current = 0

    def flush() -> None:
        if bucket:
            chosen = {
                0,
                len(bucket) - 1,
                min(range(len(bucket)), key=lambda i: bucket[i][1]),
                max(range(len(bucket)), key=lambda i: bucket[i][1]),
            }
            kept.extend(bucket[i] for i in sorted(chosen))
            bucket.clear()

    for point in points:
        column = min(columns - 1, int((point[0] - first) / span * columns))
        if column != current:
            flush()
            current = column
        bucket.append(point)
    flush()
    return kept


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) inside [low, high], about
    `count` of them."""
    if high <= low:
        return [low]
    rough = (high - low) / (count - 1)
    power = 10 ** math.floor(math.log10(rough))
    step = max(m * power for m in (1, 2, 5) if m * power <= rough)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def curve_chart(
    metric: str, curves: Sequence[Curve], *, width: int = 760, height: int = 300
) -> Markup:
    """`metric` over steps, one line per curve (several runs overlaid), a legend below when
    there is more than one; an empty curve is left out."""
    drawn = [c for c in curves if c.points]
    if not drawn:
        return Markup(f'<p class="muted">No steps of {escape(metric)} were logged.</p>')
    left, top, right = 70, 16, 20
    legend_rows = 0 if len(drawn) == 1 else (len(drawn) + 2) // 3
    bottom = 40 + (12 + 20 * legend_rows if legend_rows else 0)
    plot_w, plot_h = width - left - right, height - top - bottom
    steps = [p[0] for c in drawn for p in (c.points[0], c.points[-1])]
    values = [v for c in drawn for _, v in c.points]
    x_min, x_max = min(steps), max(steps)
    y_min, y_max = min(values), max(values)
    pad = (y_max - y_min) * 0.05 or abs(y_max) * 0.05 or 1.0
    y_min, y_max = y_min - pad, y_max + pad

    def x(step: float) -> float:
        return left + (0.5 if x_max == x_min else (step - x_min) / (x_max - x_min)) * plot_w

    def y(value: float) -> float:
        return top + (y_max - value) / (y_max - y_min) * plot_h

    title = escape(f"{metric} by step")
    parts = [
        f'<svg class="chart curve" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" aria-label="{title}" '
        f'data-metric="{escape(metric)}">',
        f"<title>{title}</title>",
    ]
    for value in _ticks(y_min, y_max):
        at = _fmt(y(value))
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{at}" y2="{at}" stroke="{_GRID}"/>'
            f'<text x="{left - 6}" y="{at}" dy="4" text-anchor="end" font-size="11" '
            f'fill="{_MUTED}">{escape(number(value))}</text>'
        )
    # the last step is always labelled; a round tick too close to it is dropped
    near_end = 0.08 * (x_max - x_min)
    x_ticks = {round(t) for t in _ticks(x_min, x_max) if x_max - t > near_end or t == x_max}
    for step in sorted(x_ticks | {x_min, x_max}):
        at = _fmt(x(step))
        parts.append(
            f'<text x="{at}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11" '
            f'fill="{_MUTED}">{step:,}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 32}" text-anchor="middle" '
        f'font-size="11" fill="{_INK}">step</text>'
    )
    for index, curve in enumerate(drawn):
        color = PALETTE[index % len(PALETTE)]
        shown = thin(curve.points, plot_w)
        coordinates = " ".join(f"{_fmt(x(s))},{_fmt(y(v))}" for s, v in shown)
        last_step, last_value = curve.points[-1]
        label = escape(curve.label)
        parts.append(
            f'<polyline class="run-curve" data-run="{label}" data-points="{len(curve.points)}" '
            f'fill="none" stroke="{color}" stroke-width="1.5" points="{coordinates}">'
            f"<title>{label}: {len(curve.points):,} steps, last {escape(number(last_value))} "
            f"at step {last_step:,}</title></polyline>"
        )
        if legend_rows:
            row, column = divmod(index, 3)
            lx, ly = left + column * (plot_w / 3), top + plot_h + 50 + row * 20
            text = (
                f'<text x="{_fmt(lx + 16)}" y="{_fmt(ly + 4)}" font-size="12" '
                f'fill="{_INK}">{label}</text>'
            )
            if curve.href:
                text = f'<a href="{escape(curve.href)}">{text}</a>'
            parts.append(
                f'<rect x="{_fmt(lx)}" y="{_fmt(ly - 2)}" width="12" height="4" fill="{color}"/>'
                + text
            )
    parts.append("</svg>")
    return Markup("".join(parts))
