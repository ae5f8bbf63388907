"""The experiment-tracking pages: experiments, an experiment's runs (filtered, ordered,
some compared with their curves overlaid), one run (params, tags, metrics, step-metric
curves, artifacts shown inline), and a run artifact's verified bytes.

Like pages.py, each page reads through public `ModelRegistry` calls only. The one route
that serves bytes (`artifact`) downloads them with `download_run_artifact`, which checks
the digest before the file exists, so damaged bytes are refused, never served.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from registry_project.core.entities import RunArtifact, TrainingRun
from registry_project.core.errors import IntegrityCheckError, InvalidInputError, NotFoundError
from registry_project.core.registry import ModelRegistry
from registry_project.ui.curves import Curve, curve_chart
from registry_project.ui.formatting import json_value, when
from registry_project.ui.query import (
    BadRequest,
    PageError,
    PageNotFound,
    query_int,
    query_value,
    url,
)

# A page lists at most this many runs (the registry caps its own `limit=` too).
MAX_RUNS = 500
EXPERIMENTS_SCANNED = 5000  # the experiments page reads the newest runs, at most these
MAX_COMPARED_RUNS = 12
MAX_CURVES = 24  # step metrics drawn on one page; more are listed, not drawn
MAX_METRIC_COLUMNS = 12
INLINE_TEXT_BYTES = 64 * 1024  # text and CSV artifacts this small are shown on the page
INLINE_CSV_ROWS = 200
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
TEXT_TYPES = ("text/", "application/json")
# What the artifact route lets the browser show itself; anything else (HTML included) is a
# download. An artifact is whatever a run logged, so the route also tells the browser never
# to run it or guess its type: SVG and HTML may hold scripts, and they would run with the
# registry UI's origin.
INLINE_TYPES = (*IMAGE_TYPES, "text/plain", "text/csv", "application/json")
ARTIFACT_HEADERS = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    ),
    "X-Content-Type-Options": "nosniff",
}
DEFAULT_ORDER = "-start_time"


def run_href(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def experiment_href(name: str) -> str:
    return f"/experiments/{quote(name, safe='')}"


def artifact_href(run_id: str, name: str) -> str:
    return f"{run_href(run_id)}/artifacts/{quote(name, safe='/')}"


class RunPages:
    """One method per tracking page; `render` and `error` are the other pages' (pages.py)."""

    def __init__(self, registry: ModelRegistry, render: Any) -> None:
        self.registry = registry
        self.render = render

    # --- /experiments ---------------------------------------------------------------------

    def experiments(self, request: Request) -> Response:
        runs = self.registry.runs(limit=EXPERIMENTS_SCANNED)
        groups: dict[str, dict[str, Any]] = {}
        for run in runs:  # newest first: the first run seen is the latest
            name = run.experiment or run.name
            group = groups.setdefault(
                name, {"name": name, "href": experiment_href(name), "runs": 0, "latest": run}
            )
            group["runs"] += 1
        return self.render(
            request,
            "experiments.html",
            title="Experiments",
            section="runs",
            experiments=sorted(groups.values(), key=lambda g: g["latest"].started_at, reverse=True),
            capped=len(runs) == EXPERIMENTS_SCANNED,
        )

    # --- /experiments/{name} --------------------------------------------------------------

    def runs(self, request: Request) -> Response:
        name = request.path_params["name"]
        wanted = query_value(request, "filter")
        order = query_value(request, "order") or DEFAULT_ORDER
        limit = query_int(request, "limit", default=100, low=1, high=MAX_RUNS)
        # The registry parses the filter and the order (core/filters.py): a bad one is a 400
        # naming the token; nothing of this text becomes SQL here.
        runs = self.registry.runs(name, filter=wanted, order_by=order, limit=limit)
        if not runs and wanted is None and not self.registry.runs(name, limit=1):
            raise PageNotFound(f"no runs in an experiment named {name!r}")
        metric_keys = sorted({k for r in runs for k in r.metrics})
        param_keys = sorted({k for r in runs for k in r.params})
        differing = [k for k in param_keys if len({json_value(r.params.get(k)) for r in runs}) > 1]
        return self.render(
            request,
            "runs.html",
            title=f"{name}: runs",
            section="runs",
            name=name,
            runs=[self._row(r) for r in runs],
            metric_keys=metric_keys[:MAX_METRIC_COLUMNS],
            hidden_metrics=metric_keys[MAX_METRIC_COLUMNS:],
            param_keys=differing[:MAX_METRIC_COLUMNS],
            filter=wanted or "",
            order=order,
            limit=limit,
            sort_links={
                f"metrics.{k}": url(
                    experiment_href(name),
                    filter=wanted,
                    order=f"metrics.{k}" if order == f"-metrics.{k}" else f"-metrics.{k}",
                )
                for k in metric_keys
            },
            compare_action=f"{experiment_href(name)}/compare",
            max_compared=MAX_COMPARED_RUNS,
        )

    @staticmethod
    def _row(run: TrainingRun) -> dict[str, Any]:
        return {"run": run, "href": run_href(run.id)}

    # --- /runs/{run_id} -------------------------------------------------------------------

    def _run(self, run_id: str) -> TrainingRun:
        try:
            return self.registry.get_run(run_id)
        except InvalidInputError as exc:
            raise PageNotFound(f"no run {run_id!r}: {exc}") from exc

    def _curves(self, runs: Sequence[TrainingRun]) -> tuple[list[Any], list[str]]:
        """A chart per step metric (runs overlaid), and the metrics left undrawn."""
        keys = sorted({k for r in runs for k in r.metrics})
        charts, undrawn = [], []
        for key in keys:
            if len(charts) >= MAX_CURVES:
                undrawn.append(key)
                continue
            curves = []
            for run in runs:
                if key in run.metrics:
                    steps = self.registry.metric_history(run, key)
                    label = run.name if len(runs) == 1 else f"{run.name} {run.id[:8]}"
                    points = [(s.step, s.value) for s in steps]
                    curves.append(Curve(label, points, run_href(run.id)))
            # A metric logged once (a final score) is a number, not a curve.
            if any(len(c.points) > 1 for c in curves):
                charts.append({"key": key, "svg": curve_chart(key, curves)})
        return charts, undrawn

    def run(self, request: Request) -> Response:
        run = self._run(request.path_params["run_id"])
        charts, undrawn = self._curves([run])
        artifacts = [self._artifact_view(run, a) for a in self.registry.run_artifacts(run)]
        return self.render(
            request,
            "run.html",
            title=f"run {run.name}",
            section="runs",
            run=run,
            experiment_href=experiment_href(run.experiment or run.name),
            params=sorted((k, json_value(v)) for k, v in run.params.items()),
            charts=charts,
            undrawn=undrawn,
            artifacts=artifacts,
        )

    def _artifact_view(self, run: TrainingRun, artifact: RunArtifact) -> dict[str, Any]:
        view: dict[str, Any] = {
            "artifact": artifact,
            "href": artifact_href(run.id, artifact.name),
            "image": artifact.media_type in IMAGE_TYPES,
            "text": None,
            "table": None,
            "error": None,
        }
        small = artifact.size_bytes <= INLINE_TEXT_BYTES
        if small and artifact.media_type.startswith(TEXT_TYPES):
            try:
                data = self._verified_bytes(run.id, artifact.name)
            except IntegrityCheckError as exc:
                view["error"] = str(exc)
                return view
            text = data.decode("utf-8", errors="replace")
            if artifact.media_type == "text/csv":
                rows = list(csv.reader(io.StringIO(text)))
                view["table"] = rows[: INLINE_CSV_ROWS + 1]
                view["more_rows"] = max(0, len(rows) - INLINE_CSV_ROWS - 1)
            else:
                view["text"] = text
        return view

    def _verified_bytes(self, run_id: str, name: str) -> bytes:
        path = self._download(run_id, name)
        try:
            with open(path, "rb") as handle:
                return handle.read()
        finally:
            os.unlink(path)

    def _download(self, run_id: str, name: str) -> str:
        """The artifact's bytes in a temporary file, there only if they matched their
        digest (`download_run_artifact`); the caller removes it."""
        handle, path = tempfile.mkstemp(prefix="registry-ui-")
        os.close(handle)
        os.unlink(path)  # the download creates it, and only once the bytes are verified
        try:
            self.registry.download_run_artifact(run_id, name, path)
        except BaseException:
            if os.path.exists(path):
                os.unlink(path)
            raise
        return path

    # --- /runs/{run_id}/artifacts/{name} --------------------------------------------------

    def artifact(self, request: Request) -> Response:
        run = self._run(request.path_params["run_id"])
        name = request.path_params["name"]
        known = {a.name: a for a in self.registry.run_artifacts(run)}
        if name not in known:
            raise PageNotFound(f"run {run.id} has no artifact named {name!r}")
        try:
            path = self._download(run.id, name)
        except IntegrityCheckError as exc:
            raise ArtifactDamaged(str(exc)) from exc
        inline = known[name].media_type in INLINE_TYPES
        return FileResponse(
            path,
            media_type=known[name].media_type,
            filename=name.rsplit("/", 1)[-1],
            content_disposition_type="inline" if inline else "attachment",
            headers=ARTIFACT_HEADERS,
            background=BackgroundTask(os.unlink, path),
        )

    # --- /experiments/{name}/compare ------------------------------------------------------

    def compare(self, request: Request) -> Response:
        name = request.path_params["name"]
        ids = [v.strip() for v in request.query_params.getlist("run") if v.strip()]
        if len(ids) < 2:
            raise BadRequest("tick at least two runs to compare (?run=ID&run=ID)")
        if len(ids) > MAX_COMPARED_RUNS:
            raise BadRequest(f"compare at most {MAX_COMPARED_RUNS} runs at once, got {len(ids)}")
        try:
            runs = [self.registry.get_run(i) for i in dict.fromkeys(ids)]
        except NotFoundError as exc:
            raise BadRequest(str(exc)) from exc
        comparison = self.registry.compare_runs([r.id for r in runs])
        charts, undrawn = self._curves(runs)
        rows = [
            {
                "key": row,
                "differs": row in comparison.differing,
                "cells": [_cell(comparison.value(row, label)) for label in comparison.columns],
            }
            for row in comparison.rows
        ]
        return self.render(
            request,
            "run_compare.html",
            title=f"{name}: compare runs",
            section="runs",
            name=name,
            experiment_href=experiment_href(name),
            columns=[
                {"label": label, "href": run_href(run_id)}
                for label, run_id in zip(comparison.columns, comparison.run_ids, strict=True)
            ],
            rows=rows,
            charts=charts,
            undrawn=undrawn,
        )


def _cell(value: Any) -> Any:
    """A compared value as the other pages show it: times in UTC to the second."""
    return when(value, seconds=True) if isinstance(value, datetime) else value


class ArtifactDamaged(PageError):
    """A run artifact whose bytes no longer match their digest: refused, never served."""

    status_code = 500
    title = "Integrity check failed"
