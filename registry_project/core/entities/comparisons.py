"""Side-by-side comparisons of versions (`Comparison`) and of runs (`RunComparison`), each
with `to_frame()`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry_project.core.entities.vocabulary import ColumnKind


@dataclass(frozen=True)
class ComparedColumn:
    label: str  # "v5", "production (v3)", "Δ v5": the DataFrame's column label
    version: int  # the version the column shows (a delta column: the compared version)
    kind: ColumnKind


@dataclass(frozen=True)
class Comparison:
    """Versions of one model side by side (`ModelRegistry.comparison`): rows `stage`,
    `created_at`, ..., `param.<name>`, `metric.<name>`; one column per compared version,
    then production's, then each version's metric deltas to production."""

    model_name: str
    rows: tuple[str, ...]
    columns: tuple[ComparedColumn, ...]
    # column label -> row -> value; a delta column holds only the metric rows
    cells: Mapping[str, Mapping[str, Any]]
    # params, metrics, code and flavor whose value is not the same in every version
    # column (production included; deltas are not versions)
    differing: tuple[str, ...]

    def value(self, row: str, label: str) -> Any:
        """One cell; None where the column has no value for the row."""
        return self.cells[label].get(row)

    def to_frame(self) -> Any:
        """The comparison as a pandas DataFrame: rows as index, column labels as columns
        (what `ModelRegistry.compare` returns)."""
        import pandas as pd  # imported on use: see core/parquet.py

        frame = pd.DataFrame({label: dict(column) for label, column in self.cells.items()})
        return frame.reindex(list(self.rows))


@dataclass(frozen=True)
class RunComparison:
    """Runs side by side (`ModelRegistry.compare_runs`): rows `experiment`, `status`, ...,
    `param.<name>`, `tag.<name>`, `metric.<name>` (latest values); one column per run,
    labelled by the first 8 characters of its id."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    run_ids: tuple[str, ...]
    cells: Mapping[str, Mapping[str, Any]]
    # params, tags and metrics whose value is not the same in every run
    differing: tuple[str, ...]

    def value(self, row: str, label: str) -> Any:
        return self.cells[label].get(row)

    def to_frame(self) -> Any:
        """Rows as index, one column per run (what `ModelRegistry.compare_runs` shows)."""
        import pandas as pd  # imported on use: see core/datasets.py

        frame = pd.DataFrame({label: dict(self.cells[label]) for label in self.columns})
        return frame.reindex(list(self.rows))
