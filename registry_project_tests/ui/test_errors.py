"""Unknown things answer 404, bad query values 400, writes 405: always a page, never a
traceback."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from registry_project import ModelRegistry
from registry_project.core.errors import StorageError
from registry_project.ui import create_app
from registry_project_tests.ui.fill import Demo


def error_page(client: TestClient, path: str, status: int, *expected: str) -> str:
    response = client.get(path)
    assert response.status_code == status, response.text[-1500:]
    html = response.text
    assert f"<h1>{status} · " in html
    assert "Traceback" not in html and 'File "' not in html
    for text in expected:
        assert text in html, f"{text!r} not in the {status} page of {path}"
    return html


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/models/nope", "no model named &#39;nope&#39;"),
        ("/models/nope/compare?v=1", "no model named &#39;nope&#39;"),
        ("/models/nope/versions/1", "no model named &#39;nope&#39;"),
        ("/models/churn/versions/99", "no model version &#39;churn/99&#39;"),
        ("/models/churn/versions/0", "no model version churn/0"),
        ("/models/churn/versions/99999999999999999999999", "no model version"),
        ("/models/churn/versions/two", "there is no page at /models/churn/versions/two"),
        ("/models/churn/compare?v=2&v=99", "no model version &#39;churn/99&#39;"),
        ("/models/bad%20name", "no model named &#39;bad name&#39;"),
        ("/models/-x/versions/1", "no model version -x/1"),
        ("/versions/not-a-uuid", "no model version &#39;not-a-uuid&#39;"),
        # A fixed id that names no version: a random one would give each pytest-xdist
        # worker its own test id, and xdist refuses workers that collect different tests.
        (f"/versions/{uuid.UUID(int=18, version=4)}", "no model version"),
        ("/nothing/here", "there is no page at /nothing/here"),
    ],
)
def test_unknown_references_answer_a_clear_404(
    client: TestClient, path: str, expected: str
) -> None:
    error_page(client, path, 404, expected, '<a href="/">All models</a>')


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/models/churn?sort=garbage", "invalid order_by &#39;garbage&#39;"),
        ("/models/churn?sort=-metrics.a%20b", "invalid order_by"),
        ("/models/churn?sort=version;DROP%20TABLE%20x", "invalid order_by"),
        ("/models/churn?stage=live", "unknown stage &#39;live&#39;"),
        ("/models/churn?metric=f1", "has no metric &#39;f1&#39;; its metrics are: accuracy, auc"),
        ("/models/churn?sort=version&sort=-version", "?sort= was given 2 times"),
        ("/models/churn/compare", "choose the versions to compare"),
        ("/models/churn/compare?v=x", "?v= takes version numbers"),
        ("/models/churn/compare?v=0", "?v= takes version numbers"),
        ("/models/churn/compare?" + "&".join(f"v={n}" for n in range(1, 14)), "at most 12"),
        ("/audit?model=bad%20name", "invalid model name"),
        ("/audit?limit=lots", "?limit= must be a whole number"),
        ("/audit?limit=0", "?limit= must be a whole number"),
        ("/audit?verify=yes", "?verify= must be 0 or 1"),
        ("/datasets?name=..", "invalid dataset name"),
        ("/models/churn?stage=" + "x" * 1001, "longer than 1000 characters"),
    ],
)
def test_bad_query_values_answer_400(client: TestClient, path: str, expected: str) -> None:
    error_page(client, path, 400, expected)


def test_compare_accepts_v_prefixes_and_ignores_repeats(client: TestClient) -> None:
    html = client.get("/models/churn/compare?v=v4&v=4&v=5").text
    assert "<h1>churn: v4, v5</h1>" in html


def test_the_ui_is_read_only(client: TestClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = client.request(method, "/models/churn")
        assert response.status_code == 405
        assert "read-only" in response.text and "GET" in response.headers["allow"]


def test_an_unreachable_database_answers_503(
    demo_registry: ModelRegistry, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise StorageError("cannot reach the registry database; check REGISTRY_DATABASE_URL")

    monkeypatch.setattr(demo_registry, "model_summaries", down)
    error_page(TestClient(create_app(demo_registry)), "/", 503, "check REGISTRY_DATABASE_URL")


def test_an_unexpected_failure_answers_500_without_a_traceback(
    demo_registry: ModelRegistry, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(demo_registry, "datasets", broken)
    client = TestClient(create_app(demo_registry), raise_server_exceptions=False)
    html = error_page(client, "/datasets", 500, "the server log has the details")
    assert "secret internal detail" not in html
