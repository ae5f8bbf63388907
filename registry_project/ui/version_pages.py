"""The version pages: `/models/{name}/versions/{number}` (a version's record, lineage,
metrics per dataset, stage history, card) and `/versions/{id}` (a redirect there)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from registry_project.core import display
from registry_project.core.entities import (
    DatasetSnapshot,
    Lineage,
    MetricRecord,
    ModelVersion,
    Stage,
)
from registry_project.core.errors import InvalidInputError
from registry_project.ui import charts
from registry_project.ui.pages import Pages, dagster_run_url, dataset_anchor, params_cells
from registry_project.ui.query import PageNotFound, model_path, url


class VersionPages(Pages):
    """`/models/{name}/versions/{number}`, `/versions/{version_id}`."""

    # A malformed path part names nothing, so it is a 404 like a missing version.
    def _version(self, name: str, number: int) -> ModelVersion:
        try:
            return self.registry.get_version(f"{name}/{number}")
        except InvalidInputError as exc:
            raise PageNotFound(f"no model version {name}/{number}: {exc}") from exc

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
