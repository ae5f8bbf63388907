"""Aliases (compare-and-swap, history, `name@alias` everywhere a reference goes, a race of
real processes) and tags on models and versions, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from registry_project import ModelRegistry, Stage
from registry_project.core import errors
from registry_project.core.version_refs import ByAlias, ByNamedAlias, parse_reference
from registry_project_tests.backends import postgres_schema_url
from registry_project_tests.conftest import open_registry

PROCESSES = 6


@pytest.fixture(params=["sqlite-local", "postgres-local"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> ModelRegistry:
    return open_registry(request.param, tmp_path, request)


def test_stage_names_keep_their_meaning_and_aliases_parse() -> None:
    assert parse_reference("churn@Production") == ByAlias("churn", "production")
    assert parse_reference("churn@latest") == ByAlias("churn", "latest")
    assert parse_reference("churn@champion") == ByNamedAlias("churn", "champion")
    for bad in ("churn@", "churn@bad alias", "churn@-x", "churn@" + "a" * 129):
        with pytest.raises(errors.InvalidReferenceError):
            parse_reference(bad)


def test_an_alias_names_one_version_wherever_a_reference_is_accepted(reg: ModelRegistry) -> None:
    first = reg.register_model("churn", [1], actor="alice")
    second = reg.register_model("churn", [2], actor="alice")
    reg.register_model("other", [3], actor="alice")
    set_ = reg.set_alias("churn", "champion", "churn/1", actor="ops", reason="A/B winner")
    assert (set_.version, set_.set_by) == (1, "ops")
    reg.set_alias("churn", "shadow", first, actor="ops")
    assert reg.get_version("churn@champion").id == first.id
    assert reg.load_model("churn@champion") == [1]
    assert reg.lineage("churn@champion").version.id == first.id
    assert reg.version_aliases(first) == ["champion", "shadow"]  # several per version
    reg.set_tag("churn@champion", "team", "risk", actor="ops")
    assert [t.key for t in reg.tags(first)] == ["team"]
    reg.promote("churn@champion", actor="ops", reason="via alias")
    assert reg.get_version("churn@production").id == first.id
    # Compare-and-swap: a stale expectation changes nothing.
    before = reg.audit_count()
    with pytest.raises(errors.AliasConflictError, match="you expected no version"):
        reg.set_alias("churn", "champion", second, actor="ops", expected_current=None)
    with pytest.raises(errors.AliasConflictError, match="it is now churn/1"):
        reg.set_alias("churn", "champion", second, actor="ops", expected_current=second)
    assert reg.audit_count() == before
    reg.set_alias("churn", "champion", second, actor="ops", expected_current="churn/1")
    assert reg.get_version("churn@champion").version == 2
    reg.remove_alias("churn", "champion", actor="ops", reason="retired", expected_current=second)
    with pytest.raises(errors.VersionNotFoundError, match="no alias 'champion'"):
        reg.get_version("churn@champion")
    history = reg.alias_history("churn", "champion")
    assert [(h.from_version, h.to_version, h.actor) for h in history] == [
        (None, 1, "ops"),
        (1, 2, "ops"),
        (2, None, "ops"),
    ]
    events = reg.audit_log(model="churn")
    assert [e.action for e in events].count("set_alias") == 3  # champion twice, shadow
    assert [e.action for e in events].count("remove_alias") == 1
    assert reg.verify().ok


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda r: r.set_alias("churn", "production", "churn/1"),
            "InvalidReferenceError",
            "cannot be an alias",
        ),
        (
            lambda r: r.set_alias("churn", "LATEST", "churn/1"),
            "InvalidReferenceError",
            "cannot be an alias",
        ),
        (
            lambda r: r.set_alias("churn", "a b", "churn/1"),
            "InvalidReferenceError",
            "invalid alias",
        ),
        (
            lambda r: r.set_alias("churn", "x", "other/1"),
            "InvalidInputError",
            "not a version of 'churn'",
        ),
        (lambda r: r.set_alias("churn", "x", "churn/9"), "VersionNotFoundError", "churn/9"),
        (
            lambda r: r.set_alias("nope", "x", "churn/1"),
            "InvalidInputError",
            "not a version of 'nope'",
        ),
        (lambda r: r.remove_alias("churn", "never"), "InvalidInputError", "no alias 'never'"),
        (
            lambda r: r.set_alias("churn", "x", "churn/1", reason=""),
            "InvalidInputError",
            "is empty",
        ),
        (lambda r: r.set_tag("churn/1", "", "v"), "InvalidInputError", "invalid tag key"),
        (lambda r: r.set_tag("churn/1", "a/b", "v"), "InvalidInputError", "invalid tag key"),
        (lambda r: r.set_tag("churn/1", "k", 3), "InvalidInputError", "tag value is text"),
        (lambda r: r.set_tag("churn/1", "k", "x" * 1001), "InvalidInputError", "at most 1000"),
        (lambda r: r.set_tag("churn/1", "k", "a\x00b"), "InvalidInputError", "NUL"),
        (lambda r: r.set_tag("nope", "k", "v"), "ModelNotFoundError", "no model named 'nope'"),
        (lambda r: r.set_tag("churn/9", "k", "v"), "VersionNotFoundError", "churn/9"),
        (lambda r: r.remove_tag("churn", "k"), "InvalidInputError", "has no tag 'k'"),
    ],
)
def test_bad_alias_and_tag_calls_are_refused_and_write_nothing(
    sqlite_registry: ModelRegistry, call: object, error: str, message: str
) -> None:
    reg = sqlite_registry
    reg.register_model("churn", [1], actor="alice")
    reg.register_model("other", [1], actor="alice")
    before = reg.audit_count()
    with pytest.raises(getattr(errors, error), match=message):
        call(reg)  # type: ignore[operator]
    assert reg.audit_count() == before
    assert reg.aliases("churn") == [] and reg.tags("churn") == [] and reg.tags("churn/1") == []


def test_tags_on_models_and_versions(reg: ModelRegistry) -> None:
    mv = reg.register_model("churn", [1], actor="alice")
    reg.set_tag(mv, "team", "risk", actor="alice")
    reg.set_tag("churn/1", "team", "fraud", actor="bob")  # overwrite
    reg.set_tag("churn", "owner", "ml-platform", actor="alice")
    reg.set_tag(mv.id, "validated", "true", actor="carol")
    assert [(t.key, t.value, t.set_by) for t in reg.tags("churn/1")] == [
        ("team", "fraud", "bob"),
        ("validated", "true", "carol"),
    ]
    assert [(t.key, t.value, t.version) for t in reg.tags("churn")] == [
        ("owner", "ml-platform", None)
    ]
    reg.remove_tag("churn/1", "team", actor="bob")
    assert [t.key for t in reg.tags(mv)] == ["validated"]
    events = reg.audit_log(model="churn", action="set_tag")
    assert [(e.before, e.after) for e in events][1] == (
        {"key": "team", "value": "risk", "version": 1},
        {"key": "team", "value": "fraud", "version": 1},
    )
    (removed,) = reg.audit_log(model="churn", action="remove_tag")
    assert removed.after is None and removed.before == {
        "key": "team",
        "value": "fraud",
        "version": 1,
    }
    assert reg.verify().ok


# --- the race: several processes set one alias at once ----------------------------------


def _set_once(database_url: str, artifact_root: str, worker: int, start: object) -> str:
    registry = ModelRegistry.open(database_url, artifact_root)
    try:
        start.wait()  # type: ignore[attr-defined]
        try:
            registry.set_alias(
                "churn",
                "champion",
                f"churn/{worker + 1}",
                actor=f"w{worker}",
                expected_current=None,
            )
            return "won"
        except errors.AliasConflictError:
            return "conflict"
    finally:
        registry.close()


def _race(database_url: str, artifact_root: str) -> None:
    with ModelRegistry.open(database_url, artifact_root) as reg:
        for worker in range(PROCESSES):
            reg.register_model("churn", [worker], actor="alice")
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(PROCESSES)
        with context.Pool(PROCESSES) as pool:
            outcomes = pool.starmap(
                _set_once, [(database_url, artifact_root, w, start) for w in range(PROCESSES)]
            )
    assert sorted(outcomes) == ["conflict"] * (PROCESSES - 1) + ["won"]
    winner = outcomes.index("won")
    with ModelRegistry.open(database_url, artifact_root) as reg:
        assert reg.get_version("churn@champion").version == winner + 1
        (change,) = reg.alias_history("churn", "champion")
        assert (change.from_version, change.to_version, change.actor) == (
            None,
            winner + 1,
            f"w{winner}",
        )
        (event,) = reg.audit_log(model="churn", action="set_alias")
        assert event.actor == f"w{winner}"
        assert all(v.stage is Stage.EXPERIMENT for v in reg.versions("churn"))
        assert reg.verify().ok


@pytest.mark.slow
def test_alias_race_between_processes_sqlite(tmp_path: Path) -> None:
    _race(f"sqlite:///{tmp_path / 'registry.db'}", str(tmp_path / "artifacts"))


@pytest.mark.slow
def test_alias_race_between_processes_postgres(tmp_path: Path) -> None:
    with postgres_schema_url() as url:
        _race(url, str(tmp_path / "artifacts"))
