"""The filter language of `reg.search(...)` / `registry search` (and any other listing that
takes a `filter=`): parsing text into a typed tree, checked against a vocabulary.

    metrics.auc > 0.9 and tags.team = 'risk' and created_at > '2026-11-01'
    (stage = 'production' or alias = 'champion') and not creator = 'bot'
    name in ('churn', 'fraud') and params.C >= 1 and dataset = 'customers'

Grammar (keywords are case-insensitive)::

    filter     := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" or ")" | comparison
    comparison := FIELD OP VALUE | FIELD "in" "(" VALUE ("," VALUE)* ")" | FIELD "like" STRING
    FIELD      := NAME | NAME "." KEY          (metrics.auc, tags.team, params.C)
    OP         := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    VALUE      := 'text' | "text" | NUMBER | true | false   (a quote inside is doubled)

Nothing here builds SQL: the result is a tree of frozen dataclasses whose values are
Python values already converted (numbers, aware datetimes, stages); the store compiles it
with bound parameters (`store/search.py`). Every error is a `FilterError` whose message
shows the filter with a caret under the position it names.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from registry_project.core.errors import FilterError

MAX_FILTER_LENGTH = 4000
MAX_DEPTH = 32  # nesting of parentheses and `not`
MAX_COMPARISONS = 100
MAX_IN_VALUES = 100


class FieldType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    TIME = "time"
    # Numbers or text, whichever the value is (params hold any JSON value).
    ANY = "any"


_OPS_BY_TYPE: dict[FieldType, frozenset[str]] = {
    FieldType.TEXT: frozenset({"=", "!=", "in", "like"}),
    FieldType.NUMBER: frozenset({"=", "!=", "<", "<=", ">", ">=", "in"}),
    FieldType.TIME: frozenset({"=", "!=", "<", "<=", ">", ">="}),
    FieldType.ANY: frozenset({"=", "!=", "<", "<=", ">", ">=", "in"}),
}


@dataclass(frozen=True)
class Vocabulary:
    """What a filter may name: plain fields (`stage`) and keyed ones (`metrics.<key>`),
    each with its type, and for some plain fields the only values allowed."""

    fields: Mapping[str, FieldType]
    namespaces: Mapping[str, FieldType]
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    key_pattern: str = r"[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,255}"

    def names(self) -> str:
        return ", ".join([*self.fields, *(f"{n}.<key>" for n in self.namespaces)])


@dataclass(frozen=True)
class Field:
    name: str  # "stage", or the namespace "metrics"
    key: str | None  # "auc" for metrics.auc
    type: FieldType
    position: int

    @property
    def label(self) -> str:
        return f"{self.name}.{self.key}" if self.key is not None else self.name


Value = str | float | bool | datetime


@dataclass(frozen=True)
class Comparison:
    field: Field
    op: str  # = != < <= > >= in like
    values: tuple[Value, ...]  # one, or several for `in`


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Comparison | And | Or | Not


# --- tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # name, string, number, op, "(", ")", ",", end
    text: str
    position: int
    value: object = None


_KEYWORDS = {"and", "or", "not", "in", "like", "true", "false"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_][A-Za-z0-9_.\-/]*)?")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("<=", ">=", "!=", "==", "=", "<", ">")


def _error(text: str, position: int, message: str) -> FilterError:
    """A FilterError naming the position (1-based in the message) and the text found
    there; its `pointer` holds the filter with a caret under that position."""
    fragment = text[position : position + 20]
    at = f"at {_printable(fragment)!r}" if fragment else "at the end"
    start = max(0, position - 60)
    shown = _printable(text[start : position + 40])
    pointer = f"{shown}\n{' ' * (position - start)}^"
    return FilterError(
        f"invalid filter at character {position + 1} ({at}): {message}",
        position=position,
        pointer=pointer,
    )


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "(),":
            found.append(_Token(ch, ch, i))
            i += 1
            continue
        if ch in "'\"":
            value, end = _string(text, i)
            found.append(_Token("string", text[i:end], i, value))
            i = end
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if operator is not None:
            found.append(_Token("op", "=" if operator == "==" else operator, i))
            i += len(operator)
            continue
        number = _NUMBER.match(text, i)
        if number is not None and (ch.isdigit() or ch in "-."):
            end = number.end()
            if end < len(text) and (text[end].isalnum() or text[end] in "_."):
                raise _error(text, i, f"{text[i : end + 1]!r} is not a number")
            found.append(_Token("number", number.group(), i, float(number.group())))
            i = end
            continue
        name = _NAME.match(text, i)
        if name is not None:
            word = name.group()
            kind = word.lower() if word.lower() in _KEYWORDS else "name"
            found.append(_Token(kind, word, i))
            i = name.end()
            continue
        raise _error(text, i, f"unexpected character {ch!r}")
    found.append(_Token("end", "", len(text)))
    return found


def _string(text: str, start: int) -> tuple[str, int]:
    quote, i, parts = text[start], start + 1, []
    while i < len(text):
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:  # a doubled quote is one quote
                parts.append(quote)
                i += 2
                continue
            return "".join(parts), i + 1
        parts.append(text[i])
        i += 1
    raise _error(text, start, f"the text starting here has no closing {quote}")


# --- the parser -------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, vocabulary: Vocabulary) -> None:
        self.text = text
        self.vocabulary = vocabulary
        self.tokens = _tokens(text)
        self.at = 0
        self.comparisons = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def fail(self, message: str, token: _Token | None = None) -> FilterError:
        return _error(self.text, (token or self.token).position, message)

    def take(self, kind: str, what: str) -> _Token:
        token = self.token
        if token.kind != kind:
            found = "the end of the filter" if token.kind == "end" else repr(token.text)
            raise self.fail(f"expected {what}, found {found}")
        self.at += 1
        return token

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("the filter is empty; write a comparison such as metrics.auc > 0.9")
        node = self.or_(0)
        if self.token.kind != "end":
            raise self.fail(f"expected 'and', 'or' or the end, found {self.token.text!r}")
        return node

    def or_(self, depth: int) -> Node:
        items = [self.and_(depth)]
        while self.token.kind == "or":
            self.at += 1
            items.append(self.and_(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self, depth: int) -> Node:
        items = [self.unary(depth)]
        while self.token.kind == "and":
            self.at += 1
            items.append(self.unary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self, depth: int) -> Node:
        if depth >= MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
        if self.token.kind == "not":
            self.at += 1
            return Not(self.unary(depth + 1))
        if self.token.kind == "(":
            self.at += 1
            node = self.or_(depth + 1)
            self.take(")", "')' to close the parenthesis")
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.fail(f"more than {MAX_COMPARISONS} comparisons in one filter")
        field = self.field()
        token = self.token
        if token.kind == "in":
            op = "in"
        elif token.kind == "like":
            op = "like"
        elif token.kind == "op":
            op = token.text
        else:
            found = "the end of the filter" if token.kind == "end" else repr(token.text)
            raise self.fail(
                "expected an operator (=, !=, <, <=, >, >=, in, like) after "
                f"{field.label}, found {found}"
            )
        if op not in _OPS_BY_TYPE[field.type]:
            allowed = ", ".join(sorted(_OPS_BY_TYPE[field.type]))
            raise self.fail(f"{field.label} cannot be compared with {op!r}; use {allowed}")
        self.at += 1
        if op == "in":
            self.take("(", "'(' and a list of values after 'in'")
            values = [self.value(field)]
            while self.token.kind == ",":
                self.at += 1
                values.append(self.value(field))
                if len(values) > MAX_IN_VALUES:
                    raise self.fail(f"more than {MAX_IN_VALUES} values in one 'in' list")
            self.take(")", "',' or ')' in the list of values")
            if len({type(v) for v in values}) > 1:
                raise self.fail(
                    f"the values for {field.label} must all be numbers or all text", token
                )
            return Comparison(field, op, tuple(values))
        return Comparison(field, op, (self.value(field, like=op == "like"),))

    def field(self) -> Field:
        token = self.token
        if token.kind != "name":
            found = "the end of the filter" if token.kind == "end" else repr(token.text)
            raise self.fail(f"expected a field ({self.vocabulary.names()}), found {found}")
        self.at += 1
        name, dot, key = token.text.partition(".")
        if dot:
            if name not in self.vocabulary.namespaces:
                raise self.fail(
                    f"unknown field {token.text!r}; use {self.vocabulary.names()}", token
                )
            if not re.fullmatch(self.vocabulary.key_pattern, key):
                raise self.fail(f"invalid key {key!r} in {token.text!r}", token)
            return Field(name, key, self.vocabulary.namespaces[name], token.position)
        if name not in self.vocabulary.fields:
            hint = f" ({name}.<key>)" if name in self.vocabulary.namespaces else ""
            raise self.fail(f"unknown field {name!r}{hint}; use {self.vocabulary.names()}", token)
        return Field(name, None, self.vocabulary.fields[name], token.position)

    def value(self, field: Field, *, like: bool = False) -> Value:
        token = self.token
        if token.kind not in ("string", "number", "true", "false"):
            found = "the end of the filter" if token.kind == "end" else repr(token.text)
            raise self.fail(
                f"expected a value for {field.label} (a 'quoted text' or a number), found {found}"
            )
        self.at += 1
        if token.kind in ("true", "false"):
            if field.type is not FieldType.ANY:
                raise self.fail(f"{field.label} is not true or false", token)
            return token.kind == "true"
        if like and token.kind != "string":
            raise self.fail("'like' takes a quoted pattern ('churn%')", token)
        if field.type is FieldType.NUMBER:
            if token.kind != "number":
                raise self.fail(f"{field.label} compares with a number, not {token.text}", token)
            return _finite(self, token)
        if field.type is FieldType.TIME:
            if token.kind != "string":
                raise self.fail(
                    f"{field.label} compares with a quoted date such as '2026-11-01'", token
                )
            return _time(self, token)
        if field.type is FieldType.TEXT:
            if token.kind != "string":
                raise self.fail(f"{field.label} compares with quoted text, not {token.text}", token)
            allowed = self.vocabulary.choices.get(field.name)
            if allowed is not None and str(token.value).lower() not in allowed:
                raise self.fail(f"{field.label} is one of {', '.join(allowed)}", token)
            return str(token.value).lower() if allowed is not None else str(token.value)
        return _finite(self, token) if token.kind == "number" else str(token.value)


def _finite(parser: _Parser, token: _Token) -> float:
    value = float(token.value)  # type: ignore[arg-type]
    if not math.isfinite(value):
        raise parser.fail(f"{token.text} is too large", token)
    return value


def _time(parser: _Parser, token: _Token) -> datetime:
    try:
        moment = datetime.fromisoformat(str(token.value))
    except ValueError:
        raise parser.fail(
            f"{token.text} is not a date or time; write '2026-11-01' or '2026-11-01T12:00:00Z'",
            token,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_filter(text: object, vocabulary: Vocabulary) -> Node:
    """Parse `text` against `vocabulary`; a `FilterError` naming the position otherwise."""
    if not isinstance(text, str):
        raise FilterError(
            f'a filter is text such as "metrics.auc > 0.9", got {type(text).__name__}', position=0
        )
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(
            f"the filter is {len(text)} characters; at most {MAX_FILTER_LENGTH}",
            position=MAX_FILTER_LENGTH,
        )
    if "\x00" in text:
        raise _error(text, text.index("\x00"), "a NUL character cannot be part of a filter")
    return _Parser(text, vocabulary).parse()


def fields_of(node: Node) -> list[Field]:
    """Every field a filter names, in order (for callers that check or index them)."""
    if isinstance(node, Comparison):
        return [node.field]
    if isinstance(node, Not):
        return fields_of(node.item)
    return [field for item in node.items for field in fields_of(item)]


# --- order_by ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ordering:
    """`order_by` parsed: a field (`namespace` None for a plain one) and its direction."""

    namespace: str | None
    key: str
    descending: bool

    @property
    def label(self) -> str:
        return self.key if self.namespace is None else f"{self.namespace}.{self.key}"


def parse_ordering(order_by: object, vocabulary: Vocabulary) -> Ordering:
    """`-metrics.auc` (descending), `metrics.auc` or `start_time` as an `Ordering`, checked
    against the same vocabulary as the filter."""
    if not isinstance(order_by, str) or not order_by.strip():
        raise FilterError(
            f"order_by must be a field such as '-start_time' or '-metrics.auc', got {order_by!r}",
            position=0,
        )
    text = order_by.strip()
    name = text.lstrip("-+")
    tokens = _tokens(name)
    if len(tokens) != 2 or tokens[0].kind != "name":  # the name, then the end
        raise _error(text, len(text) - len(name), "order_by is one field, e.g. '-metrics.auc'")
    field = _Parser(name, vocabulary).field()
    return Ordering(
        field.name if field.key is not None else None,
        field.key if field.key is not None else field.name,
        text.startswith("-"),
    )
