"""`order_by` in the filter language's module (core/filters.py): parsed against the same
vocabulary as the filter, and refused with the position of what is wrong. The filter
language itself is tested through the searches that use it (core/test_search.py for
versions, core/test_tracking.py for runs)."""

from __future__ import annotations

import pytest

from registry_project.core.errors import FilterError
from registry_project.core.filters import Ordering, parse_ordering
from registry_project.core.store.run_search import RUN_VOCABULARY


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-metrics.val_auc", Ordering("metrics", "val_auc", True)),
        ("metrics.train/loss", Ordering("metrics", "train/loss", False)),
        ("+start_time", Ordering(None, "start_time", False)),
        ("  -name ", Ordering(None, "name", True)),
    ],
)
def test_order_by_names_one_field_and_a_direction(text: str, expected: Ordering) -> None:
    assert parse_ordering(text, RUN_VOCABULARY) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "order_by must be a field"),
        (None, "order_by must be a field"),
        ("-colour", "unknown field 'colour'"),
        ("metric.auc", "unknown field 'metric.auc'"),
        ("-metrics.auc, name", "one field"),
        ("metrics.auc desc", "one field"),
        ("'name'", "one field"),
    ],
)
def test_a_bad_order_by_is_refused_naming_what_is_wrong(text: object, named: str) -> None:
    with pytest.raises(FilterError, match=named):
        parse_ordering(text, RUN_VOCABULARY)
