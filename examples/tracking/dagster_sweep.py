"""A sweep in Dagster: one materialization of the training asset trains every config as
a tracked run; the best by validation AUC is the candidate that evaluation and promotion
judge; the other trials stay in the experiment."""

import dagster as dg
import pandas as pd
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from registry_project.core.active_run import ActiveRun
from registry_project.orchestration import (
    ModelRegistryResource,
    TrainingResult,
    build_model_pipeline,
)
from registry_project.pipelines.churn import (
    CHURN_POLICY,
    FEATURES,
    LABEL,
    customers,
    customers_holdout,
    evaluate,
)


class SGDConfig(dg.Config):
    alpha: float = 0.001
    epochs: int = 10


def train_sgd(config: SGDConfig, train: pd.DataFrame, run: ActiveRun) -> TrainingResult:
    """One trial: a loss curve per epoch (step metrics, summarised on the materialization),
    and the validation AUC the sweep picks the best by."""
    fit_rows, val_rows = train_test_split(train, test_size=0.25, random_state=0)
    X, y = fit_rows[FEATURES], fit_rows[LABEL]
    scaler = StandardScaler().fit(X)
    sgd = SGDClassifier(loss="log_loss", alpha=config.alpha, random_state=0)
    for epoch in range(config.epochs):
        sgd.partial_fit(scaler.transform(X), y, classes=[0, 1])
        run.log_metric("train_error", 1.0 - sgd.score(scaler.transform(X), y), step=epoch)
    model = make_pipeline(scaler, sgd)
    auc = roc_auc_score(val_rows[LABEL], model.predict_proba(val_rows[FEATURES])[:, 1])
    return TrainingResult(
        model,
        metrics={"validation_auc": float(auc)},
        signature=train[FEATURES].head(),
        train_data=(X, y),
        validation_data=(val_rows[FEATURES], val_rows[LABEL]),
    )


churn_sgd = build_model_pipeline(
    model_name="churn-sgd",
    datasets={"train": customers},
    holdout=customers_holdout,
    train=train_sgd,
    evaluate=evaluate,
    policy=CHURN_POLICY,
    sweep={"alpha": [0.0001, 0.001, 0.01], "epochs": [5, 10]},  # a grid: 6 trials
    sweep_metric="validation_auc",
    autolog=True,
)

defs = churn_sgd.definitions(
    extra_assets=[customers, customers_holdout],
    resources={"registry": ModelRegistryResource()},
)
