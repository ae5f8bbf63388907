"""The promotion sensor and production asset obey the model's stored protection rule, on a
real Dagster instance; a pipeline's PromotionPolicy(require_approval=True) stores it."""

from __future__ import annotations

import dagster as dg
import pytest

from registry_project import ModelRegistry, PromotionPolicy, Stage
from registry_project.core import errors
from registry_project.orchestration import ModelRegistryResource, build_model_pipeline
from registry_project.orchestration.promotion import PromotionConfig
from registry_project.pipelines import churn as demo
from registry_project.pipelines.churn import DATASETS


def _pipeline(name: str, policy: PromotionPolicy) -> object:
    return build_model_pipeline(
        model_name=name,
        datasets={"train": demo.customers},
        holdout=demo.customers_holdout,
        train=demo.train_logistic,
        evaluate=demo.evaluate,
        params={"C": 1.0},
        policy=policy,
    )


def _materialize(
    instance: dg.DagsterInstance,
    resource: ModelRegistryResource,
    pipeline: object,
    selection: list[str],
    run_config: object = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*DATASETS, *pipeline.assets],  # type: ignore[attr-defined]
        instance=instance,
        resources={"registry": resource},
        selection=selection,
        run_config=run_config,
        raise_on_error=False,
    )


def _train(instance: dg.DagsterInstance, resource: ModelRegistryResource, name: str, p: object):
    selection = ["customers", "customers_holdout", f"{name}/{name}_candidate"]
    selection.append(f"{name}/{name}_evaluation")
    assert _materialize(instance, resource, p, selection).success


def _tick(
    instance: dg.DagsterInstance, resource: ModelRegistryResource, pipeline: object
) -> dg.RunRequest | dg.SkipReason:
    sensor = pipeline.promotion_sensor  # type: ignore[attr-defined]
    with dg.build_sensor_context(instance=instance, resources={"registry": resource}) as context:
        data = sensor.evaluate_tick(context)
    if data.run_requests:
        return data.run_requests[0]
    return dg.SkipReason(data.skip_message)


def _run(
    instance: dg.DagsterInstance,
    resource: ModelRegistryResource,
    pipeline: object,
    name: str,
    run_config: object,
) -> dg.ExecuteInProcessResult:
    return _materialize(instance, resource, pipeline, [f"{name}/{name}_production"], run_config)


def test_the_sensor_obeys_the_stored_rule_until_distinct_others_approve(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    # The pipeline's policy says nothing about approval: the stored rule decides.
    guarded = _pipeline("guarded", PromotionPolicy("auc"))
    _train(instance, registry_resource, "guarded", guarded)
    candidate = registry.get_version("guarded/1")
    registry.protect("guarded", min_approvals=2, actor="admin", reason="two reviewers")
    audit_before = registry.audit_count()

    pending = _tick(instance, registry_resource, guarded)
    assert isinstance(pending, dg.RunRequest) and pending.run_key.endswith(":pending")
    assert _run(instance, registry_resource, guarded, "guarded", pending.run_config).success
    assert registry.get_version("guarded/1").stage is Stage.STAGING  # waits, not production
    assert registry.production_version("guarded") is None
    assert registry.audit_count() == audit_before + 1  # only the move to staging

    waiting = _tick(instance, registry_resource, guarded)
    assert isinstance(waiting, dg.SkipReason)
    assert "waits for 2 more approvals" in (waiting.skip_message or "")
    registry.approve(candidate, actor="bob", reason="reviewed")
    still = _tick(instance, registry_resource, guarded)
    assert isinstance(still, dg.SkipReason)
    assert "waits for 1 more approval" in (still.skip_message or "") and "(1 of 2)" in (
        still.skip_message or ""
    )

    # A run asked for by hand (no sensor) with the unapproved candidate promotes nothing.
    forged = dg.RunConfig(
        ops={
            guarded.production.key.to_python_identifier(): PromotionConfig(  # type: ignore[attr-defined]
                candidate_version_id=candidate.id, reason="by hand"
            )
        }
    )
    assert _run(instance, registry_resource, guarded, "guarded", forged).success
    assert registry.production_version("guarded") is None

    registry.approve(candidate, actor="carol", reason="reviewed")
    approved = _tick(instance, registry_resource, guarded)
    assert isinstance(approved, dg.RunRequest) and approved.run_key.endswith(":approved")
    assert _run(instance, registry_resource, guarded, "guarded", approved.run_config).success
    assert registry.get_version("guarded@production").version == 1


def test_a_policy_requiring_approval_stores_the_rule_audited(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    declared = _pipeline("declared", PromotionPolicy("auc", require_approval=True))
    _train(instance, registry_resource, "declared", declared)
    assert not registry.protection("declared").stored
    pending = _tick(instance, registry_resource, declared)  # reads only: stores nothing
    assert not registry.protection("declared").stored
    assert isinstance(pending, dg.RunRequest)
    assert _run(instance, registry_resource, declared, "declared", pending.run_config).success
    rule = registry.protection("declared")
    assert rule.require_approval and rule.protected_stages == (Stage.PRODUCTION,)
    (event,) = registry.audit_log(model="declared", action="protect")
    assert event.actor == "dagster:declared/production"
    assert "PromotionPolicy(require_approval=True)" in (event.reason or "")
    # Now every path obeys it, not only the pipeline's: the CLI/API promotion too.
    version = registry.get_version("declared/1")
    with pytest.raises(errors.ApprovalRequiredError, match="1 missing"):
        registry.promote(version, actor="ops", reason="by hand")
    assert registry.get_version("declared/1").stage is Stage.STAGING
