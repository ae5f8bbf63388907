"""The promotion sensor on a real Dagster instance, and the compare-and-swap run it requests."""

from __future__ import annotations

import dagster as dg
import pytest

from registry_project import ModelRegistry, PromotionPolicy, Stage
from registry_project.orchestration import (
    MetricThreshold,
    ModelRegistryResource,
    build_model_pipeline,
)
from registry_project.orchestration.promotion_decisions import PromotionCursor, decide_tick
from registry_project.pipelines import churn as demo
from registry_project.pipelines.churn import DATASETS

TRAINING = ["customers", "customers_holdout", "churn/churn_candidate", "churn/churn_evaluation"]

# The demo's churn model, except that every training registers a version: these tests
# retrain on the same day's data to get a second candidate, which the demo would recognise
# as identical to the first and not register (see test_identical_retraining.py).
churn_every_training = build_model_pipeline(
    model_name="churn",
    datasets={"train": demo.customers},
    holdout=demo.customers_holdout,
    train=demo.train_logistic,
    evaluate=demo.evaluate,
    score=demo.score,
    scoring_dataset=demo.customers,
    params={"C": 1.0},
    policy=demo.CHURN_POLICY,
    gates=demo.GATES,
    reuse_identical=False,
)


def _materialize(
    instance: dg.DagsterInstance,
    resource: ModelRegistryResource,
    selection: list[str],
    run_config: object = None,
    pipeline: object = churn_every_training,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*DATASETS, *pipeline.assets],  # type: ignore[attr-defined]
        instance=instance,
        resources={"registry": resource},
        selection=selection,
        run_config=run_config,
        raise_on_error=False,
    )


def _tick(
    instance: dg.DagsterInstance,
    resource: ModelRegistryResource,
    pipeline: object = churn_every_training,
) -> dg.RunRequest | dg.SkipReason:
    sensor = pipeline.promotion_sensor  # type: ignore[attr-defined]
    with dg.build_sensor_context(instance=instance, resources={"registry": resource}) as context:
        data = sensor.evaluate_tick(context)
    if data.run_requests:
        assert len(data.run_requests) == 1
        return data.run_requests[0]
    return dg.SkipReason(data.skip_message)


def _run_request(
    instance: dg.DagsterInstance,
    resource: ModelRegistryResource,
    request: dg.RunRequest,
    pipeline: object = churn_every_training,
) -> dg.ExecuteInProcessResult:
    name = pipeline.model_name  # type: ignore[attr-defined]
    ident = name.replace("-", "_")
    return _materialize(
        instance, resource, [f"{name}/{ident}_production"], request.run_config, pipeline=pipeline
    )


def test_first_candidate_is_promoted_once(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    assert _tick(instance, registry_resource).skip_message.endswith("has not been materialized")  # type: ignore[union-attr]
    assert _materialize(instance, registry_resource, TRAINING).success
    request = _tick(instance, registry_resource)
    assert isinstance(request, dg.RunRequest)
    candidate = registry.get_version("churn/1")
    assert request.run_key == f"promote:{candidate.id}:auto"
    assert request.tags["registry/candidate"] == "churn/1"
    again = _tick(instance, registry_resource)
    assert isinstance(again, dg.RunRequest) and again.run_key == request.run_key  # deduplicated

    assert _run_request(instance, registry_resource, request).success
    assert registry.get_version("churn@production").id == candidate.id
    after = _tick(instance, registry_resource)
    assert isinstance(after, dg.SkipReason) and "already production" in (after.skip_message or "")
    assert len(registry.audit_log(model="churn", action="promote")) == 1


def test_candidate_that_does_not_beat_production_is_skipped_with_numbers(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    assert _materialize(instance, registry_resource, TRAINING).success
    assert _run_request(instance, registry_resource, _tick(instance, registry_resource)).success
    production_auc = registry.get_version("churn@production").metrics["auc"]
    assert _materialize(
        instance, registry_resource, ["churn/churn_candidate", "churn/churn_evaluation"]
    ).success
    skip = _tick(instance, registry_resource)
    assert isinstance(skip, dg.SkipReason)
    message = skip.skip_message or ""
    assert message.startswith("churn/2 is not promoted: auc")
    assert f"{production_auc:.6g}" in message and "below the required 0.0005" in message


def test_better_candidate_gets_a_run_request(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    assert _materialize(instance, registry_resource, TRAINING).success
    assert _run_request(instance, registry_resource, _tick(instance, registry_resource)).success
    # Production's holdout AUC drops (as after a re-evaluation on harder data): the same-day
    # retrained candidate now beats it.
    registry.log_metrics("churn@production", {"auc": 0.5}, actor="monitoring")
    assert _materialize(
        instance, registry_resource, ["churn/churn_candidate", "churn/churn_evaluation"]
    ).success
    request = _tick(instance, registry_resource)
    assert isinstance(request, dg.RunRequest)
    assert request.tags["registry/candidate"] == "churn/2"
    assert _run_request(instance, registry_resource, request).success
    assert {v.version: v.stage for v in registry.versions("churn")} == {
        2: Stage.PRODUCTION,
        1: Stage.ARCHIVED,
    }


def test_production_changed_between_tick_and_run_is_refused(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    assert _materialize(instance, registry_resource, TRAINING).success
    request = _tick(instance, registry_resource)
    assert isinstance(request, dg.RunRequest)
    # Someone promotes another version after the tick decided, before the run executes.
    other = registry.register_model("churn", {"hand": "made"}, actor="alice")
    registry.promote(other, actor="alice", reason="hotfix")
    result = _run_request(instance, registry_resource, request)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "compare-and-swap" in str(failure.event_specific_data.error)  # type: ignore[union-attr]
    assert registry.get_version("churn@production").id == other.id
    assert registry.get_version("churn/1").stage is Stage.EXPERIMENT


def test_failing_blocking_gate_stops_promotion(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    strict = build_model_pipeline(
        model_name="strict",
        datasets={"train": demo.customers},
        holdout=demo.customers_holdout,
        train=demo.train_logistic,
        evaluate=demo.evaluate,
        params={"C": 1.0},
        policy=PromotionPolicy("auc"),
        gates=[MetricThreshold("auc", minimum=0.999)],
    )
    result = _materialize(
        instance,
        registry_resource,
        [
            "customers",
            "customers_holdout",
            "strict/strict_candidate",
            "strict/strict_evaluation",
            "strict/strict_production",
        ],
        pipeline=strict,
    )
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("auc_threshold", False)]
    produced = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}  # type: ignore[union-attr]
    assert "strict/strict_evaluation" in produced and "strict/strict_production" not in produced
    skip = _tick(instance, registry_resource, pipeline=strict)
    assert isinstance(skip, dg.SkipReason)
    assert "failed its quality gates: auc_threshold: auc =" in (skip.skip_message or "")
    with pytest.raises(Exception, match="no version in production"):
        registry.get_version("strict@production")


def test_approval_required_stages_the_candidate_and_waits(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    reviewed = build_model_pipeline(
        model_name="reviewed",
        datasets={"train": demo.customers},
        holdout=demo.customers_holdout,
        train=demo.train_logistic,
        evaluate=demo.evaluate,
        params={"C": 1.0},
        policy=PromotionPolicy("auc", require_approval=True),
    )
    selection = [
        "customers",
        "customers_holdout",
        "reviewed/reviewed_candidate",
        "reviewed/reviewed_evaluation",
    ]
    assert _materialize(instance, registry_resource, selection, pipeline=reviewed).success
    pending = _tick(instance, registry_resource, pipeline=reviewed)
    assert isinstance(pending, dg.RunRequest) and pending.run_key.endswith(":pending")  # type: ignore[union-attr]
    assert _run_request(instance, registry_resource, pending, pipeline=reviewed).success
    assert registry.get_version("reviewed/1").stage is Stage.STAGING
    waiting = _tick(instance, registry_resource, pipeline=reviewed)
    assert isinstance(waiting, dg.SkipReason) and "approve reviewed/1" in (
        waiting.skip_message or ""
    )
    registry.approve("reviewed/1", actor="bob", reason="looked at the evaluation")
    approved = _tick(instance, registry_resource, pipeline=reviewed)
    assert isinstance(approved, dg.RunRequest) and approved.run_key.endswith(":approved")  # type: ignore[union-attr]
    assert _run_request(instance, registry_resource, approved, pipeline=reviewed).success
    assert registry.get_version("reviewed@production").version == 1


EVALUATION_KEY = churn_every_training.evaluation.key
PRODUCTION_OP = churn_every_training.production.key.to_python_identifier()
IDLE = f"no new evaluation of {EVALUATION_KEY.to_user_string()} since the last tick"


def _tick_from(
    instance: dg.DagsterInstance, resource: ModelRegistryResource, cursor: str | None
) -> dg.SensorExecutionData:
    """One tick that starts from `cursor`, as the daemon does with the stored cursor."""
    sensor = churn_every_training.promotion_sensor
    with dg.build_sensor_context(
        instance=instance, resources={"registry": resource}, cursor=cursor
    ) as context:
        return sensor.evaluate_tick(context)


def _evaluate_new_candidate(instance: dg.DagsterInstance, resource: ModelRegistryResource) -> None:
    keys = [churn_every_training.candidate.key, churn_every_training.evaluation.key]
    assert _materialize(instance, resource, [key.to_user_string() for key in keys]).success


def test_two_candidates_evaluated_between_ticks_are_both_judged(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    assert _materialize(instance, registry_resource, TRAINING).success
    first = _tick_from(instance, registry_resource, None)
    assert [r.tags["registry/candidate"] for r in first.run_requests] == ["churn/1"]
    assert _run_request(instance, registry_resource, first.run_requests[0]).success
    idle = _tick_from(instance, registry_resource, first.cursor)
    assert not idle.run_requests
    assert idle.skip_message == IDLE

    # Two same-day retrainings: the same metrics as production, so neither gains enough.
    _evaluate_new_candidate(instance, registry_resource)
    _evaluate_new_candidate(instance, registry_resource)
    judged = _tick_from(instance, registry_resource, idle.cursor)
    assert not judged.run_requests
    production_auc = registry.get_version("churn@production").metrics["auc"]
    verdicts = (judged.skip_message or "").split("; ")
    assert [v.split(" ")[0] for v in verdicts] == ["churn/2", "churn/3"]
    for verdict in verdicts:
        assert "is not promoted: auc" in verdict and f"{production_auc:.6g}" in verdict
    assert not _tick_from(instance, registry_resource, judged.cursor).run_requests


def test_the_best_of_a_burst_is_promoted_and_the_others_say_why_not(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    assert _materialize(instance, registry_resource, TRAINING).success
    first = _tick_from(instance, registry_resource, None)
    assert _run_request(instance, registry_resource, first.run_requests[0]).success
    serving = registry.get_version("churn@production")
    registry.log_metrics(serving, {"auc": 0.5}, actor="monitoring")  # production degraded
    _evaluate_new_candidate(instance, registry_resource)
    _evaluate_new_candidate(instance, registry_resource)

    sensor = churn_every_training.promotion_sensor
    with dg.build_sensor_context(
        instance=instance, resources={"registry": registry_resource}, cursor=first.cursor
    ) as context:
        burst = sensor.evaluate_tick(context)
    # churn/2 beats production; churn/3 (the same model again) does not beat churn/2.
    assert [r.tags["registry/candidate"] for r in burst.run_requests] == ["churn/2"]
    config = burst.run_requests[0].run_config["ops"][PRODUCTION_OP]["config"]
    assert config["expected_production_id"] == serving.id  # the CAS is against real production
    outcome = decide_tick(  # what the tick logged, verdict by verdict
        instance=instance,
        registry=registry,
        model_name="churn",
        evaluation_key=EVALUATION_KEY,
        policy=demo.CHURN_POLICY,
        cursor=PromotionCursor.parse(first.cursor),
    )
    assert [(d.subject, d.qualifies) for d in outcome.decisions] == [
        ("churn/2", True),
        ("churn/3", False),
    ]
    assert "0.5" in outcome.decisions[0].reason  # the degraded production's auc
    assert outcome.decisions[1].reason.endswith(
        "(judged against churn/2, which is to be promoted first)"
    )
    assert _run_request(instance, registry_resource, burst.run_requests[0]).success
    assert registry.get_version("churn@production").version == 2
    after = _tick_from(instance, registry_resource, burst.cursor)
    assert after.skip_message == IDLE


def test_a_later_better_candidate_supersedes_an_earlier_one(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    assert _materialize(instance, registry_resource, TRAINING).success
    first = _tick_from(instance, registry_resource, None)
    assert _run_request(instance, registry_resource, first.run_requests[0]).success
    registry.log_metrics("churn@production", {"auc": 0.5}, actor="monitoring")
    _evaluate_new_candidate(instance, registry_resource)
    _evaluate_new_candidate(instance, registry_resource)
    registry.log_metrics("churn/3", {"auc": 0.99}, actor="monitoring")  # churn/3 is the best

    outcome = decide_tick(
        instance=instance,
        registry=registry,
        model_name="churn",
        evaluation_key=EVALUATION_KEY,
        policy=demo.CHURN_POLICY,
        cursor=PromotionCursor.parse(first.cursor),
    )
    assert outcome.chosen is not None and outcome.chosen.subject == "churn/3"
    [(earlier, later)] = outcome.superseded
    assert (earlier.subject, later.subject) == ("churn/2", "churn/3")
    assert "0.99" in later.reason
    burst = _tick_from(instance, registry_resource, first.cursor)
    assert [r.tags["registry/candidate"] for r in burst.run_requests] == ["churn/3"]
