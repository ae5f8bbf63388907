"""Inline SVG drawn on the server: a metric across versions, and a version's lineage graph.

No JavaScript and no build step: the markup is a string. Every piece of text that came
from the registry goes through `escape`, and the result is wrapped in `Markup` only here,
so templates can insert it with autoescape on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from registry_project.core.entities import Lineage, Stage
from registry_project.ui.formatting import number, short, when

# Keyed by Stage, which equals its value (lookups by text work); tests check that every
# stage of the machine (core/stages.py) has a colour.
STAGE_COLORS = {
    Stage.PRODUCTION: "#1a7f37",
    Stage.STAGING: "#9a6700",
    Stage.EXPERIMENT: "#0969da",
    Stage.ARCHIVED: "#8c959f",
}
_MUTED = "#8c959f"
_INK = "#1f2328"
_GRID = "#d0d7de"


def _fmt(value: float) -> str:
    """Coordinates with two decimals: short markup, no visible rounding."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# --- metric across versions -------------------------------------------------------------


@dataclass(frozen=True)
class MetricPoint:
    version: int
    value: float
    stage: str
    href: str


@dataclass(frozen=True)
class _Frame:
    """Maps (version, value) to pixels inside the plot area."""

    left: float
    top: float
    width: float
    height: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    def x(self, version: float) -> float:
        span = self.x_max - self.x_min
        offset = 0.5 if span == 0 else (version - self.x_min) / span
        return self.left + offset * self.width

    def y(self, value: float) -> float:
        return self.top + (self.y_max - value) / (self.y_max - self.y_min) * self.height


def _value_range(values: Sequence[float]) -> tuple[float, float]:
    """The y range with a margin, never empty (one value, or all equal, still draws)."""
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def _x_labels(versions: Sequence[int], most: int = 12) -> list[int]:
    """At most `most` version labels, evenly picked, always the first and the last."""
    if len(versions) <= most:
        return list(versions)
    step = (len(versions) - 1) / (most - 1)
    return sorted({versions[round(i * step)] for i in range(most)})


def metric_chart(
    metric: str, points: Sequence[MetricPoint], *, width: int = 760, height: int = 280
) -> Markup:
    """A line of `metric` over version numbers; each point links to its version, coloured
    by stage; the production version is ringed and labelled."""
    title = escape(f"{metric} across versions")
    if not points:
        return Markup(
            f'<p class="muted">No version of this model has the metric {escape(metric)}.</p>'
        )
    points = sorted(points, key=lambda p: p.version)
    y_min, y_max = _value_range([p.value for p in points])
    frame = _Frame(
        64,
        20,
        width - 64 - 24,
        height - 20 - 44,
        points[0].version,
        points[-1].version,
        y_min,
        y_max,
    )
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" aria-label="{title}">',
        f"<title>{title}</title>",
    ]
    for i in range(5):
        value = y_min + (y_max - y_min) * i / 4
        y = _fmt(frame.y(value))
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.left + frame.width}" y1="{y}" y2="{y}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            f'<text x="{frame.left - 8}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="11" fill="{_MUTED}">{escape(number(value))}</text>'
        )
    baseline = _fmt(frame.top + frame.height + 18)
    for version in _x_labels([p.version for p in points]):
        parts.append(
            f'<text x="{_fmt(frame.x(version))}" y="{baseline}" text-anchor="middle" '
            f'font-size="11" fill="{_MUTED}">v{version}</text>'
        )
    parts.append(
        f'<text x="{frame.left + frame.width / 2}" y="{height - 4}" text-anchor="middle" '
        f'font-size="11" fill="{_MUTED}">version</text>'
    )
    line = " ".join(f"{_fmt(frame.x(p.version))},{_fmt(frame.y(p.value))}" for p in points)
    parts.append(
        f'<polyline points="{line}" fill="none" stroke="{_INK}" stroke-opacity="0.45" '
        'stroke-width="1.5"/>'
    )
    for point in points:
        parts.append(_point(metric, point, frame))
    parts.append("</svg>")
    return Markup("".join(parts))


def _point(metric: str, point: MetricPoint, frame: _Frame) -> str:
    x, y = _fmt(frame.x(point.version)), _fmt(frame.y(point.value))
    color = STAGE_COLORS.get(point.stage, _INK)
    tip = escape(f"v{point.version} ({point.stage}): {metric} = {number(point.value)}")
    marker = f'<circle cx="{x}" cy="{y}" r="4.5" fill="{color}"/>'
    if point.stage == Stage.PRODUCTION.value:
        # The production version is the baseline every candidate is judged against.
        marker += (
            f'<circle cx="{x}" cy="{y}" r="9" fill="none" stroke="{color}" stroke-width="2"/>'
            f'<text x="{x}" y="{_fmt(frame.y(point.value) - 14)}" text-anchor="middle" '
            f'font-size="11" font-weight="600" fill="{color}">production '
            f"v{point.version}</text>"
        )
    return (
        f'<a href="{escape(point.href)}" class="point" data-version="{point.version}">'
        f"<title>{tip}</title>{marker}</a>"
    )


# --- lineage graph ----------------------------------------------------------------------

_NODE_W, _NODE_H = 200, 46
_COL_GAP = 70
_ROW_GAP = 16


@dataclass(frozen=True)
class _Node:
    key: str
    x: float
    y: float
    title: str
    subtitle: str
    color: str
    href: str | None = None
    dashed: bool = False
    faded: bool = False

    @property
    def middle_y(self) -> float:
        return self.y + _NODE_H / 2


def _node_svg(node: _Node) -> str:
    dash = ' stroke-dasharray="5 4"' if node.dashed else ""
    opacity = ' opacity="0.55"' if node.faded else ""
    body = (
        f'<g class="node" data-node="{escape(node.key)}"{opacity}>'
        f"<title>{escape(node.title)}: {escape(node.subtitle)}</title>"
        f'<rect x="{node.x}" y="{node.y}" width="{_NODE_W}" height="{_NODE_H}" rx="7" '
        f'fill="#ffffff" stroke="{node.color}" stroke-width="2"{dash}/>'
        f'<text x="{node.x + 10}" y="{node.y + 19}" font-size="13" font-weight="600" '
        f'fill="{_INK}">{escape(_clip(node.title, 26))}</text>'
        f'<text x="{node.x + 10}" y="{node.y + 36}" font-size="11" fill="{node.color}">'
        f"{escape(_clip(node.subtitle, 32))}</text></g>"
    )
    if node.href:
        return f'<a href="{escape(node.href)}">{body}</a>'
    return body


def _edge_svg(start: _Node, end: _Node, label: str = "", dashed: bool = False) -> str:
    """A left-to-right curve from `start`'s right side to `end`'s left side."""
    x1, y1 = start.x + _NODE_W, start.middle_y
    x2, y2 = end.x - 4, end.middle_y
    bend = (x2 - x1) / 2
    dash = ' stroke-dasharray="4 4"' if dashed else ""
    path = (
        f'<path d="M{_fmt(x1)},{_fmt(y1)} C{_fmt(x1 + bend)},{_fmt(y1)} '
        f'{_fmt(x2 - bend)},{_fmt(y2)} {_fmt(x2)},{_fmt(y2)}" fill="none" stroke="{_MUTED}" '
        f'stroke-width="1.5" marker-end="url(#lineage-arrow)"{dash}/>'
    )
    if label:
        path += (
            f'<text x="{_fmt((x1 + x2) / 2)}" y="{_fmt((y1 + y2) / 2 - 6)}" font-size="10" '
            f'text-anchor="middle" fill="{_MUTED}">{escape(label)}</text>'
        )
    return path


def _label(x: float, y: float, text: str) -> str:
    return (
        f'<text x="{_fmt(x)}" y="{_fmt(y)}" font-size="10" text-anchor="middle" '
        f'fill="{_MUTED}">{escape(text)}</text>'
    )


def _over_the_top_edge(start: _Node, end: _Node, lane_y: float) -> str:
    """A dashed edge from a dataset over the run node into the top of the version node:
    evaluation data skips the run, and a straight curve would cross it."""
    x1, y1 = start.x + _NODE_W, start.middle_y
    x2, y2 = end.x + _NODE_W / 2, end.y - 4
    turn = 24
    return (
        f'<path d="M{_fmt(x1)},{_fmt(y1)} C{_fmt(x1 + turn)},{_fmt(y1)} {_fmt(x1 + turn)},'
        f"{_fmt(lane_y)} {_fmt(x1 + 2 * turn)},{_fmt(lane_y)} L{_fmt(x2 - turn)},{_fmt(lane_y)} "
        f'C{_fmt(x2)},{_fmt(lane_y)} {_fmt(x2)},{_fmt(lane_y)} {_fmt(x2)},{_fmt(y2)}" '
        f'fill="none" stroke="{_MUTED}" stroke-width="1.5" stroke-dasharray="4 4" '
        'marker-end="url(#lineage-arrow)"/>'
    )


def _dataset_subtitle(lineage: Lineage, snapshot_id: str) -> tuple[str, bool]:
    item = next(d for d in lineage.datasets if d.snapshot.id == snapshot_id)
    snap = item.snapshot
    if snap.deleted:
        return f"DELETED {when(snap.deleted_at)}", True
    rows = f"{snap.row_count:,} rows" if snap.row_count is not None else "rows unknown"
    pin = f"sha256:{short(snap.digest, 8)}" if snap.digest else "reference"
    return f"{pin} · {rows}", False


def lineage_graph(
    lineage: Lineage,
    *,
    dataset_href: Callable[[str], str],
    version_href: str,
    run_href: str | None = None,
    was_in_production: bool = False,
) -> Markup:
    """Dataset snapshots -> training run -> this version -> production, left to right.

    Evaluation datasets point straight at the version; deleted snapshots are drawn as
    dashed red tombstones; the production node is solid only while this version is the
    production version.
    """
    mv = lineage.version
    # A snapshot used for training and for evaluation is one node with two edges.
    relations: dict[str, set[str]] = {}
    roles: dict[str, set[str]] = {}
    for item in lineage.datasets:
        relations.setdefault(item.snapshot.id, set()).add(item.relation)
        if item.role:
            roles.setdefault(item.snapshot.id, set()).add(item.role)
    names = {item.snapshot.id: item.snapshot.name for item in lineage.datasets}

    rows = max(len(relations), 1)
    evaluated = [d for d, found in relations.items() if "evaluated" in found]
    # Room above the nodes for the lane that evaluation edges take over the run node.
    top = 44 if evaluated else 20
    height = top + rows * (_NODE_H + _ROW_GAP) - _ROW_GAP + 20
    middle = top + (rows * (_NODE_H + _ROW_GAP) - _ROW_GAP) / 2 - _NODE_H / 2
    columns = [20 + i * (_NODE_W + _COL_GAP) for i in range(4)]

    dataset_nodes: dict[str, _Node] = {}
    for index, snapshot_id in enumerate(relations):
        subtitle, deleted = _dataset_subtitle(lineage, snapshot_id)
        role = "/".join(sorted(roles.get(snapshot_id, set())))
        dataset_nodes[snapshot_id] = _Node(
            key=f"dataset:{snapshot_id}",
            x=columns[0],
            y=top + index * (_NODE_H + _ROW_GAP),
            title=names[snapshot_id] + (f" ({role})" if role else ""),
            subtitle=subtitle,
            color="#cf222e" if deleted else "#0969da",
            href=dataset_href(snapshot_id),
            dashed=deleted,
        )
    run = lineage.run
    run_node = (
        _Node(
            key=f"run:{run.id}",
            x=columns[1],
            y=middle,
            title=f"run {run.name}",
            subtitle=f"{run.status.value} · {when(run.started_at)}",
            color="#8250df",
            href=run_href,
        )
        if run is not None
        else None
    )
    version_node = _Node(
        key=f"version:{mv.id}",
        x=columns[2],
        y=middle,
        title=mv.ref,
        subtitle=f"{mv.stage.value} · {mv.flavor}",
        color=STAGE_COLORS.get(mv.stage.value, _INK),
        href=version_href,
    )
    in_production = mv.stage is Stage.PRODUCTION
    production_subtitle = (
        "current production version"
        if in_production
        else "was production earlier"
        if was_in_production
        else f"not promoted (now {mv.stage.value})"
    )
    production_node = _Node(
        key="production",
        x=columns[3],
        y=middle,
        title=f"{mv.model_name}@production",
        subtitle=production_subtitle,
        color=STAGE_COLORS["production"] if in_production else _MUTED,
        dashed=not in_production,
        faded=not in_production,
    )

    edges = []
    trained = [n for d, n in dataset_nodes.items() if "trained" in relations[d]]
    for node in trained:
        if run_node is not None:
            edges.append(_edge_svg(node, run_node))
    if trained and run_node is not None:
        edges.append(_label(run_node.x - _COL_GAP / 2, run_node.y - 6, "trained on"))
    for snapshot_id in evaluated:
        edges.append(_over_the_top_edge(dataset_nodes[snapshot_id], version_node, 14))
    if evaluated:
        edges.append(_label(columns[1] + _NODE_W / 2, 10, "evaluated on"))
    if run_node is not None:
        edges.append(_edge_svg(run_node, version_node, "registered"))
    edges.append(_edge_svg(version_node, production_node, "promoted", dashed=not in_production))

    width = columns[3] + _NODE_W + 20
    title = escape(f"lineage of {mv.ref}")
    nodes = [*dataset_nodes.values(), *([run_node] if run_node else []), version_node]
    return Markup(
        f'<svg class="lineage" role="img" viewBox="0 0 {width} {_fmt(height)}" '
        f'width="{width}" height="{_fmt(height)}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{title}"><title>{title}</title>'
        '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{_MUTED}"/></marker></defs>'
        + "".join(edges)
        + "".join(_node_svg(node) for node in [*nodes, production_node])
        + "</svg>"
    )
