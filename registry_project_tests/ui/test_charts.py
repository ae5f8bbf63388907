"""The server-drawn SVG: well-formed, escaped, and right about production."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from registry_project import ModelRegistry
from registry_project.ui.charts import MetricPoint, lineage_graph, metric_chart
from registry_project_tests.ui.fill import Demo

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # raises if the markup is not well-formed XML


def points(*values: tuple[int, float, str]) -> list[MetricPoint]:
    return [MetricPoint(v, x, stage, f"/models/m/versions/{v}") for v, x, stage in values]


def test_metric_chart_marks_production_and_links_every_point() -> None:
    svg = parse(
        metric_chart(
            "auc",
            points((3, 0.84, "experiment"), (1, 0.81, "archived"), (2, 0.845, "production")),
        )
    )
    links = svg.findall(f"{SVG}a")
    assert [a.get("data-version") for a in links] == ["1", "2", "3"]  # in version order
    assert [a.get("href") for a in links][1] == "/models/m/versions/2"
    production = links[1]
    assert len(production.findall(f"{SVG}circle")) == 2  # the point and its ring
    assert production.find(f"{SVG}text").text == "production v2"
    assert all(len(a.findall(f"{SVG}circle")) == 1 for a in (links[0], links[2]))
    assert "v2 (production): auc = 0.845" in production.find(f"{SVG}title").text
    line = svg.find(f"{SVG}polyline").get("points").split()
    assert len(line) == 3
    # Higher values are drawn higher up (smaller y).
    ys = {v: float(p.split(",")[1]) for v, p in zip([1, 2, 3], line, strict=True)}
    assert ys[2] < ys[3] < ys[1]


@pytest.mark.parametrize(
    "values",
    [
        [(1, 0.5, "experiment")],
        [(1, 0.5, "experiment"), (2, 0.5, "experiment")],
        [(1, 0.0, "experiment"), (2, 0.0, "production")],
        [(1, -3e9, "experiment"), (40, 7e9, "production")],
    ],
)
def test_metric_chart_draws_degenerate_ranges(values: list[tuple[int, float, str]]) -> None:
    svg = parse(metric_chart("loss", points(*values)))
    coordinates = re.findall(r"-?\d+(?:\.\d+)?", svg.find(f"{SVG}polyline").get("points"))
    assert all(0 <= float(c) <= 760 for c in coordinates)


def test_metric_chart_shows_many_versions_with_a_readable_axis() -> None:
    svg = parse(metric_chart("auc", points(*[(v, v / 100, "experiment") for v in range(1, 61)])))
    labels = [t.text for t in svg.findall(f"{SVG}text") if re.fullmatch(r"v\d+", t.text or "")]
    assert labels[0] == "v1" and labels[-1] == "v60" and len(labels) <= 12


def test_metric_chart_escapes_its_text_and_says_when_empty() -> None:
    hostile = "<b>auc</b>"
    svg = str(metric_chart(hostile, points((1, 0.5, "experiment"))))
    assert "<b>" not in svg and "&lt;b&gt;auc&lt;/b&gt;" in svg
    assert "has the metric" in str(metric_chart("auc", []))


def test_lineage_graph_draws_datasets_run_version_and_production(
    demo_registry: ModelRegistry, demo: Demo
) -> None:
    lineage = demo_registry.lineage("churn/3")
    svg = parse(
        lineage_graph(
            lineage,
            dataset_href=lambda snapshot_id: f"/datasets#dataset-{snapshot_id}",
            version_href="/models/churn/versions/3",
            was_in_production=False,
        )
    )
    nodes = {g.get("data-node"): g for g in svg.iter(f"{SVG}g")}
    keys = set(nodes)
    assert {
        f"dataset:{demo.customers_id}",
        f"dataset:{demo.holdout_id}",
        f"dataset:{demo.legacy_id}",
        f"run:{lineage.run.id}",
        f"version:{lineage.version.id}",
        "production",
    } == keys
    tombstone = nodes[f"dataset:{demo.legacy_id}"].find(f"{SVG}rect")
    assert tombstone.get("stroke-dasharray") and tombstone.get("stroke") == "#cf222e"
    assert nodes["production"].get("opacity")  # not in production: faded
    # 3 trained-on edges (customers, legacy, holdout as test data), the holdout's
    # evaluated-on edge, run -> version and version -> production.
    assert len(svg.findall(f"{SVG}path")) == 6


def test_lineage_graph_of_a_version_without_a_run(demo_registry: ModelRegistry, demo: Demo) -> None:
    svg = parse(
        lineage_graph(
            demo_registry.lineage("fraud/1"),
            dataset_href=str,
            version_href="/models/fraud/versions/1",
        )
    )
    assert [g.get("data-node").split(":")[0] for g in svg.iter(f"{SVG}g")] == [
        "version",
        "production",
    ]
