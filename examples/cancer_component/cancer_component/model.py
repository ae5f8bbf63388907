"""The user's functions the defs.yaml names: the data, the split, training and evaluation.
Plain functions: the Component makes them asset bodies."""

# No `from __future__ import annotations`: Dagster reads the real type hints (the config class).

import dagster as dg
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from registry_project.orchestration import TrainingResult

LABEL = "benign"


def tumours() -> pd.DataFrame:
    """569 tumours, 30 measurements each, with their diagnosis."""
    return load_breast_cancer(as_frame=True).frame.rename(columns={"target": LABEL})


def tumour_split(tumours: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified 70/30 train/test split; each half is a registry snapshot."""
    train, test = train_test_split(tumours, test_size=0.3, random_state=0, stratify=tumours[LABEL])
    return train.reset_index(drop=True), test.reset_index(drop=True)


class ForestConfig(dg.Config):
    """Hyperparameters, changed in run config and recorded as the run's params."""

    n_estimators: int = 10
    max_depth: int | None = 2


def train_forest(config: ForestConfig, train: pd.DataFrame) -> TrainingResult:
    """A random forest on the training snapshot."""
    features = train.drop(columns=[LABEL])
    model = RandomForestClassifier(
        n_estimators=config.n_estimators, max_depth=config.max_depth, random_state=0
    ).fit(features, train[LABEL])
    return TrainingResult(model, signature=features.head())


def evaluate(model: RandomForestClassifier, holdout: pd.DataFrame) -> dict[str, float]:
    """AUC and accuracy on the test snapshot."""
    probabilities = model.predict_proba(holdout.drop(columns=[LABEL]))[:, 1]
    return {
        "auc": float(roc_auc_score(holdout[LABEL], probabilities)),
        "accuracy": float(accuracy_score(holdout[LABEL], probabilities >= 0.5)),
    }
