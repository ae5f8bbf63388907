"""`@registry_training`: a function that fits a model becomes a tracked training run and a
registered model version (the candidate)."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from registry_project.core.active_run import ActiveRun
from registry_project.core.entities import InputRole, Registration
from registry_project.core.errors import RegistryError
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration import metadata as md
from registry_project.orchestration._common import (
    AssetRef,
    as_failure,
    asset_options,
    call_user_function,
    registry_for,
    to_asset_key,
)


@dataclass(frozen=True)
class TrainingResult:
    """What a training function returns."""

    model: object
    metrics: Mapping[str, float] = field(default_factory=dict)
    signature: Any = None  # a sample DataFrame of the model's input
    flavor: str | None = None
    description: str | None = None


def register_training_result(
    registry: ModelRegistry,
    model_name: str,
    result: TrainingResult,
    *,
    run: ActiveRun,
    reuse_identical: bool = True,
) -> Registration:
    """Register what a training step produced; with `reuse_identical`, a model whose
    artifact digest, params and inputs equal an existing version's registers nothing and
    that version is returned (`reused=True`)."""
    options: dict[str, Any] = {
        "run": run,
        "metrics": result.metrics,
        "flavor": result.flavor,
        "signature": result.signature,
        "description": result.description,
    }
    if reuse_identical:
        return registry.register_or_reuse(model_name, result.model, **options)
    return Registration(registry.register_model(model_name, result.model, **options), False)


def registration_metadata(registration: Registration) -> dict[str, Any]:
    """What a training materialization says about its registration: `registry/reused` and a
    one-line `registry/registration` that names the version either way."""
    version = registration.version
    if registration.reused:
        note = (
            f"nothing new registered: {version.ref} ({version.stage.value}) already has this "
            f"artifact (sha256:{version.artifact_digest[:12]}), these params and this data"
        )
    else:
        note = f"registered {version.ref}"
    return {
        md.REUSED: dg.MetadataValue.bool(registration.reused),
        md.REGISTRATION: dg.MetadataValue.text(note),
    }


def registry_training(
    *,
    model_name: str,
    datasets: Mapping[str, AssetRef],
    params: Mapping[str, Any] | None = None,
    name: str = "candidate",
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    resource_key: str = "registry",
    reuse_identical: bool = True,
) -> Callable[[Callable[..., TrainingResult]], dg.AssetsDefinition]:
    """Turn a training function into the `<model_name>/candidate` asset.

    `datasets` maps an input role (`train`, `validation`, `test`) to a `@registry_dataset`
    asset. The function receives, as keyword arguments named by role, exactly the snapshots
    those assets' latest materializations recorded (never "whatever is on disk"), plus
    `params`; it returns a `TrainingResult`. The step records a registry run (params,
    inputs, code, environment, Dagster run id) and registers the model as a new version.
    With `reuse_identical` (the default), a model whose artifact digest, params and inputs
    equal an existing version's registers nothing: the materialization names that version
    and says so (`registry/reused`, `registry/registration`); pass False to register every
    training.

    Example::

        @registry_training(model_name="churn", datasets={"train": customers},
                           params={"C": 1.0})
        def churn_candidate(train: pd.DataFrame, params: dict) -> TrainingResult:
            model = LogisticRegression(C=params["C"]).fit(train[FEATURES], train["churned"])
            return TrainingResult(model, metrics={"train_accuracy": ...})
    """
    roles = {InputRole(role).value: to_asset_key(ref) for role, ref in datasets.items()}
    fixed_params = dict(params or {})

    def decorator(fn: Callable[..., TrainingResult]) -> dg.AssetsDefinition:
        @dg.asset(
            name=name,
            key_prefix=[model_name],
            deps=list(roles.values()),
            **asset_options(
                role="training",
                model_name=model_name,
                kinds={"scikitlearn", "python"},
                description=description or fn.__doc__,
                group_name=group_name,
                owners=owners,
                tags=tags,
                resource_key=resource_key,
                automation_condition=automation_condition,
            ),
        )
        def _training(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            registry = registry_for(context, resource_key)
            try:
                snapshots = {
                    role: registry.get_dataset(
                        md.require_recorded(context.instance, key, md.SNAPSHOT_ID)
                    )
                    for role, key in roles.items()
                }
                frames = {role: registry.load_dataset(snap) for role, snap in snapshots.items()}
                with registry.start_run(
                    f"{model_name}-training",
                    params=fixed_params,
                    inputs=[(snap, role) for role, snap in snapshots.items()],
                ) as run:
                    result = call_user_function(fn, context, params=fixed_params, **frames)
                    if not isinstance(result, TrainingResult):
                        raise dg.Failure(
                            description=f"{fn.__name__} must return a TrainingResult, "
                            f"got {type(result).__name__}"
                        )
                    registration = register_training_result(
                        registry, model_name, result, run=run, reuse_identical=reuse_identical
                    )
            except RegistryError as exc:
                raise as_failure(exc) from exc
            version = registration.version
            outcome = registration_metadata(registration)
            context.log.info(f"{outcome[md.REGISTRATION].value} ({version.id})")
            return dg.MaterializeResult(
                metadata={
                    **md.version_metadata(version),
                    **outcome,
                    md.RUN_ID: dg.MetadataValue.text(run.id),
                    **md.params_metadata(fixed_params),
                    "registry/datasets": dg.MetadataValue.json(
                        {role: snap.id for role, snap in snapshots.items()}
                    ),
                },
                data_version=dg.DataVersion(version.id),
            )

        return _training

    return decorator
