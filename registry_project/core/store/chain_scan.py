"""The audit hash chain checked in one pass over the log, at a few microseconds an event.

Its one job is `scan_chain`: every event re-hashed and linked to the one before, the tip
compared with `audit_head`, and (in the same pass, so the log is read once) the events a
row cross-check replays kept aside for `consistency.audit_mismatches`.

Why it does not go through `audit.compute_hash` for every event: building a dict and a
datetime per event was most of `verify()` on a large registry. The rows come straight
from the driver's cursor in large batches (`PreparedStatement.stream`) and go to the text
`compute_hash` hashes (`audit.hashed_text`, the one formula) from the raw column values.
Only values of the expected types take that path (an int `seq`, text or NULL elsewhere,
SQLite's own timestamp text). Any event whose fast hash does not match
is hashed again the old way, from values converted exactly as SQLAlchemy converts them,
so a tampered row is judged (and described) by `compute_hash` as before: the fast path
can only confirm a hash, never be the reason one is reported wrong.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import VerifyProblem
from registry_project.core.store import audit
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.schema import GENESIS_HASH, audit_events, audit_head

# The columns `compute_hash` takes, in its order, then the stored hash.
_SCAN = PreparedStatement(
    sa.select(
        *(audit_events.c[name] for name in audit.HASHED_FIELDS), audit_events.c.hash
    ).order_by(audit_events.c.seq)
)
_BATCH = 5000
# Events per chunk hashed by a forked child (`scan_chain`), and chunks at most in flight.
# Hashing is half of the chain check; a child per chunk runs it beside this process's
# reading (and the replay after it) on another core. Smaller logs are hashed here, as a
# fork costs about as much as hashing a few thousand events.
HASH_CHUNK = 25_000
_IN_FLIGHT = 2


@dataclass
class ChainScan:
    """What one pass over the log found."""

    problems: list[VerifyProblem] = field(default_factory=list)
    checked: int = 0
    # subject_type -> (subject_id, action, model_name, dataset_name, after_json) of the
    # events `scan_chain` was asked to keep, in chain order.
    kept: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)


def scan_chain(
    connection: Connection,
    keep: Mapping[str, Collection[str]] | None = None,
    *,
    hash_chunk: int | None = HASH_CHUNK,
) -> ChainScan:
    """Check every event and the tip; keep the events whose subject_type is a key of
    `keep` and whose action is among its values.

    With `hash_chunk` (and fork on this platform), each full chunk of that many events is
    hashed by a forked child while this process reads on (`_ForkedHashes`); None hashes
    every event here. Either way the same events are judged by the same functions, and
    the problems come in the same order."""
    keep = keep or {}
    scan = ChainScan(kept={subject_type: [] for subject_type in keep})
    kept = scan.kept
    wanted = {subject_type: frozenset(actions) for subject_type, actions in keep.items()}
    offload = hash_chunk is not None and _forks()
    # (index of the event in the log, 0 gap / 1 link / 2 content, problem): sorted at
    # the end, so a content problem found by a child lands where the one pass put it.
    found: list[tuple[int, int, VerifyProblem]] = []
    chunk: list[Sequence[Any]] = []
    chunks: list[tuple[int, list[Sequence[Any]], _ForkedHashes]] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    index = 0
    for rows in _SCAN.stream(connection, _BATCH):
        if not _linked(rows, expected_seq, expected_prev):  # judged event by event
            _check_links(rows, index, expected_seq, expected_prev, found)
        if offload:
            chunk.extend(rows)
        else:
            for offset in _unconfirmed(rows):
                _judge(connection, rows[offset], index + offset, found)
        for subject_type, actions in wanted.items():
            kept[subject_type].extend(
                [
                    (row[6], row[4], row[7], row[8], row[10])
                    for row in rows
                    if row[5] == subject_type and row[4] in actions
                ]
            )
        last = rows[-1]
        expected_prev, expected_seq = last[13], last[0] + 1
        index += len(rows)
        if offload and len(chunk) >= hash_chunk:  # type: ignore[operator]
            if len(chunks) >= _IN_FLIGHT:  # bounded: memory, and processes on few cores
                _collect(connection, *chunks.pop(0), found)
            chunks.append((index - len(chunk), chunk, _ForkedHashes(chunk)))
            chunk = []
    for first, hashed, child in chunks:
        _collect(connection, first, hashed, child, found)
    first = index - len(chunk)  # the last, partial chunk: here
    for offset in _unconfirmed(chunk):
        _judge(connection, chunk[offset], first + offset, found)
    found.sort(key=lambda entry: entry[:2])
    scan.problems.extend(problem for _, _, problem in found)
    scan.checked = index
    problems = scan.problems
    head = connection.execute(sa.select(audit_head).where(audit_head.c.id == 1)).one_or_none()
    if head is None:
        problems.append(
            VerifyProblem("audit_head_missing", "audit_head", "the chain tip row is missing")
        )
    elif head.seq != expected_seq - 1 or head.hash != expected_prev:
        problems.append(
            VerifyProblem(
                "audit_gap",
                f"event #{head.seq}",
                f"the chain tip records event #{head.seq} but the log ends at "
                f"#{expected_seq - 1}: the newest events were deleted or altered",
            )
        )
    return scan


def _linked(rows: Sequence[Sequence[Any]], expected_seq: int, expected_prev: str) -> bool:
    """Whether a batch continues the chain with no gap and no broken link: each event
    numbered one after the one before and pointing at its hash. Compared as lists (the
    common case, a whole batch at C speed); False sends the batch to `_check_links`."""
    seqs = [row[0] for row in rows]
    if seqs != list(range(expected_seq, expected_seq + len(rows))):
        return False
    return [row[12] for row in rows] == [expected_prev, *[row[13] for row in rows[:-1]]]


def _check_links(
    rows: Sequence[Sequence[Any]],
    index: int,
    expected_seq: int,
    expected_prev: str,
    found: list[tuple[int, int, VerifyProblem]],
) -> None:
    """Each event of a batch against the one before it: a gap in the numbering, a
    prev_hash that is not the hash before it."""
    for offset, row in enumerate(rows):
        seq, prev_hash = row[0], row[12]
        if seq != expected_seq:
            found.append((index + offset, 0, _gap(expected_seq, seq)))
        if prev_hash != expected_prev:
            problem = VerifyProblem(
                "audit_chain_broken",
                f"event #{seq}",
                "prev_hash does not match the hash of the event before it",
            )
            found.append((index + offset, 1, problem))
        expected_prev, expected_seq = row[13], seq + 1


def _gap(expected_seq: int, seq: int) -> VerifyProblem:
    return VerifyProblem(
        "audit_gap",
        f"event #{expected_seq}",
        f"events #{expected_seq}..#{seq - 1} are missing (deleted)",
    )


def _judge(
    connection: Connection,
    row: Sequence[Any],
    index: int,
    found: list[tuple[int, int, VerifyProblem]],
) -> None:
    """A row whose fast hash did not confirm it, judged by `compute_hash`."""
    problem = _slow_check(connection, row)
    if problem is not None:
        found.append((index, 2, problem))


def _collect(
    connection: Connection,
    first: int,
    rows: list[Sequence[Any]],
    child: _ForkedHashes,
    found: list[tuple[int, int, VerifyProblem]],
) -> None:
    """A chunk's answer from its child (or, if the child gave none, from this process):
    the rows its fast hash did not confirm, each judged here."""
    unconfirmed = child.result()
    if unconfirmed is None:
        unconfirmed = _unconfirmed(rows)
    for offset in unconfirmed:
        _judge(connection, rows[offset], first + offset, found)


def _unconfirmed(rows: Sequence[Sequence[Any]]) -> list[int]:
    """The offsets of the rows whose stored hash `fast_hash` does not confirm."""
    return [offset for offset, row in enumerate(rows) if fast_hash(row) != row[13]]


def _forks() -> bool:
    """Whether children can be forked (as ops/blob_checks.py decides for its workers:
    Linux only, where a fork inherits the loaded modules and these rows), and may be: a
    daemonic process (a multiprocessing pool's worker) is not allowed children."""
    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


# How long a child may take to answer before its chunk is hashed here instead. Hashing a
# chunk takes a fraction of a second; a child stuck that long (a lock another thread held
# at the fork, which the child inherited held) must not hang verify().
CHILD_TIMEOUT = 120.0


class _ForkedHashes:
    """`_unconfirmed(rows)` computed by a forked child. The child inherits the rows (no
    copy is sent, which cost as much as hashing them), runs only `fast_hash` on them, and
    sends back the offsets it could not confirm, normally none; it never touches the
    connection or the registry it inherited. A child that cannot be started, fails,
    dies or takes longer than `timeout` gives nothing, and `result` is None: the caller
    hashes the chunk itself."""

    __slots__ = ("_process", "_receive", "_timeout")

    def __init__(self, rows: list[Sequence[Any]], *, timeout: float = CHILD_TIMEOUT) -> None:
        context = multiprocessing.get_context("fork")
        self._timeout = timeout
        self._receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_hash_in_child, args=(rows, send), daemon=True)
        try:
            process.start()
        except OSError:  # no more processes or memory for one: the caller hashes
            self._process = None
        else:
            self._process = process
        send.close()

    def result(self) -> list[int] | None:
        answer: list[int] | None = None
        try:
            if self._process is not None and self._receive.poll(self._timeout):
                answer = self._receive.recv()
        except (EOFError, OSError):  # the child ended without answering
            answer = None
        finally:
            self._receive.close()
            if self._process is not None:
                if self._process.is_alive():
                    self._process.kill()
                self._process.join()
        return answer


def _hash_in_child(rows: list[Sequence[Any]], send: Any) -> None:
    send.send(_unconfirmed(rows))
    send.close()


def fast_hash(row: Sequence[Any]) -> str | None:
    """`compute_hash` of an event as the driver gives it (its columns in `_SCAN`'s order),
    from the raw values; None when they are not of the types this path knows."""
    try:
        body = audit.hashed_text(row, _timestamp(row[2]))
    except (TypeError, ValueError):
        return None
    return audit.text_hash(body)


def _timestamp(at: Any) -> str:
    """The hashed text of `at` as the driver gives it. SQLite stores SQLAlchemy's
    `YYYY-MM-DD HH:MM:SS.ffffff`, which maps to the hashed text by two characters; any
    other text raises ValueError (the slow path converts it as SQLAlchemy does)."""
    if type(at) is str:
        if len(at) != 26 or at[10] != " " or at[19] != ".":
            raise ValueError(at)
        return f"{at[:10]}T{at[11:]}Z"
    if isinstance(at, datetime):
        return audit.timestamp_text(at)
    raise TypeError(at)


def _slow_check(connection: Connection, row: Any) -> VerifyProblem | None:
    """The event judged exactly as before the fast path: its values converted as
    SQLAlchemy converts them, hashed by `compute_hash`."""
    values = _SCAN.processed(connection, row)
    stored_hash = values.pop("hash")
    if audit.compute_hash(**values) == stored_hash:
        return None
    return VerifyProblem(
        "audit_tampered",
        f"event #{values['seq']}",
        f"its content does not match its hash (action {values['action']!r}, "
        f"subject {values['subject_id']!r}): the row was edited",
    )
