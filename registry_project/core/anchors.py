"""Anchors: audit heads `(seq, hash)` kept outside the registry database, which `verify`
compares the chain with (a whole-chain rewrite keeps the chain consistent, not them)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from registry_project.core.errors import InvalidInputError
from registry_project.core.store import audit
from registry_project.core.transactions import Transactions

_HASH = re.compile(r"[0-9a-f]{64}")


def parse_anchor(text: str) -> tuple[int, str]:
    """`SEQ:HASH` (as `registry verify --anchor` takes it) to `(seq, hash)`."""
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit():
        raise InvalidInputError(f"{text!r} is not an anchor: give SEQ:HASH, e.g. 42:9f86d08…")
    return validate_anchors([(int(seq), digest)])[0]


def parse_anchor_lines(lines: Iterable[str]) -> list[tuple[int, str]]:
    """One `SEQ:HASH` a line (blank lines and `#` comments skipped), as
    `registry verify --anchor-file` reads them; a bad line is named by its number."""
    anchors = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            anchors.append(parse_anchor(line))
        except InvalidInputError as exc:
            raise InvalidInputError(f"line {number}: {exc}") from None
    if not anchors:
        raise InvalidInputError("the anchor file holds no SEQ:HASH line")
    return anchors


def validate_anchors(anchors: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    checked = []
    for anchor in anchors:
        try:
            seq, digest = anchor
        except (TypeError, ValueError):
            raise InvalidInputError(f"an anchor is a pair (seq, hash), got {anchor!r}") from None
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise InvalidInputError(f"an anchor's seq is an event number >= 1, got {seq!r}")
        if not isinstance(digest, str) or not _HASH.fullmatch(digest.lower()):
            raise InvalidInputError(
                f"an anchor's hash is 64 hex digits (an audit event's SHA-256), got {digest!r}"
            )
        checked.append((seq, digest.lower()))
    return checked


def audit_head(tx: Transactions) -> tuple[int, str]:
    with tx.read() as connection:
        return audit.read_head(connection)
