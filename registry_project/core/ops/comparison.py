"""`comparison` (and `compare`, its DataFrame): params and metrics of several versions of
one model side by side, with each metric's delta to the production version, and the rows
that differ."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from registry_project.core.entities import (
    ColumnKind,
    ComparedColumn,
    Comparison,
    ModelVersion,
    TrainingRun,
)
from registry_project.core.errors import InvalidInputError
from registry_project.core.ops import run_ops, version_ops
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.ops.writer import Writer
from registry_project.core.validation import canonical_json, validate_name

# Rows whose differences matter; stage, dates and digests always differ.
COMPARED_ROWS = ("param.", "metric.", "code_commit", "flavor")


def compare(w: Writer, name: str, versions: Sequence[int | str | ModelVersion]) -> Comparison:
    validate_name(name, "model name")
    if not versions:
        raise InvalidInputError("compare needs at least one version number")
    chosen = [version_ops.get(w, version_ref(name, item)) for item in versions]
    for item in chosen:
        if item.model_name != name:
            raise InvalidInputError(f"{item.ref} is not a version of {name!r}")
    production = version_ops.production(w, name)
    runs: dict[str, TrainingRun] = {v.run_id: run_ops.get(w, v.run_id) for v in chosen if v.run_id}
    if production is not None and production.run_id and production.run_id not in runs:
        runs[production.run_id] = run_ops.get(w, production.run_id)
    shown: dict[str, ComparedColumn] = {}
    columns: dict[str, ModelVersion] = {}
    for v in chosen:
        shown[f"v{v.version}"] = ComparedColumn(f"v{v.version}", v.version, ColumnKind.VERSION)
        columns[f"v{v.version}"] = v
    if production is not None:
        label = f"production (v{production.version})"
        shown[label] = ComparedColumn(label, production.version, ColumnKind.PRODUCTION)
        columns[label] = production
    param_keys = sorted({k for r in runs.values() for k in r.params})
    metric_keys = sorted({k for v in columns.values() for k in v.metrics})
    table: dict[str, dict[str, Any]] = {}
    for label, version in columns.items():
        run = runs.get(version.run_id) if version.run_id else None
        column: dict[str, Any] = {
            "stage": version.stage.value,
            "created_at": version.created_at,
            "created_by": version.created_by,
            "flavor": version.flavor,
            "artifact_digest": version.artifact_digest[:12],
            "code_commit": (run.code.commit or "")[:12] if run else None,
        }
        for key in param_keys:
            value = run.params.get(key) if run else None
            column[f"param.{key}"] = (
                canonical_json(value) if isinstance(value, dict | list) else value
            )
        for key in metric_keys:
            column[f"metric.{key}"] = version.metrics.get(key)
        table[label] = column
    rows = tuple(table[next(iter(table))])
    differing = tuple(
        row
        for row in rows
        if row.startswith(COMPARED_ROWS) and len({repr(c.get(row)) for c in table.values()}) > 1
    )
    if production is not None:
        for version in chosen:
            label = f"Δ v{version.version}"
            shown[label] = ComparedColumn(label, version.version, ColumnKind.DELTA)
            table[label] = {
                f"metric.{key}": delta(version.metrics.get(key), production.metrics.get(key))
                for key in metric_keys
            }
    return Comparison(
        model_name=name,
        rows=rows,
        columns=tuple(shown.values()),
        cells=MappingProxyType({label: MappingProxyType(c) for label, c in table.items()}),
        differing=differing,
    )


def version_ref(name: str, item: int | str | ModelVersion) -> VersionRef:
    if isinstance(item, ModelVersion):
        return item
    if isinstance(item, int) and not isinstance(item, bool):
        return f"{name}/{item}"
    if isinstance(item, str) and item.isdigit():
        return f"{name}/{item}"
    if isinstance(item, str):
        return item
    raise InvalidInputError(f"cannot compare {item!r}: give version numbers such as 5 or 7")


def delta(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None:
        return None
    difference = value - baseline
    return difference if math.isfinite(difference) else None
