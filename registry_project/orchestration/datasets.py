"""`@registry_dataset`: a function that returns a DataFrame becomes a snapshotted dataset."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from registry_project.core.errors import RegistryError
from registry_project.orchestration import metadata as md
from registry_project.orchestration._common import (
    as_failure,
    asset_options,
    call_user_function,
    registry_for,
)


def registry_dataset(
    *,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    dataset_name: str | None = None,
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    retention: timedelta | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    resource_key: str = "registry",
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Turn a function returning a pandas DataFrame (or Arrow table) into an asset whose
    materialization is a content-addressed registry snapshot.

    The materialization records `dagster/row_count`, `dagster/column_schema`,
    `dagster/uri`, the snapshot id and digest, and `DataVersion(digest)`, so unchanged data
    does not look new to downstream automation.

    Example::

        @registry_dataset(group_name="churn", owners=["team:ml"])
        def customers(context) -> pd.DataFrame:
            return load_customers()
    """

    def decorator(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        asset_name = name or fn.__name__
        snapshot_name = dataset_name or asset_name

        @dg.asset(
            name=asset_name,
            key_prefix=key_prefix,
            **asset_options(
                role="dataset",
                model_name=None,
                kinds={"pandas", "parquet"},
                description=description or fn.__doc__,
                group_name=group_name,
                owners=owners,
                tags=tags,
                resource_key=resource_key,
                automation_condition=automation_condition,
            ),
        )
        def _dataset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            data = call_user_function(fn, context)
            registry = registry_for(context, resource_key)
            expires = datetime.now(UTC) + retention if retention is not None else None
            try:
                snapshot = registry.snapshot_dataset(snapshot_name, data, expires_at=expires)
            except RegistryError as exc:
                raise as_failure(exc) from exc
            context.log.info(
                f"snapshot {snapshot.name} {snapshot.id}: {snapshot.row_count} rows, "
                f"sha256 {snapshot.digest}"
            )
            return dg.MaterializeResult(
                metadata=md.snapshot_metadata(snapshot),
                data_version=dg.DataVersion(snapshot.digest or snapshot.id),
            )

        return _dataset

    return decorator
