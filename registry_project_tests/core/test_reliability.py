"""Crashes, lost connections and secrets: the registry never records half of anything."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry, Stage
from registry_project.core import errors, flavors
from registry_project.core.store import audit, schema
from registry_project_tests.backends import postgres_schema_url

CHUNK = b"x" * (1024 * 1024)


class SlowFlavor(flavors.Flavor):
    """Writes a large artifact slowly, so a test can kill the writer in the middle."""

    name = "test-slow"
    pickle_based = False

    def can_handle(self, obj: object) -> bool:
        return False

    def save(self, obj: object, fileobj: BinaryIO) -> None:
        for _ in range(10_000):
            fileobj.write(CHUNK)
            time.sleep(0.01)

    def load(self, fileobj: BinaryIO) -> object:
        return fileobj.read()


def _register_slowly(database_url: str, artifact_root: str) -> None:
    registry = ModelRegistry.open(database_url, artifact_root)
    registry.register_model("big", None, flavor=SlowFlavor())


def _promote_then_hang(database_url: str, artifact_root: str, marker: str) -> None:
    """Promote, but stop forever inside the transaction, after the stage updates ran."""
    original = audit.append_event

    def hang_on_promote(connection: Any, draft: audit.EventDraft) -> Any:
        event = original(connection, draft)
        if draft.action == "promote":
            Path(marker).write_text("inside the promotion transaction")
            time.sleep(600)
        return event

    audit.append_event = hang_on_promote  # type: ignore[assignment]
    registry = ModelRegistry.open(database_url, artifact_root)
    registry.promote("churn/2", actor="doomed", reason="never commits")


def _register_then_hang_before_the_event(
    database_url: str, artifact_root: str, marker: str
) -> None:
    """Register, but stop forever inside the transaction where it waits for the blob's
    overlapped fsync and rename (PostgreSQL), after its version number and rows were sent."""
    from registry_project.core.blobs.streaming import BlobWriter

    original = BlobWriter.wait_durable

    def hang_once_durable(self: BlobWriter) -> None:
        original(self)
        Path(marker).write_text("inside the registration transaction")
        time.sleep(600)

    BlobWriter.wait_durable = hang_once_durable  # type: ignore[method-assign]
    registry = ModelRegistry.open(database_url, artifact_root)
    with registry.start_run("doomed") as run:
        registry.register_model("churn", {"w": 2}, run=run, metrics={"auc": 0.5})


def _kill_once_inside(target: Any, database_url: str, root: str, marker: Path) -> None:
    """Run `target(database_url, root, marker)` in a fresh process and SIGKILL it once it
    has written `marker` (from inside the transaction it then hangs in)."""
    process = multiprocessing.get_context("spawn").Process(
        target=target, args=(database_url, root, str(marker))
    )
    process.start()
    _wait_for(marker.exists)
    os.kill(process.pid, signal.SIGKILL)
    process.join()


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the child process never reached the crash point")
        time.sleep(0.05)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        with postgres_schema_url() as url:
            yield url


@pytest.mark.slow
def test_kill_during_artifact_write_leaves_no_version_and_gc_reclaims(
    database_url: str, tmp_path: Path
) -> None:
    root = str(tmp_path / "artifacts")
    ModelRegistry.open(database_url, root).close()
    process = multiprocessing.get_context("spawn").Process(
        target=_register_slowly, args=(database_url, root)
    )
    process.start()
    temp_dir = Path(root) / "tmp"
    _wait_for(lambda: any(p.stat().st_size > 20 * len(CHUNK) for p in temp_dir.glob("*.part")))
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    with ModelRegistry.open(database_url, root) as registry:
        assert registry.models() == []
        assert list(registry.blobs.iter_digests()) == []
        assert registry.verify().ok
        assert list(temp_dir.glob("*.part")), "the killed writer left its temp file"
        report = registry.gc(dry_run=False, grace_period=__import__("datetime").timedelta(0))
        assert report.temp_files_removed == 1
        assert not list(temp_dir.glob("*.part"))


@pytest.mark.slow
def test_kill_during_promotion_applies_nothing(database_url: str, tmp_path: Path) -> None:
    root = str(tmp_path / "artifacts")
    with ModelRegistry.open(database_url, root) as registry:
        first = registry.register_model("churn", 1)
        registry.register_model("churn", 2)
        registry.promote(first, actor="alice", reason="baseline")
        events_before = len(registry.audit_log())
    _kill_once_inside(_promote_then_hang, database_url, root, tmp_path / "inside")
    with ModelRegistry.open(database_url, root) as registry:
        stages = {v.version: v.stage for v in registry.versions("churn")}
        assert stages == {1: Stage.PRODUCTION, 2: Stage.EXPERIMENT}
        assert len(registry.audit_log()) == events_before
        assert registry.verify().ok
        registry.promote("churn/2", actor="bob", reason="after the crash")  # not stuck
        assert registry.get_version("churn@production").version == 2


def test_kill_while_a_registration_waits_for_its_overlapped_blob_records_nothing(
    tmp_path: Path,
) -> None:
    # On PostgreSQL a small artifact's fsync and rename overlap the version's transaction,
    # which holds the model's row lock meanwhile. A writer killed there commits nothing,
    # leaves the model usable by the next writer (no lock held, no number used up), and
    # its blob is an orphan for gc.
    root = str(tmp_path / "artifacts")
    with postgres_schema_url() as url:
        with ModelRegistry.open(url, root) as registry:
            registry.register_model("churn", {"w": 1})
            events_before = len(registry.audit_log())
        _kill_once_inside(_register_then_hang_before_the_event, url, root, tmp_path / "inside")
        with ModelRegistry.open(url, root) as registry:
            assert [v.version for v in registry.versions("churn")] == [1]
            # the run started and committed before; its end never came
            assert len(registry.audit_log()) == events_before + 1
            assert registry.verify().ok
            second = registry.register_model("churn", {"w": 3})  # not stuck behind a lock
            assert second.version == 2
            # the killed writer's artifact was renamed into place: the one orphan
            [orphan] = registry.gc(dry_run=True, grace_period=timedelta(0)).orphan_digests
            assert pickle.loads(registry.blobs.read_bytes(orphan)) == {"w": 2}
            report = registry.gc(dry_run=False, grace_period=timedelta(0))
            assert report.deleted == (orphan,) and not registry.blobs.exists(orphan)
            assert registry.load_model("churn/2") == {"w": 3}
            assert registry.verify().ok


def test_terminated_postgres_backend_mid_operation(tmp_path: Path) -> None:
    """The backend is killed (pg_terminate_backend) inside a promotion transaction: a clear
    StorageError, nothing applied, and the next call works on a fresh connection."""
    with postgres_schema_url() as url:
        name = f"registry-test-{os.getpid()}-{time.monotonic_ns()}"
        separator = "&" if "?" in url else "?"
        registry = ModelRegistry.open(f"{url}{separator}application_name={name}", str(tmp_path))
        first = registry.register_model("churn", 1)
        second = registry.register_model("churn", 2)
        registry.promote(first, actor="alice", reason="baseline")
        inside = threading.Event()
        original = audit.append_event

        def pause_on_promote(connection: Any, draft: audit.EventDraft) -> Any:
            event = original(connection, draft)
            if draft.action == "promote":
                inside.set()
                time.sleep(3)
            return event

        outcome: list[BaseException] = []

        def promote() -> None:
            try:
                registry.promote(second, actor="bob", reason="will be cut off")
            except BaseException as exc:
                outcome.append(exc)

        audit.append_event = pause_on_promote  # type: ignore[assignment]
        try:
            worker = threading.Thread(target=promote)
            worker.start()
            assert inside.wait(30)
            admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                killed = connection.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND state <> 'idle'"
                    ),
                    {"name": name},
                ).scalar_one()
            admin.dispose()
            worker.join(30)
        finally:
            audit.append_event = original  # type: ignore[assignment]
        assert killed >= 1
        assert len(outcome) == 1 and isinstance(outcome[0], errors.StorageError), outcome
        assert "retry" in str(outcome[0])
        assert registry.get_version("churn@production").id == first.id
        assert registry.verify().ok
        registry.promote(second, actor="bob", reason="retried")
        assert registry.get_version("churn@production").id == second.id
        registry.close()


def _terminate(url: str, name: str) -> int:
    """pg_terminate_backend on every backend of the registry named `name`, from another
    connection; how many were killed. Each call waits (up to 5 s) until its backend has
    exited, as a finished server restart has: without the wait, the next call could check
    out a connection whose backend is still on its way out and has not yet told the
    client (the race a loaded machine showed)."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return int(
                connection.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": name},
                ).scalar_one()
            )
    finally:
        admin.dispose()


def _named_registry(url: str, tmp_path: Path) -> tuple[ModelRegistry, str]:
    name = f"registry-test-{os.getpid()}-{time.monotonic_ns()}"
    separator = "&" if "?" in url else "?"
    return ModelRegistry.open(f"{url}{separator}application_name={name}", str(tmp_path)), name


def test_terminated_idle_backends_do_not_poison_the_next_calls(tmp_path: Path) -> None:
    """Every pooled connection's backend is killed between two calls (as a server restart
    does): the next read, registration and tracked run work, without a ping per checkout."""
    with postgres_schema_url() as url:
        registry, name = _named_registry(url, tmp_path)
        first = registry.register_model("churn", 1)
        with registry.start_run("train") as run:  # two connections in the pool
            registry.get_version(first.id)
        for call in range(3):
            assert _terminate(url, name) >= 1
            if call == 0:
                assert registry.get_version("churn/1").id == first.id
            elif call == 1:
                assert registry.register_model("churn", 2).version == 2
            else:
                with registry.start_run("train") as run:
                    registry.register_model("churn", 3, run=run)
        assert registry.get_run(run.id).status.value == "finished"
        assert [v.version for v in registry.versions("churn")] == [3, 2, 1]
        assert registry.verify().ok
        registry.close()


def test_pooled_connections_on_high_descriptors_are_checked(tmp_path: Path) -> None:
    """A process with over a thousand open files (a webserver, a code server) gets sockets
    above 1023, which select() refuses: the checkout check must still pass for a live
    connection and still catch a terminated one."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with postgres_schema_url() as url:
            registry, name = _named_registry(url, tmp_path)
            with registry.engine.connect() as connection:
                socket = connection.connection.driver_connection.pgconn.socket
            assert socket > 1023
            registry.register_model("churn", 1)
            assert registry.get_version("churn/1").version == 1
            assert _terminate(url, name) >= 1
            assert registry.register_model("churn", 2).version == 2
            registry.close()
    finally:
        for descriptor in held:
            os.close(descriptor)


def test_a_backend_lost_before_commit_is_retried_once(tmp_path: Path) -> None:
    """The backend dies inside a write transaction, before its COMMIT (past the checkout's
    check): the transaction runs again on a fresh connection, and commits once."""
    with postgres_schema_url() as url:
        registry, name = _named_registry(url, tmp_path)
        registry.register_model("churn", 1)
        attempts = []

        def work(connection: sa.Connection) -> int:
            attempts.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            if len(attempts) == 1:
                assert _terminate(url, name) >= 1
            connection.execute(sa.update(schema.models).values(description="written once"))
            return len(attempts)

        assert registry._w.write(work) == 2
        assert attempts[0] != attempts[1]  # a fresh backend
        with registry.engine.connect() as connection:
            assert connection.execute(sa.select(schema.models.c.description)).scalar_one() == (
                "written once"
            )
        registry.close()


def test_a_backend_lost_while_queued_statements_travel_is_retried_once(tmp_path: Path) -> None:
    """The backend dies before a pipeline (store/prepared.py) carrying queued statements
    and a read is sent: nothing was committed, so the work runs again on a fresh
    connection, and its rows are written once."""
    from registry_project.core.store.prepared import PreparedStatement
    from registry_project.core.store.versions import _ALLOCATE_NUMBER

    with postgres_schema_url() as url:
        registry, name = _named_registry(url, tmp_path)
        registry.register_model("churn", 1)
        insert = PreparedStatement(schema.models.insert())
        attempts = []

        def work(connection: sa.Connection) -> int:
            attempts.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            insert.execute_later(
                connection, {"name": "queued", "created_at": datetime.now(UTC), "created_by": "a"}
            )
            if len(attempts) == 1:
                assert _terminate(url, name) >= 1
            assert _ALLOCATE_NUMBER.execute(connection, {"model_name": "queued"}) == [(1,)]
            return len(attempts)

        assert registry._w.write(work) == 2
        assert attempts[0] != attempts[1]
        with registry.engine.connect() as connection:
            names = connection.execute(sa.select(schema.models.c.name)).scalars().all()
        assert sorted(names) == ["churn", "queued"]
        registry.close()


def test_s3_credentials_never_reach_the_database_or_logs(
    s3_server: str, s3_bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    import pandas as pd

    caplog.set_level(logging.DEBUG)
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    key_id = os.environ["AWS_ACCESS_KEY_ID"]
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    with ModelRegistry.open(url, f"s3://{s3_bucket}/p", s3_endpoint_url=s3_server) as registry:
        snap = registry.snapshot_dataset("customers", pd.DataFrame({"a": [1, 2]}))
        with registry.start_run("train", params={"C": 1}, inputs=[snap]) as run:
            mv = registry.register_model("churn", {"w": 1}, run=run, metrics={"auc": 0.9})
        registry.promote(mv, actor="alice", reason="go")
        registry.delete_dataset(snap, actor="dpo", reason="gdpr", force=True)
        registry.verify()
        with registry.engine.connect() as connection:
            dump = "\n".join(
                repr(row)
                for table in schema.metadata.sorted_tables
                for row in connection.execute(sa.select(table))
            )
    assert dump, "the registry recorded nothing?"
    stored = dump + (tmp_path / "registry.db").read_bytes().decode("latin-1")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("registry"))
    for value in (secret, key_id, os.environ["AWS_SESSION_TOKEN"]):
        assert value not in stored
        assert value not in ours
    # botocore's own DEBUG log signs requests with the key id, never the secret.
    assert secret not in caplog.text
