"""`@registry_scoring`: batch scoring with whatever version is in production."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from registry_project.core.errors import RegistryError
from registry_project.orchestration import metadata as md
from registry_project.orchestration._body import AssetBody, compute_function, registry_resource
from registry_project.orchestration._common import (
    AssetRef,
    as_failure,
    asset_options,
    beta_output,
    partition_metadata,
    partition_of,
    to_asset_key,
)
from registry_project.orchestration.translator import RegistryAssetProps, RegistryTranslator


def registry_scoring(
    *,
    model_name: str,
    production: AssetRef,
    dataset: AssetRef | None = None,
    ins: Mapping[str, dg.AssetIn] | None = None,
    deps: Sequence[Any] | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    name: str | None = None,
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    translator: RegistryTranslator | None = None,
    resource_key: str = "registry",
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Make the decorated scoring function the body of the `<model>/<model>_scores` asset.

    The function receives `model` (`<model>@production`, loaded through the registry, digest
    verified) and, with `dataset`, `data` (the snapshot that asset recorded), plus anything
    an asset body takes. The returned DataFrame is snapshotted as dataset `<model>-scores`
    (so scores have lineage too) and handed to the IO manager for your own assets.

    Example::

        @registry_scoring(model_name="cancer", production=pipeline.production,
                          dataset="cancer_test")
        def cancer_scores(model, data: pd.DataFrame) -> pd.DataFrame:
            return data.assign(p_malignant=model.predict_proba(data[X])[:, 1])
    """
    chosen = translator or RegistryTranslator()
    production_key = to_asset_key(production)
    dataset_key = to_asset_key(dataset, hint="test") if dataset is not None else None

    def decorator(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        body = AssetBody(fn, frozenset({"model", "data"}), resource_key)
        props = RegistryAssetProps("scoring", name or fn.__name__, model_name, fn)

        def run(context: dg.AssetExecutionContext, passed: Mapping[str, Any]) -> Any:
            registry = registry_resource(passed, resource_key).for_context(context)
            injected: dict[str, Any] = {}
            source = None
            try:
                version = registry.get_version(f"{model_name}@production")
                injected["model"] = registry.load_model(version)
                if dataset_key is not None:
                    source = registry.get_dataset(
                        md.require_recorded(
                            context.instance, dataset_key, md.SNAPSHOT_ID, partition_of(context)
                        )
                    )
                    injected["data"] = registry.load_dataset(source)
                scores = body.call(context, passed, **injected)
                snapshot = registry.snapshot_dataset(f"{model_name}-scores", scores)
            except RegistryError as exc:
                raise as_failure(exc) from exc
            with beta_output():
                return dg.Output(
                    scores,
                    metadata={
                        **md.snapshot_metadata(snapshot),
                        md.SCORED_WITH: dg.MetadataValue.text(version.ref),
                        md.VERSION_ID: dg.MetadataValue.text(version.id),
                        **(
                            {md.SOURCE_SNAPSHOT_ID: dg.MetadataValue.text(source.id)}
                            if source is not None
                            else {}
                        ),
                        **partition_metadata(context),
                    },
                    data_version=dg.DataVersion(snapshot.digest or snapshot.id),
                )

        return dg.asset(
            key=chosen.get_asset_key(props),
            ins=ins,
            deps=[production_key, *([dataset_key] if dataset_key else []), *(deps or ())],
            partitions_def=partitions_def,
            **asset_options(
                chosen,
                props,
                description=description,
                group_name=group_name,
                owners=owners,
                tags=tags,
                automation_condition=automation_condition,
            ),
        )(compute_function(body, run))

    return decorator
