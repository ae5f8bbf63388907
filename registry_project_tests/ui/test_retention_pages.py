"""The version page and the datasets page show each item's retention: the rule, whether it
is due, what keeps it and until when, and a retired artifact's tombstone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from starlette.testclient import TestClient

from registry_project import ModelRegistry
from registry_project.ui import create_app
from registry_project_tests.core.test_retention import backdate_version


def _cell(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start : page.index("</td>", start)]


def _row(page: str, snapshot_id: str) -> str:
    """The datasets table's row of one snapshot (rows hold nested tables)."""
    start = page.index(f'id="dataset-{snapshot_id}"')
    ends = [
        i for i in (page.find('<tr id="dataset-', start + 1), page.find("</tbody>", start)) if i > 0
    ]
    return page[start : min(ends)]


def test_version_and_dataset_pages_show_retention(tmp_path: Path) -> None:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as reg:
        past = datetime.now(UTC) - timedelta(days=1)
        expired = reg.snapshot_dataset("customers", pd.DataFrame({"a": [1]}), expires_at=past)
        kept = reg.snapshot_dataset("customers", pd.DataFrame({"a": [2]}))
        first = reg.register_model("churn", [1], actor="alice")
        second = reg.register_model("churn", [2], actor="alice")
        third = reg.register_model("churn", [3], actor="alice")
        for version in (first, second):
            backdate_version(reg, version.id)
        reg.promote(second, actor="alice", reason="best")
        reg.set_retention(dataset="customers", keep_days=30, reason="GDPR <art. 5>")
        reg.set_retention(model="churn", keep_days=30, reason="cost")
        with TestClient(create_app(reg, verify_max_age=0)) as client:
            due = client.get("/models/churn/versions/1").text
            production = client.get("/models/churn/versions/2").text
            young = client.get("/models/churn/versions/3").text
            datasets = client.get("/datasets").text
            reg.apply_retention(actor="sweeper")
            retired = client.get("/models/churn/versions/1").text
    assert '<span class="flag">due</span> experiment, older than 30 days' in _cell(
        due, 'id="retention"'
    )
    assert "rule: model churn: artifacts of experiment/archived versions kept 30 days" in due
    assert "kept: in production" in _cell(production, 'id="retention"')
    assert "kept until" in _cell(young, 'id="retention"') and third.ref == "churn/3"
    row = _row(datasets, expired.id)
    assert '<span class="flag">due</span> its expires_at' in row
    kept_row = _row(datasets, kept.id)
    assert "kept until" in kept_row and "rule: dataset customers: keep 30 days" in kept_row
    cell = _cell(retired, 'id="retention"')
    assert '<span class="flag">retired</span> retired on' in cell and "by sweeper" in cell
