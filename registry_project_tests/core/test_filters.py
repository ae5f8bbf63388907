"""The filter language (core/filters.py): what it parses, and that bad input is refused by
naming the token."""

from __future__ import annotations

import pytest

from registry_project.core.errors import InvalidInputError
from registry_project.core.filters import (
    Condition,
    FilterFields,
    compare,
    parse_filter,
    parse_ordering,
)

FIELDS = FilterFields(prefixes=("metrics", "params", "tags"), attributes=("status", "name"))


def test_conditions_joined_by_and_keep_their_fields_operators_and_values() -> None:
    parsed = parse_filter(
        "metrics.val_auc > 0.8 and params.C = 1.0 AND tags.team = 'risk' and "
        "status != \"FAILED\" and metrics.train/loss <= -1e-3 and name >= 'it\\'s'",
        FIELDS,
    )
    assert parsed.conditions == (
        Condition("metrics", "val_auc", ">", 0.8),
        Condition("params", "C", "=", 1.0),
        Condition("tags", "team", "=", "risk"),
        Condition(None, "status", "!=", "FAILED"),
        Condition("metrics", "train/loss", "<=", -0.001),
        Condition(None, "name", ">=", "it's"),
    )
    assert parse_filter(None, FIELDS).conditions == ()
    assert parse_filter("   ", FIELDS).conditions == ()
    assert parse_filter("metrics.a<1", FIELDS).conditions == (Condition("metrics", "a", "<", 1.0),)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("metrics.auc >> 0.8", "'>'"),  # the second '>' is where a value should be
        ("metrics.auc > 0.8 or params.C = 1", "'or'"),
        ("metrics.auc 0.8", "'0.8'"),
        ("metric.auc > 0.8", "'metric.auc'"),
        ("colour = 'red'", "'colour'"),
        ("metrics. > 1", "'metrics.'"),
        ("metrics.auc > 0.8 and", "ends with 'and'"),
        ("metrics.auc >", "the end"),
        ("metrics.auc > 0.8 and ; = 1", "';'"),
        ("tags.team = 'risk", '"\'risk"'),
        ("metrics.auc ~ 1", "'~'"),
    ],
)
def test_bad_filters_are_refused_naming_the_token(text: str, named: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_filter(text, FIELDS)
    assert named in str(caught.value)


def test_position_is_given_for_an_unknown_field() -> None:
    with pytest.raises(InvalidInputError, match="character 23"):
        parse_filter("metrics.auc > 0.8 and colour = 'red'", FIELDS)


def test_ordering() -> None:
    assert parse_ordering("-metrics.val_auc", FIELDS) == parse_ordering(
        " -metrics.val_auc ", FIELDS
    )
    ordering = parse_ordering("-metrics.val_auc", FIELDS)
    assert (ordering.prefix, ordering.key, ordering.descending) == ("metrics", "val_auc", True)
    ordering = parse_ordering("name", FIELDS)
    assert (ordering.prefix, ordering.key, ordering.descending) == (None, "name", False)
    for bad in ("", "-", "colour", "metrics.auc desc", 3):
        with pytest.raises(InvalidInputError):
            parse_ordering(bad, FIELDS)


def test_compare_keeps_numbers_and_text_apart() -> None:
    assert compare(1.0, "=", 1.0) and not compare(1.0, "=", "1.0")
    assert compare(2.0, ">", 1.0) and compare(1.0, "<=", 1.0) and not compare(1.0, "<", 1.0)
    assert not compare("b", ">", 1.0)  # no ordering between text and numbers
    assert compare("b", ">", "a") and compare("a", "!=", "b")
