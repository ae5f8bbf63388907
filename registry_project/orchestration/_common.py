"""Small helpers shared by the asset factories."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

from registry_project.core.entities import DatasetSnapshot
from registry_project.core.errors import InvalidInputError, RegistryError
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration import metadata as md
from registry_project.orchestration.translator import RegistryAssetProps, RegistryTranslator

AssetRef = dg.AssetKey | str | Sequence[str] | dg.AssetsDefinition | dg.AssetSpec


def to_asset_key(ref: AssetRef, *, hint: str | None = None) -> dg.AssetKey:
    """One asset key from a key, a string (`"cancer/train"`), a path or an assets definition.

    A multi-asset (a train/test split) names one of its outputs by `hint`: the output whose
    key's last part is `hint` or ends in `_hint` / `-hint` (`"train"` picks `cancer_train`
    of the split); otherwise pass the key itself.
    """
    if isinstance(ref, dg.AssetsDefinition):
        keys = sorted(ref.keys, key=lambda k: k.to_user_string())
        if len(keys) == 1:
            return keys[0]
        matching = [k for k in keys if hint is not None and _names_role(k.path[-1], hint)]
        if len(matching) == 1:
            return matching[0]
        shown = ", ".join(k.to_user_string() for k in keys)
        raise InvalidInputError(
            f"{ref.node_def.name} is a multi-asset ({shown}); pass the key of the one you "
            f'mean, e.g. dg.AssetKey.from_user_string("{keys[0].to_user_string()}")'
        )
    if isinstance(ref, dg.AssetKey):
        return ref
    if isinstance(ref, str):
        return dg.AssetKey.from_user_string(ref)
    if isinstance(ref, dg.AssetSpec):
        return ref.key
    return dg.AssetKey(list(ref))


def _names_role(name: str, role: str) -> bool:
    return name == role or name.endswith((f"_{role}", f"-{role}"))


def registry_for(context: dg.AssetExecutionContext, resource_key: str) -> ModelRegistry:
    return getattr(context.resources, resource_key).for_context(context)


def as_failure(exc: RegistryError) -> dg.Failure:
    """A registry refusal ends the step with its message, not a Python traceback."""
    return dg.Failure(description=f"{type(exc).__name__}: {exc}")


def asset_options(
    translator: RegistryTranslator,
    props: RegistryAssetProps,
    *,
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    automation_condition: dg.AutomationCondition | None = None,
) -> dict[str, Any]:
    """The `@dg.asset` arguments of a registry asset: the translator's answers, overridden by
    whatever the decorator was given explicitly."""
    return {
        "description": description or translator.get_description(props),
        "group_name": group_name or translator.get_group_name(props),
        "owners": list(owners) if owners is not None else list(translator.get_owners(props)),
        "kinds": translator.get_kinds(props),
        "tags": {**translator.get_tags(props), **(tags or {})},
        "automation_condition": automation_condition
        if automation_condition is not None
        else translator.get_automation_condition(props),
    }


def partition_of(context: dg.AssetExecutionContext) -> str | None:
    return context.partition_key if context.has_partition_key else None


def recorded_snapshots(
    context: dg.AssetExecutionContext,
    registry: ModelRegistry,
    roles: Mapping[str, dg.AssetKey],
    partition: str | None,
) -> dict[str, DatasetSnapshot]:
    """For each role, the snapshot its upstream dataset asset recorded (for this partition):
    exactly what was materialized, never a newer one."""
    return {
        role: registry.get_dataset(
            md.require_recorded(context.instance, key, md.SNAPSHOT_ID, partition)
        )
        for role, key in roles.items()
    }


def partition_metadata(context: dg.AssetExecutionContext) -> dict[str, Any]:
    key = partition_of(context)
    return {} if key is None else {md.PARTITION_KEY: dg.MetadataValue.text(key)}


@contextlib.contextmanager
def beta_output() -> Iterator[None]:
    """`dg.Output(data_version=...)` is marked beta in Dagster 1.13 (MaterializeResult's is
    not); a dataset's value must reach the IO manager and carry its digest, so it is used
    knowingly, without a warning on every materialization."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        yield
