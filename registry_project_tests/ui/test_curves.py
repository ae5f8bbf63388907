"""Step-metric curves (ui/curves.py): long curves thinned without losing their shape,
text escaped."""

from __future__ import annotations

import math
import re

from registry_project.ui.curves import Curve, curve_chart, thin


def test_a_long_curve_is_thinned_keeping_its_ends_and_extremes() -> None:
    points = [(s, math.exp(-s / 2000) + (5.0 if s == 6543 else 0.0)) for s in range(10_000)]
    kept = thin(points, 600)
    assert len(kept) <= 4 * 600
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert (6543, points[6543][1]) in kept  # the spike survives
    assert min(v for _, v in kept) == min(v for _, v in points)
    assert [s for s, _ in kept] == sorted(s for s, _ in kept)
    short = points[:100]
    assert thin(short, 600) == short


def test_chart_draws_one_line_per_run_and_escapes_labels() -> None:
    curves = [
        Curve("<script>a</script>", [(0, 1.0), (1, 0.5)], "/runs/a"),
        Curve("b", [(0, 0.9), (1, 0.4), (2, 0.3)], "/runs/b"),
        Curve("empty", []),
    ]
    svg = str(curve_chart("loss", curves))
    assert len(re.findall(r"<polyline", svg)) == 2
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'href="/runs/b"' in svg  # the legend links to each run
    assert "No steps" in str(curve_chart("loss", [Curve("x", [])]))
