"""The facade's two transaction recipes, handed to the concern modules (model cards,
evidence, reproduction, anchors) so that they read and write through exactly the recipe
every other call uses - retries, `BEGIN IMMEDIATE`, storage errors - without reaching
into the facade's private members."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Transactions:
    # A read-only transaction, as a context manager yielding its connection.
    read: Callable[[], AbstractContextManager[Connection]]
    # Runs `work(connection)` in one write transaction (retried when the database says
    # so) and returns what it returned.
    write: Callable[[Callable[[Connection], Any]], Any]
