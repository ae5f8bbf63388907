"""The CLI's SQLAlchemy-free listing of a SQLite registry gives what `versions` gives.

`core/store/sqlite_reads.list_versions` re-states store/versions.py's queries as SQL
text: every order, stage filter and limit is compared with the registry's own answer, on
one real SQLite file; everything it must leave to the registry returns None.
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from registry_project import ModelRegistry, Stage
from registry_project.core import errors
from registry_project.core.store import engine, sqlite_reads


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ModelRegistry]:
    """Models m (30 versions: some without auc, ties on auc, staged, promoted, one trained
    on a deleted dataset, a signature) and a neighbour mm, whose
    versions must not appear."""
    root = tmp_path_factory.mktemp("reads")
    url = f"sqlite:///{root / 'registry.db'}"
    registry = ModelRegistry.open(url, str(root / "artifacts"))
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]})
    data = registry.snapshot_dataset("train", frame)
    for i in range(30):
        metrics = {} if i % 7 == 3 else {"auc": round(0.5 + (i % 5) / 10, 2), "loss": 1 / (i + 1)}
        if i == 11:
            with registry.start_run("fit", inputs=[data]) as run:
                registry.register_model("m", {"i": i}, run=run, metrics=metrics, signature=frame)
        else:
            registry.register_model("m", {"i": i}, metrics=metrics, actor=f"user{i % 3}")
    registry.register_model("mm", 1, metrics={"auc": 0.99})
    registry.transition("m/12", Stage.STAGING, reason="review")
    registry.promote("m/20", reason="best so far")
    registry.promote("m/25", reason="better")  # m/20 archived
    registry.delete_dataset(data, reason="retention test", force=True)
    return url, registry


ORDERS = [
    "-version",
    "version",
    "created_at",
    "-created_at",
    "-stage_changed_at",
    "stage_changed_at",
    "-metrics.auc",
    "metrics.auc",
    "metrics.loss",
    "-metrics.absent",
]
STAGES = [None, "production", "archived", "experiment", "STAGING"]
NO_AUDIT_FILTER: dict[str, object] = {
    "model": None,
    "dataset": None,
    "actor": None,
    "action": None,
    "since": None,
    "limit": None,
    "newest_first": False,
}
BERLIN = timezone(timedelta(hours=1))
LIMITS = [None, 1, 3, 24, 40]


@pytest.mark.parametrize(("order_by", "stage"), list(itertools.product(ORDERS, STAGES)))
def test_every_listing_equals_the_registrys(
    filled: tuple[str, ModelRegistry], order_by: str, stage: str | None
) -> None:
    url, registry = filled
    for limit in LIMITS:
        fast = sqlite_reads.list_versions(url, "m", stage=stage, order_by=order_by, limit=limit)
        assert fast == registry.versions("m", stage=stage, order_by=order_by, limit=limit)


def test_the_values_keep_their_types(filled: tuple[str, ModelRegistry]) -> None:
    url, _ = filled
    fast = sqlite_reads.list_versions(url, "m", stage=None, order_by="version", limit=None)
    assert fast is not None and len(fast) == 30
    eleventh = fast[11]  # m/12
    assert eleventh.trained_on_deleted_data is True and eleventh.run_id is not None
    assert [c.name for c in eleventh.signature] == ["x", "y"]
    assert fast[24].stage.value == "production" and fast[19].stage.value == "archived"
    assert eleventh.stage.value == "staging"
    for version in fast:
        assert version.created_at.tzinfo is not None and version.created_at.utcoffset().seconds == 0
        assert isinstance(version.artifact_size, int)
    assert fast[3].metrics == {}  # no metric: an empty mapping, as the registry gives


def test_the_model_summaries_equal_the_registrys(
    filled: tuple[str, ModelRegistry], tmp_path: Path
) -> None:
    url, registry = filled
    fast = sqlite_reads.model_summaries(url)
    assert fast == registry.model_summaries()
    m, mm = fast
    assert m.production.version == 25 and m.latest.version == 30 and m.shown is m.production
    assert mm.production is None and mm.shown is mm.latest and mm.latest.metrics == {"auc": 0.99}
    assert m.last_changed.tzinfo is not None
    # a registry without models, then with one version registered
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with ModelRegistry.open(empty, str(tmp_path / "artifacts")) as other:
        assert sqlite_reads.model_summaries(empty) == [] == other.model_summaries()
        other.register_model("solo", 1)
        [solo] = sqlite_reads.model_summaries(empty)
        assert [solo] == other.model_summaries() and solo.latest.metrics == {}


AUDIT_FILTERS = [
    {},
    {"model": "m"},
    {"model": "mm"},
    {"model": "nobody"},
    {"dataset": "train"},
    {"actor": "user1"},
    {"action": "promote"},
    {"action": "register_model", "model": "m", "actor": "user2"},
]


@pytest.mark.parametrize("filters", AUDIT_FILTERS)
def test_every_audit_listing_equals_the_registrys(
    filled: tuple[str, ModelRegistry], filters: dict[str, str]
) -> None:
    url, registry = filled
    every = registry.audit_log()
    assert len(every) > 30
    middle = every[len(every) // 2].at
    for since, limit, newest_first in itertools.product(
        [None, middle, middle + timedelta(microseconds=1), middle.astimezone(BERLIN)],
        [None, 1, 7],
        [False, True],
    ):
        call = {**filters, "since": since, "limit": limit, "newest_first": newest_first}
        fast = sqlite_reads.audit_log(url, **{**NO_AUDIT_FILTER, **call})
        assert fast == registry.audit_log(**call), call
    # the boundary is inclusive, as the registry's: the event at `middle` is listed
    assert (
        sqlite_reads.audit_log(
            url,
            model=None,
            dataset=None,
            actor=None,
            action=None,
            since=middle,
            limit=1,
            newest_first=False,
        )[0].at
        == middle
    )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"model": "bad/name"}, errors.InvalidNameError),
        ({"dataset": "m' OR '1'='1"}, errors.InvalidNameError),
        ({"since": datetime(2026, 1, 1)}, errors.InvalidInputError),  # naive
        ({"limit": 0}, errors.InvalidInputError),
        ({"actor": "nul\x00in the middle"}, errors.InvalidInputError),
        ({"action": 5}, errors.InvalidInputError),
    ],
)
def test_bad_audit_filters_raise_what_the_registry_raises(
    filled: tuple[str, ModelRegistry], kwargs: dict[str, object], error: type[Exception]
) -> None:
    url, registry = filled
    call = {**NO_AUDIT_FILTER, **kwargs}
    with pytest.raises(error) as fast:
        sqlite_reads.audit_log(url, **call)  # type: ignore[arg-type]
    with pytest.raises(error) as slow:
        registry.audit_log(**call)  # type: ignore[arg-type]
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "nobody"}, errors.ModelNotFoundError),
        ({"name": "bad/name"}, errors.InvalidNameError),
        ({"name": "m' OR '1'='1"}, errors.InvalidNameError),
        ({"order_by": "-metrics."}, errors.InvalidInputError),
        ({"order_by": "version; DROP TABLE models"}, errors.InvalidInputError),
        ({"stage": "shipped"}, errors.InvalidInputError),
        ({"limit": 0}, errors.InvalidInputError),
        ({"limit": True}, errors.InvalidInputError),
    ],
)
def test_bad_input_raises_what_the_registry_raises(
    filled: tuple[str, ModelRegistry], kwargs: dict[str, object], error: type[Exception]
) -> None:
    url, registry = filled
    call = {"name": "m", "stage": None, "order_by": "-version", "limit": None, **kwargs}
    name = call.pop("name")
    with pytest.raises(error) as fast:
        sqlite_reads.list_versions(url, name, **call)  # type: ignore[arg-type]
    with pytest.raises(error) as slow:
        registry.versions(name, **call)  # type: ignore[arg-type]
    assert str(fast.value) == str(slow.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///{root}/registry.db?timeout=5",
        "sqlite:///{root}/regis%74ry.db",
        "sqlite:///{root}/nowhere.db",
    ],
)
def test_what_it_cannot_read_as_the_registry_would_is_left_to_the_registry(
    filled: tuple[str, ModelRegistry], url: str
) -> None:
    root = Path(filled[0].removeprefix("sqlite:///")).parent
    assert (
        sqlite_reads.list_versions(
            url.format(root=root), "m", stage=None, order_by="version", limit=None
        )
        is None
    )
    assert sqlite_reads.model_summaries(url.format(root=root)) is None
    assert sqlite_reads.audit_log(url.format(root=root), **NO_AUDIT_FILTER) is None


def test_another_schema_revision_is_left_to_the_registry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    ModelRegistry.open(url, str(tmp_path / "artifacts")).close()
    with sqlite3.connect(tmp_path / "registry.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    assert sqlite_reads.list_versions(url, "m", stage=None, order_by="version", limit=1) is None
    assert sqlite_reads.model_summaries(url) is None
    assert sqlite_reads.audit_log(url, **NO_AUDIT_FILTER) is None
    with pytest.raises(errors.SchemaVersionError):  # what the command then reports
        ModelRegistry.open(url, str(tmp_path / "artifacts"), create=False)


def test_a_file_that_is_no_registry_is_left_to_the_registry(tmp_path: Path) -> None:
    (tmp_path / "registry.db").write_bytes(b"not a database at all" * 100)
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    assert sqlite_reads.list_versions(url, "m", stage=None, order_by="version", limit=1) is None
    with sqlite3.connect(tmp_path / "other.db") as connection:
        connection.execute("CREATE TABLE t (x)")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert sqlite_reads.list_versions(other, "m", stage=None, order_by="version", limit=1) is None
    assert sqlite_reads.model_summaries(other) is None
    assert sqlite_reads.audit_log(other, **NO_AUDIT_FILTER) is None


def test_reading_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with ModelRegistry.open(url, str(tmp_path / "artifacts")) as registry:
        for i in range(5):
            registry.register_model("m", i, metrics={"auc": i / 10})
    # Closed: the last connection has checkpointed the WAL into the file.
    before = (tmp_path / "registry.db").read_bytes()
    for order_by in ORDERS:
        assert sqlite_reads.list_versions(url, "m", stage=None, order_by=order_by, limit=None)
    assert (tmp_path / "registry.db").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts", "registry.db"]


_WRITER = """
import sys
from registry_project import ModelRegistry
with ModelRegistry.open(sys.argv[1], sys.argv[2]) as registry:
    for i in range(int(sys.argv[3])):
        registry.register_model("m", i, metrics={"auc": i / 1000, "loss": 1 - i / 1000})
"""


def test_listings_beside_a_writing_process_are_whole_snapshots(tmp_path: Path) -> None:
    """Another process registers versions while the listing reads: every listing is one
    snapshot (the newest versions without gaps, each with both of the metrics its own
    transaction wrote), never a version whose metrics are not there yet."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    artifacts = str(tmp_path / "artifacts")
    with ModelRegistry.open(url, artifacts) as registry:
        registry.register_model("m", -1, metrics={"auc": 0.0, "loss": 1.0})
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, url, artifacts, "150"])
    seen = set()
    try:
        while writer.poll() is None:
            for order_by in ("-version", "-metrics.auc"):
                found = sqlite_reads.list_versions(
                    url, "m", stage=None, order_by=order_by, limit=20
                )
                assert found is not None
                numbers = [version.version for version in found]
                assert numbers == list(range(numbers[0], numbers[0] - len(numbers), -1))
                assert all(set(version.metrics) == {"auc", "loss"} for version in found)
                seen.add(numbers[0])
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    assert len(seen) > 3  # the listings did run while versions were being written


def test_it_waits_for_a_lock_as_long_as_the_registrys_engine() -> None:
    # A copy of the engine's constant (store/engine.py imports SQLAlchemy): kept equal.
    assert sqlite_reads._BUSY_TIMEOUT_SECONDS == engine.SQLITE_BUSY_TIMEOUT_SECONDS
