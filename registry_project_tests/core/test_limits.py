"""Every numeric limit of the public API at its boundary: just under, exactly at (both
accepted, and stored whole) and just over (refused with a clear error, nothing written).

Acceptance is checked on SQLite and PostgreSQL: SQLite ignores VARCHAR lengths, so only
PostgreSQL shows that a value at the limit also fits its column.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from registry_project import ModelRegistry
from registry_project.core import errors, validation
from registry_project_tests.conftest import open_registry

# Each limit's number is written out here, not imported: a loosened constant in the code
# must make these tests fail, not move them along with it.
NAME_LENGTH = 128
METRIC_KEY_LENGTH = 256
METRICS_PER_CALL = 1000
PARAMS_DEPTH = 32
PARAMS_BYTES = 1024 * 1024
REASON_LENGTH = 10_000
DESCRIPTION_LENGTH = 10_000
ACTOR_LENGTH = 256
URI_LENGTH = 4096
REFERENCE_LENGTH = 300
VERSION_NUMBER = 2**31 - 1
ERROR_TEXT = 20_000


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    return open_registry(request.param, tmp_path, request)


def _refused(
    registry: ModelRegistry, error: type[Exception], match: str, call: Callable[[], Any]
) -> None:
    before = (registry.audit_count(), [m.name for m in registry.models()])
    with pytest.raises(error, match=match):
        call()
    assert (registry.audit_count(), [m.name for m in registry.models()]) == before


def test_model_name_length(registry: ModelRegistry) -> None:
    for length in (NAME_LENGTH - 1, NAME_LENGTH):
        name = "m" * length
        assert registry.register_model(name, 1).model_name == name
        assert registry.get_version(f"{name}/1").model_name == name
    _refused(
        registry,
        errors.InvalidNameError,
        "1-128 characters",
        lambda: registry.register_model("m" * (NAME_LENGTH + 1), 1),
    )


def test_dataset_and_run_name_length(registry: ModelRegistry) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1]})
    name = "d" * NAME_LENGTH
    assert registry.snapshot_dataset(name, frame).name == name
    with registry.start_run(name, capture_environment=False) as run:
        pass
    assert registry.get_run(run.id).name == name
    _refused(
        registry,
        errors.InvalidNameError,
        "dataset name",
        lambda: registry.snapshot_dataset("d" * (NAME_LENGTH + 1), frame),
    )
    _refused(
        registry,
        errors.InvalidNameError,
        "run name",
        lambda: registry.start_run("d" * (NAME_LENGTH + 1), capture_environment=False),
    )


def test_metric_name_length(registry: ModelRegistry) -> None:
    keys = ["k" * (METRIC_KEY_LENGTH - 1), "k" * METRIC_KEY_LENGTH]
    version = registry.register_model("churn", 1, metrics=dict.fromkeys(keys, 0.5))
    assert sorted(registry.get_version(version.id).metrics) == sorted(keys)
    _refused(
        registry,
        errors.InvalidMetricError,
        "1-256 characters",
        lambda: registry.log_metrics(version, {"k" * (METRIC_KEY_LENGTH + 1): 0.5}),
    )


def test_metrics_per_call(registry: ModelRegistry) -> None:
    def metrics(count: int) -> dict[str, float]:
        return {f"m{i}": float(i) for i in range(count)}

    version = registry.register_model("churn", 1, metrics=metrics(METRICS_PER_CALL - 1))
    registry.log_metrics(version, metrics(METRICS_PER_CALL))
    assert len(registry.get_version(version.id).metrics) == METRICS_PER_CALL
    _refused(
        registry,
        errors.InvalidMetricError,
        "at most 1000",
        lambda: registry.log_metrics(version, metrics(METRICS_PER_CALL + 1)),
    )


def _nested(levels: int) -> dict[str, Any]:
    """`levels` dicts inside each other, the params mapping itself the first."""
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def test_params_depth(registry: ModelRegistry) -> None:
    for levels in (PARAMS_DEPTH - 1, PARAMS_DEPTH):
        params = _nested(levels)
        with registry.start_run("deep", params=params, capture_environment=False) as run:
            pass
        assert registry.get_run(run.id).params == params
    # Lists count as levels too.
    listed: Any = 1
    for _ in range(PARAMS_DEPTH - 1):
        listed = [listed]
    with registry.start_run("deep", params={"a": listed}, capture_environment=False) as run:
        pass
    for too_deep in (_nested(PARAMS_DEPTH + 1), {"a": [listed]}):
        _refused(
            registry,
            errors.InvalidParamsError,
            "deeper than 32 levels",
            lambda too_deep=too_deep: registry.start_run(
                "deep", params=too_deep, capture_environment=False
            ),
        )


def _params_of_size(size: int) -> dict[str, str]:
    """Params whose canonical JSON (what is stored) is exactly `size` bytes."""
    overhead = len(json.dumps({"p": ""}, separators=(",", ":")))
    params = {"p": "x" * (size - overhead)}
    assert len(validation.canonical_json(params).encode()) == size
    return params


def test_params_size(registry: ModelRegistry) -> None:
    for size in (PARAMS_BYTES - 1, PARAMS_BYTES):
        params = _params_of_size(size)
        with registry.start_run("big", params=params, capture_environment=False) as run:
            pass
        assert registry.get_run(run.id).params == params
    _refused(
        registry,
        errors.InvalidParamsError,
        f"{PARAMS_BYTES + 1} bytes as JSON; at most {PARAMS_BYTES}",
        lambda: registry.start_run(
            "big", params=_params_of_size(PARAMS_BYTES + 1), capture_environment=False
        ),
    )


def test_reason_length(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", 1, actor="alice")
    second = registry.register_model("churn", 2, actor="alice")
    registry.promote(first, actor="alice", reason="r" * (REASON_LENGTH - 1))
    registry.promote(second, actor="alice", reason="r" * REASON_LENGTH)
    assert registry.audit_log(action="promote")[-1].reason == "r" * REASON_LENGTH
    _refused(
        registry,
        errors.InvalidInputError,
        "at most 10000",
        lambda: registry.approve(second, actor="bob", reason="r" * (REASON_LENGTH + 1)),
    )
    assert registry.approvals(second) == []


def test_description_length(registry: ModelRegistry) -> None:
    text = "d" * DESCRIPTION_LENGTH
    assert registry.register_model("churn", 1, description=text).description == text
    _refused(
        registry,
        errors.InvalidInputError,
        "at most 10000",
        lambda: registry.register_model("churn", 2, description=text + "d"),
    )


def test_actor_length(registry: ModelRegistry) -> None:
    for length in (ACTOR_LENGTH - 1, ACTOR_LENGTH):
        actor = "a" * length
        assert registry.register_model("churn", length, actor=actor).created_by == actor
    _refused(
        registry,
        errors.InvalidInputError,
        "at most 256",
        lambda: registry.register_model("churn", 3, actor="a" * (ACTOR_LENGTH + 1)),
    )


def _uri(length: int) -> str:
    prefix = "s3://bucket/"
    return prefix + "k" * (length - len(prefix))


def test_reference_uri_length(registry: ModelRegistry) -> None:
    for length in (URI_LENGTH - 1, URI_LENGTH):
        assert registry.reference_dataset("events", uri=_uri(length), etag="e").uri == _uri(length)
    _refused(
        registry,
        errors.InvalidInputError,
        "at most 4096",
        lambda: registry.reference_dataset("events", uri=_uri(URI_LENGTH + 1), etag="e"),
    )


def test_reference_length_and_version_number(registry: ModelRegistry) -> None:
    name = "m" * NAME_LENGTH
    registry.register_model(name, 1)
    # Leading zeros pad a reference to any length while still naming version 1.
    padding = REFERENCE_LENGTH - len(name) - len("/1")
    for extra in (padding - 1, padding):
        reference = f"{name}/{'0' * extra}1"
        assert len(reference) == len(name) + 2 + extra
        assert registry.get_version(reference).version == 1
    with pytest.raises(errors.InvalidReferenceError, match="too long"):
        registry.get_version(f"{name}/{'0' * (padding + 1)}1")

    with pytest.raises(errors.VersionNotFoundError):
        registry.get_version(f"{name}/{VERSION_NUMBER}")  # valid, just not there
    with pytest.raises(errors.InvalidReferenceError, match="invalid version number"):
        registry.get_version(f"{name}/{VERSION_NUMBER + 1}")
    with pytest.raises(errors.InvalidReferenceError, match="invalid version number"):
        registry.get_version(f"{name}/0")


def test_failed_run_error_text_keeps_its_last_20000_characters(registry: ModelRegistry) -> None:
    short = "x" * 100
    with pytest.raises(RuntimeError), registry.start_run("f", capture_environment=False) as run:
        raise RuntimeError(short)
    kept = registry.get_run(run.id).error or ""
    assert kept.startswith("Traceback") and kept.rstrip().endswith(short)

    long = "".join(f"{i:07d}" for i in range(5000))  # 35,000 characters, each tail unique
    with pytest.raises(RuntimeError), registry.start_run("f", capture_environment=False) as run:
        raise RuntimeError(long)
    kept = registry.get_run(run.id).error or ""
    assert len(kept) == ERROR_TEXT
    assert long.endswith(kept.rstrip()[-(ERROR_TEXT - 100) :])
