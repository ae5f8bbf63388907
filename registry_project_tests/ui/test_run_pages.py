"""The tracking pages through Starlette's TestClient: experiments, an experiment's runs
(filter, order, compare with overlaid curves), a run (params, tags, metrics, curves,
artifacts inline) and verified artifact downloads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from registry_project import ModelRegistry
from registry_project.ui import create_app
from registry_project_tests.corruption import damage_blob
from registry_project_tests.ui.tracking_fill import CSV, EXPERIMENT, Sweep, fill_sweep


@pytest.fixture
def tracked(tmp_path: Path) -> Iterator[tuple[ModelRegistry, Sweep, TestClient]]:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "art")) as reg:
        sweep = fill_sweep(reg)
        with TestClient(create_app(reg)) as client:
            yield reg, sweep, client


def polylines(html: str) -> list[str]:
    return re.findall(r'<polyline class="run-curve"[^>]*>', html)


def test_experiments_page_lists_the_experiment_with_its_run_count(tracked) -> None:
    _, sweep, client = tracked
    page = client.get("/experiments")
    assert page.status_code == 200
    assert f'href="/experiments/{EXPERIMENT}"' in page.text
    row = page.text.split(f'href="/experiments/{EXPERIMENT}"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">3</td>' in row
    assert sweep.run_ids[-1][:8] in row  # the latest run


def test_runs_page_filters_orders_and_offers_compare(tracked) -> None:
    _, sweep, client = tracked
    page = client.get(f"/experiments/{EXPERIMENT}", params={"order": "-metrics.val_auc"})
    assert page.status_code == 200
    listed = re.findall(r'<tr data-run="([0-9a-f-]{36})">', page.text)
    assert listed == list(reversed(sweep.run_ids))  # val_auc rises with each trial
    assert page.text.count('type="checkbox" name="run"') == 3
    assert 'action="/experiments/churn-sweep/compare"' in page.text
    assert '<th class="mono">lr</th>' in page.text  # lr differs; layers does not
    assert '<th class="mono">layers</th>' not in page.text

    filtered = client.get(
        f"/experiments/{EXPERIMENT}",
        params={"filter": "params.lr < 0.2 and metrics.val_auc > 0.83"},
    )
    assert re.findall(r'<tr data-run="([0-9a-f-]{36})">', filtered.text) == [sweep.run_ids[2]]

    bad = client.get(f"/experiments/{EXPERIMENT}", params={"filter": "metrics.val_auc >> 1"})
    assert bad.status_code == 400 and "Bad request" in bad.text
    assert client.get("/experiments/no-such-experiment").status_code == 404


def test_run_page_shows_params_tags_metrics_curve_and_artifacts(tracked) -> None:
    _, sweep, client = tracked
    run_id = sweep.run_ids[2]
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="params"' in html and "lr" in html and "0.03" in html
    assert "team" in html and "risk" in html
    assert "val_auc" in html and "0.84" in html
    (line,) = polylines(html)
    assert 'data-points="50"' in line
    # val_auc has one point: a number, not a curve
    assert 'id="curve-loss"' in html and 'id="curve-val_auc"' not in html
    for name in ("curves/confusion.png", "feature_importances.csv", "config.json", "model"):
        assert f'href="/runs/{run_id}/artifacts/{name}"' in html
    assert f'<img src="/runs/{run_id}/artifacts/curves/confusion.png"' in html
    assert '<td class="mono">tenure_months</td><td class="mono">0.41</td>' in html  # CSV inline
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>not bold</b>" not in html  # escaped


def test_artifact_downloads_are_byte_identical_and_damage_is_refused(tracked) -> None:
    reg, sweep, client = tracked
    run_id = sweep.run_ids[2]
    image = client.get(f"/runs/{run_id}/artifacts/curves/confusion.png")
    assert image.status_code == 200 and image.content == sweep.png
    assert image.headers["content-type"] == "image/png"
    table = client.get(f"/runs/{run_id}/artifacts/feature_importances.csv")
    assert table.content == CSV and table.headers["content-type"].startswith("text/csv")
    model = client.get(f"/runs/{run_id}/artifacts/model")
    assert model.status_code == 200 and model.headers["content-disposition"].startswith(
        "attachment"
    )
    assert client.get(f"/runs/{run_id}/artifacts/missing.txt").status_code == 404

    digest = next(
        a.digest for a in reg.run_artifacts(run_id) if a.name == "feature_importances.csv"
    )
    damage_blob(reg, digest)
    refused = client.get(f"/runs/{run_id}/artifacts/feature_importances.csv")
    assert refused.status_code == 500 and "Integrity check failed" in refused.text
    assert CSV not in refused.content
    # the run page still renders, naming the damage instead of showing the table
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "tenure_months" not in page.text
    assert client.get(f"/runs/{run_id}/artifacts/curves/confusion.png").content == sweep.png


def test_an_artifact_never_runs_in_the_uis_origin(tracked) -> None:
    """A run may log anything: HTML or SVG with a script is never run by the browser as a
    page of the registry UI (HTML is a download; every artifact response forbids scripts
    and type sniffing), while an SVG chart still shows inline."""
    reg, sweep, client = tracked
    run_id = sweep.run_ids[2]
    script = b"<script>document.title = 'owned'</script>"
    reg.log_run_artifact(run_id, b"<html><body>" + script + b"</body></html>", name="x.html")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg">' + script + b"</svg>"
    reg.log_run_artifact(run_id, svg, name="chart.svg")

    html = client.get(f"/runs/{run_id}/artifacts/x.html")
    assert html.status_code == 200 and html.headers["content-disposition"].startswith("attachment")
    drawn = client.get(f"/runs/{run_id}/artifacts/chart.svg")
    assert drawn.headers["content-type"].startswith("image/svg+xml")
    assert drawn.headers["content-disposition"].startswith("inline")
    for response in (html, drawn, client.get(f"/runs/{run_id}/artifacts/curves/confusion.png")):
        policy = response.headers["content-security-policy"]
        assert policy.startswith("sandbox;") and "script-src" not in policy
        assert "default-src 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    page = client.get(f"/runs/{run_id}")
    assert f'src="/runs/{run_id}/artifacts/chart.svg"' in page.text  # shown as an image
    assert "<script>document.title" not in page.text


def test_compare_overlays_the_selected_runs_curves(tracked) -> None:
    _, sweep, client = tracked
    chosen = sweep.run_ids[:2]
    page = client.get(f"/experiments/{EXPERIMENT}/compare", params=[("run", i) for i in chosen])
    assert page.status_code == 200
    lines = polylines(page.text)
    assert len(lines) == 2  # both runs on one loss chart
    assert all(f"{i[:8]}" in page.text for i in chosen)
    differing = re.findall(r'<tr class="differs" data-row="([^"]+)"', page.text)
    assert "param.lr" in differing and "param.layers" not in differing
    assert (
        client.get(f"/experiments/{EXPERIMENT}/compare", params={"run": chosen[0]}).status_code
        == 400
    )
    unknown = [("run", chosen[0]), ("run", "00000000-0000-0000-0000-000000000000")]
    assert client.get(f"/experiments/{EXPERIMENT}/compare", params=unknown).status_code == 400


def test_unknown_or_malformed_runs_are_404(tracked) -> None:
    _, _, client = tracked
    assert client.get("/runs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/runs/not-a-run").status_code == 404


def test_a_version_page_links_to_its_run_page(tracked) -> None:
    reg, sweep, client = tracked
    version = reg.register_model("sweep-model", run=sweep.run_ids[2], artifact="model")
    page = client.get(f"/models/sweep-model/versions/{version.version}")
    assert page.status_code == 200
    assert f'<a href="/runs/{sweep.run_ids[2]}">' in page.text
