"""The functions your defs.yaml names: replace them with your own data and model."""

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from registry_project.orchestration import TrainingResult

LABEL = "target"


def labelled_data() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


def split(labelled_data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(labelled_data, test_size=0.3, random_state=0)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def train(train: pd.DataFrame) -> TrainingResult:
    model = LogisticRegression(max_iter=5000).fit(train.drop(columns=[LABEL]), train[LABEL])
    return TrainingResult(model, signature=train.drop(columns=[LABEL]).head())


def evaluate(model: LogisticRegression, holdout: pd.DataFrame) -> dict[str, float]:
    scores = model.predict_proba(holdout.drop(columns=[LABEL]))[:, 1]
    return {"auc": float(roc_auc_score(holdout[LABEL], scores))}
