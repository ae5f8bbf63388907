"""`python -m benchmarks.statement_count [POSTGRES_URL]`: what one W1 registration costs in
SQL, counted rather than timed.

Figures that do not depend on how busy the machine is, so two versions of the package can
be compared exactly. On SQLite the driver's trace callback sees every statement it runs
(the prepared hot path included, which SQLAlchemy's events do not see). On PostgreSQL
libpq's protocol trace sees every message the client sends; a round trip is a message the
client must wait on: a `Sync` (the end of an extended-protocol statement, or of a pipeline)
or a simple `Query` (a BEGIN or COMMIT outside a pipeline, the pool's pre-ping). The `Flush`
psycopg sends right behind a pipeline's Sync waits for nothing more, so it is not counted.
Prints one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event

from benchmarks.ours import PARAMS, metrics
from registry_project import ModelRegistry

REGISTRATIONS = 20
ARTIFACT = b"x" * 100_000
ROUND_TRIP_MESSAGES = ("Sync", "Query")


@contextlib.contextmanager
def _registering(database_url: str | None) -> Iterator[tuple[ModelRegistry, Path]]:
    # In an empty directory: the run records the project files (pyproject.toml, ...) of
    # the directory it starts in, one row each, and the count must not depend on that.
    with tempfile.TemporaryDirectory() as directory, contextlib.chdir(directory):
        root = Path(directory)
        url = database_url or f"sqlite:///{root / 'r.db'}"
        registry = ModelRegistry.open(url, str(root / "artifacts"))
        registry.engine.dispose()  # every connection from here on is traced
        try:
            yield registry, root
        finally:
            registry.close()


def _register_many(registry: ModelRegistry, reset: Callable[[], None]) -> None:
    def register(i: int) -> None:
        with registry.start_run("bench", params=PARAMS) as run:
            payload = ARTIFACT + i.to_bytes(8, "big", signed=True)
            registry.register_model("bench", payload, run=run, metrics=metrics(i))

    register(-1)  # first-use work (caches, compiled statements) is not counted
    reset()
    for i in range(REGISTRATIONS):
        register(i)


def count() -> dict[str, Any]:
    """SQLite: statements, commits (and those synced to disk on their own: made with
    synchronous=FULL, not NORMAL) and statements by kind per registration."""
    statements: Counter[str] = Counter()
    commits = synced = triggered = 0
    probing = False  # the probe's own PRAGMA is not the registration's
    last = ""

    def reset() -> None:
        nonlocal commits, synced, triggered
        statements.clear()
        commits = synced = triggered = 0

    def seen(sql: str) -> None:
        nonlocal last, triggered
        if probing:
            return
        # SQLite reports each trigger program it starts (migration 0010's) as its
        # statement again, with the same bound values: the database's own work inside a
        # statement, not one more the client sends, so counted apart. (Two identical
        # statements with identical values in a row are not something the registry sends.)
        if sql == last:
            triggered += 1
            return
        last = sql
        statements.update([sql.split(None, 1)[0].upper()])

    with _registering(None) as (registry, _):

        @event.listens_for(registry.engine, "connect")
        def _trace(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.set_trace_callback(seen)

        @event.listens_for(registry.engine, "commit")
        def _commit(connection: Any) -> None:
            nonlocal commits, synced, probing
            commits += 1
            probing = True
            try:
                [(level,)] = connection.connection.driver_connection.execute(
                    "PRAGMA synchronous"
                ).fetchall()
            finally:
                probing = False
            synced += level >= 2  # FULL (2) or EXTRA (3)

        _register_many(registry, reset)
    return {
        "statements": sum(statements.values()) / REGISTRATIONS,
        "commits": commits / REGISTRATIONS,
        "synced_commits": synced / REGISTRATIONS,
        "trigger_runs": triggered / REGISTRATIONS,
        "by_kind": {kind: n / REGISTRATIONS for kind, n in sorted(statements.items())},
    }


def count_postgres(database_url: str) -> dict[str, Any]:
    """PostgreSQL: round trips and the client's protocol messages per registration."""
    from psycopg import pq

    with _registering(database_url) as (registry, root), open(root / "trace", "w+") as trace:
        offset = 0

        @event.listens_for(registry.engine, "connect")
        def _trace(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())
            dbapi_connection.pgconn.set_trace_flags(
                pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE
            )

        def reset() -> None:
            nonlocal offset
            trace.flush()
            offset = trace.seek(0, 2)

        _register_many(registry, reset)
        trace.flush()
        trace.seek(offset)
        # A line per message: direction (F = from the client), length, type, contents.
        sent = Counter(
            fields[2]
            for fields in (line.split("\t") for line in trace.read().splitlines())
            if len(fields) > 2 and fields[0] == "F"
        )
    return {
        "round_trips": sum(sent[kind] for kind in ROUND_TRIP_MESSAGES) / REGISTRATIONS,
        "by_message": {kind: n / REGISTRATIONS for kind, n in sorted(sent.items())},
    }


if __name__ == "__main__":
    print(json.dumps(count_postgres(sys.argv[1]) if len(sys.argv) > 1 else count()))
