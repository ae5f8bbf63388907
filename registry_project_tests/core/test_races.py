"""Races between real processes that once lost bytes or misreported them (issue 19, 1-3).

Two spawned processes repeat one racing pair of calls, trial after trial, released
together by a barrier; the parent prepares every trial first and checks every outcome
afterwards. The number of trials is enough to have caught each failure as often as it
happened before the fix (gc: every trial; delete_dataset vs snapshot: 5-10 %; forced
deletion vs registration on PostgreSQL: 98 %).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry
from registry_project.core import flavors
from registry_project.core.errors import RegistryError
from registry_project_tests.backends import postgres_schema_url
from registry_project_tests.core.s3_server import FAKE_CREDENTIALS

pytestmark = pytest.mark.slow
BARRIER_TIMEOUT = 60
RACE_TIMEOUT = 120
GATE_SECONDS = 0.3


@dataclass(frozen=True)
class Where:
    """How a child process opens the registry under test."""

    database_url: str
    artifact_root: str
    s3_endpoint: str | None = None
    # The fork server started before moto's fake credentials were set: children get them here.
    environment: tuple[tuple[str, str], ...] = ()

    def open(self) -> ModelRegistry:
        return ModelRegistry.open(
            self.database_url, self.artifact_root, s3_endpoint_url=self.s3_endpoint
        )


@pytest.fixture(params=["sqlite-local", "postgres-local", "sqlite-s3"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    yield from _where(request, tmp_path)


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def where_local(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    yield from _where(request, tmp_path)


def _where(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    database, blobs = request.param.split("-")
    root, endpoint, environment = str(tmp_path / "artifacts"), None, ()
    if blobs == "s3":
        endpoint = request.getfixturevalue("s3_server")
        root = f"s3://{request.getfixturevalue('s3_bucket')}/registry"
        environment = tuple(FAKE_CREDENTIALS.items())
    if database == "sqlite":
        yield Where(f"sqlite:///{tmp_path / 'registry.db'}", root, endpoint, environment)
    else:
        with postgres_schema_url() as url:
            yield Where(url, root, endpoint, environment)


# --- the racing calls, run in the children ------------------------------------------------


def _register(registry: ModelRegistry, job: dict[str, Any]) -> str:
    time.sleep(job.get("delay", 0))
    run = job.get("run")
    return registry.register_model(job["model"], job["object"], run=run, flavor="pickle").id


def _gc(registry: ModelRegistry, job: dict[str, Any]) -> int:
    if "orphan" in job:
        _store_orphan(registry, job["orphan"], job["age_seconds"])
        time.sleep(job["wait"])
    report = registry.gc(dry_run=False, grace_period=timedelta(seconds=job["grace_seconds"]))
    return len(report.deleted)


def _delete_dataset(registry: ModelRegistry, job: dict[str, Any]) -> str:
    return registry.delete_dataset(
        job["dataset"], actor="dpo", reason="race", force=job.get("force", False)
    ).id


def _snapshot(registry: ModelRegistry, job: dict[str, Any]) -> str:
    return registry.snapshot_dataset(job["name"], pd.DataFrame(job["frame"])).id


def _log_metrics(registry: ModelRegistry, job: dict[str, Any]) -> str:
    return registry.log_metrics(job["version"], {"auc": 0.9}, dataset=job["dataset"]).id


def _serve(registry: ModelRegistry, job: dict[str, Any]) -> str:
    time.sleep(job.get("delay", 0))
    if job["how"] == "promote":
        return registry.promote(job["version"], actor="alice", reason="race").id
    return registry.set_alias(job["model"], "champion", job["version"], actor="alice").version_id


def _retention(registry: ModelRegistry, job: dict[str, Any]) -> int:
    registry.set_retention(model=job["model"], keep_days=1, keep_last=1, reason="race")
    return len(registry.apply_retention(actor="sweeper").done)


ACTIONS: dict[str, Callable[[ModelRegistry, dict[str, Any]], Any]] = {
    "register": _register,
    "serve": _serve,
    "retention": _retention,
    "gc": _gc,
    "delete_dataset": _delete_dataset,
    "snapshot": _snapshot,
    "log_metrics": _log_metrics,
}


def _worker(
    action: str, where: Where, jobs: list[dict[str, Any]], barrier: Any, results: Any
) -> None:
    os.environ.update(dict(where.environment))
    registry = where.open()
    outcomes: list[tuple[str, Any]] = []
    try:
        for job in jobs:
            barrier.wait(BARRIER_TIMEOUT)  # the trial starts
            try:
                outcomes.append(("ok", ACTIONS[action](registry, job)))
            except RegistryError as exc:  # a clear refusal is an outcome, not a crash
                outcomes.append(("error", f"{type(exc).__name__}: {exc}"))
            barrier.wait(BARRIER_TIMEOUT)  # the trial is over
    finally:
        registry.close()
        results.put((action, outcomes))


class Gate:
    """The lock every write's commit needs, held by the test: on SQLite the write lock
    (BEGIN IMMEDIATE), on PostgreSQL the audit head row. Both racing calls run up to it
    and wait there, so their transactions overlap in every trial instead of by luck."""

    def __init__(self, where: Where) -> None:
        self._engine = sa.create_engine(where.database_url, poolclass=sa.pool.NullPool)
        self._connection: Any = None

    def close(self) -> None:
        self._engine.dispose()

    def hold(self) -> None:
        self._connection = self._engine.connect()
        if self._engine.dialect.name == "sqlite":
            driver = self._connection.connection.driver_connection
            driver.isolation_level = None
            driver.execute("BEGIN IMMEDIATE")
        else:
            self._connection.begin()
            self._connection.exec_driver_sql("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")

    def release(self) -> None:
        if self._engine.dialect.name == "sqlite":
            self._connection.connection.driver_connection.execute("COMMIT")
        else:
            self._connection.commit()
        self._connection.close()


def _race(
    where: Where,
    first: tuple[str, list[dict[str, Any]]],
    second: tuple[str, list[dict[str, Any]]],
    *,
    gated: bool = False,
) -> dict[str, list[tuple[str, Any]]]:
    """Run both lists of calls in two processes, trial i of each released together (and
    with `gated`, held at the `Gate` for GATE_SECONDS before they may commit)."""
    # A fork server imports the registry once per session and forks each child from that
    # single-threaded process: a real process per role, without paying for the imports.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    barrier = context.Barrier(3)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(action, where, jobs, barrier, results))
        for action, jobs in (first, second)
    ]
    gate = Gate(where)
    for process in processes:
        process.start()
    try:
        for _ in first[1]:
            if gated:
                gate.hold()
            barrier.wait(BARRIER_TIMEOUT)
            if gated:
                time.sleep(GATE_SECONDS)
                gate.release()
            barrier.wait(BARRIER_TIMEOUT)
        collected = dict(results.get(timeout=RACE_TIMEOUT) for _ in processes)
    finally:
        gate.close()
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    assert all(process.exitcode == 0 for process in processes)
    return collected


# --- 1. gc against a registration of bytes that are stored as an orphan -----------------


def _store_orphan(registry: ModelRegistry, obj: object, age_seconds: float) -> None:
    """Store `obj` exactly as register_model(flavor="pickle") will, with no row for it."""
    with registry.blobs.writer() as writer:
        flavors.get_flavor("pickle").save(obj, writer)
    if age_seconds and writer.info is not None:
        path = Path(registry.blobs.uri_for(writer.info.digest))
        old = time.time() - age_seconds
        os.utime(path, (old, old))  # local only: an orphan from an earlier, failed run


GC_TRIALS = 4


def test_gc_never_deletes_bytes_a_registration_is_reusing(where: Where) -> None:
    # Each trial: gc's process stores an orphan (an earlier run's artifact that never got
    # its row) and collects; the other process registers identical bytes meanwhile, and
    # both meet at the gate before either may commit. Even trials are the case
    # (an orphan two hours old, the default grace period; local disk only, where an
    # orphan can be backdated); odd ones, and all on S3, use no grace period at all, so
    # that only the lock protocol protects the write.
    local = where.s3_endpoint is None
    objects = [{"trial": trial, "weights": list(range(2000))} for trial in range(GC_TRIALS)]
    gc_jobs = []
    for trial, obj in enumerate(objects):
        old_orphan = local and trial % 2 == 0
        gc_jobs.append(
            {
                "orphan": obj,
                "age_seconds": 7200 if old_orphan else 0,
                "wait": 0.1,  # the registration has stored its bytes and waits at the gate
                "grace_seconds": 3600 if old_orphan else 0,
            }
        )
    register_jobs = [{"model": "churn", "object": obj, "delay": 0.02} for obj in objects]
    where.open().close()  # create the schema once
    outcomes = _race(where, ("gc", gc_jobs), ("register", register_jobs), gated=True)

    registered = outcomes["register"]
    assert all(status == "ok" for status, _ in registered), registered
    with where.open() as registry:
        for (_, version_id), obj in zip(registered, objects, strict=True):
            assert registry.load_model(version_id) == obj  # its bytes survived the gc
        assert registry.verify().ok


# --- 2. delete_dataset against an identical snapshot ------------------------------------

DELETE_SNAPSHOT_TRIALS = 8


def test_delete_dataset_keeps_the_bytes_of_an_identical_new_snapshot(where_local: Where) -> None:
    # Gated, the deletion wins the lock in about half the trials, and the snapshot then
    # commits a new live row for bytes it found stored: they must stay. (On PostgreSQL the
    # gate cannot force that order; the trials still race.)
    frames = [
        {"trial": [trial] * 50, "x": list(range(50))} for trial in range(DELETE_SNAPSHOT_TRIALS)
    ]
    with where_local.open() as registry:
        snapshots = [registry.snapshot_dataset("customers", pd.DataFrame(f)) for f in frames]
    outcomes = _race(
        where_local,
        ("delete_dataset", [{"dataset": s.id} for s in snapshots]),
        ("snapshot", [{"name": "customers", "frame": f} for f in frames]),
        gated=True,
    )

    assert all(status == "ok" for status, _ in outcomes["delete_dataset"])
    assert all(status == "ok" for status, _ in outcomes["snapshot"])
    with where_local.open() as registry:
        live = registry.datasets("customers", include_deleted=False)
        for snapshot in live:  # every live snapshot still has its bytes
            assert registry.load_dataset(snapshot).shape == (50, 2)
        assert registry.verify().ok


# --- 3. forced deletion against a registration on a run trained on the dataset ----------

FORCED_DELETE_TRIALS = 3


def test_forced_deletion_always_marks_a_concurrent_registration(where_local: Where) -> None:
    with where_local.open() as registry:
        jobs = []
        for trial in range(FORCED_DELETE_TRIALS):
            snapshot = registry.snapshot_dataset(f"train-{trial}", pd.DataFrame({"t": [trial]}))
            with registry.start_run("training", inputs=[snapshot]) as run:
                pass
            jobs.append((snapshot.id, run.id, trial))
    outcomes = _race(
        where_local,
        ("delete_dataset", [{"dataset": d, "force": True} for d, _, _ in jobs]),
        ("register", [{"model": "churn", "object": t, "run": r} for _, r, t in jobs]),
        gated=True,
    )

    assert all(status == "ok" for status, _ in outcomes["delete_dataset"])
    with where_local.open() as registry:
        for status, version_id in outcomes["register"]:
            assert status == "ok"
            version = registry.get_version(version_id)
            # Whichever committed first, the version was trained on data now deleted.
            assert version.trained_on_deleted_data, f"{version.ref} is not marked"
        assert registry.verify().ok


# --- 3b. deletion against metrics evaluated on the dataset -------------------------------

EVALUATION_TRIALS = 6


def test_deletion_and_metrics_evaluated_on_the_dataset_are_ordered(where_local: Where) -> None:
    """Either the metrics commit first and the deletion is refused (the version now depends
    on the dataset), or the deletion commits first and logging is refused: never metrics
    linked to a tombstone that no deletion decision covered (both succeeded before)."""
    with where_local.open() as registry:
        jobs = []
        for trial in range(EVALUATION_TRIALS):
            holdout = registry.snapshot_dataset(f"holdout-{trial}", pd.DataFrame({"h": [trial]}))
            version = registry.register_model("churn", trial, flavor="pickle")
            jobs.append((holdout.id, version.id))
    outcomes = _race(
        where_local,
        ("delete_dataset", [{"dataset": d} for d, _ in jobs]),
        ("log_metrics", [{"version": v, "dataset": d} for d, v in jobs]),
        gated=True,
    )

    pairs = zip(outcomes["delete_dataset"], outcomes["log_metrics"], jobs, strict=True)
    with where_local.open() as registry:
        for (deleted, _), (logged, message), (dataset_id, version_id) in pairs:
            assert {deleted, logged} == {"ok", "error"}, (deleted, logged, message)
            snapshot = registry.get_dataset(dataset_id)
            evaluated = [r for r in registry.metric_history(version_id) if r.dataset_id]
            if logged == "error":
                assert message.startswith("DatasetDeletedError: cannot log metrics")
                assert snapshot.deleted and not evaluated
            else:
                assert not snapshot.deleted and evaluated


# --- 3c. the retention sweep against a promotion or an alias of the version it retires ---

RETENTION_TRIALS = 6


def test_a_version_served_while_the_sweep_runs_keeps_its_bytes(where_local: Where) -> None:
    # Each trial: an old experiment version that a fresh policy makes due, and a process
    # promoting it (even trials) or pointing an alias at it (odd ones) as the sweep runs,
    # both held at the gate, the server released after a varying head start. Whichever
    # commits first, a served version keeps its bytes and a retired one is never served.
    from registry_project.core.store.schema import model_versions

    jobs = []
    with where_local.open() as registry:
        for trial in range(RETENTION_TRIALS):
            model = f"churn-{trial}"
            old = registry.register_model(model, {"trial": trial, "v": 1})
            registry.register_model(model, {"trial": trial, "v": 2})  # the newest: kept
            with registry.engine.begin() as connection:
                connection.execute(
                    model_versions.update()
                    .where(model_versions.c.id == old.id)
                    .values(created_at=datetime.now(UTC) - timedelta(days=100))
                )
            how = "promote" if trial % 2 == 0 else "alias"
            jobs.append({"model": model, "version": old.id, "how": how, "delay": trial * 0.01})
    outcomes = _race(
        where_local,
        ("retention", [{"model": job["model"]} for job in jobs]),
        ("serve", jobs),
        gated=True,
    )

    assert all(status == "ok" for status, _ in outcomes["retention"]), outcomes
    with where_local.open() as registry:
        for (status, detail), job in zip(outcomes["serve"], jobs, strict=True):
            retired = registry.retirement(job["version"])
            version = registry.get_version(job["version"])
            served = version.stage.value == "production" or registry.version_aliases(version)
            if status == "ok":  # served first: the sweep's re-check kept it
                assert served and retired is None, f"{version.ref} served but retired"
                assert registry.load_model(version)["v"] == 1
            else:  # retired first: serving it was refused, nothing changed
                assert "ArtifactRetiredError" in detail, detail
                assert retired is not None and not served
        assert registry.verify().ok


# --- 4. a slow S3 upload against an unrelated promotion ----------------------------------


class ThrottledProxy:
    """A TCP proxy in front of the moto server that forwards uploads at `rate` bytes/s,
    so an upload takes seconds for real (S3 over HTTP, just a slow link)."""

    def __init__(self, upstream: str, rate: int) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self._upstream = (host, int(port))
        self._rate = rate
        self.uploaded = 0  # bytes forwarded towards S3 so far
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, throttled: bool) -> None:
        try:
            while chunk := source.recv(64 * 1024):
                sink.sendall(chunk)
                if throttled:
                    self.uploaded += len(chunk)
                    time.sleep(len(chunk) / self._rate)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


UPLOAD_BYTES = 6 * 1024 * 1024
UPLOAD_RATE = 2 * 1024 * 1024  # three seconds for the whole artifact


def _register_big(where: Where, payload_seed: int) -> None:
    os.environ.update(dict(where.environment))
    with where.open() as registry:
        payload = random.Random(payload_seed).randbytes(UPLOAD_BYTES)
        registry.register_model("big", payload, flavor="pickle")


def test_a_slow_s3_upload_does_not_block_an_unrelated_promotion(
    tmp_path: Path, s3_server: str, s3_bucket: str, request: pytest.FixtureRequest
) -> None:
    for database in ("sqlite", "postgres"):
        if database == "sqlite":
            url = f"sqlite:///{tmp_path / 'registry.db'}"
        else:
            schema = postgres_schema_url()
            url = schema.__enter__()
            request.addfinalizer(lambda schema=schema: schema.__exit__(None, None, None))
        _slow_upload_against_promotion(url, f"s3://{s3_bucket}/{database}", s3_server)


def _slow_upload_against_promotion(url: str, root: str, s3_server: str) -> None:
    with ModelRegistry.open(url, root, s3_endpoint_url=s3_server) as registry:
        first = registry.register_model("other", 1)
        registry.register_model("other", 2)
        proxy = ThrottledProxy(s3_server, UPLOAD_RATE)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        uploader = context.Process(
            target=_register_big,
            args=(Where(url, root, proxy.endpoint, tuple(FAKE_CREDENTIALS.items())), 7),
        )
        uploader.start()
        try:
            _wait_until(lambda: proxy.uploaded > UPLOAD_BYTES // 6)  # the upload is running
            started = time.monotonic()
            registry.promote(first, actor="alice", reason="unrelated")
            promoted_in = time.monotonic() - started
            still_uploading = proxy.uploaded < UPLOAD_BYTES * 0.9
            uploader.join(60)
        finally:
            if uploader.is_alive():
                uploader.kill()
            proxy.close()
        assert promoted_in < 1.0, f"the promotion waited {promoted_in:.2f} s behind an upload"
        assert still_uploading, "the upload was over before the promotion: nothing measured"
        assert uploader.exitcode == 0
        assert len(registry.load_model("big/1")) == UPLOAD_BYTES  # and the upload landed


def _wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the child process never got there")
        time.sleep(0.02)


# --- 5. a killed S3 writer's spool file --------------------------------------------------


class SlowFlavor(flavors.Flavor):
    """Writes a large artifact slowly, so a test can kill the writer in the middle."""

    name = "test-slow"
    pickle_based = False

    def can_handle(self, obj: object) -> bool:
        return False

    def save(self, obj: object, fileobj: Any) -> None:
        for _ in range(10_000):
            fileobj.write(b"x" * (1024 * 1024))
            time.sleep(0.01)

    def load(self, fileobj: Any) -> object:
        return fileobj.read()


def _register_slowly(where: Where) -> None:
    os.environ.update(dict(where.environment))
    with where.open() as registry:
        registry.register_model("big", None, flavor=SlowFlavor())


def test_gc_removes_the_spool_file_of_a_killed_s3_writer(
    tmp_path: Path, s3_server: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    # Where the writer spools: its own setting, and the system temp dir it used before.
    environment = (
        *FAKE_CREDENTIALS.items(),
        ("REGISTRY_SPOOL_DIR", str(spool)),
        ("TMPDIR", str(spool)),
    )
    monkeypatch.setenv("REGISTRY_SPOOL_DIR", str(spool))
    where = Where(
        f"sqlite:///{tmp_path / 'registry.db'}", f"s3://{s3_bucket}/r", s3_server, environment
    )
    where.open().close()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    writer = context.Process(target=_register_slowly, args=(where,))
    writer.start()
    _wait_until(lambda: any(p.stat().st_size > 5 * 1024 * 1024 for p in spool.rglob("*.part")))
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()

    with where.open() as registry:
        assert registry.models() == []
        assert registry.gc(dry_run=False).temp_files_removed == 0  # young: maybe a live write
        assert list(spool.rglob("*.part"))
        assert registry.gc(dry_run=False, grace_period=timedelta(0)).temp_files_removed == 1
        assert list(spool.rglob("*.part")) == []
