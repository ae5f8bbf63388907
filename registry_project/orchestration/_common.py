"""Small helpers shared by the asset factories."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from registry_project.core.errors import RegistryError
from registry_project.core.registry import ModelRegistry

AssetRef = dg.AssetKey | str | Sequence[str] | dg.AssetsDefinition


def to_asset_key(ref: AssetRef) -> dg.AssetKey:
    if isinstance(ref, dg.AssetsDefinition):
        return ref.key
    if isinstance(ref, dg.AssetKey):
        return ref
    if isinstance(ref, str):
        return dg.AssetKey.from_user_string(ref)
    return dg.AssetKey(list(ref))


def registry_for(context: dg.AssetExecutionContext, resource_key: str) -> ModelRegistry:
    return getattr(context.resources, resource_key).for_context(context)


def call_user_function(fn: Callable[..., Any], context: Any, **kwargs: Any) -> Any:
    """Pass `context` only if the user function asks for it (first parameter named so)."""
    parameters = list(inspect.signature(fn).parameters)
    if parameters and parameters[0] == "context":
        return fn(context, **kwargs)
    return fn(**kwargs)


def as_failure(exc: RegistryError) -> dg.Failure:
    """A registry refusal ends the step with its message, not a Python traceback."""
    return dg.Failure(description=f"{type(exc).__name__}: {exc}")


def merged_tags(base: Mapping[str, str] | None, extra: Mapping[str, str]) -> dict[str, str]:
    return {**extra, **(base or {})}


def asset_options(
    *,
    role: str,
    model_name: str | None,
    kinds: set[str],
    description: str | None,
    group_name: str | None,
    owners: Sequence[str] | None,
    tags: Mapping[str, str] | None,
    resource_key: str,
    automation_condition: dg.AutomationCondition | None = None,
) -> dict[str, Any]:
    """The `@dg.asset` arguments every registry factory sets the same way: what the UI
    shows (description, group, owners, kinds, role/model tags) and the registry resource."""
    own_tags = {"registry/role": role}
    if model_name is not None:
        own_tags["registry/model"] = model_name
    return {
        "description": description,
        "group_name": group_name,
        "owners": owners,
        "kinds": kinds,
        "tags": merged_tags(tags, own_tags),
        "required_resource_keys": {resource_key},
        "automation_condition": automation_condition,
    }
