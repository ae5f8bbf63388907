"""Reading request values, and the two ways a page refuses: 404 and 400.

Path parts name things (a model, a version): if they are malformed, the thing does not
exist, so the answer is 404. Query values are choices (a stage, a sort order): malformed
ones are the caller's mistake, so the answer is 400. Neither ever becomes SQL here: values
go to `ModelRegistry` methods, which validate them.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from starlette.requests import Request

# Long enough for any name, metric key, actor or action the registry accepts.
MAX_QUERY_VALUE = 1000


class PageError(Exception):
    """A page that cannot be shown; the message is shown to the person as it is."""

    status_code = 500
    title = "Something went wrong"


class PageNotFound(PageError):
    status_code = 404
    title = "Not found"


class BadRequest(PageError):
    status_code = 400
    title = "Bad request"


def query_value(request: Request, key: str) -> str | None:
    """One optional query value; blank means absent (an empty form field)."""
    values = request.query_params.getlist(key)
    if len(values) > 1:
        raise BadRequest(f"?{key}= was given {len(values)} times; give it once")
    if not values or not values[0].strip():
        return None
    value = values[0].strip()
    if len(value) > MAX_QUERY_VALUE:
        raise BadRequest(f"?{key}= is longer than {MAX_QUERY_VALUE} characters")
    return value


def query_int(request: Request, key: str, *, default: int, low: int, high: int) -> int:
    value = query_value(request, key)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise BadRequest(f"?{key}= must be a whole number from {low} to {high}, got {value!r}")
    return int(value)


def query_flag(request: Request, key: str) -> bool:
    value = query_value(request, key)
    if value is None:
        return False
    if value not in ("0", "1"):
        raise BadRequest(f"?{key}= must be 0 or 1, got {value!r}")
    return value == "1"


def url(path: str, **params: str | int | None) -> str:
    """`path?k=v&...` with the values percent-encoded; None values are left out."""
    kept = {k: str(v) for k, v in params.items() if v is not None}
    return f"{path}?{urlencode(kept, quote_via=quote)}" if kept else path


def model_path(name: str, *rest: str | int) -> str:
    """`/models/<name>/...`; names are restricted to URL-safe characters, but quote anyway."""
    return "/".join(["/models", quote(name, safe=""), *(quote(str(r), safe="") for r in rest)])
