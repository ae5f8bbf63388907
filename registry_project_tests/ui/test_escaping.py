"""Stored and requested text is shown as text, never as markup.

Model, dataset and run names are restricted to [A-Za-z0-9._-], so hostile text enters
through what is free-form: params values, descriptions, reasons, actors, run errors,
reference URIs, Dagster run ids, and the request's own path and query.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from starlette.testclient import TestClient

from registry_project import ModelRegistry
from registry_project.ui import create_app


def hostile(where: str) -> str:
    return f"<script>{where}</script><img src=x onerror=alert('{where}')>"


def escaped(where: str) -> str:
    return f"&lt;script&gt;{where}&lt;/script&gt;&lt;img src=x onerror=alert(&#39;{where}&#39;)&gt;"


@pytest.fixture
def hostile_client(tmp_path: Path) -> Iterator[TestClient]:
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as reg:
        data = reg.snapshot_dataset("data", pd.DataFrame({"x": [1, 2, 3]}))
        gone = reg.snapshot_dataset("gone", pd.DataFrame({"y": [1]}))
        reg.reference_dataset(
            "lake", uri=f"s3://bucket/{hostile('uri')}", etag=hostile("etag"), actor="loader"
        )
        with reg.start_run(
            "train", params={"note": hostile("param"), hostile("key"): 1}, inputs=[data, gone]
        ) as run:
            reg.register_model(
                "m",
                {"w": 1},
                run=run,
                metrics={"auc": 0.5},
                description=hostile("description"),
                actor=hostile("actor"),
                dagster_run_id=hostile("dagster"),
            )
        with pytest.raises(RuntimeError), reg.start_run("train", inputs=[data]) as failed:
            reg.register_model("m", {"w": 2}, run=failed, metrics={"auc": 0.6}, actor="carol")
            raise RuntimeError(hostile("run-error"))
        reg.promote("m/1", actor="alice", reason=hostile("reason"))
        reg.approve("m/1", actor=hostile("approver"), reason="ok")
        reg.delete_dataset(gone, actor="dpo", reason=hostile("deletion"), force=True)
        yield TestClient(create_app(reg, dagster_url="http://dagster.example"))


@pytest.mark.parametrize(
    ("path", "markers"),
    [
        ("/", ["actor"]),
        ("/models/m", ["param", "key", "actor"]),
        ("/models/m/compare?v=1&v=2", ["param", "key", "actor"]),
        ("/models/m/versions/1", ["param", "key", "description", "actor", "approver", "dagster"]),
        ("/models/m/versions/1", ["reason", "deletion"]),
        ("/models/m/versions/2", ["run-error"]),
        ("/datasets", ["uri", "etag", "deletion"]),
        ("/audit", ["reason", "actor", "approver", "deletion", "uri", "etag"]),
        (f"/audit?actor={hostile('query')}", ["query"]),
        (f"/?metric={hostile('metric')}", ["metric"]),
    ],
)
def test_hostile_text_is_escaped(hostile_client: TestClient, path: str, markers: list[str]) -> None:
    response = hostile_client.get(path)
    assert response.status_code == 200, response.text[-1500:]
    html = response.text
    assert "<script" not in html.lower() and "<img" not in html.lower()
    for where in markers:
        assert escaped(where) in html, f"{where} is not shown escaped on {path}"


def test_the_dagster_link_is_percent_encoded(hostile_client: TestClient) -> None:
    html = hostile_client.get("/models/m/versions/1").text
    assert 'href="http://dagster.example/runs/%3Cscript%3Edagster%3C%2Fscript%3E' in html


@pytest.mark.parametrize(
    ("path", "status", "marker"),
    [
        (f"/models/m?sort={hostile('sort')}", 400, "sort"),
        (f"/models/m?stage={hostile('stage')}", 400, "stage"),
        (f"/models/m/compare?v={hostile('v')}", 400, "v"),
        (f"/models/{hostile('name').replace('/', '')}", 404, "name"),
        (f"/nowhere/{hostile('path')}", 404, "path"),
    ],
)
def test_error_pages_escape_what_was_asked(
    hostile_client: TestClient, path: str, status: int, marker: str
) -> None:
    response = hostile_client.get(path)
    assert response.status_code == status
    assert "<script" not in response.text.lower() and "<img" not in response.text.lower()
    assert f"&lt;script&gt;{marker}" in response.text


INVISIBLE = "ok\u2028alice promoted m/9\x85then\u202eevil\u200b"
SHOWN = "ok\\u2028alice promoted m/9\\x85then\\u202eevil\\u200b"


def test_invisible_characters_are_escaped_like_the_cli_does(tmp_path: Path) -> None:
    """U+2028 (line separator), U+0085 (next line), U+202E (right-to-left override) and
    zero-width characters in reasons and descriptions are shown as escapes, by the same
    function as `registry audit` (registry_project.core.display.inert)."""
    from registry_project.cli.output import clean

    with ModelRegistry.open(f"sqlite:///{tmp_path / 'r.db'}", str(tmp_path / "a")) as reg:
        reg.register_model("m", {"w": 1}, description=INVISIBLE, actor="carol")
        reg.promote("m/1", actor="alice", reason=INVISIBLE)
        with TestClient(create_app(reg)) as client:
            audit = client.get("/audit").text
            version = client.get("/models/m/versions/1").text
    assert clean(INVISIBLE) == SHOWN
    for html in (audit, version):
        assert SHOWN in html
        assert not any(ch in html for ch in "\u2028\x85\u202e\u200b")
