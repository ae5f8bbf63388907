"""Step 2, the model's life cycle: a snapshotted train/test split, training configured by
run config, evaluation with a quality gate, promotion, and your own asset that uses the
production model."""

# No `from __future__ import annotations`: Dagster reads the real type hints (the config
# classes, the resource).

import dagster as dg
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from examples.breast_cancer.data import LABEL
from registry_project import PromotionPolicy
from registry_project.orchestration import (
    MetricThreshold,
    ModelRegistryResource,
    TrainingResult,
    build_model_pipeline,
    registry_dataset,
)


class SplitConfig(dg.Config):
    test_size: float = 0.3
    seed: int = 0


@registry_dataset(outs=["cancer_train", "cancer_test"], group_name="cancer")
def cancer_split(
    config: SplitConfig, breast_cancer: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified train/test split; each half is a registry snapshot."""
    train, test = train_test_split(
        breast_cancer,
        test_size=config.test_size,
        random_state=config.seed,
        stratify=breast_cancer[LABEL],
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


class ForestConfig(dg.Config):
    """Hyperparameters: recorded as the run's params, changed in run config."""

    n_estimators: int = 10
    max_depth: int | None = 2


def train_forest(config: ForestConfig, train: pd.DataFrame) -> TrainingResult:
    """A random forest on the training snapshot."""
    features = train.drop(columns=[LABEL])
    model = RandomForestClassifier(
        n_estimators=config.n_estimators, max_depth=config.max_depth, random_state=0
    ).fit(features, train[LABEL])
    return TrainingResult(
        model,
        metrics={"train_accuracy": float(model.score(features, train[LABEL]))},
        signature=features.head(),
    )


def evaluate(model: RandomForestClassifier, holdout: pd.DataFrame) -> dict[str, float]:
    """AUC and accuracy on the test snapshot."""
    probabilities = model.predict_proba(holdout.drop(columns=[LABEL]))[:, 1]
    return {
        "auc": float(roc_auc_score(holdout[LABEL], probabilities)),
        "accuracy": float(accuracy_score(holdout[LABEL], probabilities >= 0.5)),
    }


cancer = build_model_pipeline(
    model_name="cancer",
    datasets={"train": cancer_split},  # the split's output that ends in "train"
    holdout=cancer_split,  # ... and the one that ends in "test"
    train=train_forest,
    evaluate=evaluate,
    policy=PromotionPolicy("auc", min_delta=0.001),
    gates=[MetricThreshold("auc", minimum=0.9)],
    retrain_cron="0 4 * * 1",  # STOPPED until you start it (or pass schedule_status=)
)


@dg.asset(deps=[cancer.production], group_name="cancer", kinds={"pandas"})
def malignancy_report(
    registry: ModelRegistryResource, cancer_test: pd.DataFrame
) -> dg.MaterializeResult:
    """Your own asset: flags likely malignant tumours with the model in production. The
    promotion job re-materializes it after every promotion (it is downstream of production)."""
    reg = registry.get_registry()
    version = reg.production_version("cancer")
    if version is None:
        raise dg.Failure("no cancer version in production yet: start cancer_promotion_sensor")
    model = reg.load_model(version)
    p_malignant = 1 - model.predict_proba(cancer_test.drop(columns=[LABEL]))[:, 1]
    return dg.MaterializeResult(
        metadata={
            "model_version": dg.MetadataValue.text(version.ref),
            "flagged": dg.MetadataValue.int(int((p_malignant >= 0.5).sum())),
        }
    )
