"""`@registry_dataset`: the user's function is the body of an asset whose value (a DataFrame
or Arrow table, or one per output of a multi-asset) is snapshotted in the registry."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from registry_project.core.errors import RegistryError
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration import metadata as md
from registry_project.orchestration._body import AssetBody, compute_function, registry_resource
from registry_project.orchestration._common import (
    as_failure,
    asset_options,
    beta_output,
    partition_metadata,
)
from registry_project.orchestration.translator import RegistryAssetProps, RegistryTranslator


def default_dataset_name(key: dg.AssetKey) -> str:
    """The registry dataset name of an asset: its key's parts joined by `-` (`cancer-train`)."""
    return "-".join(key.path)


def registry_dataset(
    *,
    name: str | None = None,
    key_prefix: str | Sequence[str] | None = None,
    outs: Sequence[str] | Mapping[str, dg.AssetOut] | None = None,
    ins: Mapping[str, dg.AssetIn] | None = None,
    deps: Sequence[Any] | None = None,
    dataset_name: str | Mapping[str, str] | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    retention: timedelta | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    translator: RegistryTranslator | None = None,
    resource_key: str = "registry",
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Make the decorated function the body of a dataset asset whose value is snapshotted.

    The function is an ordinary asset body: it may take `context`, upstream assets (by
    parameter name or `ins`), a `config: dg.Config`, resources and `partition_key`. It
    returns a pandas DataFrame or Arrow table; with `outs` (a multi-asset, e.g. a train/test
    split) a tuple in the order of `outs` or a dict by output name. Each value is stored as a
    content-addressed registry snapshot (named `dataset_name`, default the key's parts joined
    by `-`) and also handed to the IO manager, so your own assets can read it as an input.
    Each materialization records `dagster/row_count`, `dagster/column_schema`,
    `dagster/uri`, `registry/snapshot_id`, `registry/digest` and `DataVersion(digest)`, so
    unchanged data does not look new to downstream automation.

    Example::

        @registry_dataset(outs=["cancer_train", "cancer_test"], group_name="cancer")
        def cancer_split(raw_cancer: pd.DataFrame, config: SplitConfig):
            return train_test_split(raw_cancer, test_size=config.test_size, random_state=0)
    """
    chosen = translator or RegistryTranslator()
    prefix = (key_prefix,) if isinstance(key_prefix, str) else tuple(key_prefix or ())

    def decorator(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        body = AssetBody(fn, frozenset(), resource_key)
        props = RegistryAssetProps("dataset", name or fn.__name__, function=fn, key_prefix=prefix)
        options = asset_options(
            chosen,
            props,
            description=description,
            group_name=group_name,
            owners=owners,
            tags=tags,
            automation_condition=automation_condition,
        )
        expires = (lambda: datetime.now(UTC) + retention) if retention is not None else None

        if outs is None:
            key = chosen.get_asset_key(props)
            snapshot_name = dataset_name if isinstance(dataset_name, str) else None
            snapshot_name = snapshot_name or default_dataset_name(key)

            def run_single(context: dg.AssetExecutionContext, passed: Mapping[str, Any]) -> Any:
                registry = registry_resource(passed, resource_key).for_context(context)
                data = body.call(context, passed)
                return _snapshot_output(context, registry, snapshot_name, data, expires, None)

            return dg.asset(
                key=key,
                ins=ins,
                deps=deps,
                partitions_def=partitions_def,
                **options,
            )(compute_function(body, run_single))

        out_defs = _outs(chosen, prefix, fn, outs, options)
        names = _dataset_names(out_defs, dataset_name)

        def run_multi(context: dg.AssetExecutionContext, passed: Mapping[str, Any]) -> Any:
            resource = registry_resource(passed, resource_key)
            values = _by_output(fn.__name__, list(out_defs), body.call(context, passed))
            for out_name, value in values.items():
                key = context.asset_key_for_output(out_name)
                if key not in context.selected_asset_keys:
                    continue  # a subset was selected: snapshot only what was asked for
                registry = resource.for_context(context, key)
                yield _snapshot_output(context, registry, names[out_name], value, expires, out_name)

        return dg.multi_asset(
            name=name or fn.__name__,
            outs=out_defs,
            ins=ins,
            deps=deps,
            partitions_def=partitions_def,
            can_subset=True,
            description=options["description"],
        )(compute_function(body, run_multi))

    return decorator


def _outs(
    translator: RegistryTranslator,
    prefix: tuple[str, ...],
    fn: Callable[..., Any],
    outs: Sequence[str] | Mapping[str, dg.AssetOut],
    options: Mapping[str, Any],
) -> dict[str, dg.AssetOut]:
    """Each output as an `AssetOut` with the translator's key, group, kinds and tags, unless
    the user's `AssetOut` says otherwise."""
    given = dict(outs) if isinstance(outs, Mapping) else {out: dg.AssetOut() for out in outs}
    result = {}
    for out_name, out in given.items():
        props = RegistryAssetProps("dataset", out_name, function=fn, key_prefix=prefix)
        result[out_name] = dg.AssetOut(
            key=out.key or translator.get_asset_key(props),
            description=out.description or translator.get_description(props),
            group_name=out.group_name or options["group_name"],
            owners=out.owners or options["owners"],
            tags={**options["tags"], **(out.tags or {})},
            kinds=out.kinds or options["kinds"],
            automation_condition=out.automation_condition or options["automation_condition"],
            io_manager_key=out.io_manager_key,
            metadata=out.metadata,
            is_required=out.is_required,
        )
    return result


def _dataset_names(
    outs: Mapping[str, dg.AssetOut], dataset_name: str | Mapping[str, str] | None
) -> dict[str, str]:
    chosen = dataset_name if isinstance(dataset_name, Mapping) else {}
    return {
        out_name: chosen.get(out_name) or default_dataset_name(dg.AssetKey.from_coercible(out.key))
        for out_name, out in outs.items()
    }


def _by_output(function_name: str, out_names: list[str], result: Any) -> dict[str, Any]:
    if isinstance(result, Mapping) and set(result) == set(out_names):
        return dict(result)
    if isinstance(result, tuple | list) and len(result) == len(out_names):
        return dict(zip(out_names, result, strict=True))
    raise dg.Failure(
        description=f"{function_name} must return a tuple of {len(out_names)} values (in the "
        f"order of outs: {', '.join(out_names)}) or a dict with those keys, got "
        f"{type(result).__name__}"
    )


def _snapshot_output(
    context: dg.AssetExecutionContext,
    registry: ModelRegistry,
    snapshot_name: str,
    data: Any,
    expires: Callable[[], datetime] | None,
    output_name: str | None,
) -> dg.Output:
    try:
        snapshot = registry.snapshot_dataset(
            snapshot_name, data, expires_at=expires() if expires else None
        )
    except RegistryError as exc:
        raise as_failure(exc) from exc
    context.log.info(
        f"snapshot {snapshot.name} {snapshot.id}: {snapshot.row_count} rows, "
        f"sha256 {snapshot.digest}"
    )
    with beta_output():
        return dg.Output(
            data,
            output_name=output_name or "result",
            metadata={**md.snapshot_metadata(snapshot), **partition_metadata(context)},
            data_version=dg.DataVersion(snapshot.digest or snapshot.id),
        )
