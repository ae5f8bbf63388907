"""`@registry_scoring`: batch scoring with whatever version is in production."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from registry_project.core.errors import RegistryError
from registry_project.orchestration import metadata as md
from registry_project.orchestration._common import (
    AssetRef,
    as_failure,
    asset_options,
    call_user_function,
    registry_for,
    to_asset_key,
)


def registry_scoring(
    *,
    model_name: str,
    production: AssetRef,
    dataset: AssetRef,
    name: str = "scores",
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    resource_key: str = "registry",
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Turn a scoring function into the `<model_name>/scores` asset.

    It loads `<model_name>@production` through the registry (digest verified), applies the
    function to the snapshot the `dataset` asset recorded, and snapshots the returned
    DataFrame as dataset `<model_name>-scores`, so scores have lineage too.

    Example::

        @registry_scoring(model_name="churn", production=churn_production, dataset=customers)
        def churn_scores(model, data: pd.DataFrame) -> pd.DataFrame:
            return data.assign(p_churn=model.predict_proba(data[FEATURES])[:, 1])
    """
    production_key = to_asset_key(production)
    dataset_key = to_asset_key(dataset)

    def decorator(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        @dg.asset(
            key=dg.AssetKey([model_name, name]),
            deps=[production_key, dataset_key],
            **asset_options(
                role="scoring",
                model_name=model_name,
                kinds={"pandas", "parquet"},
                description=description or fn.__doc__,
                group_name=group_name,
                owners=owners,
                tags=tags,
                resource_key=resource_key,
                automation_condition=automation_condition,
            ),
        )
        def _scoring(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            registry = registry_for(context, resource_key)
            try:
                version = registry.get_version(f"{model_name}@production")
                source = registry.get_dataset(
                    md.require_recorded(context.instance, dataset_key, md.SNAPSHOT_ID)
                )
                model = registry.load_model(version)
                scores = call_user_function(
                    fn, context, model=model, data=registry.load_dataset(source)
                )
                snapshot = registry.snapshot_dataset(f"{model_name}-scores", scores)
            except RegistryError as exc:
                raise as_failure(exc) from exc
            return dg.MaterializeResult(
                metadata={
                    **md.snapshot_metadata(snapshot),
                    "registry/scored_with": dg.MetadataValue.text(version.ref),
                    md.VERSION_ID: dg.MetadataValue.text(version.id),
                    "registry/source_snapshot_id": dg.MetadataValue.text(source.id),
                },
                data_version=dg.DataVersion(snapshot.digest or snapshot.id),
            )

        return _scoring

    return decorator
