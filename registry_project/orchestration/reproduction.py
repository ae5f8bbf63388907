"""The `<model>_reproduce` job: rebuild a version from its record with the pipeline's own
training function (`ModelRegistry.reproduce`), record the result on the version (audited)
and show it in the run: the op's output metadata and an observation of the candidate asset.

The training function is an asset body (`config: dg.Config`, the dataset roles, `params`,
`partition_key`); `AssetBodyTrainer` calls it with what the version's record holds. It is
picklable by reference, so when the working tree is not the recorded commit it is imported
from the commit's worktree in a child process and the recorded code trains.
"""

# No `from __future__ import annotations`: Dagster reads the op's real type hints.

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import Field

from registry_project.core.entities import ModelVersion, Reproduction
from registry_project.core.errors import RegistryError, ReproductionRefusedError
from registry_project.core.reproduce import DEFAULT_TOLERANCE, ReproductionInputs
from registry_project.orchestration import metadata as md
from registry_project.orchestration._common import as_failure
from registry_project.orchestration.training import TrainingResult
from registry_project.orchestration.translator import identifier

_SKIPPED = {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}


def _unheld(fn: Callable[..., Any], name: str) -> ReproductionRefusedError:
    return ReproductionRefusedError(
        f"{fn.__qualname__} takes {name!r}, which a version's record does not hold (it holds "
        "the config's params, the dataset roles, params and partition_key); give it a default "
        "or reproduce with registry reproduce --train MODULE:FUNCTION"
    )


@dataclass(frozen=True)
class AssetBodyTrainer:
    """A `@registry_training` body as `reproduce(train=...)`: its `config` rebuilt from the
    recorded params, each dataset role given the recorded snapshot, `params` and
    `partition_key` from the record, `context` None; the model of its `TrainingResult`."""

    fn: Callable[..., Any]

    @property
    def __wrapped__(self) -> Callable[..., Any]:  # where the training code lives
        return self.fn

    def __call__(self, inputs: ReproductionInputs) -> object:
        params = dict(inputs.params)
        kwargs: dict[str, Any] = {}
        for position, p in enumerate(inspect.signature(self.fn, eval_str=True).parameters.values()):
            if p.kind in _SKIPPED:
                continue
            if position == 0 and p.name == "context":
                kwargs[p.name] = None
            elif isinstance(p.annotation, type) and issubclass(p.annotation, dg.Config):
                fields = p.annotation.model_fields
                kwargs[p.name] = p.annotation(**{k: v for k, v in params.items() if k in fields})
            elif p.name == "params":
                kwargs[p.name] = params
            elif p.name == "partition_key":
                kwargs[p.name] = params.get("partition_key")
            elif p.name in inputs.datasets:
                kwargs[p.name] = inputs.datasets[p.name]
            elif p.default is inspect.Parameter.empty:
                raise _unheld(self.fn, p.name)
        result = self.fn(**kwargs)
        return result.model if isinstance(result, TrainingResult) else result


@dataclass(frozen=True)
class AssetBodyEvaluator:
    """A `@registry_evaluation` body as `reproduce(evaluate=...)`: `model` and `holdout`."""

    fn: Callable[..., Mapping[str, float]]

    def __call__(self, model: object, holdout: Any) -> Mapping[str, float]:
        kwargs: dict[str, Any] = {}
        for p in inspect.signature(self.fn, eval_str=True).parameters.values():
            if p.name == "model":
                kwargs[p.name] = model
            elif p.name == "holdout":
                kwargs[p.name] = holdout
            elif p.kind not in _SKIPPED and p.default is inspect.Parameter.empty:
                raise _unheld(self.fn, p.name)
        return self.fn(**kwargs)


class ReproduceConfig(dg.Config):
    """Which version to rebuild, and how close counts."""

    version: str = Field(description="The version to reproduce: `churn/7`, `churn@production`.")
    tolerance: float = Field(
        default=DEFAULT_TOLERANCE,
        ge=0,
        description="Largest metric difference that still counts as reproduced.",
    )
    repo: str | None = Field(
        default=None,
        description="The git repository the version was trained in (default: the run's "
        "working directory).",
    )


def reproduction_metadata(result: Reproduction, version: ModelVersion) -> dict[str, Any]:
    """What a reproduction shows in Dagster: the outcome, digests and every difference."""
    return {
        md.MODEL_NAME: dg.MetadataValue.text(version.model_name),
        md.VERSION: dg.MetadataValue.int(version.version),
        md.VERSION_ID: dg.MetadataValue.text(result.version_id),
        md.REPRODUCTION: dg.MetadataValue.text(result.outcome.value),
        md.REPRODUCED: dg.MetadataValue.bool(result.reproduced),
        md.REPRODUCTION_DETAIL: dg.MetadataValue.text(result.detail),
        md.REPRODUCED_DIGEST: dg.MetadataValue.text(result.artifact_digest or ""),
        md.ENVIRONMENT_DIFFERENCES: dg.MetadataValue.json(list(result.environment_differences)),
        md.METRIC_DIFFERENCES: dg.MetadataValue.json(dict(result.metric_differences)),
        md.ACTOR: dg.MetadataValue.text(result.actor),
    }


def registry_reproduce_job(
    *,
    model_name: str,
    train: Callable[..., Any],
    evaluate: Callable[..., Mapping[str, float]] | None,
    candidate_key: dg.AssetKey,
    resource_key: str = "registry",
) -> dg.JobDefinition:
    """`<model>_reproduce`: run config `{"ops": {"<model>_reproduce_version": {"config":
    {"version": "churn/7"}}}}`. Succeeds when the version reproduced (bit-identical, or its metrics
    within the tolerance); fails, after recording the result, when it did not, and when the
    record cannot be rebuilt (deleted data, an unknown or dirty commit)."""
    ident = identifier(model_name)
    trainer = AssetBodyTrainer(train)
    evaluator = AssetBodyEvaluator(evaluate) if evaluate is not None else None

    @dg.op(
        name=f"{ident}_reproduce_version",
        required_resource_keys={resource_key},
        out=dg.Out(dg.Nothing),
        description=f"Retrain a {model_name} version from its record and compare.",
    )
    def _reproduce(context: dg.OpExecutionContext, config: ReproduceConfig) -> Any:
        registry = getattr(context.resources, resource_key).for_context(context)
        try:
            version = registry.get_version(config.version)
            if version.model_name != model_name:
                raise dg.Failure(
                    description=f"{config.version} is a version of {version.model_name}; "
                    f"this job reproduces {model_name} (run {identifier(version.model_name)}"
                    "_reproduce)"
                )
            result = registry.reproduce(
                version,
                train=trainer,
                evaluate=evaluator,
                tolerance=config.tolerance,
                repo=config.repo,
                actor=f"dagster:{ident}_reproduce",
            )
        except RegistryError as exc:
            raise as_failure(exc) from exc
        metadata = reproduction_metadata(result, version)
        context.log_event(dg.AssetObservation(asset_key=candidate_key, metadata=metadata))
        if not result.reproduced:
            raise dg.Failure(
                description=f"{version.ref} did not reproduce: {result.detail}", metadata=metadata
            )
        context.log.info(f"{version.ref}: {result.outcome.value}, {result.detail}")
        yield dg.Output(None, metadata=metadata)

    @dg.job(
        name=f"{ident}_reproduce",
        description=f"Rebuild a {model_name} version from its record (data by digest, params, "
        "code commit) with the pipeline's training function; config: the version.",
        tags={"registry/model": model_name},
    )
    def _job() -> None:
        _reproduce()

    return _job
