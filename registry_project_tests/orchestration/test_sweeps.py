"""Sweeps and tracked training in Dagster: each config a run of the training asset's
experiment, the best registered as the candidate and promoted by the usual sensor; step
metrics summarised on the materialization; autolog from the training asset."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from registry_project import ModelRegistry, Stage
from registry_project.core.active_run import ActiveRun
from registry_project.core.entities import RunStatus
from registry_project.core.errors import InvalidInputError
from registry_project.orchestration import (
    ModelRegistryResource,
    TrainingResult,
    build_model_pipeline,
    sweeps,
)
from registry_project.orchestration import metadata as md
from registry_project.pipelines import churn as demo
from registry_project.pipelines.churn import DATASETS, FEATURES, LABEL

SIX = [
    {"C": 0.001, "max_iter": 200},
    {"C": 0.01, "max_iter": 200},
    {"C": 0.1, "max_iter": 200},
    {"C": 1.0, "max_iter": 500},
    {"C": 10.0, "max_iter": 500},
    {"C": 100.0, "max_iter": 500},
]
EXPERIMENT = "churn.churn_candidate"
CANDIDATE = "churn/churn_candidate"


class SweepConfig(dg.Config):
    C: float = 1.0


def train_trial(config: SweepConfig, params: dict, train: pd.DataFrame, run: ActiveRun):
    """A trial: its C comes through the config, max_iter through params; a small loss
    curve as step metrics; a validation AUC on a fixed split picks the best."""
    fit_rows, val_rows = train_test_split(train, test_size=0.3, random_state=0)
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=config.C, max_iter=int(params["max_iter"]))
    )
    model.fit(fit_rows[FEATURES], fit_rows[LABEL])
    for step in range(5):
        run.log_metric("loss", 1.0 / (step + 1) + config.C * 1e-4, step=step)
    auc = roc_auc_score(val_rows[LABEL], model.predict_proba(val_rows[FEATURES])[:, 1])
    return TrainingResult(
        model,
        metrics={"validation_auc": float(auc)},
        signature=train[FEATURES].head(),
        train_data=(fit_rows[FEATURES], fit_rows[LABEL]),
        validation_data=(val_rows[FEATURES], val_rows[LABEL]),
    )


def sweep_pipeline(**options):
    return build_model_pipeline(
        model_name="churn",
        datasets={"train": demo.customers},
        holdout=demo.customers_holdout,
        train=train_trial,
        evaluate=demo.evaluate,
        policy=demo.CHURN_POLICY,
        gates=demo.GATES,
        **options,
    )


def materialize(instance, resource, pipeline, selection):
    return dg.materialize(
        [*DATASETS, *pipeline.assets],
        instance=instance,
        resources={"registry": resource},
        selection=selection,
        raise_on_error=False,
    )


def test_a_sweep_of_six_configs_registers_the_best_which_the_sensor_promotes(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource, registry: ModelRegistry
) -> None:
    pipeline = sweep_pipeline(sweep=SIX, sweep_metric="validation_auc", autolog=True)
    selection = ["customers", "customers_holdout", CANDIDATE, "churn/churn_evaluation"]
    assert materialize(instance, registry_resource, pipeline, selection).success

    runs = registry.runs(EXPERIMENT, order_by="start_time")
    assert len(runs) == 6
    assert [r.tags[sweeps.TRIAL_TAG] for r in runs] == [str(i) for i in range(6)]
    assert all(
        r.status == RunStatus.FINISHED and r.tags[sweeps.SWEEP_TAG] == EXPERIMENT for r in runs
    )
    assert [(r.params["C"], r.params["max_iter"]) for r in runs] == [
        (c["C"], c["max_iter"]) for c in SIX
    ]
    # the config reached the estimator (autolog recorded its params from the fitted model)
    assert [r.params["logisticregression__C"] for r in runs] == [c["C"] for c in SIX]
    for r in runs:
        names = {a.name for a in registry.run_artifacts(r.id)}
        assert {"model", "coefficients.csv", "confusion_matrix.csv"} <= names
        assert len(registry.metric_history(r, "loss")) == 5

    versions = registry.versions("churn")
    assert len(versions) == 1  # one candidate; the other five trials stay in the experiment
    best = max(runs, key=lambda r: r.metrics["validation_auc"])
    candidate = versions[0]
    assert registry.lineage(candidate).run.id == best.id
    assert registry.runs(EXPERIMENT, order_by="-metrics.validation_auc", limit=1)[0].id == best.id
    assert best.tags[sweeps.BEST_TAG] == "true"
    assert sum(sweeps.BEST_TAG in r.tags for r in runs) == 1

    recorded = md.recorded_metadata(instance, dg.AssetKey(["churn", "churn_candidate"]))
    assert recorded is not None
    assert recorded[md.SWEEP_TRIALS].value == 6
    assert recorded[md.SWEEP_BEST_RUN].value == best.id
    assert recorded[md.RUN_ID].value == best.id
    assert recorded[md.EXPERIMENT].value == EXPERIMENT
    assert recorded[f"{md.RUN_METRIC_PREFIX}loss"].value == pytest.approx(best.metrics["loss"])
    assert recorded[md.RUN_PAGE].value == f"/runs/{best.id}"
    assert recorded[md.SWEEP].value.count("\n") == 7  # header, rule, six trials
    evaluation = md.recorded_metadata(instance, dg.AssetKey(["churn", "churn_evaluation"]))
    assert evaluation is not None and evaluation[md.VERSION_ID].value == candidate.id

    # the usual promotion sensor, on the real instance, promotes the sweep's candidate
    with dg.build_sensor_context(
        instance=instance, resources={"registry": registry_resource}
    ) as context:
        data = pipeline.promotion_sensor.evaluate_tick(context)
    assert len(data.run_requests) == 1
    request = data.run_requests[0]
    assert request.tags["registry/candidate"] == "churn/1"
    promoted = dg.materialize(
        [*DATASETS, *pipeline.assets],
        instance=instance,
        resources={"registry": registry_resource},
        selection=["churn/churn_production"],
        run_config=request.run_config,
    )
    assert promoted.success
    assert registry.get_version("churn@production").id == candidate.id
    assert registry.get_version("churn@production").stage == Stage.PRODUCTION
    # any other trial can still be registered later from its logged model
    other = next(r for r in runs if r.id != best.id)
    later = registry.register_model("churn", run=other.id, artifact="model")
    assert later.version == 2


def test_a_training_asset_tracks_its_run_under_its_key_with_step_metric_finals(
    instance: dg.DagsterInstance,
    registry_resource: ModelRegistryResource,
    registry: ModelRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(md.UI_URL_ENV, "http://registry.example:3001/")
    pipeline = sweep_pipeline(params={"max_iter": 300})
    assert materialize(instance, registry_resource, pipeline, ["customers", CANDIDATE]).success
    (run,) = registry.runs(EXPERIMENT)
    assert run.experiment == EXPERIMENT
    assert [p.step for p in registry.metric_history(run, "loss")] == list(range(5))
    recorded = md.recorded_metadata(instance, dg.AssetKey(["churn", "churn_candidate"]))
    assert recorded is not None
    final = recorded[f"{md.RUN_METRIC_PREFIX}loss"]
    assert isinstance(final, dg.FloatMetadataValue) and final.value == pytest.approx(0.2 + 1e-4)
    assert md.SWEEP_TRIALS not in recorded
    assert recorded[md.RUN_PAGE].value == f"http://registry.example:3001/runs/{run.id}"
    # autolog is off: nothing but what the function logged
    assert registry.run_artifacts(run) == [] and "autolog" not in run.tags
    assert "logisticregression__C" not in run.params


def test_a_grid_expands_to_every_combination_and_bad_sweeps_are_refused() -> None:
    grid = sweeps.expand({"C": [0.1, 1.0], "max_iter": [100, 200, 300]})
    assert grid is not None and len(grid) == 6
    assert grid[0] == {"C": 0.1, "max_iter": 100} and grid[-1] == {"C": 1.0, "max_iter": 300}
    assert sweeps.expand(None) is None
    for bad in ([], {"C": []}, {"C": "abc"}, [1, 2], "C"):
        with pytest.raises(InvalidInputError):
            sweeps.expand(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="sweep_metric"):
        sweep_pipeline(sweep=SIX)


def test_a_trial_without_the_sweep_metric_fails_the_step_with_its_name(
    instance: dg.DagsterInstance, registry_resource: ModelRegistryResource
) -> None:
    pipeline = sweep_pipeline(sweep=SIX[:2], sweep_metric="val_f1")
    result = materialize(instance, registry_resource, pipeline, ["customers", CANDIDATE])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "val_f1" in str(failure.event_specific_data)
