"""Model versions: identity, names, registration, metrics, lookups, stages (every backend)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from registry_project import ModelRegistry, Stage
from registry_project.core import errors
from registry_project.core.entities import Column
from registry_project_tests.conftest import open_registry


def _trained_model(seed: int = 0) -> LogisticRegression:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] + rng.normal(scale=0.3, size=60) > 0).astype(int)
    return LogisticRegression().fit(x, y)


def _row_counts(registry: ModelRegistry) -> dict[str, int]:
    import sqlalchemy as sa

    from registry_project.core.store import schema

    with registry.engine.connect() as connection:
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in schema.metadata.sorted_tables
        }


def test_versions_are_numbered_per_model_with_uuids(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", {"w": 1})
    second = registry.register_model("churn", {"w": 2})
    other = registry.register_model("fraud", {"w": 3})
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert len({first.id, second.id, other.id}) == 3
    assert all(uuid.UUID(v.id) for v in (first, second, other))
    assert first.stage is Stage.EXPERIMENT


def test_registration_records_flavor_digest_class_signature_and_metrics(
    registry: ModelRegistry,
) -> None:
    model = _trained_model()
    sample = pd.DataFrame({"age": [30], "tenure": [2.5], "plan": ["pro"]})
    mv = registry.register_model(
        "churn", model, metrics={"auc": 0.91, "n": 3}, signature=sample, description="baseline"
    )
    assert mv.flavor == "joblib"
    assert mv.python_class.endswith("LogisticRegression")
    assert len(mv.artifact_digest) == 64 and mv.artifact_size > 0
    assert dict(mv.metrics) == {"auc": 0.91, "n": 3.0}
    assert mv.signature is not None
    assert [c.name for c in mv.signature] == ["age", "tenure", "plan"]
    assert isinstance(mv.signature[0], Column)
    loaded = registry.load_model(mv)
    x = np.array([[0.1, 0.2, 0.3]])
    assert loaded.predict_proba(x).tolist() == model.predict_proba(x).tolist()
    plain = registry.register_model("other", {"weights": [1, 2]})
    assert plain.flavor == "pickle"
    assert registry.load_model(plain) == {"weights": [1, 2]}


@pytest.mark.parametrize("name", ["", "../x", "a/b", "a@b", "x" * 1000, "-lead", "sp ace", None])
def test_bad_model_names_are_refused_before_any_write(
    sqlite_registry: ModelRegistry, name: object
) -> None:
    before = _row_counts(sqlite_registry)
    blobs_before = set(sqlite_registry.blobs.iter_digests())
    with pytest.raises(errors.InvalidNameError, match="pattern"):
        sqlite_registry.register_model(name, {"w": 1})  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidNameError):
        sqlite_registry.snapshot_dataset(name, pd.DataFrame({"a": [1]}))  # type: ignore[arg-type]
    assert _row_counts(sqlite_registry) == before
    assert set(sqlite_registry.blobs.iter_digests()) == blobs_before


def test_name_at_the_length_limit_is_accepted(sqlite_registry: ModelRegistry) -> None:
    name = "m" + "x" * 127
    assert sqlite_registry.register_model(name, 1).model_name == name


@pytest.mark.parametrize(
    "metrics",
    [
        {"auc": float("nan")},
        {"auc": float("inf")},
        {"auc": "0.9"},
        {"auc": None},
        {"auc": True},
        {"bad key!": 1.0},
        {"": 1.0},
    ],
)
def test_bad_metrics_are_refused_and_nothing_is_written(
    sqlite_registry: ModelRegistry, metrics: dict
) -> None:
    before = _row_counts(sqlite_registry)
    with pytest.raises(errors.InvalidMetricError):
        sqlite_registry.register_model("churn", {"w": 1}, metrics=metrics)
    assert _row_counts(sqlite_registry) == before


def test_numpy_metric_values_are_accepted(sqlite_registry: ModelRegistry) -> None:
    mv = sqlite_registry.register_model(
        "churn", 1, metrics={"auc": np.float32(0.5), "n": np.int64(3)}
    )
    assert dict(mv.metrics) == {"auc": 0.5, "n": 3.0}


def test_unpicklable_model_gives_a_flavor_error(sqlite_registry: ModelRegistry) -> None:
    before = _row_counts(sqlite_registry)
    with pytest.raises(errors.FlavorError):
        sqlite_registry.register_model("churn", lambda x: x)
    assert _row_counts(sqlite_registry) == before


def test_get_version_by_every_reference_form(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", 1)
    second = registry.register_model("churn", 2)
    registry.promote(first, actor="alice", reason="first")
    assert registry.get_version(first.id).version == 1
    assert registry.get_version(second).id == second.id
    assert registry.get_version("churn/2").id == second.id
    assert registry.get_version("churn@production").id == first.id
    assert registry.get_version("churn@latest").id == second.id
    assert registry.get_version("churn@experiment").id == second.id


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("churn/9", errors.VersionNotFoundError),
        ("nomodel/1", errors.ModelNotFoundError),
        ("churn@staging", errors.VersionNotFoundError),
        ("churn@prod", errors.VersionNotFoundError),  # an alias nobody set
        ("churn@bad alias", errors.InvalidReferenceError),
        ("churn@", errors.InvalidReferenceError),
        ("churn/0", errors.InvalidReferenceError),
        ("churn/x", errors.InvalidReferenceError),
        ("churn/99999999999999999999999", errors.InvalidReferenceError),
        ("../churn/1", errors.InvalidReferenceError),
        ("7d9f2a4e-1c3b-4e5f-9a8b-0c1d2e3f4a5b", errors.VersionNotFoundError),
        ("", errors.InvalidReferenceError),
    ],
)
def test_bad_references_give_clear_errors(
    sqlite_registry: ModelRegistry, reference: str, error: type[Exception]
) -> None:
    sqlite_registry.register_model("churn", 1)
    with pytest.raises(error) as caught:
        sqlite_registry.get_version(reference)
    assert isinstance(caught.value, errors.RegistryError)
    assert str(caught.value)


def test_versions_ordering_filtering_and_limit(registry: ModelRegistry) -> None:
    aucs = [0.7, 0.9, 0.8, None, 0.85]
    made = [
        registry.register_model("churn", i, metrics={} if auc is None else {"auc": auc})
        for i, auc in enumerate(aucs)
    ]
    registry.transition(made[2], Stage.STAGING, actor="ci", reason="checks passed")
    by_auc = registry.versions("churn", order_by="-metrics.auc")
    assert [v.version for v in by_auc] == [2, 5, 3, 1, 4]  # the one without auc last
    assert [v.version for v in registry.versions("churn", order_by="metrics.auc", limit=2)] == [
        1,
        3,
    ]
    assert [v.version for v in registry.versions("churn", order_by="-metrics.auc", limit=1)] == [2]
    assert [v.version for v in registry.versions("churn")] == [5, 4, 3, 2, 1]
    assert [v.version for v in registry.versions("churn", order_by="version")] == [1, 2, 3, 4, 5]
    assert [v.version for v in registry.versions("churn", stage="staging")] == [3]
    assert by_auc[0].metrics["auc"] == 0.9


@pytest.mark.parametrize(
    "order_by",
    ["metrics.", "-metrics.a;DROP TABLE models", "name", "version; --", "-", "metrics.a b"],
)
def test_order_by_accepts_only_known_fields(sqlite_registry: ModelRegistry, order_by: str) -> None:
    sqlite_registry.register_model("churn", 1)
    with pytest.raises(errors.InvalidInputError, match="order_by"):
        sqlite_registry.versions("churn", order_by=order_by)
    assert len(sqlite_registry.versions("churn")) == 1


def test_log_metrics_per_dataset_updates_current_metrics(registry: ModelRegistry) -> None:
    holdout = registry.snapshot_dataset("holdout", pd.DataFrame({"x": [1, 2, 3]}))
    mv = registry.register_model("churn", 1, metrics={"auc": 0.8})
    updated = registry.log_metrics(mv, {"auc": 0.83, "f1": 0.5}, dataset=holdout)
    assert dict(updated.metrics) == {"auc": 0.83, "f1": 0.5}
    history = {(r.key, r.dataset_id): r.value for r in registry.metric_history(mv)}
    assert history == {("auc", None): 0.8, ("auc", holdout.id): 0.83, ("f1", holdout.id): 0.5}
    with pytest.raises(errors.InvalidMetricError):
        registry.log_metrics(mv, {"auc": float("nan")})
    assert dict(registry.get_version(mv).metrics) == {"auc": 0.83, "f1": 0.5}


def test_compare_puts_params_and_metrics_side_by_side_with_delta_to_production(
    registry: ModelRegistry,
) -> None:
    versions = []
    for c, auc in [(0.1, 0.80), (1.0, 0.85), (10.0, 0.90)]:
        with registry.start_run("train", params={"C": c, "solver": "lbfgs"}) as run:
            versions.append(registry.register_model("churn", c, run=run, metrics={"auc": auc}))
    registry.promote(versions[0], actor="alice", reason="baseline")
    frame = registry.compare("churn", [2, 3])
    assert list(frame.columns) == ["v2", "v3", "production (v1)", "Δ v2", "Δ v3"]
    assert frame.loc["param.C", "v2"] == 1.0
    assert frame.loc["param.C", "v3"] == 10.0
    assert frame.loc["metric.auc", "v3"] == pytest.approx(0.90)
    assert frame.loc["metric.auc", "Δ v2"] == pytest.approx(0.05)
    assert frame.loc["metric.auc", "Δ v3"] == pytest.approx(0.10)
    assert frame.loc["stage", "production (v1)"] == "production"
    with pytest.raises(errors.VersionNotFoundError):
        registry.compare("churn", [2, 99])


@pytest.mark.parametrize("backend", ["sqlite-local", "postgres-local"])
def test_a_blob_that_cannot_be_made_durable_leaves_no_version(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # On PostgreSQL the artifact is fsynced and renamed on a background thread while the
    # version's row is written (on SQLite before); either way the row must never commit
    # when that step fails. Learn the artifact's digest from another registry (pickling
    # the same dict gives the same bytes), then put a file where its fan-out directory
    # must go, so the rename fails for real.
    registry = open_registry(backend, tmp_path, request)
    assert registry._w.overlaps_blob_durability == (backend == "postgres-local")
    with ModelRegistry.open(f"sqlite:///{tmp_path / 'probe.db'}", str(tmp_path / "probe")) as probe:
        digest = probe.register_model("churn", {"w": 1}).artifact_digest
    with registry.start_run("training") as run:
        pass
    artifacts = tmp_path / "artifacts"  # the fixture's artifact root
    fanout = artifacts / "blobs" / "sha256" / digest[:2]
    fanout.parent.mkdir(parents=True, exist_ok=True)
    fanout.write_bytes(b"in the way")
    before = _row_counts(registry)

    with pytest.raises(errors.StorageError, match=digest):
        registry.register_model("churn", {"w": 1}, run=run, metrics={"auc": 0.9})

    assert _row_counts(registry) == before  # no model, version, metric or event
    assert list((artifacts / "tmp").iterdir()) == []  # no temp file left behind
    fanout.unlink()
    version = registry.register_model("churn", {"w": 1}, run=run)  # and it recovers
    assert version.version == 1 and version.artifact_digest == digest
    assert registry.load_model("churn/1") == {"w": 1}
    assert registry.verify().ok


def test_a_failed_registration_waits_for_its_overlapped_blob(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A registration that fails inside its transaction before it waited for the blob's
    # background fsync and rename (here: an unknown run) still returns only once that
    # step has ended: its temp file is gone and the blob is in place, for gc to collect.
    registry = open_registry("postgres-local", tmp_path, request)
    with pytest.raises(errors.RunNotFoundError):
        registry.register_model("churn", {"w": 2}, run=str(uuid.uuid4()))
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []
    assert len(list(registry.blobs.iter_digests())) == 1
    assert _row_counts(registry)["model_versions"] == 0


def test_registration_returns_what_a_lookup_returns(registry: ModelRegistry) -> None:
    # The version is built from the values written, not read back: it must not differ.
    with registry.start_run("training", params={"C": 1.0}) as run:
        registered = registry.register_model(
            "churn",
            _trained_model(),
            run=run,
            metrics={"auc": 0.91, "f1": 0.5},
            description="first",
            signature=pd.DataFrame({"a": [1.0], "b": [2], "c": ["x"]}),
        )
    assert registry.get_version(registered.id) == registered
    assert registry.get_version("churn/1") == registered
