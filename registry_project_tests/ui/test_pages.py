"""Every page of the web UI on a demo registry, through Starlette's TestClient."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from registry_project import ModelRegistry
from registry_project.core.store import schema
from registry_project.ui import create_app
from registry_project_tests.ui.conftest import DAGSTER_URL
from registry_project_tests.ui.fill import Demo


def page(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.text[-2000:]
    assert response.headers["content-type"].startswith("text/html")
    assert "<script" not in response.text.lower()  # no page needs one, and none may run
    return response.text


def table_versions(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-version="(\d+)"', html)]


def dataset_row(html: str, snapshot_id: str) -> str:
    """A datasets-page row, nested schema table included."""
    start = html.index(f'<tr id="dataset-{snapshot_id}"')
    ends = [html.find(end, start + 1) for end in ('<tr id="dataset-', "</tbody>")]
    return html[start : min(e for e in ends if e != -1)]


def row(html: str, marker: str) -> str:
    """The <tr> whose opening tag contains `marker`."""
    found = re.search(rf"<tr[^>]*{re.escape(marker)}[^>]*>.*?</tr>", html, re.S)
    assert found, f"no row with {marker!r}"
    return found.group(0)


def test_models_page_lists_each_model_with_production_latest_and_key_metric(
    client: TestClient,
) -> None:
    html = page(client, "/")
    assert '<a href="/models/churn"><strong>churn</strong></a>' in html
    assert '<a href="/models/fraud"><strong>fraud</strong></a>' in html
    churn = html[html.index("/models/churn") : html.index("/models/fraud")]
    assert 'href="/models/churn/versions/2">v2</a> <span class="badge production">' in churn
    assert 'href="/models/churn/versions/5">v5</a> <span class="badge experiment">' in churn
    # Key metric from production (v2), alphabetically first: accuracy.
    assert "<code>accuracy</code> = <strong>0.86</strong>" in churn
    fraud = html[html.index("/models/fraud") :]
    assert "none" in fraud and "<code>recall</code> = <strong>0.7</strong>" in fraud
    chosen = page(client, "/?metric=auc")
    assert "<code>auc</code> = <strong>0.8439</strong>" in chosen


def test_models_page_reads_all_models_in_one_call(
    demo_registry: ModelRegistry, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The front page asks model_summaries once, not a few lookups per model."""

    def per_model_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("the models page made a per-model lookup")

    for name in ("models", "get_version", "versions", "production_version"):
        monkeypatch.setattr(demo_registry, name, per_model_lookup)
    html = page(client, "/")
    assert "/models/churn" in html and "/models/fraud" in html


def test_model_page_has_versions_chart_and_compare_checkboxes(client: TestClient) -> None:
    html = page(client, "/models/churn")
    assert table_versions(html) == [5, 4, 3, 2, 1]
    assert '<span class="badge production">production</span>' in row(html, 'data-version="2"')
    assert '<span class="badge staging">staging</span>' in row(html, 'data-version="4"')
    v3 = row(html, 'data-version="3"')
    assert "archived" in v3 and "data deleted" in v3
    v5 = row(html, 'data-version="5"')
    assert '<input type="checkbox" name="v" value="5"' in v5
    assert "0.8392" in v5 and "0.849" in v5  # auc and accuracy
    assert "0.3" in v5 and "300" in v5 and "carol" in v5  # params and author
    assert '<form method="get" action="/models/churn/compare" id="compare-form">' in html
    # The chart plots the key metric and rings the production version.
    assert '<svg class="chart"' in html and "accuracy across versions" in html
    assert len(re.findall(r'class="point" data-version="\d+"', html)) == 5
    production_point = re.search(r'data-version="2">(.*?)</a>', html, re.S)
    assert production_point and "production v2" in production_point.group(1)


def test_model_page_filters_by_stage_and_sorts_by_any_metric(client: TestClient) -> None:
    assert table_versions(page(client, "/models/churn?stage=staging")) == [4]
    assert table_versions(page(client, "/models/churn?stage=archived")) == [3, 1]
    assert table_versions(page(client, "/models/churn?sort=-metrics.auc")) == [4, 2, 3, 5, 1]
    assert table_versions(page(client, "/models/churn?sort=metrics.auc")) == [1, 5, 3, 2, 4]
    html = page(client, "/models/churn?sort=-metrics.auc&metric=auc")
    # The header of the sorted column links to the other direction, keeping the chart metric.
    assert 'href="/models/churn?sort=metrics.auc&amp;metric=auc" title="sort by auc">auc ▼' in html
    assert "auc across versions" in html


def test_compare_page_puts_versions_side_by_side_with_deltas_and_lineage(
    client: TestClient, demo: Demo
) -> None:
    html = page(client, "/models/churn/compare?v=4&v=5")
    headers = re.findall(r"<th[^>]*>(?:<a [^>]*>)?([^<]+)", html.split("<tbody>")[0])
    assert headers[-5:] == ["v4", "v5", "production (v2)", "Δ v4", "Δ v5"]
    auc = row(html, 'data-row="metric.auc"')
    assert 'class="differs"' in auc
    assert re.findall(r"<strong>([0-9.]+)</strong>", auc) == ["0.8517", "0.8392", "0.8439"]
    assert "+0.0078" in auc and "-0.0047" in auc
    assert 'class="differs"' in row(html, 'data-row="param.C"')
    assert 'class="differs"' not in row(html, 'data-row="param.penalty"')
    # Their datasets and code, with the Dagster run of v5 linked.
    assert f'href="/datasets#dataset-{demo.customers_id}"' in html
    assert "customers-holdout" in html
    assert f'href="{DAGSTER_URL}/runs/{demo.dagster_run_id}"' in html


def test_version_page_shows_history_metrics_artifact_lineage_and_environment(
    client: TestClient, demo: Demo, demo_registry: ModelRegistry
) -> None:
    html = page(client, "/models/churn/versions/2")
    version = demo_registry.get_version("churn/2")
    history = html[html.index('id="history"') :]
    assert history.index("passed the quality gates") < history.index("auc 0.844 &gt; 0.810")
    metrics = re.findall(r'<table id="metrics">.*?</table>', html, re.S)[0]
    assert "at registration" in metrics and "customers-holdout" in metrics
    assert "0.8339" in metrics and "0.8439" in metrics
    assert f"sha256:{version.artifact_digest}" in html
    assert f"({version.artifact_size:,} bytes)" in html
    assert "3 input columns" in html and "tenure_months" in html
    assert '<svg class="lineage"' in html
    assert f'data-node="dataset:{demo.customers_id}"' in html
    assert "run churn-training" in html and "current production version" in html
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in html
    assert '<th class="mono">max_iter</th><td class="mono wrap">100</td>' in html
    assert "not run by Dagster" in html


def test_version_page_links_the_dagster_run_and_shows_approvals_and_tombstones(
    client: TestClient, demo: Demo
) -> None:
    five = page(client, "/models/churn/versions/5")
    assert f'<a href="{DAGSTER_URL}/runs/{demo.dagster_run_id}" rel="noreferrer">' in five
    assert '<th>approved by</th><td id="approvals">bob <span class="muted">(' in page(
        client, "/models/churn/versions/4"
    )
    three = page(client, "/models/churn/versions/3")
    assert "has since been deleted" in three
    assert "GDPR request 17" in three and "dpo" in three
    tombstone = re.search(rf'data-node="dataset:{demo.legacy_id}".*?</g>', three, re.S)
    assert (
        tombstone and "DELETED" in tombstone.group(0) and "stroke-dasharray" in tombstone.group(0)
    )
    fraud = page(client, "/models/fraud/versions/1")
    assert "Registered without a training run." in fraud and '<svg class="lineage"' in fraud


def test_dagster_link_comes_from_the_environment(
    demo_registry: ModelRegistry, demo: Demo, monkeypatch
) -> None:
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000/")
    html = TestClient(create_app(demo_registry)).get("/models/churn/versions/5").text
    assert f'href="http://127.0.0.1:3000/runs/{demo.dagster_run_id}"' in html
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "javascript:alert(1)")  # never becomes a link
    html = TestClient(create_app(demo_registry)).get("/models/churn/versions/5").text
    assert "javascript:" not in html and "set DAGSTER_WEBSERVER_URL for a link" in html


def test_version_by_id_redirects_to_its_page(client: TestClient, demo_registry) -> None:
    version = demo_registry.get_version("churn/4")
    response = client.get(f"/versions/{version.id}", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/models/churn/versions/4"


def test_datasets_page_shows_snapshots_dependents_references_and_tombstones(
    client: TestClient, demo: Demo
) -> None:
    html = page(client, "/datasets")
    assert "4 snapshots, 3 live" in html
    customers = dataset_row(html, demo.customers_id)
    assert "200" in customers and "4 columns" in customers and "kept" in customers
    for version in range(1, 6):
        assert f'href="/models/churn/versions/{version}">churn/{version}</a>' in customers
    legacy = dataset_row(html, demo.legacy_id)
    assert 'class="tombstone"' in legacy and "GDPR request 17" in legacy and "dpo" in legacy
    assert "churn/3" in legacy  # still listed as a dependent of the tombstone
    events = dataset_row(html, demo.events_id)
    assert "s3://lake/events/2026-11.parquet" in events and "1,250,000" in events
    assert "reference" in events and "until" in events
    only = page(client, "/datasets?name=events")
    assert "1 snapshot, 1 live" in only and demo.customers_id not in only


def test_audit_page_shows_the_log_newest_first_filters_and_verification(
    client: TestClient, demo_registry: ModelRegistry
) -> None:
    html = page(client, "/audit")
    assert '<div class="panel ok" id="verification">' in html and "Hash chain intact" in html
    total = len(demo_registry.audit_log())
    seqs = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', html)]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == total
    promotions = page(client, "/audit?model=churn&action=promote")
    assert re.findall(r'<td class="mono">([a-z:_]+)</td>', promotions) == ["promote", "promote"]
    assert "auc 0.844 &gt; 0.810 on the holdout" in promotions
    bob = page(client, "/audit?actor=bob")
    assert re.findall(r'<td class="mono">([a-z:_]+)</td>', bob) == ["approve"]
    newest = page(client, "/audit?limit=3")
    assert f"newest 3 of {total}" in newest
    assert len(re.findall(r'<td class="num">\d+</td>', newest)) == 3


def _tamper_with_promotion_reason(registry: ModelRegistry) -> None:
    with registry.engine.begin() as connection:
        connection.execute(
            schema.audit_events.update()
            .where(schema.audit_events.c.action == "promote")
            .values(reason="nothing to see")
        )


def test_audit_page_checks_the_chain_and_reads_no_blob(
    client: TestClient, demo_registry: ModelRegistry
) -> None:
    """`?verify=1` must not let a visitor re-hash every blob: the page checks the audit
    chain only, so a corrupt blob goes unnoticed here (`registry verify` finds it), while
    an edited audit event is reported."""
    digest = demo_registry.get_version("churn/2").artifact_digest
    path = Path(demo_registry.blobs.uri_for(digest))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    html = page(client, "/audit?verify=1")
    assert '<div class="panel ok" id="verification">' in html and "registry verify" in html
    assert "blob_corrupt" not in html
    assert not demo_registry.verify().ok  # the full check still sees it
    _tamper_with_promotion_reason(demo_registry)
    tampered = page(client, "/audit?verify=1")
    assert '<div class="panel bad" id="verification">' in tampered
    assert "audit_tampered" in tampered


def test_check_again_is_rate_limited(demo_registry: ModelRegistry, demo: Demo) -> None:
    """Within `verify_min_interval`, "Check again" shows the shared result instead of
    reading the whole log again for whoever asks."""
    app = create_app(demo_registry, verify_max_age=3600, verify_min_interval=3600)
    with TestClient(app) as rate_limited:
        first = page(rate_limited, "/audit")
        assert '<div class="panel ok" id="verification">' in first
        _tamper_with_promotion_reason(demo_registry)
        for _ in range(3):
            again = page(rate_limited, "/audit?verify=1")
            assert '<div class="panel ok" id="verification">' in again
    eager = create_app(demo_registry, verify_max_age=3600, verify_min_interval=0)
    with TestClient(eager) as client:
        page(client, "/audit")
        assert "audit_tampered" in page(client, "/audit?verify=1")


def test_pages_only_read(client: TestClient, demo_registry: ModelRegistry) -> None:
    before = demo_registry.audit_log()
    for path in [
        "/",
        "/models/churn",
        "/models/churn/compare?v=1&v=3",
        "/models/churn/versions/3",
        "/datasets",
        "/audit",
    ]:
        page(client, path)
        assert client.head(path).status_code == 200
    assert demo_registry.audit_log() == before


def test_every_response_carries_a_script_free_content_security_policy(
    client: TestClient,
) -> None:
    for path in ["/", "/models/nope", "/models/churn?sort=bad"]:
        headers = client.get(path).headers
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert "script-src" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_empty_registry(tmp_path: Path) -> None:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as reg:
        client = TestClient(create_app(reg))
        assert "No models yet" in page(client, "/")
        assert "No datasets yet" in page(client, "/datasets")
        assert "No event matches" in page(client, "/audit")


def test_version_page_shows_the_model_card(
    client: TestClient, demo_registry: ModelRegistry
) -> None:
    html = page(client, "/models/churn/versions/2")
    card = html[html.index('id="card"') : html.index("<h2>Datasets</h2>")]
    assert card.count("not stated") == 4  # the two fields, and the same in the Markdown card
    assert "never (<code>registry reproduce churn/2</code>)" in card
    demo_registry.set_model_card_text(
        "churn", intended_use="Rank <retention> offers", limitations="Not for pricing", actor="ana"
    )
    html = page(client, "/models/churn/versions/2")
    card = html[html.index('id="card"') : html.index("<h2>Datasets</h2>")]
    assert "Rank &lt;retention&gt; offers" in card and "Not for pricing" in card
    assert "# Model card: churn/2" in card and "## Stage history" in card
    assert "passed the quality gates" in card


def test_a_production_version_trained_on_deleted_data_is_flagged(
    client: TestClient, demo_registry: ModelRegistry
) -> None:
    flag = "production trained on deleted data"
    assert flag not in page(client, "/") and flag not in page(client, "/models/churn")
    production = demo_registry.get_version("churn@production")
    trained = [d.snapshot for d in demo_registry.lineage(production).datasets if not d.deleted]
    demo_registry.delete_dataset(trained[0], actor="dpo", reason="GDPR request 18", force=True)
    models = page(client, "/")
    churn = models[models.index("/models/churn") : models.index("/models/fraud")]
    assert flag in churn and flag not in models[models.index("/models/fraud") :]
    assert flag in page(client, "/models/churn")
