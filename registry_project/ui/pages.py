"""What every page shares: the settings, rendering a template, the error page, and the
helpers more than one page family uses. The pages themselves are in `model_pages.py`
(/, a model, compare), `version_pages.py` (a version) and `audit_pages.py` (datasets, the
audit log). Each gathers what it shows through public `ModelRegistry` methods only and
hands plain values to its template. Nothing here writes to the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from registry_project.core.registry import ModelRegistry
from registry_project.core.secrets import mask_credentials
from registry_project.ui.formatting import json_value, truncate


@dataclass(frozen=True)
class Settings:
    dagster_url: str | None = None
    verify_max_age: float = 60.0
    # "Check again" is honoured at most this often, whoever asks: the check reads the
    # whole audit log, and anyone who reaches the UI can click it.
    verify_min_interval: float = 10.0


# --- shared helpers ---------------------------------------------------------------------


def dataset_anchor(snapshot_id: str) -> str:
    return f"/datasets#dataset-{quote(snapshot_id, safe='')}"


def dagster_run_url(base: str | None, run_id: str | None) -> str | None:
    if not base or not run_id:
        return None
    return f"{base.rstrip('/')}/runs/{quote(run_id, safe='')}"


def params_cells(params: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Param values as JSON text, cut for table cells, with the full text for the title."""
    cells = {}
    for key, value in params.items():
        text = json_value(value)
        cells[key] = {"short": truncate(text), "full": text}
    return cells


class Pages:
    """A family of pages over one registry; `app.py` routes to their methods and turns
    errors into error pages (`error`)."""

    def __init__(
        self, registry: ModelRegistry, templates: Jinja2Templates, settings: Settings
    ) -> None:
        self.registry = registry
        self.templates = templates
        self.settings = settings

    def render(
        self, request: Request, template: str, *, status_code: int = 200, **context: Any
    ) -> Response:
        return self.templates.TemplateResponse(
            request, template, {"request": request, **context}, status_code=status_code
        )

    def error(self, request: Request, status_code: int, title: str, message: str) -> Response:
        message = mask_credentials(message)  # an unreachable database's URL, for one
        return self.render(
            request,
            "error.html",
            status_code=status_code,
            title=title,
            message=message,
            status=status_code,
        )
