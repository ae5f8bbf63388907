"""The model and version pages show protection rules, approvals (who, when, why),
aliases and tags, escaped."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from registry_project import ModelRegistry
from registry_project.ui import create_app, formatting


def test_model_and_version_pages_show_governance(tmp_path: Path) -> None:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as reg:
        reg.register_model("churn", [1], actor="alice")
        reg.register_model("churn", [2], actor="alice")
        reg.protect(
            "churn", min_approvals=2, protected_aliases=["champion"], actor="admin", reason="SOX"
        )
        reg.approve("churn/2", actor="bob", reason="read the <b>evaluation</b>")
        reg.set_alias("churn", "shadow", "churn/2", actor="ops")
        reg.set_tag("churn/2", "team", "<risk>", actor="ops")
        reg.set_tag("churn", "owner", "ml-platform", actor="ops")
        (approval,) = reg.approval_records("churn/2")
        with TestClient(create_app(reg, verify_max_age=0)) as client:
            model = client.get("/models/churn").text
            version = client.get("/models/churn/versions/2").text
            plain = client.get("/models/churn/versions/1").text
            # an alias is a reference in the UI too (audit links take any reference)
            by_alias = client.get("/versions/churn@shadow", follow_redirects=False)
    governance = model[model.index('id="governance"') :]
    assert "2 approvals by others than the registrant to enter production, @champion" in governance
    assert "@shadow</code> &rarr; v2" in governance and "owner=ml-platform" in governance
    approvals = version[version.index('id="approvals"') :]
    assert approvals.startswith('id="approvals">bob')
    assert formatting.when(approval.at, seconds=True) in approvals  # when
    assert "read the &lt;b&gt;evaluation&lt;/b&gt;" in approvals  # why, escaped
    assert "churn@shadow" in version and "team=&lt;risk&gt;" in version
    assert "<risk>" not in version
    assert 'id="approvals"><span class="muted">nobody' in plain
    assert by_alias.status_code == 302
    assert by_alias.headers["location"].endswith("/models/churn/versions/2")


def test_the_search_page(tmp_path: Path) -> None:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as reg:
        reg.register_model("churn", [1], metrics={"auc": 0.75}, actor="alice")
        reg.register_model("churn", [2], metrics={"auc": 0.875}, actor="alice")
        reg.register_model("fraud", [3], metrics={"auc": 0.9375}, actor="bob")
        reg.set_tag("churn/2", "team", "<risk>", actor="ops")
        with TestClient(create_app(reg, verify_max_age=0)) as client:
            found = client.get(
                "/search", params={"q": "metrics.auc > 0.8", "order": "-metrics.auc"}
            )
            tagged = client.get("/search", params={"q": "tags.team = '<risk>'"})
            every = client.get("/search")
            bad = client.get("/search", params={"q": "metrics.auc > 'x' <script>"})
            bad_order = client.get("/search", params={"order": "drop"})
    assert found.status_code == 200
    assert re.findall(r'data-ref="([^"]+)"', found.text) == ["fraud/1", "churn/2"]
    assert re.findall(r'data-ref="([^"]+)"', tagged.text) == ["churn/2"]
    assert len(re.findall(r'data-ref="', every.text)) == 3
    assert bad.status_code == 400 and "invalid filter at character 15" in bad.text
    assert "<script>" not in bad.text and "&lt;script&gt;" in bad.text
    assert "\n" + " " * 14 + "^\n" in bad.text  # the caret under the position
    assert bad_order.status_code == 400 and "order_by" in bad_order.text
