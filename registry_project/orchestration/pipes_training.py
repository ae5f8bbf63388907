"""`@registry_pipes_training`: a training asset whose body launches the training in another
process through Dagster Pipes; the process reports through `registry_project.pipes`.

Who writes what (see `registry_project.pipes`): the external process writes the artifact
and its environment files to the blob store and reports digests; this asset re-hashes them
and records the run and the version. Nothing is recorded unless the process exited
cleanly and its report holds up, so a crash or a NaN metric registers nothing.
"""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context, config and resource classes).

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from registry_project.core.entities import DatasetSnapshot, InputRole
from registry_project.core.errors import InvalidInputError, RegistryError
from registry_project.core.external import StoredArtifact, StoredSoftware
from registry_project.core.registry import ModelRegistry
from registry_project.core.validation import validate_metrics, validate_params
from registry_project.orchestration import metadata as md
from registry_project.orchestration._body import (
    AssetBody,
    compute_function,
    registry_resource,
    training_params,
)
from registry_project.orchestration._common import (
    AssetRef,
    as_failure,
    asset_options,
    partition_metadata,
    partition_of,
    recorded_snapshots,
    to_asset_key,
)
from registry_project.orchestration.translator import RegistryAssetProps, RegistryTranslator
from registry_project.pipes import EXTRAS_KEY, MESSAGE_KEY

EXTRAS_PARAM = "extras"


def registry_pipes_training(
    *,
    model_name: str,
    datasets: Mapping[str, AssetRef] | None = None,
    params: Mapping[str, Any] | None = None,
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
) -> Callable[[Callable[..., dg.PipesClientCompletedInvocation]], dg.AssetsDefinition]:
    """Make the decorated function the body of a `<model>/<model>_candidate` asset that
    trains in an external process.

    The function launches the process with any Pipes client (a resource parameter such as
    `pipes_subprocess_client: dg.PipesSubprocessClient`, or Kubernetes, Databricks, EMR...),
    passing `extras=extras`, and returns the completed invocation. `extras` carries, for
    `registry_project.pipes.open_registry_pipes()` in the process, the model name, the
    run's params (`params`, the `dg.Config` values, `partition_key`), the registry's blob
    store and each `datasets` snapshot (role -> id, digest, URI) recorded by its asset.

    When the process reported its model, the asset records a run (those snapshots as
    inputs, the params, the code commit and environment captured in the process, this
    Dagster run's id) and registers the version; the materialization carries the same
    metadata as `registry_training`'s, plus whatever the process reported itself.

    Example::

        @registry_pipes_training(model_name="cancer", datasets={"train": "cancer_train"})
        def cancer_candidate(context: dg.AssetExecutionContext,
                             pipes_subprocess_client: dg.PipesSubprocessClient,
                             extras: dict):
            return pipes_subprocess_client.run(
                context=context, command=[sys.executable, "train.py"], extras=extras)
    """
    chosen = translator or RegistryTranslator()
    roles = {
        InputRole(role).value: to_asset_key(ref, hint=role)
        for role, ref in (datasets or {}).items()
    }
    fixed_params = dict(params or {})

    def decorator(fn: Callable[..., dg.PipesClientCompletedInvocation]) -> dg.AssetsDefinition:
        body = AssetBody(fn, frozenset({EXTRAS_PARAM}), resource_key)
        props = RegistryAssetProps("training", name or fn.__name__, model_name, fn)

        def run(context: dg.AssetExecutionContext, passed: Mapping[str, Any]) -> Any:
            resource = registry_resource(passed, resource_key)
            registry = resource.for_context(context)
            partition = partition_of(context)
            run_params = training_params(fixed_params, passed, partition)
            try:
                snapshots = recorded_snapshots(context, registry, roles, partition)
            except RegistryError as exc:
                raise as_failure(exc) from exc
            extras = {
                EXTRAS_KEY: {
                    "model_name": model_name,
                    "params": run_params,
                    "artifact_root": registry.blobs.root_uri,
                    "s3_endpoint_url": getattr(registry.blobs, "endpoint_url", None),
                    "inputs": {role: _input_extra(snap) for role, snap in snapshots.items()},
                }
            }
            invocation = body.call(context, passed, extras=extras)
            if not isinstance(invocation, dg.PipesClientCompletedInvocation):
                raise dg.Failure(
                    description=f"{fn.__name__} must return the Pipes client's completed "
                    f"invocation (return client.run(..., extras=extras)), got "
                    f"{type(invocation).__name__}"
                )
            report = _training_report(invocation)
            try:
                version, run_id, recorded_params = _record(
                    registry, model_name, run_params, snapshots, report
                )
            except RegistryError as exc:
                raise as_failure(exc) from exc
            context.log.info(f"registered {version.ref} ({version.id}) trained through Pipes")
            reported = _reported_metadata(invocation)
            return dg.MaterializeResult(
                metadata={
                    **reported,
                    **md.version_metadata(version),
                    md.RUN_ID: dg.MetadataValue.text(run_id),
                    **md.params_metadata(recorded_params),
                    md.INPUTS: dg.MetadataValue.json(
                        {f"{role}:{snap.name}": snap.id for role, snap in snapshots.items()}
                    ),
                    **partition_metadata(context),
                },
                data_version=dg.DataVersion(version.id),
            )

        return dg.asset(
            key=chosen.get_asset_key(props),
            deps=[*roles.values(), *(deps or ())],
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


def _input_extra(snapshot: DatasetSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "name": snapshot.name,
        "digest": snapshot.digest,
        "uri": snapshot.uri,
    }


def _training_report(invocation: dg.PipesClientCompletedInvocation) -> Mapping[str, Any]:
    reports = [
        message[MESSAGE_KEY]
        for message in invocation.get_custom_messages()
        if isinstance(message, Mapping) and MESSAGE_KEY in message
    ]
    if len(reports) != 1:
        raise dg.Failure(
            description=f"the external training process reported {len(reports)} models; it "
            "must call training.report_model(...) exactly once (registry_project.pipes)"
        )
    return reports[0]


def _record(
    registry: ModelRegistry,
    model_name: str,
    run_params: Mapping[str, Any],
    snapshots: Mapping[str, DatasetSnapshot],
    report: Mapping[str, Any],
) -> tuple[Any, str, dict[str, Any]]:
    """Check the whole report before writing anything, then the run and the version."""
    if not isinstance(report, Mapping):
        raise InvalidInputError("the training report must be a JSON object")
    metrics = validate_metrics(report.get("metrics"))
    reported_params = report.get("params") or {}
    if not isinstance(reported_params, Mapping):
        raise InvalidInputError("the reported params must be a JSON object")
    params = {**run_params, **reported_params}
    validate_params(params)
    artifact = StoredArtifact.from_json(report.get("artifact"))
    software = StoredSoftware.from_json(report.get("software"))
    description = report.get("description")
    with registry.start_run(
        f"{model_name}-training",
        params=params,
        inputs=[(snap, role) for role, snap in snapshots.items()],
        software=software,
    ) as training_run:
        version = registry.register_artifact(
            model_name, artifact, run=training_run, metrics=metrics, description=description
        )
    return version, training_run.id, params


def _reported_metadata(invocation: dg.PipesClientCompletedInvocation) -> dict[str, Any]:
    """Metadata the process reported with `report_asset_materialization`, if any."""
    merged: dict[str, Any] = {}
    for result in invocation.get_results(implicit_materializations=False):
        if isinstance(result, dg.MaterializeResult) and result.metadata:
            merged.update(result.metadata)
    return merged
