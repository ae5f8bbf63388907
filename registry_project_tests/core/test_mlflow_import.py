"""`import_mlflow` against a real MLflow store (mlflow-skinny, SQLite backend and file
artifacts, `registry_project_tests/mlflow_store.py`), into registries on SQLite and
PostgreSQL: what arrives equals what MLflow's own client reports; one broken version is
reported and leaves nothing; a second import writes nothing; an import killed inside a
version's transaction, run again, completes with nothing twice.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry, Stage
from registry_project.core import model_dirs
from registry_project.core.entities import DatasetKind, InputRole, RunStatus
from registry_project.core.errors import ImportSourceError, MissingExtraError
from registry_project_tests.backends import postgres_base_url
from registry_project_tests.conftest import open_registry
from registry_project_tests.core.fill_0001 import reflect
from registry_project_tests.mlflow_store import MlflowStore, build_store

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    # Built once (MLflow's logging takes seconds per model); the import only reads it.
    return build_store(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    return open_registry(request.param, tmp_path, request)


def _client(store: MlflowStore):
    from mlflow import MlflowClient

    return MlflowClient(store.tracking_uri, store.tracking_uri)


def _every_row(registry: ModelRegistry) -> dict[str, list[tuple]]:
    with registry.engine.connect() as connection:
        return {
            name: sorted(
                (tuple(str(v) for v in row) for row in connection.execute(sa.select(table))),
            )
            for name, table in reflect(connection).items()
        }


def test_import_equals_what_mlflow_reports(target: ModelRegistry, mlflow_store: MlflowStore):
    client = _client(mlflow_store)
    report = target.import_mlflow(mlflow_store.tracking_uri, actor="migrator")

    # The broken version is reported with its reason, and nothing of it was written.
    assert [(f.kind, f.mlflow_id) for f in report.failed] == [("version", mlflow_store.missing)]
    assert "cannot download the artifact" in report.failed[0].reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in client.search_registered_models():
            mine = {v.version: v for v in target.versions(model.name)}
            theirs = client.search_model_versions(f"name='{model.name}'")
            readable = [v for v in theirs if f"{v.name}/{v.version}" != mlflow_store.missing]
            # counts and numbers, the gap (churn/4 was deleted in MLflow) kept
            assert sorted(mine) == sorted(int(v.version) for v in readable)
            for theirs_version in readable:
                _check_version(target, client, mine[int(theirs_version.version)], theirs_version)
            # aliases, champion-style names kept
            aliases = {a.alias: a for a in target.aliases(model.name)}
            assert {k: mine[v].id for k, v in model.aliases.items()} == {
                k: a.version_id for k, a in aliases.items()
            }
            # the model's description and tags
            described = {m.name: m.description for m in target.models()}
            assert described[model.name] == model.description
            assert {t.key: t.value for t in target.tags(model.name)} == dict(model.tags)
    assert mlflow_store.missing == "fraud/2"
    assert [v.version for v in target.versions("fraud")] == [1]
    assert target.verify().ok
    # one `import` event per imported item, naming the MLflow ids
    events = target.audit_log(action="import")
    kinds = sorted(e.subject_type for e in events)
    assert kinds.count("model") == 2 and kinds.count("model_version") == 5
    assert kinds.count("run") == 5 and kinds.count("dataset") == 6  # fraud/1 has two
    version_events = {
        (e.after["mlflow_model"], e.after["mlflow_version"]): e
        for e in events
        if e.subject_type == "model_version"
    }
    assert set(version_events) == {
        ("churn", 1),
        ("churn", 2),
        ("churn", 3),
        ("churn", 5),
        ("fraud", 1),
    }
    assert version_events[("churn", 5)].after["gaps_before"] == [4]
    assert all(e.actor == "migrator" for e in events)


def _check_version(target: ModelRegistry, client, mine, theirs) -> None:
    run = client.get_run(theirs.run_id)
    assert mine.created_by == (theirs.user_id or run.info.user_id)
    assert int(mine.created_at.timestamp() * 1000) == theirs.creation_timestamp
    assert mine.description == theirs.description
    assert {t.key: t.value for t in target.tags(mine)} == dict(theirs.tags)
    stages = {"None": Stage.EXPERIMENT, "Staging": Stage.STAGING, "Production": Stage.PRODUCTION}
    stages["Archived"] = Stage.ARCHIVED
    assert mine.stage is stages[theirs.current_stage]
    # metrics: MLflow's latest values, on the version and on its run
    assert dict(mine.metrics) == run.data.metrics
    imported_run = target.get_run(mine.run_id)
    assert dict(imported_run.metrics) == run.data.metrics
    assert dict(imported_run.params) == run.data.params
    # every metric's full history, by step, as step metrics (a loss curve stays a curve)
    for key in run.data.metrics:
        theirs_history = sorted(
            (m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)
        )
        mine_history = [(s.step, s.value) for s in target.metric_history(mine.run_id, key)]
        assert mine_history == theirs_history, key
    assert len(target.metric_history(mine.run_id, "loss")) == 4  # the store logs 4 steps
    # the run's own tags (MLflow's system tags become the run's fields instead)
    own = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
    assert dict(imported_run.tags) == own
    assert imported_run.status is RunStatus.FINISHED and run.info.status == "FINISHED"
    assert int(imported_run.started_at.timestamp() * 1000) == run.info.start_time
    assert int(imported_run.ended_at.timestamp() * 1000) == run.info.end_time
    # dataset inputs as pinned references, by MLflow's digest and source
    references = [target.get_dataset(item.dataset_id) for item in imported_run.inputs]
    expected = sorted((d.dataset.digest, d.dataset.source) for d in run.inputs.dataset_inputs)
    assert (
        sorted((r.version_id.removeprefix("mlflow:"), f'{{"uri": "{r.uri}"}}') for r in references)
        == expected
    )
    assert all(r.kind is DatasetKind.REFERENCE for r in references)
    assert imported_run.inputs[0].role is InputRole.TRAIN
    # the artifact's bytes are MLflow's, file by file
    uri = client.get_model_version_download_uri(theirs.name, theirs.version)
    directory = Path(uri.removeprefix("file://"))
    stored = model_dirs.read_members(target.blobs.read_bytes(mine.artifact_digest))
    assert stored == {name: path.read_bytes() for name, path in model_dirs.files_of(directory)}
    assert mine.flavor == "mlflow"
    assert [c.name for c in mine.signature] == ["tenure_months", "monthly_charges", "support_calls"]


@pytest.fixture
def mlflow_database() -> Iterator[str]:
    """A fresh PostgreSQL database for MLflow's own backend store."""
    base = postgres_base_url()
    name = f"mlflow_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_import_from_an_mlflow_store_on_postgresql(
    target: ModelRegistry, mlflow_database: str, tmp_path: Path
):
    store = build_store(tmp_path / "mlflow-pg", mlflow_database)
    client = _client(store)
    report = target.import_mlflow(store.tracking_uri)
    assert [f.mlflow_id for f in report.failed] == [store.missing]
    assert sorted(v.version for v in target.versions("churn")) == [1, 2, 3, 5]
    for alias, number in client.get_registered_model("churn").aliases.items():
        assert target.get_version(f"churn@{alias}").version == int(number)
    assert target.get_version("churn@production").version == 2
    assert target.import_mlflow(store.tracking_uri).imported == ()


def test_the_source_is_recorded_without_credentials():
    from registry_project.core.mlflow_source import MlflowSource

    source = MlflowSource("https://alice:s3cret@mlflow.example.com/")  # nothing is contacted
    assert "s3cret" not in source.source_id and "mlflow.example.com" in source.source_id


def test_imported_model_loads_and_predicts(sqlite_registry: ModelRegistry, mlflow_store):
    import mlflow.pyfunc

    from registry_project_tests.mlflow_store import features

    sqlite_registry.import_mlflow(mlflow_store.tracking_uri, models=["churn"])
    loaded = sqlite_registry.load_model("churn@champion")
    uri = _client(mlflow_store).get_model_version_download_uri("churn", "2")
    X, _ = features(3)
    assert list(loaded.predict(X)) == list(mlflow.pyfunc.load_model(uri).predict(X))


def test_second_import_changes_nothing(sqlite_registry: ModelRegistry, mlflow_store):
    first = sqlite_registry.import_mlflow(mlflow_store.tracking_uri)
    before = _every_row(sqlite_registry)
    second = sqlite_registry.import_mlflow(mlflow_store.tracking_uri)
    assert second.imported == ()
    assert sorted(i.mlflow_id for i in second.skipped) == sorted(
        i.mlflow_id for i in first.imported
    )
    assert [f.mlflow_id for f in second.failed] == [mlflow_store.missing]  # still broken
    assert _every_row(sqlite_registry) == before


def test_dry_run_writes_nothing(sqlite_registry: ModelRegistry, mlflow_store):
    before = _every_row(sqlite_registry)
    report = sqlite_registry.import_mlflow(mlflow_store.tracking_uri, dry_run=True)
    assert report.dry_run and len(report.imported) == 2 + 6  # both models, every version
    assert _every_row(sqlite_registry) == before


def test_only_named_models(sqlite_registry: ModelRegistry, mlflow_store):
    report = sqlite_registry.import_mlflow(mlflow_store.tracking_uri, models=["fraud"])
    assert [m.name for m in sqlite_registry.models()] == ["fraud"]
    assert {i.mlflow_id for i in report.imported} == {"fraud", "fraud/1"}


def test_numbers_taken_here_are_renumbered_and_said(sqlite_registry: ModelRegistry, mlflow_store):
    from sklearn.dummy import DummyClassifier

    sqlite_registry.register_model("fraud", DummyClassifier())  # fraud/1 is taken here
    report = sqlite_registry.import_mlflow(mlflow_store.tracking_uri, models=["fraud"])
    version = next(i for i in report.imported if i.kind == "version")
    assert (version.mlflow_id, version.ref) == ("fraud/1", "fraud/2")
    assert "renumbered from 1" in version.note
    event = sqlite_registry.audit_log(action="import", model="fraud")[-1]
    assert event.after["renumbered_from"] == 1 and event.after["version"] == 2


def test_unreachable_store_is_a_clear_error(sqlite_registry: ModelRegistry, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow retries for minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(ImportSourceError, match="cannot read the MLflow store"):
        sqlite_registry.import_mlflow("http://127.0.0.1:9/", models=["churn"])


def test_missing_extra_says_how_to_install(sqlite_registry: ModelRegistry, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    with pytest.raises(MissingExtraError, match=r"registry_project\[mlflow\]"):
        sqlite_registry.import_mlflow("sqlite:///nowhere.db")


def test_the_core_does_not_import_mlflow(tmp_path: Path):
    code = textwrap.dedent(
        f"""
        import sys
        from registry_project import ModelRegistry
        import registry_project.cli
        reg = ModelRegistry.open("sqlite:///{tmp_path}/r.db", "{tmp_path}/a")
        reg.close()
        assert not [m for m in sys.modules if m.split(".")[0] == "mlflow"], "mlflow imported"
        """
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


_KILLED_IMPORT = """
import os, signal, sys
from registry_project import ModelRegistry
from registry_project.core.store import imports

real = imports.record

def record(connection, **item):
    real(connection, **item)
    if item["kind"] == "version" and item["external_id"] == sys.argv[3]:
        # inside the version's transaction, its rows written, before the commit
        os.kill(os.getpid(), signal.SIGKILL)

imports.record = record
with ModelRegistry.open(sys.argv[1], sys.argv[2]) as reg:
    reg.import_mlflow(sys.argv[4])
"""


def test_killed_import_resumes_with_nothing_twice(
    target: ModelRegistry, mlflow_store: MlflowStore, tmp_path: Path
):
    url = target.engine.url.render_as_string(hide_password=False)
    root = target.blobs.root_uri
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_IMPORT, url, root, "churn/3", mlflow_store.tracking_uri],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    # churn/1 and churn/2 committed; churn/3 was rolled back with the process
    assert [v.version for v in target.versions("churn")] == [2, 1]
    report = target.import_mlflow(mlflow_store.tracking_uri)
    assert {i.mlflow_id for i in report.skipped} == {"churn", "churn/1", "churn/2"}
    assert {i.mlflow_id for i in report.imported} == {"churn/3", "churn/5", "fraud", "fraud/1"}
    assert sorted(v.version for v in target.versions("churn")) == [1, 2, 3, 5]
    runs = [e.subject_id for e in target.audit_log(action="import") if e.subject_type == "run"]
    assert len(runs) == len(set(runs)) == 5
    datasets = target.datasets()
    assert len(datasets) == len({(d.uri, d.version_id) for d in datasets}) == 6
    assert target.verify().ok
    again = target.import_mlflow(mlflow_store.tracking_uri)
    assert again.imported == ()


def test_read_members_round_trip(tmp_path: Path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "d" / "sub" / "x.bin").write_bytes(b"\x00\x01")
    first, second = io.BytesIO(), io.BytesIO()
    model_dirs.pack(tmp_path / "d", first)
    os.utime(tmp_path / "d" / "MLmodel", (0, 12345))  # times do not change the bytes
    model_dirs.pack(tmp_path / "d", second)
    assert first.getvalue() == second.getvalue()
    assert model_dirs.read_members(first.getvalue()) == {
        "MLmodel": b"flavors: {}\n",
        "sub/x.bin": b"\x00\x01",
    }


def test_a_protected_model_is_not_entered_by_the_import(
    sqlite_registry: ModelRegistry, mlflow_store: MlflowStore
):
    from sklearn.dummy import DummyClassifier

    reg = sqlite_registry
    reg.register_model("churn", DummyClassifier(), actor="carol")  # the model exists here
    reg.protect("churn", protected_aliases=["champion"], actor="admin", reason="four eyes")
    report = reg.import_mlflow(mlflow_store.tracking_uri, models=["churn"])
    failed = {f.mlflow_id: f.reason for f in report.failed}
    # churn/2 is Production and champion in MLflow: refused whole, nothing of it written
    assert set(failed) == {"churn/2"} and "approv" in failed["churn/2"]
    assert reg.production_version("churn") is None
    assert [a.alias for a in reg.aliases("churn")] == ["challenger"]
    imported = {i.mlflow_id: i.ref for i in report.imported if i.kind == "version"}
    assert imported == {"churn/1": "churn/2", "churn/3": "churn/3", "churn/5": "churn/5"}
    assert reg.verify().ok
