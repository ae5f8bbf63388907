"""Search across models: `search` parses the filter (core/filters.py, the version
vocabulary of store/search.py), validates the order and limit, and runs it
(`store/search_plan.py` chooses the index that drives it)."""

from __future__ import annotations

from registry_project.core.entities import ModelVersion
from registry_project.core.errors import InvalidInputError
from registry_project.core.filters import parse_filter
from registry_project.core.ops.writer import Writer
from registry_project.core.store import search as search_store
from registry_project.core.store import search_plan
from registry_project.core.validation import parse_order_by, validate_limit

DEFAULT_LIMIT = 100


def search(
    w: Writer, filter: str | None, *, order_by: str, limit: int | None
) -> list[ModelVersion]:
    # No filter (None, or blank text as an empty command-line argument gives): every version.
    blank = filter is None or (isinstance(filter, str) and not filter.strip())
    node = None if blank else parse_filter(filter, search_store.VERSION_VOCABULARY)
    if order_by in ("name", "-name", "+name"):
        field, is_metric, descending = "name", False, order_by.startswith("-")
    else:
        try:
            order = parse_order_by(order_by)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{exc} (or name)") from exc
        field, is_metric, descending = order.field, order.is_metric, order.descending
    chosen = validate_limit(limit)
    with w.read() as connection:
        order = search_plan.SearchOrder(
            field, is_metric, descending, DEFAULT_LIMIT if chosen is None else chosen
        )
        return search_plan.search_versions(connection, node, order)
