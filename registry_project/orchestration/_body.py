"""The user's function as the body of a registry asset.

Dagster reads an asset's inputs, `config`, resources and context from its compute
function's signature. A registry decorator's compute function presents the user's own
signature (so `ins`, `dg.Config`, resources and upstream assets work as in any `@dg.asset`),
minus the parameters the registry fills in itself (the candidate model, a snapshot loaded
from the registry, `partition_key`), plus the registry resource it needs.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from registry_project.orchestration.resource import ModelRegistryResource

PARTITION_KEY_PARAM = "partition_key"


@dataclass(frozen=True)
class AssetBody:
    """A user function with the names of the parameters the registry injects."""

    fn: Callable[..., Any]
    injected: frozenset[str]
    resource_key: str

    @functools.cached_property
    def _user_parameters(self) -> list[inspect.Parameter]:
        return list(inspect.signature(self.fn, eval_str=True).parameters.values())

    @property
    def takes_context(self) -> bool:
        params = self._user_parameters
        return bool(params) and params[0].name == "context"

    @property
    def parameter_names(self) -> set[str]:
        return {p.name for p in self._user_parameters}

    def signature(self) -> inspect.Signature:
        """context, the user's parameters (less injected ones), the registry resource."""
        context = inspect.Parameter(
            "context",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=dg.AssetExecutionContext,
        )
        passed = [
            p
            for p in self._user_parameters[1 if self.takes_context else 0 :]
            if p.name not in self.injected and p.name != PARTITION_KEY_PARAM
        ]
        if self.resource_key not in {p.name for p in passed}:
            # Right after context: the user's parameters may have defaults, this has none.
            passed.insert(
                0,
                inspect.Parameter(
                    self.resource_key,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    annotation=ModelRegistryResource,
                ),
            )
        return inspect.Signature([context, *passed])

    def call(
        self, context: dg.AssetExecutionContext, passed: Mapping[str, Any], **injected: Any
    ) -> Any:
        """Call the user's function with what Dagster passed and what the registry loaded."""
        names = self.parameter_names
        kwargs = {k: v for k, v in passed.items() if k in names}
        kwargs.update({k: v for k, v in injected.items() if k in names})
        if PARTITION_KEY_PARAM in names:
            kwargs[PARTITION_KEY_PARAM] = (
                context.partition_key if context.has_partition_key else None
            )
        if self.takes_context:
            return self.fn(context, **kwargs)
        return self.fn(**kwargs)


def compute_function(
    body: AssetBody, run: Callable[[dg.AssetExecutionContext, Mapping[str, Any]], Any]
) -> Callable[..., Any]:
    """A compute function named like the user's, with `body.signature()`, that calls `run`
    with the context and every keyword argument Dagster passed."""

    def compute(context: dg.AssetExecutionContext, **passed: Any) -> Any:
        return run(context, passed)

    compute.__name__ = body.fn.__name__
    compute.__qualname__ = body.fn.__qualname__
    compute.__doc__ = body.fn.__doc__
    compute.__module__ = body.fn.__module__
    compute.__signature__ = body.signature()  # type: ignore[attr-defined]
    return compute


def config_values(passed: Mapping[str, Any]) -> dict[str, Any]:
    """The run's `dg.Config` as plain JSON values (recorded as the run's params)."""
    config = passed.get("config")
    if isinstance(config, dg.Config):
        return json.loads(config.model_dump_json())
    if isinstance(config, Mapping):
        return json.loads(json.dumps(dict(config), default=str))
    return {}


def training_params(
    fixed: Mapping[str, Any], passed: Mapping[str, Any], partition: str | None
) -> dict[str, Any]:
    """A training run's params: the decorator's fixed ones, the run's `dg.Config` values
    and, for a partitioned asset, the partition key."""
    params = {**fixed, **config_values(passed)}
    if partition is not None:
        params["partition_key"] = partition
    return params


def registry_resource(passed: Mapping[str, Any], resource_key: str) -> ModelRegistryResource:
    resource = passed[resource_key]
    if not isinstance(resource, ModelRegistryResource):
        raise dg.Failure(
            description=f"resource {resource_key!r} is a {type(resource).__name__}, not a "
            "ModelRegistryResource; pass resources={"
            f"{resource_key!r}: ModelRegistryResource(...)}}"
        )
    return resource


def input_keys(context: dg.AssetExecutionContext, passed: Iterable[str]) -> dict[str, dg.AssetKey]:
    """The upstream asset key of each Dagster input the function received."""
    by_input = context.assets_def.keys_by_input_name
    return {name: by_input[name] for name in passed if name in by_input}
