"""`ModelRegistry.comparison`: the value the CLI and the web UI show, and `compare`'s
DataFrame as its `to_frame()`."""

from __future__ import annotations

import pandas as pd
import pytest

from registry_project import ModelRegistry
from registry_project.core.entities import ColumnKind


def _three_versions(registry: ModelRegistry) -> None:
    for c, auc in [(0.1, 0.75), (1.0, 0.75), (10.0, 0.875)]:
        with registry.start_run("train", params={"C": c, "solver": "lbfgs"}) as run:
            registry.register_model("churn", c, run=run, metrics={"auc": auc, "f1": 0.5})
    registry.promote("churn/1", actor="alice", reason="baseline")


def test_the_comparison_names_its_columns_by_version_and_kind(registry: ModelRegistry) -> None:
    _three_versions(registry)
    comparison = registry.comparison("churn", [2, 3])
    assert [(c.label, c.version, c.kind) for c in comparison.columns] == [
        ("v2", 2, ColumnKind.VERSION),
        ("v3", 3, ColumnKind.VERSION),
        ("production (v1)", 1, ColumnKind.PRODUCTION),
        ("Δ v2", 2, ColumnKind.DELTA),
        ("Δ v3", 3, ColumnKind.DELTA),
    ]
    assert comparison.value("metric.auc", "Δ v2") == 0.0
    assert comparison.value("metric.auc", "Δ v3") == 0.125
    assert comparison.value("stage", "Δ v3") is None  # a delta column has only metrics


def test_the_rows_that_differ_include_production_and_skip_deltas(
    registry: ModelRegistry,
) -> None:
    _three_versions(registry)
    # v1 (production) and v2 share auc; v3 differs. C differs everywhere; solver and f1
    # are the same in every version; stage, dates and digests are never "differences".
    assert registry.comparison("churn", [2]).differing == ("param.C",)
    assert registry.comparison("churn", [2, 3]).differing == ("param.C", "metric.auc")


def test_to_frame_is_what_compare_returns(registry: ModelRegistry) -> None:
    _three_versions(registry)
    frame = registry.comparison("churn", [2, 3]).to_frame()
    pd.testing.assert_frame_equal(frame, registry.compare("churn", [2, 3]))
    assert list(frame.index) == list(registry.comparison("churn", [2, 3]).rows)
    assert frame.loc["metric.auc", "Δ v3"] == pytest.approx(0.125)


def test_without_production_there_are_no_delta_columns(registry: ModelRegistry) -> None:
    with registry.start_run("train", params={"C": 1}) as run:
        registry.register_model("churn", 1, run=run, metrics={"auc": 0.5})
    registry.register_model("churn", 2, metrics={"auc": 0.5})
    comparison = registry.comparison("churn", [1, 2])
    assert [c.kind for c in comparison.columns] == [ColumnKind.VERSION, ColumnKind.VERSION]
    # a version without a run has no params and no code commit
    assert comparison.differing == ("code_commit", "param.C")
