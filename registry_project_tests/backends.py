"""Real backends for tests: a SQLite file, a PostgreSQL schema per test, S3 through moto.

PostgreSQL comes from REGISTRY_TEST_POSTGRES_URL (`.ci/run` sets it). Without it the
PostgreSQL cases are skipped with a visible reason, except under CI=true, where a missing
server is a failure: CI must never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from benchmarks.harness import postgres_schema

POSTGRES_ENV = "REGISTRY_TEST_POSTGRES_URL"


def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"{POSTGRES_ENV} is not set; PostgreSQL tests need a server"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run them)")
        pytest.skip(message)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@contextlib.contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards; the URL selects it through
    search_path, so every table the registry creates lands in it."""
    with postgres_schema(postgres_base_url(), prefix="t_") as url:
        yield url
