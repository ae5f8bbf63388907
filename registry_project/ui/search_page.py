"""The search page: `reg.search` behind a form. A malformed filter shows the form again
with the registry's message and a caret under the position it names (status 400)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from registry_project.core.errors import FilterError
from registry_project.ui.query import BadRequest, model_path, query_value

DEFAULT_ORDER = "-created_at"
LIMIT = 100


def search(pages: object, request: Request) -> Response:
    """`pages` is the app's `Pages` (its registry and its render)."""
    filter_text = query_value(request, "q") or ""
    order = query_value(request, "order") or DEFAULT_ORDER
    registry = pages.registry  # type: ignore[attr-defined]
    error = pointer = None
    found = []
    try:
        found = registry.search(filter_text, order_by=order, limit=LIMIT)
    except FilterError as exc:
        error, pointer = str(exc), exc.pointer
    except ValueError as exc:  # a bad order: the registry's InvalidInputError
        raise BadRequest(str(exc)) from exc
    rows = [{"version": v, "href": model_path(v.model_name, "versions", v.version)} for v in found]
    return pages.render(  # type: ignore[attr-defined]
        request,
        "search.html",
        status_code=400 if error else 200,
        title="Search",
        q=filter_text,
        order=order,
        rows=rows,
        limit=LIMIT,
        error=error,
        pointer_lines=(pointer or "").splitlines(),
    )
