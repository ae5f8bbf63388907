"""`python -m benchmarks.statement_count`: SQL statements and commits per W1 registration.

A figure that does not depend on how busy the machine is: SQLite's trace callback sees
every statement the driver runs (the prepared hot path included, which SQLAlchemy's
events do not see), so two versions of the package can be compared exactly. Prints one
JSON object: {"statements": ..., "commits": ..., "by_kind": {"INSERT": ..., ...}}.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event

from benchmarks.ours import PARAMS, metrics
from registry_project import ModelRegistry

REGISTRATIONS = 20
ARTIFACT = b"x" * 100_000


def count() -> dict[str, Any]:
    statements: Counter[str] = Counter()
    commits = 0
    # In an empty directory: the run records the project files (pyproject.toml, ...) of
    # the directory it starts in, one row each, and the count must not depend on that.
    with tempfile.TemporaryDirectory() as directory, contextlib.chdir(directory):
        root = Path(directory)
        registry = ModelRegistry.open(f"sqlite:///{root / 'r.db'}", str(root / "artifacts"))
        registry.engine.dispose()  # every connection from here on is traced

        @event.listens_for(registry.engine, "connect")
        def _trace(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.set_trace_callback(
                lambda sql: statements.update([sql.split(None, 1)[0].upper()])
            )

        @event.listens_for(registry.engine, "commit")
        def _commit(_connection: Any) -> None:
            nonlocal commits
            commits += 1

        def register(i: int) -> None:
            with registry.start_run("bench", params=PARAMS) as run:
                payload = ARTIFACT + i.to_bytes(8, "big", signed=True)
                registry.register_model("bench", payload, run=run, metrics=metrics(i))

        register(-1)  # first-use work (caches, compiled statements) is not counted
        statements.clear()
        commits = 0
        for i in range(REGISTRATIONS):
            register(i)
        registry.close()
    return {
        "statements": sum(statements.values()) / REGISTRATIONS,
        "commits": commits / REGISTRATIONS,
        "by_kind": {kind: n / REGISTRATIONS for kind, n in sorted(statements.items())},
    }


if __name__ == "__main__":
    print(json.dumps(count()))
