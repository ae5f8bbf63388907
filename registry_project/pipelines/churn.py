"""The demo: two churn classifiers built from the same decorators.

customers / customers_holdout (dataset snapshots)
  -> churn/churn_candidate (logistic regression) -> churn/churn_evaluation
     -> churn/churn_production -> churn/churn_scores
  -> churn-forest/churn_forest_candidate (random forest, a small sweep) -> ...

Hyperparameters are `dg.Config` fields: change them in the launchpad's run config, not here.
"""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

import os
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from registry_project.core.policy import GuardMetric, PromotionPolicy
from registry_project.core.reproduce import ReproductionInputs
from registry_project.orchestration import (
    MetricThreshold,
    RegistryAssetProps,
    RegistryTranslator,
    TrainingResult,
    build_model_pipeline,
    registry_dataset,
)
from registry_project.pipelines.churn_data import FEATURES, LABEL, generate_customers

OWNERS = ["team:ml-platform"]
GROUP = "churn_demo"
DAILY = "0 6 * * *"
DAY_ENV = "REGISTRY_DEMO_DAY"  # YYYY-MM-DD: pin the synthetic day (tests, reproductions)


# Snapshot the data when it has never been materialized, so `dagster dev` alone starts the
# life cycle (a failed attempt is not retried in a loop). The daily retraining schedule
# snapshots each new day's data; training and evaluation follow eagerly.
FRESH_DATA = (
    dg.AutomationCondition.missing()
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.execution_failed()
).with_label("missing")


def data_day(context: dg.AssetExecutionContext | None = None) -> date:
    """The day whose data to generate: the schedule's tick, else REGISTRY_DEMO_DAY, else today."""
    if context is not None:
        scheduled = context.run.tags.get("dagster/scheduled_execution_time")
        if scheduled:
            return datetime.fromisoformat(scheduled).date()
    pinned = os.environ.get(DAY_ENV)
    if pinned:
        return date.fromisoformat(pinned)
    return datetime.now(UTC).date()


@registry_dataset(group_name=GROUP, owners=OWNERS, automation_condition=FRESH_DATA)
def customers(context: dg.AssetExecutionContext) -> pd.DataFrame:
    """Today's customers with their churn outcome (synthetic, deterministic per day)."""
    return generate_customers(data_day(context), 2000, salt="train")


@registry_dataset(group_name=GROUP, owners=OWNERS, automation_condition=FRESH_DATA)
def customers_holdout(context: dg.AssetExecutionContext) -> pd.DataFrame:
    """A holdout sample drawn the same day, never seen in training."""
    return generate_customers(data_day(context), 800, salt="holdout")


def evaluate(model: Any, holdout: pd.DataFrame) -> dict[str, float]:
    """AUC, log loss and accuracy on the holdout snapshot."""
    probabilities = model.predict_proba(holdout[FEATURES])[:, 1]
    return {
        "auc": float(roc_auc_score(holdout[LABEL], probabilities)),
        "log_loss": float(log_loss(holdout[LABEL], probabilities)),
        "accuracy": float(accuracy_score(holdout[LABEL], probabilities >= 0.5)),
    }


def score(model: Any, data: pd.DataFrame) -> pd.DataFrame:
    """Churn probability for every customer, from the production model."""
    return pd.DataFrame(
        {
            "customer_id": data["customer_id"],
            "p_churn": model.predict_proba(data[FEATURES])[:, 1].round(6),
        }
    )


class LogisticConfig(dg.Config):
    """Hyperparameters of the logistic regression (recorded as the run's params)."""

    C: float = 1.0


class ForestConfig(dg.Config):
    """Hyperparameters of the random forest (recorded as the run's params)."""

    n_estimators: int = 60
    max_depth: int = 6


def train_logistic(config: LogisticConfig, train: pd.DataFrame) -> TrainingResult:
    """Scaled logistic regression on the day's customers."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=config.C, max_iter=500))
    model.fit(train[FEATURES], train[LABEL])
    accuracy = float(model.score(train[FEATURES], train[LABEL]))
    return TrainingResult(
        model, metrics={"train_accuracy": accuracy}, signature=train[FEATURES].head()
    )


def train_forest(config: ForestConfig, train: pd.DataFrame) -> TrainingResult:
    """A random forest on the same data: same decorators, different estimator. A quarter
    of the training data is held back (a fixed split) to score the sweep's trials."""
    fit_rows, validation_rows = train_test_split(train, test_size=0.25, random_state=0)
    X, y = fit_rows[FEATURES], fit_rows[LABEL]
    X_val, y_val = validation_rows[FEATURES], validation_rows[LABEL]
    model = RandomForestClassifier(
        n_estimators=config.n_estimators, max_depth=config.max_depth, random_state=0
    )
    model.fit(X, y)
    return TrainingResult(
        model,
        metrics={
            "train_accuracy": float(model.score(X, y)),
            "validation_auc": float(roc_auc_score(y_val, model.predict_proba(X_val)[:, 1])),
        },
        signature=train[FEATURES].head(),
        train_data=(X, y),
        validation_data=(X_val, y_val),
    )


# The forest's small sweep: every combination is a tracked run of the candidate's
# experiment (`registry runs churn-forest.churn_forest_candidate`); the best validation AUC
# is registered as the candidate, which evaluation and promotion judge as usual.
FOREST_SWEEP = {"n_estimators": [30, 60], "max_depth": [4, 6]}


def _config_params(inputs: ReproductionInputs, config: type[dg.Config]) -> dict[str, Any]:
    # The run's params also hold what is not config (a partition key): only the fields.
    return {k: v for k, v in inputs.params.items() if k in config.model_fields}


def reproduce_logistic(inputs: ReproductionInputs) -> Any:
    """`train_logistic` on a version's record, for `registry reproduce churn/N --train
    registry_project.pipelines.churn:reproduce_logistic`."""
    config = LogisticConfig(**_config_params(inputs, LogisticConfig))
    return train_logistic(config, inputs.datasets["train"]).model


def reproduce_forest(inputs: ReproductionInputs) -> Any:
    """`train_forest` on a version's record (its seed is fixed: bit-identical)."""
    config = ForestConfig(**_config_params(inputs, ForestConfig))
    return train_forest(config, inputs.datasets["train"]).model


CHURN_POLICY = PromotionPolicy(
    "auc",
    min_delta=0.0005,
    guards=(GuardMetric("log_loss", higher_is_better=False, max_regression=0.02),),
)
GATES = [MetricThreshold("auc", minimum=0.65), MetricThreshold("accuracy", minimum=0.6)]


class ChurnDemoTranslator(RegistryTranslator):
    """The demo's naming: one asset group for everything, the team as owner, and the
    scikit-learn badge on training assets (keys stay the default `<model>/<model>_<role>`)."""

    def get_group_name(self, props: RegistryAssetProps) -> str | None:
        return GROUP

    def get_owners(self, props: RegistryAssetProps) -> list[str]:
        return OWNERS

    def get_kinds(self, props: RegistryAssetProps) -> set[str]:
        kinds = super().get_kinds(props)
        return kinds | {"scikitlearn"} if props.role == "training" else kinds


TRANSLATOR = ChurnDemoTranslator()
# The demo runs its whole life cycle under `dagster dev`: it opts in to running sensors and
# schedules (the library's default is STOPPED, as in Dagster).
RUNNING = {
    "sensor_status": dg.DefaultSensorStatus.RUNNING,
    "schedule_status": dg.DefaultScheduleStatus.RUNNING,
}

churn = build_model_pipeline(
    model_name="churn",
    datasets={"train": customers},
    holdout=customers_holdout,
    train=train_logistic,
    evaluate=evaluate,
    score=score,
    scoring_dataset=customers,
    policy=CHURN_POLICY,
    gates=GATES,
    retrain_cron=DAILY,
    translator=TRANSLATOR,
    **RUNNING,
)

churn_forest = build_model_pipeline(
    model_name="churn-forest",
    datasets={"train": customers},
    holdout=customers_holdout,
    train=train_forest,
    sweep=FOREST_SWEEP,
    sweep_metric="validation_auc",
    autolog=True,
    evaluate=evaluate,
    score=score,
    scoring_dataset=customers,
    policy=CHURN_POLICY,
    gates=GATES,
    retrain_cron=DAILY,
    translator=TRANSLATOR,
    **RUNNING,
)

PIPELINES = (churn, churn_forest)
DATASETS = (customers, customers_holdout)
