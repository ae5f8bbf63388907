"""The read-only web UI: a Starlette app over one `ModelRegistry`.

Example::

    import uvicorn
    from registry_project import ModelRegistry
    from registry_project.ui import create_app

    uvicorn.run(create_app(ModelRegistry.open()), host="127.0.0.1", port=3001)

Safe by design: every route answers GET (and HEAD) only; pages call `ModelRegistry`
methods, which validate what they are given, and never build SQL; templates autoescape
everything; errors become a page with the right status, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry_project.core.display import inert
from registry_project.core.errors import InvalidInputError, NotFoundError, RegistryError
from registry_project.core.registry import ModelRegistry
from registry_project.core.secrets import mask_credentials
from registry_project.ui import formatting, search_page
from registry_project.ui.audit_pages import AuditPages
from registry_project.ui.charts import STAGE_COLORS
from registry_project.ui.model_pages import ModelPages
from registry_project.ui.pages import Pages, Settings
from registry_project.ui.query import PageError
from registry_project.ui.run_pages import RunPages
from registry_project.ui.version_pages import VersionPages

TEMPLATES = Path(__file__).parent / "templates"
log = logging.getLogger(__name__)

# No page needs a script, so none may run: stored text that slipped through escaping
# still could not execute. Styles are inline in the base template and the SVG.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, error pages included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def template_environment() -> jinja2.Environment:
    """Autoescape on for every template whatever its name; undefined names fail loudly."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=formatting.number,
        signed=formatting.signed,
        when=formatting.when,
        when_s=functools.partial(formatting.when, seconds=True),
        iso=formatting.iso,
        size=formatting.size,
        short=formatting.short,
        json_value=formatting.json_value,
        truncate_text=formatting.truncate,
        change=formatting.change,
    )
    env.globals["stage_colors"] = STAGE_COLORS
    env.finalize = _shown
    return env


def _shown(value: object) -> object:
    """Every `{{ ... }}` result: stored text with its invisible characters escaped, the
    same way the CLI prints it (`registry_project.core.display.inert`); markup the code
    built itself (the SVG charts) is left alone."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return inert(value)
    return value


def _dagster_url(explicit: str | None) -> str | None:
    """DAGSTER_WEBSERVER_URL, used only when it is an http(s) URL (it becomes a link)."""
    value = explicit if explicit is not None else os.environ.get("DAGSTER_WEBSERVER_URL")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        log.warning("ignoring DAGSTER_WEBSERVER_URL %r: it must be an http(s) URL", value)
        return None
    return value.rstrip("/")


def _guarded(pages: Pages, handler: Callable[[Request], Response]) -> Callable[..., Response]:
    """The expected failures of a page as error pages: missing things 404, bad query values
    400, an unreachable database 503. The registry's messages say what to do."""

    @functools.wraps(handler)
    def endpoint(request: Request) -> Response:
        try:
            return handler(request)
        except PageError as exc:
            return pages.error(request, exc.status_code, exc.title, str(exc))
        except NotFoundError as exc:
            return pages.error(request, 404, "Not found", str(exc))
        except InvalidInputError as exc:
            return pages.error(request, 400, "Bad request", str(exc))
        except RegistryError as exc:
            log.warning("registry error on %s: %s", request.url.path, mask_credentials(str(exc)))
            return pages.error(request, 503, "The registry could not answer", str(exc))

    return endpoint


def create_app(
    registry: ModelRegistry,
    *,
    dagster_url: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    verify_max_age: float = 60.0,
    verify_min_interval: float = 10.0,
) -> Starlette:
    """The web UI over `registry`, read-only.

    `dagster_url` (default: the DAGSTER_WEBSERVER_URL environment variable) turns Dagster
    run ids into links `{url}/runs/{id}`. `allowed_hosts` refuses requests whose Host
    header is not listed, which stops DNS-rebinding pages from reading a UI served on
    127.0.0.1. The audit page checks the audit hash chain (not the blobs: that is
    `registry verify`), reuses the result for `verify_max_age` seconds and renews it on
    request at most every `verify_min_interval` seconds.
    """
    templates = Jinja2Templates(env=template_environment())
    settings = Settings(
        dagster_url=_dagster_url(dagster_url),
        verify_max_age=verify_max_age,
        verify_min_interval=verify_min_interval,
    )
    pages = Pages(registry, templates, settings)  # the error pages
    models = ModelPages(registry, templates, settings)
    versions = VersionPages(registry, templates, settings)
    records = AuditPages(registry, templates, settings)

    runs = RunPages(registry, pages.render)

    def route(path: str, handler: Callable[[Request], Response], name: str) -> Route:
        return Route(path, _guarded(pages, handler), methods=["GET"], name=name)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {404: "Not found", 405: "Method not allowed"}
        messages = {
            404: f"there is no page at {request.url.path}",
            405: "this UI is read-only: it answers GET requests only",
        }
        response = pages.error(
            request,
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            messages.get(exc.status_code, str(exc.detail)),
        )
        response.headers.update(exc.headers or {})
        return response

    def server_error(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return pages.error(
            request,
            500,
            "Internal error",
            "the page failed unexpectedly; the server log has the details",
        )

    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(
        routes=[
            route("/", models.models, "models"),
            route("/models/{name}", models.model, "model"),
            route("/models/{name}/compare", models.compare, "compare"),
            route("/models/{name}/versions/{number:int}", versions.version, "version"),
            route("/versions/{version_id}", versions.version_by_id, "version_by_id"),
            route("/datasets", records.datasets, "datasets"),
            route("/audit", records.audit, "audit"),
            route("/experiments", runs.experiments, "experiments"),
            route("/experiments/{name}", runs.runs, "runs"),
            route("/experiments/{name}/compare", runs.compare, "compare_runs"),
            route("/runs/{run_id}", runs.run, "run"),
            route("/runs/{run_id}/artifacts/{name:path}", runs.artifact, "run_artifact"),
            route("/search", functools.partial(search_page.search, pages), "search"),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
