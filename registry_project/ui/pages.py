"""The pages: each gathers what it shows through public `ModelRegistry` methods only, and
hands plain values to its template. Nothing here writes to the registry.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from registry_project.core import display
from registry_project.core.entities import (
    AuditAction,
    AuditEvent,
    ColumnKind,
    ComparedColumn,
    DatasetSnapshot,
    Lineage,
    MetricRecord,
    ModelSummary,
    ModelVersion,
    Stage,
    TrainingRun,
    VerifyReport,
    key_metric,
)
from registry_project.core.errors import InvalidInputError, NotFoundError
from registry_project.core.registry import ModelRegistry
from registry_project.core.secrets import mask_credentials
from registry_project.core.stages import LIFE_CYCLE
from registry_project.ui import charts
from registry_project.ui.formatting import json_value, plain, truncate
from registry_project.ui.query import (
    BadRequest,
    PageNotFound,
    model_path,
    query_flag,
    query_int,
    query_value,
    url,
)

STAGES = tuple(stage.value for stage in LIFE_CYCLE)
# The actions the core writes to the audit log, offered as suggestions in the filter.
AUDIT_ACTIONS = tuple(action.value for action in AuditAction)
# Compare is for a handful of versions side by side; more is unreadable and costly.
MAX_COMPARED = 12


@dataclass(frozen=True)
class Settings:
    dagster_url: str | None = None
    verify_max_age: float = 60.0
    # "Check again" is honoured at most this often, whoever asks: the check reads the
    # whole audit log, and anyone who reaches the UI can click it.
    verify_min_interval: float = 10.0


# --- shared helpers ---------------------------------------------------------------------


def production_of(versions: Iterable[ModelVersion]) -> ModelVersion | None:
    return next((v for v in versions if v.stage is Stage.PRODUCTION), None)


def dataset_anchor(snapshot_id: str) -> str:
    return f"/datasets#dataset-{quote(snapshot_id, safe='')}"


def dagster_run_url(base: str | None, run_id: str | None) -> str | None:
    if not base or not run_id:
        return None
    return f"{base.rstrip('/')}/runs/{quote(run_id, safe='')}"


def sort_link(path: str, current: str, field_name: str, **params: str | None) -> dict[str, str]:
    """A column header's link: descending first, the other direction when already sorted by
    this field; and the arrow to show."""
    if current == f"-{field_name}":
        return {"href": url(path, sort=field_name, **params), "arrow": "▼"}
    arrow = "▲" if current == field_name else ""
    return {"href": url(path, sort=f"-{field_name}", **params), "arrow": arrow}


def params_cells(params: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Param values as JSON text, cut for table cells, with the full text for the title."""
    cells = {}
    for key, value in params.items():
        text = json_value(value)
        cells[key] = {"short": truncate(text), "full": text}
    return cells


def _plain_cell(value: Any) -> Any:
    value = plain(value)
    return None if value == "" else value


# --- the pages --------------------------------------------------------------------------


@dataclass
class _VerifyCache:
    report: VerifyReport | None = None
    checked_at: datetime | None = None
    checked_monotonic: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Pages:
    """One method per page; `app.py` routes to them and turns errors into error pages."""

    def __init__(
        self, registry: ModelRegistry, templates: Jinja2Templates, settings: Settings
    ) -> None:
        self.registry = registry
        self.templates = templates
        self.settings = settings
        self._verify = _VerifyCache()

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

    # Path parts name things: a malformed one names nothing, so it is a 404 like a missing one.
    def _model_versions(self, name: str) -> list[ModelVersion]:
        try:
            return self.registry.versions(name, order_by="version")
        except InvalidInputError as exc:
            raise PageNotFound(f"no model named {name!r}: {exc}") from exc

    def _version(self, name: str, number: int) -> ModelVersion:
        try:
            return self.registry.get_version(f"{name}/{number}")
        except InvalidInputError as exc:
            raise PageNotFound(f"no model version {name}/{number}: {exc}") from exc

    # --- / --------------------------------------------------------------------------------

    def models(self, request: Request) -> Response:
        wanted = query_value(request, "metric")
        # One read for every model (model_summaries), not a few lookups per model.
        rows = [self._model_row(summary, wanted) for summary in self.registry.model_summaries()]
        return self.render(request, "models.html", title="Models", rows=rows, metric=wanted)

    @staticmethod
    def _model_row(summary: ModelSummary, wanted: str | None) -> dict[str, Any]:
        shown = summary.shown
        metric = summary.key_metric(wanted)
        return {
            "model": summary.model,
            "production": summary.production,
            "latest": summary.latest,
            "metric": metric,
            "value": shown.metrics.get(metric) if shown is not None and metric else None,
            "metric_from": shown,
            "last_changed": summary.last_changed,
        }

    def _alias(self, name: str, alias: str) -> ModelVersion | None:
        try:
            return self.registry.get_version(f"{name}@{alias}")
        except NotFoundError:
            return None

    # --- /models/{name} ------------------------------------------------------------------

    def model(self, request: Request) -> Response:
        name = request.path_params["name"]
        every = self._model_versions(name)
        stage = query_value(request, "stage")
        sort = query_value(request, "sort") or "-version"
        chosen_metric = query_value(request, "metric")
        # The registry validates the stage and the order (known fields and metric names
        # only, never SQL from this text); a bad value is a 400.
        shown = self.registry.versions(name, stage=stage, order_by=sort)
        metric_keys = sorted({k for v in every for k in v.metrics})
        production = production_of(every)
        if chosen_metric is not None and chosen_metric not in metric_keys:
            known = ", ".join(metric_keys) or "none"
            raise BadRequest(
                f"model {name!r} has no metric {chosen_metric!r}; its metrics are: {known}"
            )
        chart_metric = chosen_metric or key_metric(production or (every[-1] if every else None))
        runs = self._runs(v.run_id for v in shown)
        params = {
            v.id: params_cells(runs[v.run_id].params) if v.run_id in runs else {} for v in shown
        }
        param_keys = sorted({k for cells in params.values() for k in cells})
        path = model_path(name)
        keep = {"stage": stage, "metric": chosen_metric}
        chart = None
        if chart_metric is not None:
            points = [
                charts.MetricPoint(
                    v.version,
                    v.metrics[chart_metric],
                    v.stage.value,
                    model_path(name, "versions", v.version),
                )
                for v in every
                if chart_metric in v.metrics
            ]
            chart = charts.metric_chart(chart_metric, points)
        model = next((m for m in self.registry.models() if m.name == name), None)
        return self.render(
            request,
            "model.html",
            title=name,
            name=name,
            model=model,
            protection=display.protection(self.registry.protection(name)),
            aliases=self.registry.aliases(name),
            model_tags=self.registry.tags(name),
            versions=shown,
            total=len(every),
            production=production,
            metric_keys=metric_keys,
            param_keys=param_keys,
            params=params,
            stage=stage,
            stages=STAGES,
            sort=sort,
            chart=chart,
            chart_metric=chart_metric,
            chosen_metric=chosen_metric,
            path=path,
            sort_links={
                key: sort_link(path, sort, key, **keep)
                for key in ["version", "created_at", *(f"metrics.{k}" for k in metric_keys)]
            },
            chart_links={k: url(path, stage=stage, sort=sort, metric=k) for k in metric_keys},
            compare_action=model_path(name, "compare"),
        )

    def _runs(self, run_ids: Iterable[str | None]) -> dict[str, TrainingRun]:
        return {
            run_id: self.registry.get_run(run_id) for run_id in dict.fromkeys(run_ids) if run_id
        }

    # --- /models/{name}/compare ----------------------------------------------------------

    def compare(self, request: Request) -> Response:
        name = request.path_params["name"]
        every = self._model_versions(name)
        numbers = self._compared_numbers(request)
        comparison = self.registry.comparison(name, numbers)
        by_number = {v.version: v for v in every}
        chosen = [by_number[n] for n in numbers if n in by_number]
        production = production_of(every)
        columns = [self._compare_header(name, column) for column in comparison.columns]
        rows = [
            {
                "key": row,
                "differs": row in comparison.differing,
                "kind": row.split(".", 1)[0] if "." in row else "field",
                "cells": [_plain_cell(comparison.value(row, c.label)) for c in comparison.columns],
            }
            for row in comparison.rows
        ]
        shown = [*chosen, *([production] if production and production not in chosen else [])]
        lineages = {v.id: self.registry.lineage(v) for v in shown}
        return self.render(
            request,
            "compare.html",
            title=f"{name}: compare {', '.join(f'v{n}' for n in numbers)}",
            name=name,
            numbers=numbers,
            chosen=chosen,
            production=production,
            columns=columns,
            rows=rows,
            lineages=[(v, lineages[v.id], v is production) for v in shown],
            model_href=model_path(name),
            dagster_href=functools.partial(dagster_run_url, self.settings.dagster_url),
        )

    @staticmethod
    def _compare_header(name: str, column: ComparedColumn) -> dict[str, Any]:
        """`v5`, `production (v3)` link to their version; `Δ v5` is a delta column."""
        is_delta = column.kind is ColumnKind.DELTA
        href = None if is_delta else model_path(name, "versions", column.version)
        return {"label": column.label, "href": href, "delta": is_delta}

    @staticmethod
    def _compared_numbers(request: Request) -> list[int]:
        raw = request.query_params.getlist("v")
        if not raw:
            raise BadRequest(
                "choose the versions to compare: tick their boxes on the model page, or "
                "add ?v=1&v=2 to the address"
            )
        numbers: list[int] = []
        for value in raw:
            value = value.strip().removeprefix("v")
            if not value.isascii() or not value.isdigit() or len(value) > 18 or int(value) < 1:
                raise BadRequest(f"?v= takes version numbers such as 3, got {value[:50]!r}")
            if int(value) not in numbers:
                numbers.append(int(value))
        if len(numbers) > MAX_COMPARED:
            raise BadRequest(f"compare at most {MAX_COMPARED} versions at once")
        # Oldest to newest reads left to right, whatever order the boxes were ticked in.
        return sorted(numbers)

    # --- /models/{name}/versions/{number} ------------------------------------------------

    def version(self, request: Request) -> Response:
        name = request.path_params["name"]
        number = request.path_params["number"]
        if number > 2**62:  # no such version, and too big for the database's integers
            raise PageNotFound(f"no model version {name}/{number}")
        version = self._version(name, number)
        lineage = self.registry.lineage(version)
        history = list(lineage.transitions)  # the same rows as registry.history(version)
        approvals = self.registry.approvals(version)
        records = self.registry.metric_history(version)
        sources, metric_table = metrics_by_dataset(version, records, lineage)
        dagster_link = dagster_run_url(self.settings.dagster_url, lineage.dagster_run_id)
        was_production = any(t.to_stage is Stage.PRODUCTION for t in history)
        graph = charts.lineage_graph(
            lineage,
            dataset_href=dataset_anchor,
            version_href=model_path(name, "versions", number),
            run_href=dagster_link,
            was_in_production=was_production,
        )
        neighbours = {
            "previous": model_path(name, "versions", number - 1) if number > 1 else None,
            "compare": url(model_path(name, "compare"), v=number),
        }
        return self.render(
            request,
            "version.html",
            title=version.ref,
            name=name,
            version=version,
            lineage=lineage,
            run=lineage.run,
            history=history,
            approvals=approvals,
            approval_records=self.registry.approval_records(version),
            aliases=self.registry.version_aliases(version),
            version_tags=self.registry.tags(version),
            protection=display.protection(self.registry.protection(name)),
            sources=sources,
            metric_table=metric_table,
            params=params_cells(lineage.run.params) if lineage.run else {},
            graph=graph,
            dagster_link=dagster_link,
            links=neighbours,
            model_href=model_path(name),
            dataset_anchor=dataset_anchor,
            card_text=self.registry.model_card_text(name),
            card=self.registry.model_card(version),
            reproduction=self.registry.latest_reproduction(version),
            retention=self.registry.version_retention(version),
        )

    def version_by_id(self, request: Request) -> Response:
        """`/versions/<uuid>`: where audit events about a version link to."""
        reference = request.path_params["version_id"]
        try:
            version = self.registry.get_version(reference)
        except InvalidInputError as exc:
            raise PageNotFound(f"no model version {reference!r}") from exc
        target = model_path(version.model_name, "versions", version.version)
        return RedirectResponse(target, status_code=302)

    # --- /datasets -----------------------------------------------------------------------

    def datasets(self, request: Request) -> Response:
        name = query_value(request, "name")
        snapshots = self.registry.datasets(name)
        now = datetime.now(UTC)
        # One plan for the page: each live snapshot's verdict under its name's policy.
        verdicts = {item.subject_id: item for item in self.registry.retention_plan()}
        rows = [
            {
                "snapshot": snap,
                "dependents": self.registry.dependents(snap),
                "expired": snap.expires_at is not None and snap.expires_at <= now,
                "retention": verdicts.get(snap.id),
            }
            for snap in snapshots
        ]
        names = sorted({snap.name for snap in snapshots}) if name is None else [name]
        return self.render(
            request,
            "datasets.html",
            title="Datasets",
            rows=rows,
            name=name,
            names=names,
            live=sum(1 for s in snapshots if not s.deleted),
            version_href=lambda d: model_path(d.model_name, "versions", d.version),
        )

    # --- /audit --------------------------------------------------------------------------

    def audit(self, request: Request) -> Response:
        model = query_value(request, "model")
        actor = query_value(request, "actor")
        action = query_value(request, "action")
        limit = query_int(request, "limit", default=200, low=1, high=100_000)
        refresh = query_flag(request, "verify")
        # Only the page's rows are read: the log grows with every write.
        filters = {"model": model, "actor": actor, "action": action}
        events = self.registry.audit_log(**filters, newest_first=True, limit=limit)
        report, checked_at = self._verification(refresh)
        return self.render(
            request,
            "audit.html",
            title="Audit log",
            events=events,
            total=self.registry.audit_count(**filters),
            model=model,
            actor=actor,
            action=action,
            limit=limit,
            models=[m.name for m in self.registry.models()],
            actions=AUDIT_ACTIONS,
            report=report,
            checked_at=checked_at,
            verify_href=url("/audit", model=model, actor=actor, action=action, verify=1),
            subject_href=audit_subject_href,
        )

    def _verification(self, refresh: bool) -> tuple[VerifyReport, datetime]:
        """The audit chain's check, never the blobs': re-hashing every blob on a request
        would let any visitor keep the registry's disks and CPU busy (`registry verify`
        does that). One result is shared for `verify_max_age` seconds; "Check again"
        renews it, but not more often than every `verify_min_interval` seconds."""
        cache = self._verify
        with cache.lock:
            age = time.monotonic() - cache.checked_monotonic
            expired = cache.report is None or age > self.settings.verify_max_age
            if expired or (refresh and age >= self.settings.verify_min_interval):
                cache.report = self.registry.verify_audit_chain()
                cache.checked_at = datetime.now(UTC)
                cache.checked_monotonic = time.monotonic()
            assert cache.checked_at is not None
            return cache.report, cache.checked_at


# --- page data shaped for templates -----------------------------------------------------


def metrics_by_dataset(
    version: ModelVersion, records: Sequence[MetricRecord], lineage: Lineage
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Metric rows x dataset columns (training first), newest value per cell."""
    snapshots: dict[str, DatasetSnapshot] = {d.snapshot.id: d.snapshot for d in lineage.datasets}
    newest: dict[tuple[str, str | None], MetricRecord] = {}
    for record in records:
        cell = (record.key, record.dataset_id)
        if cell not in newest or record.logged_at >= newest[cell].logged_at:
            newest[cell] = record
    dataset_ids = sorted({d for _, d in newest}, key=lambda d: (d is not None, d or ""))
    sources = [
        {
            "id": dataset_id,
            "label": "at registration"
            if dataset_id is None
            else snapshots[dataset_id].name
            if dataset_id in snapshots
            else dataset_id,
            "snapshot": snapshots.get(dataset_id) if dataset_id else None,
        }
        for dataset_id in dataset_ids
    ]
    keys = sorted({k for k, _ in newest} | set(version.metrics))
    table = [
        {
            "key": key,
            "current": version.metrics.get(key),
            "cells": [newest.get((key, dataset_id)) for dataset_id in dataset_ids],
        }
        for key in keys
    ]
    return sources, table


def audit_subject_href(event: AuditEvent) -> str | None:
    if event.subject_type == "model_version":
        return f"/versions/{quote(event.subject_id, safe='')}"
    if event.subject_type == "dataset":
        return dataset_anchor(event.subject_id)
    return None
