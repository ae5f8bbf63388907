"""Hostile input (hypothesis): every bad value gets a RegistryError and changes nothing."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_project import ModelRegistry, RegistryError
from registry_project.core.store import schema
from registry_project.core.validation import NAME_PATTERN

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root: Path = tmp_path_factory.mktemp("hostile")
    with ModelRegistry.open(f"sqlite:///{root / 'r.db'}", str(root / "a")) as opened:
        opened.register_model("churn", {"w": 1}, metrics={"auc": 0.5})
        yield opened


def _state(registry: ModelRegistry) -> tuple[int, ...]:
    with registry.engine.connect() as connection:
        counts = tuple(
            connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in schema.metadata.sorted_tables
        )
    return (*counts, len(list(registry.blobs.iter_digests())))


def _refused_without_change(registry: ModelRegistry, call: Callable[[], object]) -> None:
    before = _state(registry)
    with pytest.raises(RegistryError) as caught:
        call()
    assert str(caught.value), "an error must say what went wrong"
    assert _state(registry) == before


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
json_values = st.recursive(
    json_leaf | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@SETTINGS
@given(name=st.text(max_size=300))
def test_names(registry: ModelRegistry, name: str) -> None:
    import re

    if re.fullmatch(NAME_PATTERN, name):
        return  # valid names are exercised elsewhere
    _refused_without_change(registry, lambda: registry.register_model(name, 1))
    _refused_without_change(registry, lambda: registry.versions(name))


@SETTINGS
@given(reference=st.text(max_size=200))
def test_references(registry: ModelRegistry, reference: str) -> None:
    try:
        version = registry.get_version(reference)
    except RegistryError:
        return
    assert version.model_name == "churn"  # only a real reference can resolve


@SETTINGS
@given(
    value=st.one_of(
        st.floats().filter(lambda f: not math.isfinite(f)),
        st.text(max_size=10),
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=3),
    )
)
def test_metric_values(registry: ModelRegistry, value: object) -> None:
    _refused_without_change(
        registry,
        lambda: registry.register_model("churn", 1, metrics={"auc": value}),  # type: ignore[dict-item]
    )
    _refused_without_change(
        registry,
        lambda: registry.log_metrics("churn/1", {"auc": value}),  # type: ignore[dict-item]
    )


@SETTINGS
@given(order_by=st.text(max_size=80))
def test_order_by_never_reaches_sql(registry: ModelRegistry, order_by: str) -> None:
    try:
        found = registry.versions("churn", order_by=order_by)
    except RegistryError:
        return
    assert [v.model_name for v in found] == ["churn"]


@SETTINGS
@given(params=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_json_params_are_accepted_and_round_trip(registry: ModelRegistry, params: dict) -> None:
    with registry.start_run("hostile", params=params, capture_environment=False) as run:
        pass
    assert dict(registry.get_run(run.id).params) == params


@SETTINGS
@given(uri=st.text(max_size=100))
def test_reference_uris(registry: ModelRegistry, uri: str) -> None:
    try:
        ref = registry.reference_dataset("events", uri=uri, etag="e1")
    except RegistryError:
        return
    assert "://" in ref.uri and ".." not in ref.uri.split("://", 1)[1].split("/")


def test_oversized_and_deep_params_are_refused(registry: ModelRegistry) -> None:
    _refused_without_change(
        registry, lambda: registry.start_run("x", params={"a": "x" * 2_000_000})
    )
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    _refused_without_change(registry, lambda: registry.start_run("x", params={"a": deep}))
    _refused_without_change(
        registry, lambda: registry.register_model("churn", 1, description="d" * 20_000)
    )
