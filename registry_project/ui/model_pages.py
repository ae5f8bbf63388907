"""The model pages: `/` (every model), `/models/{name}` (its versions, a metric chart,
sorting and filtering) and `/models/{name}/compare` (versions side by side)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from registry_project.core import display
from registry_project.core.entities import (
    ColumnKind,
    ComparedColumn,
    ModelSummary,
    ModelVersion,
    Stage,
    TrainingRun,
    key_metric,
)
from registry_project.core.errors import InvalidInputError, NotFoundError
from registry_project.core.stages import LIFE_CYCLE
from registry_project.ui import charts
from registry_project.ui.formatting import plain
from registry_project.ui.pages import Pages, dagster_run_url, params_cells
from registry_project.ui.query import BadRequest, PageNotFound, model_path, query_value, url

STAGES = tuple(stage.value for stage in LIFE_CYCLE)

# Compare is for a handful of versions side by side; more is unreadable and costly.
MAX_COMPARED = 12


def production_of(versions: Iterable[ModelVersion]) -> ModelVersion | None:
    return next((v for v in versions if v.stage is Stage.PRODUCTION), None)


def sort_link(path: str, current: str, field_name: str, **params: str | None) -> dict[str, str]:
    """A column header's link: descending first, the other direction when already sorted by
    this field; and the arrow to show."""
    if current == f"-{field_name}":
        return {"href": url(path, sort=field_name, **params), "arrow": "▼"}
    arrow = "▲" if current == field_name else ""
    return {"href": url(path, sort=f"-{field_name}", **params), "arrow": arrow}


def _plain_cell(value: Any) -> Any:
    value = plain(value)
    return None if value == "" else value


class ModelPages(Pages):
    """`/`, `/models/{name}`, `/models/{name}/compare`."""

    # Path parts name things: a malformed one names nothing, so it is a 404 like a missing one.
    def _model_versions(self, name: str) -> list[ModelVersion]:
        try:
            return self.registry.versions(name, order_by="version")
        except InvalidInputError as exc:
            raise PageNotFound(f"no model named {name!r}: {exc}") from exc

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
