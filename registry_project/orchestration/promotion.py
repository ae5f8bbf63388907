"""Promotion: a sensor that decides without side effects, and the `<model>/production`
asset whose run performs the compare-and-swap promotion."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from registry_project.core import stages
from registry_project.core.entities import ModelVersion, Stage
from registry_project.core.errors import (
    PromotionConflictError,
    RegistryError,
)
from registry_project.core.policy import PromotionPolicy
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration import metadata as md
from registry_project.orchestration._common import (
    AssetRef,
    as_failure,
    asset_options,
    registry_for,
    to_asset_key,
)
from registry_project.orchestration.evaluation import gate_failures
from registry_project.orchestration.translator import RegistryAssetProps, RegistryTranslator

CANDIDATE_TAG = "registry/candidate"
NO_PRODUCTION = ""


class PromotionConfig(dg.Config):
    """Run config of the production asset, filled in by the promotion sensor.

    An empty `candidate_version_id` just records what is in production (a manual
    materialization). `expected_production_id` is the production version the sensor based
    its decision on ("" = none): the promotion is a compare-and-swap against it.
    """

    candidate_version_id: str = ""
    expected_production_id: str = NO_PRODUCTION
    reason: str = ""


def is_approved(registry: ModelRegistry, version: ModelVersion) -> bool:
    """The core's four-eyes rule (core/stages.py) over the version's recorded approvals."""
    return stages.is_approved(version.created_by, registry.approvals(version))


def registry_production_asset(
    *,
    model_name: str,
    evaluation: AssetRef,
    policy: PromotionPolicy,
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    translator: RegistryTranslator | None = None,
    resource_key: str = "registry",
) -> dg.AssetsDefinition:
    """The `<model>/<model>_production` asset: which version serves.

    Run by the promotion sensor with a `PromotionConfig`, it promotes the candidate with
    `expected_current` (compare-and-swap); if production changed since the sensor looked,
    the run fails with the conflict recorded and nothing changes. With
    `policy.require_approval`, an unapproved candidate is moved to staging to wait for an
    approval (`registry approve`).
    """
    evaluation_key = to_asset_key(evaluation)
    chosen = translator or RegistryTranslator()
    props = RegistryAssetProps("production", "production", model_name)

    @dg.asset(
        key=chosen.get_asset_key(props),
        deps=[evaluation_key],
        required_resource_keys={resource_key},
        **asset_options(
            chosen,
            props,
            description=description,
            group_name=group_name,
            owners=owners,
            tags=tags,
        ),
    )
    def _production(
        context: dg.AssetExecutionContext, config: PromotionConfig
    ) -> dg.MaterializeResult:
        registry = registry_for(context, resource_key)
        actor = f"dagster:{model_name}/production"
        note: str | None = None
        try:
            if config.candidate_version_id:
                candidate = registry.get_version(config.candidate_version_id)
                if policy.require_approval and not is_approved(registry, candidate):
                    if candidate.stage is Stage.EXPERIMENT:
                        registry.transition(
                            candidate, Stage.STAGING, actor=actor, reason="awaiting approval"
                        )
                    note = (
                        f"{candidate.ref} waits in staging for an approval by someone other "
                        f"than {candidate.created_by}: "
                        f"registry approve {candidate.ref} --reason ..."
                    )
                else:
                    registry.promote(
                        candidate,
                        actor=actor,
                        reason=config.reason or "promotion policy satisfied",
                        expected_current=config.expected_production_id or None,
                        policy=policy,
                    )
                    note = f"promoted {candidate.ref}"
            production = registry.production_version(model_name)
        except PromotionConflictError as exc:
            context.log.error(str(exc))
            raise dg.Failure(
                description=f"promotion refused (compare-and-swap): {exc}",
                metadata={"candidate_version_id": config.candidate_version_id},
            ) from exc
        except RegistryError as exc:
            raise as_failure(exc) from exc
        if note:
            context.log.info(note)
        if production is None:
            return dg.MaterializeResult(
                metadata={md.STATUS: dg.MetadataValue.text(note or "no production version")},
                data_version=dg.DataVersion("none"),
            )
        return dg.MaterializeResult(
            metadata={
                **md.version_metadata(production),
                md.MODEL_CARD: dg.MetadataValue.md(registry.model_card(production)),
                md.STATUS: dg.MetadataValue.text(note or f"{production.ref} serves"),
            },
            data_version=dg.DataVersion(production.id),
        )

    return _production


def registry_promotion_sensor(
    *,
    model_name: str,
    evaluation: AssetRef,
    production: AssetRef,
    policy: PromotionPolicy,
    job: Any,  # a job or an asset job from define_asset_job
    name: str | None = None,
    minimum_interval_seconds: int = 30,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    resource_key: str = "registry",
) -> dg.SensorDefinition:
    """A sensor that requests a promotion run when the latest evaluated candidate passed its
    gates and beats production under `policy`.

    The tick only reads (no side effects). Each candidate gets one `run_key`, so repeated
    ticks never promote twice; a candidate that does not qualify yields a `SkipReason` with
    the numbers. The first version of a model is promoted when its gates pass.

    Like Dagster's own sensors it is STOPPED until started in the UI, unless
    `default_status=dg.DefaultSensorStatus.RUNNING`.
    """
    evaluation_key = to_asset_key(evaluation)
    production_key = to_asset_key(production)
    op_name = production_key.to_python_identifier()

    @dg.sensor(
        name=name or f"{model_name.replace('-', '_').replace('.', '_')}_promotion_sensor",
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys={resource_key},
        description=f"Promotes {model_name} candidates that pass their gates and beat production.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        event = context.instance.get_latest_materialization_event(evaluation_key)
        if event is None or event.asset_materialization is None:
            return dg.SkipReason(f"{evaluation_key.to_user_string()} has not been materialized")
        recorded = event.asset_materialization.metadata
        version_id = recorded.get(md.VERSION_ID)
        if version_id is None:
            return dg.SkipReason("the latest evaluation recorded no candidate version")
        registry: ModelRegistry = getattr(context.resources, resource_key).get_registry()
        candidate = registry.get_version(version_id.value)
        gates = recorded.get(md.GATES_PASSED)
        if gates is None or not gates.value:
            failures = gate_failures(recorded["gates"].value if "gates" in recorded else None)
            return dg.SkipReason(
                f"{candidate.ref} failed its quality gates: {'; '.join(failures) or 'unknown'}"
            )
        if candidate.stage in (Stage.PRODUCTION, Stage.ARCHIVED):
            return dg.SkipReason(f"{candidate.ref} is already {candidate.stage.value}")
        serving = registry.production_version(model_name)
        decision = policy.decide(candidate.metrics, serving.metrics if serving else None)
        if not decision.promote:
            return dg.SkipReason(f"{candidate.ref} is not promoted: {decision.reason}")
        approved = is_approved(registry, candidate)
        if policy.require_approval and not approved and candidate.stage is Stage.STAGING:
            return dg.SkipReason(
                f"{candidate.ref} waits for an approval by someone other than "
                f"{candidate.created_by}: registry approve {candidate.ref} --reason ..."
            )
        phase = "approved" if approved else ("pending" if policy.require_approval else "auto")
        return dg.RunRequest(
            run_key=f"promote:{candidate.id}:{phase}",
            run_config=dg.RunConfig(
                ops={
                    op_name: PromotionConfig(
                        candidate_version_id=candidate.id,
                        expected_production_id=serving.id if serving else NO_PRODUCTION,
                        reason=decision.reason,
                    )
                }
            ),
            tags={CANDIDATE_TAG: candidate.ref},
        )

    return _sensor
