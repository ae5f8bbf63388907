"""The small filter language of searches, and their `order_by`: parsed into values, never
evaluated here.

    metrics.val_auc > 0.8 and params.C = 1.0 and tags.team = 'risk' and status = 'FINISHED'

A filter is conditions joined by `and` (case-insensitive); a condition is a field, a
comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`) and a value: a number, or text in single or
double quotes. A field is `<prefix>.<key>` (`metrics.loss`, `params.C`, `tags.team`; the key
may itself hold dots, slashes and dashes) or a bare attribute (`status`, `experiment`).
Which prefixes and attributes exist is the caller's (`FilterFields`): runs use one set
(ops/tracking_ops.RUN_FIELDS), a version search can pass another. Bad input raises
`InvalidInputError` naming the token and its position.

The store turns a `Filter` into SQL (store/run_search.py); this module knows no columns.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from registry_project.core.errors import InvalidInputError

MAX_FILTER_LENGTH = 4096
MAX_CONDITIONS = 50
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<text>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<word>[A-Za-z_][A-Za-z0-9_.\-/]*)
    | (?P<bad>\S+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class FilterFields:
    """What a search can filter and order on: `prefixes` take a key (`metrics.auc`),
    `attributes` are bare names (`status`)."""

    prefixes: Collection[str]
    attributes: Collection[str]


@dataclass(frozen=True)
class Condition:
    """One comparison. `prefix` is None for an attribute (then `key` is its name)."""

    prefix: str | None
    key: str
    op: str
    value: float | str

    @property
    def field(self) -> str:
        return self.key if self.prefix is None else f"{self.prefix}.{self.key}"


@dataclass(frozen=True)
class Filter:
    """Conditions that must all hold (`and`); empty matches everything."""

    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Ordering:
    """`order_by` parsed: a field (`prefix` None for an attribute) and its direction."""

    prefix: str | None
    key: str
    descending: bool


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int  # 1-based character position, for messages


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:  # only trailing whitespace is left
            break
        kind = match.lastgroup or "bad"
        found.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return found


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _field(token: _Token, fields: FilterFields, what: str) -> tuple[str | None, str]:
    word = token.text
    prefix, dot, key = word.partition(".")
    if dot:
        if prefix not in fields.prefixes:
            raise InvalidInputError(
                f"unknown field {word!r} at character {token.at} of the {what}: use "
                f"{_choices(fields)}"
            )
        if not key:
            raise InvalidInputError(
                f"{word!r} at character {token.at} of the {what} names no key: write "
                f"{prefix}.<name>, e.g. {prefix}.auc"
            )
        return prefix, key
    if word not in fields.attributes:
        raise InvalidInputError(
            f"unknown field {word!r} at character {token.at} of the {what}: use {_choices(fields)}"
        )
    return None, word


def _choices(fields: FilterFields) -> str:
    keyed = [f"{p}.<key>" for p in sorted(fields.prefixes)]
    return ", ".join(keyed + sorted(fields.attributes))


def parse_filter(text: object, fields: FilterFields) -> Filter:
    """`text` as a `Filter`; None or blank is the empty filter."""
    if text is None:
        return Filter()
    if not isinstance(text, str):
        raise InvalidInputError(f"a filter is text, got {type(text).__name__}")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidInputError(
            f"the filter is {len(text)} characters; at most {MAX_FILTER_LENGTH}"
        )
    tokens = _tokens(text)
    conditions: list[Condition] = []
    index = 0
    while index < len(tokens):
        if conditions:
            joiner = tokens[index]
            if joiner.kind != "word" or joiner.text.lower() != "and":
                raise InvalidInputError(
                    f"expected 'and' at character {joiner.at} of the filter, got "
                    f"{joiner.text!r}: join conditions with 'and' (there is no 'or')"
                )
            index += 1
        field, op, value = ([*tokens[index : index + 3], None, None, None])[:3]
        if field is None:
            raise InvalidInputError("the filter ends with 'and': add a condition after it")
        if field.kind != "word":
            raise InvalidInputError(
                f"expected a field at character {field.at} of the filter, got {field.text!r}: "
                "write e.g. metrics.auc > 0.8"
            )
        prefix, key = _field(field, fields, "filter")
        if op is None or op.kind != "op":
            shown = "the end" if op is None else f"{op.text!r} at character {op.at}"
            raise InvalidInputError(
                f"expected a comparison ({' '.join(OPERATORS)}) after {field.text!r}, got {shown}"
            )
        if value is None or value.kind not in ("number", "text"):
            shown = "the end" if value is None else f"{value.text!r} at character {value.at}"
            raise InvalidInputError(
                f"expected a value after '{field.text} {op.text}', got {shown}: a number, "
                "or text in quotes ('risk')"
            )
        parsed: float | str
        parsed = float(value.text) if value.kind == "number" else _unquote(value.text)
        conditions.append(Condition(prefix, key, op.text, parsed))
        if len(conditions) > MAX_CONDITIONS:
            raise InvalidInputError(f"more than {MAX_CONDITIONS} conditions in one filter")
        index += 3
    return Filter(tuple(conditions))


def parse_ordering(order_by: object, fields: FilterFields) -> Ordering:
    """`-metrics.auc` (descending), `metrics.auc` or `start_time` as an `Ordering`."""
    if not isinstance(order_by, str) or not order_by.strip():
        raise InvalidInputError(
            f"order_by must be a field such as '-start_time' or '-metrics.auc', got {order_by!r}"
        )
    text = order_by.strip()
    descending = text.startswith("-")
    word = text.lstrip("-+")
    tokens = _tokens(word)
    if len(tokens) != 1 or tokens[0].kind != "word":
        raise InvalidInputError(
            f"order_by {order_by!r} is not a field: write e.g. '-start_time' or '-metrics.auc'"
        )
    prefix, key = _field(tokens[0], fields, "order_by")
    return Ordering(prefix, key, descending)


def compare(left: float | str, op: str, right: float | str) -> bool:
    """`left op right` for values of the same kind (the store's Python-side filters)."""
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if isinstance(left, str) != isinstance(right, str):
        return False
    if op == "<":
        return left < right  # type: ignore[operator]
    if op == "<=":
        return left <= right  # type: ignore[operator]
    if op == ">":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]
