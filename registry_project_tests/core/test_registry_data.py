"""Dataset snapshots, references, training runs, lineage and governed deletion."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy.engine import Connection

from registry_project import ModelRegistry, Stage
from registry_project.core import errors
from registry_project.core.entities import DatasetKind, Dependent, RunStatus
from registry_project.core.store import dependents as dependents_store


def _customers(seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": range(seed, seed + 50),
            "tenure": [float(i % 7) for i in range(50)],
            "plan": ["basic", "pro"] * 25,
        }
    )


def test_snapshot_is_content_addressed_and_idempotent(registry: ModelRegistry) -> None:
    first = registry.snapshot_dataset("customers", _customers())
    again = registry.snapshot_dataset("customers", _customers())
    as_arrow = registry.snapshot_dataset("customers-arrow", pa.Table.from_pandas(_customers()))
    changed = registry.snapshot_dataset("customers", _customers(seed=1))
    assert again.id == first.id and again.digest == first.digest
    assert changed.digest != first.digest
    assert first.row_count == 50
    assert [c.name for c in first.columns] == ["customer_id", "tenure", "plan"]
    assert [c.type for c in first.columns][:2] == ["int64", "double"]
    assert "string" in first.columns[2].type
    assert first.kind is DatasetKind.SNAPSHOT
    assert uuid.UUID(first.id) and uuid.UUID(as_arrow.id)
    assert list(registry.blobs.iter_digests()).count(first.digest) == 1
    pd.testing.assert_frame_equal(registry.load_dataset(first), _customers())
    table = registry.load_dataset(first.id, as_arrow=True)
    assert table.num_rows == 50


def test_snapshot_refuses_unsupported_data_without_writing(sqlite_registry: ModelRegistry) -> None:
    with pytest.raises(errors.InvalidInputError, match="DataFrame"):
        sqlite_registry.snapshot_dataset("customers", [1, 2, 3])
    assert sqlite_registry.datasets() == []
    assert list(sqlite_registry.blobs.iter_digests()) == []


def test_reference_pins_external_data_without_copying(registry: ModelRegistry) -> None:
    ref = registry.reference_dataset(
        "events", uri="s3://lake/events/2026-11.parquet", version_id="v123", row_count=10**9
    )
    assert ref.kind is DatasetKind.REFERENCE
    assert (ref.uri, ref.version_id, ref.row_count) == (
        "s3://lake/events/2026-11.parquet",
        "v123",
        10**9,
    )
    assert list(registry.blobs.iter_digests()) == []
    with pytest.raises(errors.InvalidInputError, match="pinned"):
        registry.reference_dataset("events", uri="s3://lake/events.parquet")
    for bad_uri in ["relative/path", "s3://b/../../etc/passwd", "", "s3://"]:
        with pytest.raises(errors.InvalidInputError):
            registry.reference_dataset("events", uri=bad_uri, etag="x")
    with pytest.raises(errors.InvalidInputError, match="reference"):
        registry.load_dataset(ref)


def test_snapshot_expiry_must_be_timezone_aware(sqlite_registry: ModelRegistry) -> None:
    later = datetime.now(UTC) + timedelta(days=30)
    snap = sqlite_registry.snapshot_dataset("customers", _customers(), expires_at=later)
    assert snap.expires_at is not None and abs((snap.expires_at - later).total_seconds()) < 1e-3
    with pytest.raises(errors.InvalidInputError, match="timezone"):
        sqlite_registry.snapshot_dataset("c2", _customers(), expires_at=datetime(2030, 1, 1))


def test_run_records_params_inputs_code_environment_and_status(
    registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("scikit-learn\n")
    (project / "Dockerfile").write_text("FROM python:3.11\n")
    git = ["git", "-C", str(project)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run(
        [*git, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"], check=True
    )
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(project)

    train = registry.snapshot_dataset("train", _customers())
    test = registry.snapshot_dataset("test", _customers(seed=100))
    with registry.start_run(
        "churn-training",
        params={"C": 1.0, "layers": [64, 32], "opts": {"balanced": True}},
        inputs={"train": train, "test": test},
        dagster_run_id="dagster-run-1",
    ) as run:
        run.log_metrics({"train_loss": 0.3})
        mv = registry.register_model("churn", 1, run=run, metrics={"auc": 0.9})
    info = registry.get_run(run.id)
    assert info.status is RunStatus.FINISHED and info.ended_at is not None
    assert dict(info.params) == {"C": 1.0, "layers": [64, 32], "opts": {"balanced": True}}
    assert {(i.dataset_id, i.role.value) for i in info.inputs} == {
        (train.id, "train"),
        (test.id, "test"),
    }
    assert dict(info.metrics) == {"train_loss": 0.3}
    assert info.code.commit == commit and info.code.dirty is False and info.code.branch == "main"
    assert info.environment is not None
    assert {f.path for f in info.environment.files} >= {"requirements.txt", "Dockerfile"}
    packages = registry.blobs.read_bytes(info.environment.packages_digest).decode()
    assert "pandas==" in packages
    assert info.dagster_run_id == "dagster-run-1"
    assert mv.dagster_run_id == "dagster-run-1"


def test_failed_run_is_recorded_with_the_exception(registry: ModelRegistry) -> None:
    with pytest.raises(RuntimeError, match="diverged"), registry.start_run("train") as run:
        raise RuntimeError("loss diverged")
    info = registry.get_run(run.id)
    assert info.status is RunStatus.FAILED
    assert "loss diverged" in (info.error or "")


@pytest.mark.parametrize(
    "params",
    [{"f": float("nan")}, {"obj": object()}, {"big": "x" * (2 * 1024 * 1024)}, "not a mapping"],
)
def test_bad_params_are_refused(sqlite_registry: ModelRegistry, params: object) -> None:
    with pytest.raises(errors.InvalidParamsError):
        sqlite_registry.start_run("train", params=params)  # type: ignore[arg-type]


def test_deeply_nested_params_are_refused(sqlite_registry: ModelRegistry) -> None:
    nested: dict = {}
    cursor = nested
    for _ in range(100):
        cursor["n"] = {}
        cursor = cursor["n"]
    with pytest.raises(errors.InvalidParamsError, match="deeper"):
        sqlite_registry.start_run("train", params=nested)


def test_lineage_and_dependents(registry: ModelRegistry) -> None:
    train = registry.snapshot_dataset("train", _customers())
    holdout = registry.snapshot_dataset("holdout", _customers(seed=7))
    with registry.start_run("train", params={"C": 2}, inputs=[train]) as run:
        mv = registry.register_model("churn", 1, run=run, metrics={"auc": 0.8})
    registry.log_metrics(mv, {"auc": 0.82}, dataset=holdout)
    other = registry.register_model("unrelated", 2)
    lineage = registry.lineage("churn/1")
    assert lineage.run is not None and lineage.run.id == run.id
    relations = {(d.snapshot.name, d.relation, d.role) for d in lineage.datasets}
    assert relations == {("train", "trained", "train"), ("holdout", "evaluated", None)}
    assert all(not d.deleted for d in lineage.datasets)
    assert lineage.environment is not None and lineage.environment.python_version
    deps = registry.dependents(train)
    assert [(d.model_name, d.version, d.relation) for d in deps] == [("churn", 1, "trained")]
    assert [(d.relation) for d in registry.dependents(holdout)] == ["evaluated"]
    assert other.id not in {d.version_id for d in deps}


def test_dependents_come_in_order_once_per_relation_and_page_by_keyset(
    registry: ModelRegistry,
) -> None:
    shared = registry.snapshot_dataset("shared", _customers())
    # Read in two roles by one run: one "trained" dependent per version, its first role.
    with registry.start_run("both", inputs={"train": shared, "test": shared}) as run:
        for i in range(3):
            registry.register_model("beta", i, run=run)
    with registry.start_run("alpha", inputs=[shared]) as run:
        registry.register_model("alpha", 0, run=run)
    evaluated = registry.register_model("alpha", 1)
    registry.log_metrics(evaluated, {"auc": 0.8, "f1": 0.7}, dataset=shared)
    registry.log_metrics(evaluated, {"auc": 0.81}, dataset=shared)  # still one dependent
    registry.log_metrics("beta/2", {"auc": 0.9}, dataset=shared)  # trained and evaluated

    everything = [
        (d.model_name, d.version, d.relation, d.role) for d in registry.dependents(shared)
    ]
    assert everything == [
        ("alpha", 1, "trained", "train"),
        ("alpha", 2, "evaluated", None),
        ("beta", 1, "trained", "test"),
        ("beta", 2, "evaluated", None),
        ("beta", 2, "trained", "test"),
        ("beta", 3, "trained", "test"),
    ]
    pages, page = [], registry.dependents(shared, limit=4)
    while page:
        pages.append([(d.model_name, d.version, d.relation, d.role) for d in page])
        page = registry.dependents(shared, limit=4, after=page[-1])
    assert [len(p) for p in pages] == [4, 2] and [row for p in pages for row in p] == everything
    for bad in (0, -1, True, "3"):
        with pytest.raises(errors.InvalidInputError, match="limit"):
            registry.dependents(shared, limit=bad)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidInputError, match="cursor"):
        registry.dependents(shared, after="beta/1")
    # The cursor text pages exactly as the dependent does.
    fourth = registry.dependents(shared, limit=4)[-1]
    assert fourth.cursor == "beta/2/evaluated"
    assert registry.dependents(shared, after=fourth.cursor) == registry.dependents(
        shared, after=fourth
    )


def test_dependents_are_whole_entities_field_by_field_on_every_path(
    registry: ModelRegistry,
) -> None:
    # The store builds Dependents without their __init__ (store/dependents.py): each must
    # be the object Dependent(...) gives, field by field and type by type.
    shared = registry.snapshot_dataset("shared", _customers())
    with registry.start_run("both", inputs={"train": shared, "test": shared}) as run:
        beta = [registry.register_model("beta", i, run=run) for i in range(2)]
    with registry.start_run("alpha", inputs={"validation": shared}) as run:
        alpha = registry.register_model("alpha", 0, run=run)
    registry.transition(alpha, Stage.STAGING)
    evaluated = registry.register_model("gamma", 1)
    registry.log_metrics(evaluated, {"auc": 0.8, "f1": 0.7}, dataset=shared)
    # Two roles by two metric keys: four rows of one version on the walk.
    registry.log_metrics(beta[1], {"auc": 0.9, "f1": 0.8}, dataset=shared)
    expected = [
        {
            "version_id": alpha.id,
            "model_name": "alpha",
            "version": 1,
            "stage": Stage.STAGING,
            "relation": "trained",
            "role": "validation",
        },
        {
            "version_id": beta[0].id,
            "model_name": "beta",
            "version": 1,
            "stage": Stage.EXPERIMENT,
            "relation": "trained",
            "role": "test",
        },
        {
            "version_id": beta[1].id,
            "model_name": "beta",
            "version": 2,
            "stage": Stage.EXPERIMENT,
            "relation": "evaluated",
            "role": None,
        },
        {
            "version_id": beta[1].id,
            "model_name": "beta",
            "version": 2,
            "stage": Stage.EXPERIMENT,
            "relation": "trained",
            "role": "test",
        },
        {
            "version_id": evaluated.id,
            "model_name": "gamma",
            "version": 1,
            "stage": Stage.EXPERIMENT,
            "relation": "evaluated",
            "role": None,
        },
    ]
    with registry.engine.connect() as connection:
        listings = [
            registry.dependents(shared),
            [d for p in _pages(registry, shared.id, 2) for d in p],
            dependents_store.dependents_of(connection, shared.id, limit=10),
            _store_pages(connection, shared.id, 1),
            _store_pages(connection, shared.id, 2),
            dependents_store.dependents_of(connection, shared.id, limit=1)
            + dependents_store.dependents_of(
                connection, shared.id, limit=10, after=("alpha", 1, "trained")
            ),
        ]
    for found in listings:
        assert [type(d) for d in found] == [Dependent] * len(expected)
        assert [vars(d) for d in found] == expected
        for dependent, fields in zip(found, expected, strict=True):
            assert [type(value) for value in vars(dependent).values()] == [
                type(value) for value in fields.values()
            ]
            built = Dependent(**fields)  # type: ignore[arg-type]
            assert dependent == built and hash(dependent) == hash(built)
            assert repr(dependent) == repr(built)
            with pytest.raises(AttributeError):
                dependent.role = "x"  # type: ignore[misc]


def _store_pages(connection: Connection, dataset: str, limit: int) -> list[Dependent]:
    return [d for page in _store_page_list(connection, dataset, limit) for d in page]


def _store_page_list(connection: Connection, dataset: str, limit: int) -> list[list[Dependent]]:
    pages, page = [], dependents_store.dependents_of(connection, dataset, limit=limit)
    while page:
        pages.append(page)
        last = page[-1]
        page = dependents_store.dependents_of(
            connection, dataset, limit=limit, after=(last.model_name, last.version, last.relation)
        )
    return pages


def _pages(registry: ModelRegistry, dataset: str, limit: int) -> list[list[Dependent]]:
    pages, page = [], registry.dependents(dataset, limit=limit)
    while page:
        pages.append(page)
        page = registry.dependents(dataset, limit=limit, after=page[-1].cursor)
    return pages


def _many_dependents(registry: ModelRegistry) -> tuple[str, str]:
    """A snapshot most versions depend on, every way there is, and one a few depend on."""
    shared = registry.snapshot_dataset("shared", _customers())
    other = registry.snapshot_dataset("other", _customers(seed=3))
    with registry.start_run("beta", inputs={"train": shared, "test": shared}) as run:
        for i in range(12):  # one run, many versions, two roles: one dependent each
            registry.register_model("beta", i, run=run)
    for i in range(9):  # a run each, a role each
        with registry.start_run("alpha", inputs={"validation": shared}) as run:
            registry.register_model("alpha", i, run=run)
    for i in range(6):
        registry.register_model("gamma", i)  # no run; every other evaluated on it
        if i % 2 == 0:
            registry.log_metrics(f"gamma/{i + 1}", {"auc": 0.5, "f1": 0.4}, dataset=shared)
    for version in ("alpha/3", "beta/5", "beta/12"):  # trained and evaluated
        registry.log_metrics(version, {"auc": 0.7}, dataset=shared)
    with registry.start_run("delta", inputs=[other]) as run:
        for i in range(4):
            registry.register_model("delta", i, run=run)
    registry.log_metrics("alpha/1", {"auc": 0.6}, dataset=other)
    return shared.id, other.id


def _rows(found: list[Dependent]) -> list[tuple[str, int, str, str | None, str]]:
    return [(d.model_name, d.version, d.relation, d.role, d.stage.value) for d in found]


def test_dependents_of_an_unknown_dataset_is_not_found_but_an_empty_page_is_empty(
    registry: ModelRegistry,
) -> None:
    shared, other = _many_dependents(registry)
    unused = registry.snapshot_dataset("unused", _customers(seed=9))
    missing = str(uuid.uuid4())
    for call in (
        lambda: registry.dependents(missing),
        lambda: registry.dependents(missing, limit=5),
        lambda: registry.dependents(missing, limit=5, after="alpha/1/trained"),
    ):
        with pytest.raises(errors.NotFoundError, match=missing):
            call()
    assert registry.dependents(unused) == [] == registry.dependents(unused, limit=3)
    last = registry.dependents(shared)[-1]
    assert registry.dependents(shared, limit=5, after=last) == []  # past the end
    # A deleted dataset's dependents are still listed (its tombstone is the record).
    before = registry.dependents(other)
    registry.delete_dataset(other, force=True, reason="test")
    assert [d.cursor for d in registry.dependents(other)] == [d.cursor for d in before]


def test_paging_gives_exactly_the_whole_listing_in_order(
    registry: ModelRegistry,
) -> None:
    shared, other = _many_dependents(registry)
    everything = _rows(registry.dependents(shared))
    assert len(everything) == 12 + 9 + 3 + 3 == len(set(everything))
    assert everything == sorted(everything)
    assert ("alpha", 3, "evaluated", None, "experiment") in everything
    assert ("alpha", 3, "trained", "validation", "experiment") in everything
    assert ("beta", 1, "trained", "test", "experiment") in everything  # its first role
    assert not any(model == "delta" for model, *_ in everything)
    with registry.engine.connect() as connection:
        for limit in (1, 2, 3, 7, 26, 27, 100):
            pages = [_rows(page) for page in _store_page_list(connection, shared, limit)]
            assert [row for p in pages for row in p] == everything, limit
            assert all(len(p) == limit for p in pages[:-1]), limit
    # Through the API, with cursors as text.
    for limit in (2, 5, 100):
        collected, page = [], registry.dependents(shared, limit=limit)
        while page:
            collected += _rows(page)
            page = registry.dependents(shared, limit=limit, after=page[-1].cursor)
        assert collected == everything
    assert _rows(registry.dependents(other)) == [
        ("alpha", 1, "evaluated", None, "experiment"),
        *[("delta", v, "trained", "train", "experiment") for v in (1, 2, 3, 4)],
    ]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "beta",
        "beta/1",
        "beta/1/trained/x",
        "beta/x/trained",
        "beta/-1/trained",
        "beta/1.5/trained",
        "beta/\uff11/trained",  # a fullwidth digit: int() would take it
        "beta/1234567890123456789/trained",  # beyond a 64-bit integer
        "beta/1/used",
        "beta/1/TRAINED",
        "bad name!/1/trained",
        "../1/trained",
        "beta\x00/1/trained",
        "x" * 10_000,
    ],
)
def test_hostile_cursors_are_refused_with_what_a_cursor_looks_like(
    sqlite_registry: ModelRegistry, cursor: str
) -> None:
    shared = sqlite_registry.snapshot_dataset("shared", _customers())
    with pytest.raises(errors.InvalidInputError, match="cursor") as caught:
        sqlite_registry.dependents(shared, limit=5, after=cursor)
    assert len(str(caught.value)) < 400  # a huge cursor is not echoed whole


def test_a_cursor_is_a_position_not_a_row(sqlite_registry: ModelRegistry) -> None:
    shared = sqlite_registry.snapshot_dataset("shared", _customers())
    with sqlite_registry.start_run("m", inputs=[shared]) as run:
        for i in range(3):
            sqlite_registry.register_model("m", i, run=run)
    # Cursors naming no dependent (a model that never existed) still page from there.
    assert [d.version for d in sqlite_registry.dependents(shared, after="a/9/trained")] == [1, 2, 3]
    assert [d.version for d in sqlite_registry.dependents(shared, after="m/1/trained")] == [2, 3]
    assert sqlite_registry.dependents(shared, limit=2, after="zzz/1/evaluated") == []
    for bad in (5, 1.5, ("m", 1, "trained"), b"m/1/trained"):
        with pytest.raises(errors.InvalidInputError, match="after must be"):
            sqlite_registry.dependents(shared, after=bad)  # type: ignore[arg-type]


def test_a_refused_deletion_names_the_first_dependents_and_counts_the_rest(
    registry: ModelRegistry,
) -> None:
    shared = registry.snapshot_dataset("shared", _customers())
    with registry.start_run("many", inputs=[shared]) as run:
        for i in range(23):
            registry.register_model("m", i, run=run)
    with pytest.raises(errors.DatasetInUseError, match=r"m/20 .*; and 3 more") as caught:
        registry.delete_dataset(shared, actor="dpo", reason="GDPR")
    assert len(caught.value.dependents) == 23
    assert "m/21" not in str(caught.value)


def test_delete_refused_while_depended_on_then_forced_with_tombstone(
    registry: ModelRegistry,
) -> None:
    train = registry.snapshot_dataset("train", _customers())
    with registry.start_run("train", inputs=[train]) as run:
        mv = registry.register_model("churn", 1, run=run)
    registry.promote(mv, actor="alice", reason="go")
    with pytest.raises(errors.DatasetInUseError, match=r"churn/1 \(production") as caught:
        registry.delete_dataset(train, actor="dpo", reason="GDPR request 17")
    assert [d.version for d in caught.value.dependents] == [1]
    assert registry.blobs.exists(train.digest)
    assert not registry.get_dataset(train).deleted
    with pytest.raises(errors.InvalidInputError, match="reason"):
        registry.delete_dataset(train, actor="dpo", reason="", force=True)

    tombstone = registry.delete_dataset(train, actor="dpo", reason="GDPR request 17", force=True)
    assert tombstone.deleted and tombstone.deleted_by == "dpo"
    assert tombstone.deletion_reason == "GDPR request 17"
    assert tombstone.digest == train.digest and tombstone.row_count == 50
    assert not registry.blobs.exists(train.digest)
    with pytest.raises(errors.DatasetDeletedError, match="GDPR"):
        registry.load_dataset(train)
    assert registry.get_version(mv).trained_on_deleted_data
    lineage = registry.lineage(mv)
    assert [d.deleted for d in lineage.datasets] == [True]
    event = registry.audit_log(dataset="train", action="delete_dataset")[-1]
    assert event.actor == "dpo" and event.after and event.after["forced"] is True
    assert registry.verify().ok


def test_unused_dataset_deletes_without_force_but_needs_a_reason(registry: ModelRegistry) -> None:
    snap = registry.snapshot_dataset("scratch", _customers())
    with pytest.raises(errors.InvalidInputError, match="reason"):
        registry.delete_dataset(snap, actor="me", reason=None)  # type: ignore[arg-type]
    registry.delete_dataset(snap, actor="me", reason="scratch data")
    assert not registry.blobs.exists(snap.digest)


def test_metrics_are_not_linked_to_a_deleted_dataset(registry: ModelRegistry) -> None:
    holdout = registry.snapshot_dataset("holdout", _customers())
    mv = registry.register_model("churn", 1)
    registry.delete_dataset(holdout, actor="dpo", reason="GDPR request 17")
    events = registry.audit_count()
    with pytest.raises(errors.DatasetDeletedError, match=r"cannot log metrics.*GDPR request 17"):
        registry.log_metrics(mv, {"auc": 0.9}, dataset=holdout)
    assert registry.metric_history(mv) == [] and registry.get_version(mv).metrics == {}
    assert registry.audit_count() == events
    assert registry.dependents(holdout) == []


def test_identical_bytes_under_another_name_survive_deletion(registry: ModelRegistry) -> None:
    first = registry.snapshot_dataset("a", _customers())
    second = registry.snapshot_dataset("b", _customers())
    assert first.digest == second.digest
    registry.delete_dataset(first, actor="me", reason="dup")
    pd.testing.assert_frame_equal(registry.load_dataset(second), _customers())


def test_models_listing(registry: ModelRegistry) -> None:
    registry.register_model("b-model", 1)
    mv = registry.register_model("a-model", 1)
    registry.register_model("a-model", 2)
    registry.promote(mv, actor="x", reason="y")
    listing = {m.name: (m.latest_version, m.production_version) for m in registry.models()}
    assert listing == {"a-model": (2, 1), "b-model": (1, None)}
    assert registry.get_version("a-model@production").stage is Stage.PRODUCTION
