"""Promotion: a sensor that decides without side effects, and the `<model>/production`
asset whose run performs the compare-and-swap promotion."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from registry_project.core.entities import Stage
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
from registry_project.orchestration.promotion_decisions import (
    PromotionCursor,
    approvals_needed,
    decide_tick,
    is_approved,
    summary,
)
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
    the run fails with the conflict recorded and nothing changes. The model's stored
    protection rule (`reg.protect`) decides whether the candidate needs approvals; with
    `policy.require_approval` the run first stores that rule if the model has none that
    requires approval (audited, as `dagster:<model>/production`). An unapproved candidate
    is moved to staging to wait for its approvals (`registry approve`).
    """
    evaluation_key = to_asset_key(evaluation)
    chosen = translator or RegistryTranslator()
    props = RegistryAssetProps("production", "production", model_name)

    @dg.asset(
        key=chosen.get_asset_key(props),
        deps=[evaluation_key],
        required_resource_keys={resource_key},
        freshness_policy=chosen.get_freshness_policy(props),
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
                if policy.require_approval:
                    _declare_protection(registry, model_name, actor)
                needed = approvals_needed(registry, model_name, policy)
                if needed and not is_approved(registry, candidate, needed):
                    if candidate.stage is Stage.EXPERIMENT:
                        registry.transition(
                            candidate, Stage.STAGING, actor=actor, reason="awaiting approval"
                        )
                    note = (
                        f"{candidate.ref} waits in staging for {needed} approval"
                        f"{'s' if needed != 1 else ''} by people other than "
                        f"{candidate.created_by}: registry approve {candidate.ref} --reason ..."
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
            anchor = md.audit_head_metadata(registry)
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
                metadata={
                    md.STATUS: dg.MetadataValue.text(note or "no production version"),
                    **anchor,
                },
                data_version=dg.DataVersion("none"),
            )
        return dg.MaterializeResult(
            metadata={
                **md.version_metadata(production),
                md.MODEL_CARD: dg.MetadataValue.md(registry.model_card(production)),
                md.STATUS: dg.MetadataValue.text(note or f"{production.ref} serves"),
                **anchor,
            },
            data_version=dg.DataVersion(production.id),
        )

    return _production


def _declare_protection(registry: ModelRegistry, model_name: str, actor: str) -> None:
    """The pipeline declares `PromotionPolicy(require_approval=True)`: store it as the
    model's protection rule unless the stored rule already requires approval into
    production (a stricter stored rule, e.g. more approvers, is kept as it is)."""
    rule = registry.protection(model_name)
    if rule.approvals_needed_for_stage(Stage.PRODUCTION):
        return
    registry.protect(
        model_name,
        require_approval=True,
        min_approvals=rule.min_approvals,
        protected_stages=(*rule.protected_stages, Stage.PRODUCTION)
        if rule.require_approval
        else (Stage.PRODUCTION,),
        protected_aliases=rule.protected_aliases,
        actor=actor,
        reason="declared by the pipeline's PromotionPolicy(require_approval=True)",
    )


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
    """A sensor that requests a promotion run for a candidate that passed its gates and
    beats production under `policy`.

    Every candidate evaluated since the sensor's last decision is judged, in order (the
    cursor is the last evaluation's storage id): each is compared with production, or with
    an earlier candidate of the same tick that is to be promoted, so a burst of candidates
    promotes the best one and never races itself. Every verdict is logged on the tick with
    its numbers, and a tick that promotes nothing returns them all as its `SkipReason`.
    Candidates that wait in staging for an approval are judged again on every tick. The
    first tick (no cursor) judges only the latest evaluation.

    The tick only reads (no side effects). Each candidate gets one `run_key`, so a
    promotion is never requested twice. The first version of a model is promoted when its
    gates pass.

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
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        registry: ModelRegistry = getattr(context.resources, resource_key).get_registry()
        outcome = decide_tick(
            instance=context.instance,
            registry=registry,
            model_name=model_name,
            evaluation_key=evaluation_key,
            policy=policy,
            cursor=PromotionCursor.parse(context.cursor),
        )
        cursor = outcome.cursor.dump()
        if outcome.nothing_evaluated:
            return dg.SensorResult(
                skip_reason=f"{evaluation_key.to_user_string()} has not been materialized",
                cursor=cursor,
            )
        for decision in outcome.decisions:  # every candidate's verdict, with its numbers
            context.log.info(f"{'promote' if decision.qualifies else 'skip'}: {decision.message}")
        for earlier, later in outcome.superseded:
            context.log.info(
                f"skip: {earlier.message}, but {later.subject} beats it: {later.reason}"
            )
        chosen = outcome.chosen
        if chosen is None or chosen.candidate is None:
            return dg.SensorResult(
                skip_reason=summary(outcome.decisions)
                or f"no new evaluation of {evaluation_key.to_user_string()} since the last tick",
                cursor=cursor,
            )
        candidate, serving = chosen.candidate, outcome.serving
        request = dg.RunRequest(
            run_key=f"promote:{candidate.id}:{chosen.phase()}",
            run_config=dg.RunConfig(
                ops={
                    op_name: PromotionConfig(
                        candidate_version_id=candidate.id,
                        expected_production_id=serving.id if serving else NO_PRODUCTION,
                        reason=chosen.reason,
                    )
                }
            ),
            tags={CANDIDATE_TAG: candidate.ref},
        )
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return _sensor
