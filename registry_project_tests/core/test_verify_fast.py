"""verify()'s fast paths give the old answers (issue 18): the chain's hash from raw column
values is compute_hash's, a row judged only by compute_hash, the blob pool's report in the
old order with progress per blob, the driver-cursor stream equal to a fetch."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pandas as pd
import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry
from registry_project.core.blobs import S3BlobStore, local
from registry_project.core.blobs.layout import check_digest, relative_key
from registry_project.core.blobs.streaming import CHUNK_SIZE
from registry_project.core.errors import InvalidInputError
from registry_project.core.ops.blob_checks import BlobChecks, check_blob
from registry_project.core.store import audit, chain_scan, consistency, referenced_blobs
from registry_project.core.store.prepared import PreparedStatement, on_driver_cursor
from registry_project.core.store.schema import artifact_retirements, audit_events
from registry_project.core.validation import canonical_json

# Every character class JSON escapes differently: quotes, backslash, control characters,
# the line separators JavaScript minds, non-ASCII, a character outside the BMP.
AWKWARD = 'say "why" \\ it\nmatters\t\x01\x1f \u2028\u2029 café 模型 😀'


def _stored_rows(registry: ModelRegistry) -> list[tuple[object, ...]]:
    with registry.engine.connect() as connection:
        return [row for rows in chain_scan._SCAN.stream(connection, 3) for row in rows]


def _execute(registry: ModelRegistry, statement: sa.Executable) -> None:
    with registry.engine.begin() as connection:
        connection.execute(statement)


def test_the_fast_hash_is_compute_hash_for_awkward_text(registry: ModelRegistry) -> None:
    version = registry.register_model("churn", {"v": 1})
    registry.set_tag(version, "note", AWKWARD, actor="zoë")
    registry.promote(version, actor="zoë", reason=AWKWARD)
    registry.register_model("churn", {"v": 2}, metrics={"auc": 0.5})

    rows = _stored_rows(registry)

    assert len(rows) == registry.audit_count() >= 3
    with registry.engine.connect() as connection:
        for row in rows:
            values = chain_scan._SCAN.processed(connection, row)
            stored = values.pop("hash")
            assert audit.compute_hash(**values) == stored
            assert chain_scan.fast_hash(row) == stored  # judged without the slow path
    report = registry.verify()
    assert report.ok and report.events_checked == len(rows)


def _json_dumps_hash(**values: object) -> str:
    """The formula every stored chain and evidence pack was hashed with."""
    fields = [values[name] for name in audit.HASHED_FIELDS]
    fields[2] = audit.timestamp_text(fields[2])  # type: ignore[arg-type]
    body = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_compute_hash_hashes_the_bytes_json_dumps_gave() -> None:
    values: dict[str, object] = {
        "seq": 12,
        "event_id": "0b7c8f9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f",
        "at": datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC),
        "actor": AWKWARD,
        "action": "promote",
        "subject_type": "model_version",
        "subject_id": "churn-1",
        "model_name": "churn",
        "dataset_name": None,
        "before_json": None,
        "after_json": json.dumps({"note": AWKWARD}, ensure_ascii=False),
        "reason": AWKWARD,
        "prev_hash": "f" * 64,
    }
    assert audit.compute_hash(**values) == _json_dumps_hash(**values)  # type: ignore[arg-type]
    # Types the registry never writes still hash as json.dumps writes them.
    for odd in ({"seq": True}, {"subject_id": 5}, {"reason": 1.5}, {"model_name": ["x"]}):
        changed = {**values, **odd}
        assert audit.compute_hash(**changed) == _json_dumps_hash(**changed)  # type: ignore[arg-type]


def test_an_edited_awkward_reason_is_reported_as_before(registry: ModelRegistry) -> None:
    version = registry.register_model("churn", {"v": 1})
    registry.promote(version, actor="alice", reason=AWKWARD)
    [promote] = registry.audit_log(action="promote")
    _execute(
        registry,
        audit_events.update()
        .where(audit_events.c.seq == promote.seq)
        .values(reason=AWKWARD.replace("😀", "😁")),
    )

    problems = registry.verify().problems

    assert [(p.kind, p.subject, p.detail) for p in problems] == [
        (
            "audit_tampered",
            f"event #{promote.seq}",
            f"its content does not match its hash (action 'promote', subject {version.id!r}): "
            "the row was edited",
        )
    ]


def test_a_timestamp_stored_in_another_form_is_judged_by_compute_hash(
    sqlite_registry: ModelRegistry,
) -> None:
    """SQLite keeps the time as text. The same instant written in another form SQLAlchemy
    reads is not the fast path's text, so compute_hash judges the event, as it always did:
    intact. Another instant is an edit."""
    sqlite_registry.register_model("churn", {"v": 1})
    [event] = sqlite_registry.audit_log()
    same_instant = event.at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    with sqlite_registry.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE audit_events SET at = ? WHERE seq = ?", (same_instant, event.seq)
        )
    [row] = _stored_rows(sqlite_registry)
    with sqlite_registry.engine.connect() as connection:
        raw = on_driver_cursor(connection)  # off: rows come converted by SQLAlchemy
    if raw:
        assert row[2] == same_instant and chain_scan.fast_hash(row) is None
    assert sqlite_registry.verify().ok

    with sqlite_registry.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE audit_events SET at = ? WHERE seq = ?",
            (same_instant.replace(".", ".9")[:26], event.seq),
        )
    assert [p.kind for p in sqlite_registry.verify().problems] == ["audit_tampered"]


def _damage(registry: ModelRegistry, digest: str, data: bytes | None) -> None:
    """Overwrite a blob's stored bytes (None: delete it), on disk or in the bucket."""
    store = registry.blobs
    if isinstance(store, S3BlobStore):
        client = boto3.client("s3", endpoint_url=store._client.meta.endpoint_url)
        key = store._key(digest)
        if data is None:
            client.delete_object(Bucket=store.bucket, Key=key)
        else:
            client.put_object(Bucket=store.bucket, Key=key, Body=data)
        return
    path = Path(store.uri_for(digest))
    if data is None:
        path.unlink()
    else:
        path.write_bytes(data)


def test_blob_problems_come_in_digest_order_with_progress_per_blob(
    registry: ModelRegistry,
) -> None:
    versions = [registry.register_model("churn", {"v": i}) for i in range(40)]
    # Referenced by many versions, checked once.
    shared = [registry.register_model("shared", {"same": True}) for _ in range(5)]
    digests = sorted({v.artifact_digest for v in versions + shared})
    corrupt, missing = digests[3::9], digests[7::13]
    for digest in corrupt:
        _damage(registry, digest, b"not the model")
    for digest in missing:
        _damage(registry, digest, None)
    calls: list[tuple[int, int]] = []

    report = registry.verify(on_progress=lambda done, total: calls.append((done, total)))

    expected = sorted(
        [(d, "blob_corrupt") for d in corrupt] + [(d, "blob_missing") for d in missing]
    )
    assert [(p.subject, p.kind) for p in report.problems] == expected
    assert report.blobs_checked == len(digests) == 41
    assert calls == [(i, len(digests)) for i in range(1, len(digests) + 1)]
    detail = {p.subject: p.detail for p in report.problems}
    assert detail[corrupt[0]] == f"blob {registry.blobs.uri_for(corrupt[0])} is corrupt"


@pytest.mark.parametrize("processes_from", [1, 10**9])  # worker processes, then threads
def test_blob_checks_on_processes_give_the_threads_answers(
    sqlite_registry: ModelRegistry, processes_from: int
) -> None:
    registry = sqlite_registry
    digests = sorted(
        {registry.register_model("churn", {"v": i}).artifact_digest for i in range(12)}
    )
    corrupt, missing, unreadable = digests[2], digests[5], digests[9]
    _damage(registry, corrupt, b"not the model")
    _damage(registry, missing, None)
    _damage(registry, unreadable, None)
    Path(registry.blobs.uri_for(unreadable)).mkdir()  # a directory in the blob's place
    invalid = "not-a-digest"
    checked = [*digests[:4], invalid, *digests[4:]]

    problems = BlobChecks(registry.blobs, checked, processes_from=processes_from).results(None)

    expected = {
        corrupt: [check_blob(registry.blobs, corrupt)],
        missing: [check_blob(registry.blobs, missing)],
        unreadable: [check_blob(registry.blobs, unreadable)],
        invalid: [check_blob(registry.blobs, invalid)],
    }
    assert problems == [p for d in checked if d in expected for p in expected[d]]
    assert [p.kind for p in problems] == [
        "blob_corrupt",
        "blob_unreadable",
        "blob_missing",
        "blob_unreadable",
    ]
    assert "Is a directory" in problems[3].detail and "invalid blob digest" in problems[1].detail


def test_a_blob_larger_than_one_read_is_hashed_whole(registry: ModelRegistry) -> None:
    big = registry.register_model("big", b"\x00" * (3 * CHUNK_SIZE + 5), flavor="pickle")
    assert registry.verify().ok
    stored = registry.blobs.read_bytes(big.artifact_digest)
    flipped = stored[:-3] + bytes([stored[-3] ^ 1]) + stored[-2:]  # past the first reads
    assert hashlib.sha256(flipped).hexdigest() != big.artifact_digest
    _damage(registry, big.artifact_digest, flipped)

    assert [(p.kind, p.subject) for p in registry.verify().problems] == [
        ("blob_corrupt", big.artifact_digest)
    ]


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_stream_gives_fetch_rows_in_batches(registry: ModelRegistry, batch: int) -> None:
    for i in range(5):
        registry.register_model("churn", {"v": i})
    statement = PreparedStatement(
        sa.select(audit_events.c.seq, audit_events.c.at, audit_events.c.action)
        .where(audit_events.c.action == "register_model")
        .order_by(audit_events.c.seq)
    )
    with registry.engine.connect() as connection:
        batches = list(statement.stream(connection, batch))
        streamed = [statement.processed(connection, row) for rows in batches for row in rows]
        fetched = statement.fetch(connection)

    assert streamed == fetched and len(fetched) == 5
    assert all(0 < len(rows) <= batch for rows in batches)


class _Digest(str):
    """A str subclass: the quick test in `local._blob_path` leaves it to check_digest."""


@pytest.mark.parametrize(
    "digest",
    [
        "0123456789abcdef" * 4,
        _Digest("ab" * 32),
        "AB" * 32,  # upper case
        "ab" * 31 + "a",  # 63 characters
        "ab" * 32 + "a",  # 65
        "ab" * 31 + "ag",  # a letter that is not a hex digit
        "ab" * 31 + "a\n",  # what a regex's `$` would let through
        "../" * 21 + "a",
        "",
        5,
    ],
)
def test_the_quick_digest_test_accepts_what_check_digest_accepts(digest: object) -> None:
    root = "/blobs-root"
    try:
        expected = f"{root}/{relative_key(check_digest(digest))}"
    except InvalidInputError as refused:
        with pytest.raises(InvalidInputError) as raised:
            local._blob_path(root, digest)  # type: ignore[arg-type]
        assert str(raised.value) == str(refused)
    else:
        assert local._blob_path(root, digest) == expected  # type: ignore[arg-type]


def _replayed(events: list[tuple[object, ...]]) -> dict[str, tuple[bool, dict[str, object]]]:
    """The replay's answer, (created, fields) per subject, as `_replay` gives it."""
    states = consistency._replay(events, consistency._version_fields)
    return {subject: (state.created, state.fields) for subject, state in states.items()}


def _replayed_fast(events: list[tuple[object, ...]]) -> dict[str, tuple[bool, dict[str, object]]]:
    states = consistency._replay_versions(events)
    answer = {}
    for subject, state in states.items():
        if type(state) is tuple:
            state = consistency._registered_state(state)
        answer[subject] = (state.created, state.fields)
    return answer


_DIGEST = "0123456789abcdef" * 4
_CANONICAL = [
    canonical_json(
        {"version": 3, "digest": _DIGEST, "flavor": "pickle", "run_id": None, "metrics": {}}
    ),
    canonical_json(
        {
            "version": 0,
            "digest": _DIGEST,
            "flavor": "sklearn",
            "run_id": "0b7c8f9e-1d2a",
            "metrics": {"auc": 0.5112747213686085, "loss": -2, "tiny": 1e-05, "big": 1e300},
        }
    ),
]
_NOT_CANONICAL = [
    _CANONICAL[0].replace(",", ", "),  # whitespace
    _CANONICAL[0][:-1] + ',"version":4}',  # a key twice: the last one counts
    _CANONICAL[0].replace('"version":3', '"version":03'),  # not JSON
    _CANONICAL[0].replace('"version":3', '"version":3.0'),
    _CANONICAL[0].replace('"version":3', '"version":"3"'),
    _CANONICAL[0].replace('"metrics":{}', '"metrics":{"auc":NaN}'),
    _CANONICAL[0].replace('"metrics":{}', '"metrics":{"a":{"version":9}}'),
    _CANONICAL[0].replace('"metrics":{}', '"metrics":{"a":1.}'),  # not JSON
    _CANONICAL[0].replace('"pickle"', '"pic\\"kle"'),  # an escape
    _CANONICAL[0].replace('"pickle"', '"pic\nkle"'),  # a control character: not JSON
    _CANONICAL[0].replace('{"digest"', '{"stage":"production","digest"'),
    _CANONICAL[0] + " ",
    _CANONICAL[0][:-1],  # cut short
    _CANONICAL[0].replace(_DIGEST, _DIGEST.upper()),
    "[]",
    "",
]


@pytest.mark.parametrize("text", _CANONICAL + _NOT_CANONICAL)
def test_a_registration_payload_is_read_as_json_reads_it(text: str) -> None:
    """The replay reads the registry's own registration payloads without decoding them;
    whatever the text, its answer is the decoded one's."""
    events: list[tuple[object, ...]] = [("v1", "register_model", "churn", None, text)]
    promoted = [*events, ("v1", "promote", "churn", None, '{"stage":"production"}')]

    assert _replayed_fast(events) == _replayed(events)
    assert _replayed_fast(promoted) == _replayed(promoted)
    read_fast = type(consistency._replay_versions(events)["v1"]) is tuple
    assert read_fast == (text in _CANONICAL)


def test_an_edited_registration_payload_is_reported_as_before(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", {"v": 1})
    second = registry.register_model("churn", {"v": 2})
    third = registry.register_model("churn", {"v": 3})
    events = {e.subject_id: e for e in registry.audit_log(action="register_model")}
    with registry.engine.connect() as connection:
        stored = dict(
            connection.execute(
                sa.select(audit_events.c.subject_id, audit_events.c.after_json)
            ).all()
        )
    edits = {
        # Another digest, still canonical: read without decoding, and wrong.
        first.id: stored[first.id].replace(first.artifact_digest, second.artifact_digest),
        # The same values, not canonical: decoded, and right.
        second.id: stored[second.id].replace(",", ", "),
        # A second "version" key, which json.loads takes: decoded, and wrong.
        third.id: stored[third.id][:-1] + ',"version":7}',
    }
    for subject_id, text in edits.items():
        _execute(
            registry,
            audit_events.update()
            .where(audit_events.c.subject_id == subject_id)
            .values(after_json=text),
        )

    problems = registry.verify().problems

    tampered = [
        (
            "audit_tampered",
            f"event #{events[v.id].seq}",
            f"its content does not match its hash (action 'register_model', subject {v.id!r}): "
            "the row was edited",
        )
        for v in (first, second, third)
    ]
    assert [(p.kind, p.subject, p.detail) for p in problems] == [
        *tampered,
        (
            "record_mismatch",
            "churn/1",
            f"artifact_digest is {first.artifact_digest!r} but its audit events recorded "
            f"{second.artifact_digest!r}: the row was changed outside the registry",
        ),
        (
            "record_mismatch",
            "churn/3",
            "version is 3 but its audit events recorded 7: the row was changed outside the "
            "registry",
        ),
    ]


def _tamper_chain(registry: ModelRegistry) -> None:
    """A log of a dozen events with an edited row, a deleted one and a broken link."""
    version = registry.register_model("churn", {"v": 0})
    for i in range(1, 6):
        registry.register_model("churn", {"v": i})
    registry.promote(version, actor="alice", reason="first")
    registry.set_tag(version, "note", AWKWARD, actor="zoë")
    for i in range(6, 9):
        registry.register_model("churn", {"v": i})
    _execute(registry, audit_events.update().where(audit_events.c.seq == 3).values(actor="eve"))
    _execute(registry, audit_events.delete().where(audit_events.c.seq == 5))
    _execute(
        registry,
        audit_events.update().where(audit_events.c.seq == 9).values(prev_hash="0" * 64),
    )
    _execute(registry, audit_events.update().where(audit_events.c.seq == 11).values(reason="x"))


@pytest.mark.parametrize("hash_chunk", [1, 2, 5])
def test_the_chain_hashed_on_forked_children_gives_the_one_pass_answer(
    registry: ModelRegistry, hash_chunk: int
) -> None:
    _tamper_chain(registry)
    with registry.engine.connect() as connection:
        here = chain_scan.scan_chain(connection, consistency.REPLAYED, hash_chunk=None)
        forked = chain_scan.scan_chain(connection, consistency.REPLAYED, hash_chunk=hash_chunk)

    assert [(p.kind, p.subject) for p in here.problems] == [
        ("audit_tampered", "event #3"),
        ("audit_gap", "event #5"),
        ("audit_chain_broken", "event #6"),
        ("audit_chain_broken", "event #9"),
        ("audit_tampered", "event #9"),
        ("audit_tampered", "event #11"),
    ]
    assert forked.problems == here.problems
    assert (forked.checked, forked.kept) == (here.checked, here.kept)
    assert list(registry.verify().problems[:6]) == here.problems


def test_a_forked_child_that_fails_leaves_the_chunk_to_its_caller() -> None:
    child = chain_scan._ForkedHashes([object()])  # type: ignore[list-item]  # no row
    assert child.result() is None


def test_the_digests_from_the_version_rows_are_the_referenced_ones(
    registry: ModelRegistry,
) -> None:
    """verify() takes the versions' digests from the rows it replays; they are what the
    query gc uses gives, a retired version's left out."""
    versions = [registry.register_model("churn", {"v": i}) for i in range(3)]
    registry.snapshot_dataset("customers", pd.DataFrame({"a": [1, 2]}))
    _execute(
        registry,
        artifact_retirements.insert().values(
            version_id=versions[1].id,
            model_name="churn",
            digest=versions[1].artifact_digest,
            retired_at=datetime.now(UTC),
            retired_by="retention-bot",
            rule="keep_last 1",
            reason="kept the last one",
        ),
    )
    with registry.engine.connect() as connection:
        rows = consistency.version_rows(connection)
        from_rows = consistency.digests_with_bytes(connection, rows)
        queried = referenced_blobs.referenced_digests(connection)
        merged = referenced_blobs.referenced_digests(connection, versions=from_rows)

    assert sorted(from_rows) == sorted(versions[i].artifact_digest for i in (0, 2))
    assert merged == queried and len(queried) == 3  # two versions' and the snapshot's


class _StuckRow(tuple):  # type: ignore[type-arg]
    """A row whose reading never ends: a child stuck on it, as one would be on a lock."""

    def __getitem__(self, index: object) -> object:
        time.sleep(60)
        return super().__getitem__(index)  # type: ignore[index]


def test_a_stuck_child_is_given_up_and_its_chunk_left_to_its_caller() -> None:
    child = chain_scan._ForkedHashes([_StuckRow(range(14))], timeout=0.5)
    # Given up (and killed): a child left to finish would answer [0], its row unconfirmed.
    assert child.result() is None
