"""The filter language of `reg.search(...)` / `registry search` and of `reg.runs(filter=)`:
parsing text into a typed tree checked against a vocabulary (`parse_tree`), or, for run
search, into a conjunction of conditions (`parse_filter`, `FilterFields`, `Condition`,
`Filter`) with its `order_by` (`parse_ordering`). One grammar, one tokenizer, one set of
error messages for both.

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
    VALUE      := 'text' | "text" | NUMBER | true | false
                  (a quote inside is doubled, or escaped with a backslash: 'it''s', 'it\'s')

Run search (`parse_filter`) takes comparisons joined by `and` only (no `or`, `not`,
parentheses, `in`, `like`, booleans), as its store compiles them.

Nothing here builds SQL: the result is a tree of frozen dataclasses whose values are
Python values already converted (numbers, aware datetimes, stages); the store compiles it
with bound parameters (`store/search.py`). Every error is a `FilterError` whose message
shows the filter with a caret under the position it names.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from registry_project.core.errors import FilterError, InvalidInputError

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
# A trailing dot is part of the name (`metrics.`), so the error names the whole field.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_.\-/]*)?")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
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
        if number is not None and (ch.isdigit() or ch in "-+."):
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
        if text[i] == "\\" and i + 1 < len(text):  # a backslash escapes the next character
            parts.append(text[i + 1])
            i += 2
            continue
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
    def __init__(self, text: str, vocabulary: Vocabulary, *, conjunction: bool = False) -> None:
        self.text = text
        self.vocabulary = vocabulary
        # Run search: comparisons joined by `and` only.
        self.conjunction = conjunction
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
            self.refuse_here("'or'")
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
            self.refuse_here("'not'")
            self.at += 1
            return Not(self.unary(depth + 1))
        if self.token.kind == "(":
            self.refuse_here("parentheses")
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
        if token.kind in ("in", "like"):
            self.refuse_here(f"{token.kind!r}")
            op = token.kind
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

    def refuse_here(self, what: str) -> None:
        if self.conjunction:
            raise self.fail(
                f"{what} is not part of this filter, found {self.token.text!r}: join "
                "comparisons with 'and' (there is no 'or', 'not', 'in' or 'like' here)"
            )

    def field(self) -> Field:
        token = self.token
        previous = self.tokens[self.at - 1] if self.at else None
        if token.kind == "end" and previous is not None and previous.kind in ("and", "or"):
            raise self.fail(f"the filter ends with {previous.text!r}: add a condition after it")
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
            if field.type is not FieldType.ANY or self.conjunction:
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


def parse_tree(text: object, vocabulary: Vocabulary) -> Node:
    """Parse `text` against `vocabulary`; a `FilterError` naming the position otherwise."""
    _check_text(text)
    assert isinstance(text, str)
    return _Parser(text, vocabulary).parse()


def _check_text(text: object) -> None:
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


def fields_of(node: Node) -> list[Field]:
    """Every field a filter names, in order (for callers that check or index them)."""
    if isinstance(node, Comparison):
        return [node.field]
    if isinstance(node, Not):
        return fields_of(node.item)
    return [field for item in node.items for field in fields_of(item)]


# --- run search: a conjunction of conditions and its order_by ---------------------------


@dataclass(frozen=True)
class FilterFields:
    """What a run search can filter and order on: `prefixes` take a key (`metrics.auc`),
    `attributes` are bare names (`status`). Values are numbers or text, as written."""

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


def _vocabulary(fields: FilterFields) -> Vocabulary:
    return Vocabulary(
        fields={name: FieldType.ANY for name in fields.attributes},
        namespaces={name: FieldType.ANY for name in fields.prefixes},
    )


def parse_filter(text: object, fields: FilterFields) -> Filter:
    """`text` as a `Filter` of conditions joined by `and`; None or blank is the empty
    filter. The same grammar and messages as `parse_tree`, without `or`, `not`,
    parentheses, `in`, `like` and booleans."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return Filter()
    _check_text(text)
    assert isinstance(text, str)
    node = _Parser(text, _vocabulary(fields), conjunction=True).parse()
    comparisons = node.items if isinstance(node, And) else (node,)
    conditions = []
    for item in comparisons:
        assert isinstance(item, Comparison)  # the conjunction parser builds nothing else
        value = item.values[0]
        assert isinstance(value, float | str) and not isinstance(value, bool)
        field = item.field
        if field.key is None:  # an attribute: `status`
            conditions.append(Condition(None, field.name, item.op, value))
        else:
            conditions.append(Condition(field.name, field.key, item.op, value))
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
    if not _NAME.fullmatch(word):
        raise InvalidInputError(
            f"order_by {order_by!r} is not a field: write e.g. '-start_time' or '-metrics.auc'"
        )
    prefix, dot, key = word.partition(".")
    choices = ", ".join(
        [*(f"{p}.<key>" for p in sorted(fields.prefixes)), *sorted(fields.attributes)]
    )
    if dot:
        if prefix not in fields.prefixes or not key:
            raise InvalidInputError(f"unknown field {word!r} in order_by: use {choices}")
        return Ordering(prefix, key, descending)
    if word not in fields.attributes:
        raise InvalidInputError(f"unknown field {word!r} in order_by: use {choices}")
    return Ordering(None, word, descending)


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
