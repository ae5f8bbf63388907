"""One table of promotion decisions, driven twice: through `PromotionPolicy.decide`
(core/test_policy.py) and through the promotion sensor on a real Dagster instance
(orchestration/test_promotion_table.py).

Every number is a binary fraction (0.5, 0.0625, ...), so "exactly at min_delta" or "exactly
at the allowed regression" is exact in floating point and the boundary rows test the
comparison, not rounding. Each row names the rule it pins down; breaking that rule in
`core/policy.py` (ignoring the metric's direction, ignoring `min_delta`, flipping a guard's
sign, promoting ties) turns at least one row red.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from registry_project.core.policy import GuardMetric, PromotionPolicy

STEP = 0.0625  # min_delta and max_regression in the boundary rows
HALF_STEP = 0.03125


@dataclass(frozen=True)
class PromotionCase:
    id: str
    policy: PromotionPolicy
    production: Mapping[str, float] | None  # None: nothing in production yet
    candidate: Mapping[str, float]
    promote: bool
    # A fragment of the decision's reason that names why (checked with the decision,
    # never instead of it).
    because: str


AUC_STEP = PromotionPolicy("auc", min_delta=STEP)
LOG_LOSS_STEP = PromotionPolicy("log_loss", higher_is_better=False, min_delta=STEP)
RMSE = PromotionPolicy("rmse", higher_is_better=False)
AUC_ANY_GAIN = PromotionPolicy("auc")
LOG_LOSS_GUARD = PromotionPolicy(
    "auc", guards=(GuardMetric("log_loss", higher_is_better=False, max_regression=STEP),)
)
ACCURACY_GUARD = PromotionPolicy("auc", guards=(GuardMetric("accuracy", max_regression=STEP),))
STRICT_ACCURACY_GUARD = PromotionPolicy("auc", guards=(GuardMetric("accuracy"),))

CASES = [
    # Higher is better (auc), min_delta = STEP.
    PromotionCase(
        "auc: gain below min_delta",
        AUC_STEP,
        {"auc": 0.5},
        {"auc": 0.53125},
        False,
        "below the required",
    ),
    PromotionCase(
        "auc: gain exactly min_delta",
        AUC_STEP,
        {"auc": 0.5},
        {"auc": 0.5625},
        True,
        "beats production",
    ),
    PromotionCase(
        "auc: gain above min_delta",
        AUC_STEP,
        {"auc": 0.5},
        {"auc": 0.625},
        True,
        "beats production",
    ),
    PromotionCase(
        "auc: worse than production",
        AUC_STEP,
        {"auc": 0.5},
        {"auc": 0.375},
        False,
        "below the required",
    ),
    # Lower is better (log_loss), min_delta = STEP: a smaller value is the improvement.
    PromotionCase(
        "log_loss: gain below min_delta",
        LOG_LOSS_STEP,
        {"log_loss": 0.5},
        {"log_loss": 0.46875},
        False,
        "below the required",
    ),
    PromotionCase(
        "log_loss: gain exactly min_delta",
        LOG_LOSS_STEP,
        {"log_loss": 0.5},
        {"log_loss": 0.4375},
        True,
        "beats production",
    ),
    PromotionCase(
        "log_loss: gain above min_delta",
        LOG_LOSS_STEP,
        {"log_loss": 0.5},
        {"log_loss": 0.25},
        True,
        "beats production",
    ),
    PromotionCase(
        "log_loss: higher is worse",
        LOG_LOSS_STEP,
        {"log_loss": 0.5},
        {"log_loss": 0.75},
        False,
        "below the required",
    ),
    # Lower is better (rmse), no min_delta: any strict improvement, never a tie.
    PromotionCase(
        "rmse: lower is promoted", RMSE, {"rmse": 2.5}, {"rmse": 2.0}, True, "beats production"
    ),
    PromotionCase(
        "rmse: higher is refused", RMSE, {"rmse": 2.5}, {"rmse": 3.0}, False, "below the required"
    ),
    PromotionCase(
        "rmse: tie is refused", RMSE, {"rmse": 2.5}, {"rmse": 2.5}, False, "improvement +0"
    ),
    PromotionCase(
        "auc: tie is refused", AUC_ANY_GAIN, {"auc": 0.75}, {"auc": 0.75}, False, "improvement +0"
    ),
    PromotionCase(
        "auc: smallest gain is promoted",
        AUC_ANY_GAIN,
        {"auc": 0.75},
        {"auc": 0.75 + 2**-20},
        True,
        "beats production",
    ),
    # Nothing to compare with.
    PromotionCase(
        "no production yet", AUC_STEP, None, {"auc": 0.25}, True, "no version in production"
    ),
    PromotionCase(
        "no production yet, lower is better",
        LOG_LOSS_STEP,
        None,
        {"log_loss": 4.0},
        True,
        "no version in production",
    ),
    PromotionCase(
        "production lacks the metric",
        AUC_STEP,
        {"accuracy": 0.9},
        {"auc": 0.25},
        True,
        "production has no 'auc'",
    ),
    PromotionCase(
        "candidate lacks the metric",
        AUC_STEP,
        {"auc": 0.5},
        {"accuracy": 0.9},
        False,
        "candidate has no 'auc'",
    ),
    # A lower-is-better guard (log_loss may rise by at most STEP) on an auc that improves.
    PromotionCase(
        "log_loss guard: improves",
        LOG_LOSS_GUARD,
        {"auc": 0.5, "log_loss": 0.5},
        {"auc": 0.75, "log_loss": 0.25},
        True,
        "beats production",
    ),
    PromotionCase(
        "log_loss guard: unchanged",
        LOG_LOSS_GUARD,
        {"auc": 0.5, "log_loss": 0.5},
        {"auc": 0.75, "log_loss": 0.5},
        True,
        "beats production",
    ),
    PromotionCase(
        "log_loss guard: under its allowance",
        LOG_LOSS_GUARD,
        {"auc": 0.5, "log_loss": 0.5},
        {"auc": 0.75, "log_loss": 0.5 + HALF_STEP},
        True,
        "beats production",
    ),
    PromotionCase(
        "log_loss guard: exactly its allowance",
        LOG_LOSS_GUARD,
        {"auc": 0.5, "log_loss": 0.5},
        {"auc": 0.75, "log_loss": 0.5 + STEP},
        True,
        "beats production",
    ),
    PromotionCase(
        "log_loss guard: over its allowance",
        LOG_LOSS_GUARD,
        {"auc": 0.5, "log_loss": 0.5},
        {"auc": 0.75, "log_loss": 0.5 + STEP + HALF_STEP},
        False,
        "guard log_loss regresses by 0.09375",
    ),
    # A higher-is-better guard (accuracy may fall by at most STEP).
    PromotionCase(
        "accuracy guard: rises",
        ACCURACY_GUARD,
        {"auc": 0.5, "accuracy": 0.75},
        {"auc": 0.75, "accuracy": 0.875},
        True,
        "beats production",
    ),
    PromotionCase(
        "accuracy guard: exactly its allowance",
        ACCURACY_GUARD,
        {"auc": 0.5, "accuracy": 0.75},
        {"auc": 0.75, "accuracy": 0.75 - STEP},
        True,
        "beats production",
    ),
    PromotionCase(
        "accuracy guard: over its allowance",
        ACCURACY_GUARD,
        {"auc": 0.5, "accuracy": 0.75},
        {"auc": 0.75, "accuracy": 0.75 - STEP - HALF_STEP},
        False,
        "guard accuracy regresses by 0.09375",
    ),
    PromotionCase(
        "strict accuracy guard: any drop blocks",
        STRICT_ACCURACY_GUARD,
        {"auc": 0.5, "accuracy": 0.75},
        {"auc": 0.75, "accuracy": 0.75 - 2**-20},
        False,
        "guard accuracy regresses",
    ),
    PromotionCase(
        "strict accuracy guard: equal passes",
        STRICT_ACCURACY_GUARD,
        {"auc": 0.5, "accuracy": 0.75},
        {"auc": 0.75, "accuracy": 0.75},
        True,
        "beats production",
    ),
    PromotionCase(
        "guard missing on the candidate",
        LOG_LOSS_GUARD,
        {"auc": 0.5, "log_loss": 0.5},
        {"auc": 0.75},
        False,
        "'log_loss' is missing on the candidate",
    ),
    PromotionCase(
        "guard missing on production",
        LOG_LOSS_GUARD,
        {"auc": 0.5},
        {"auc": 0.75, "log_loss": 9.0},
        True,
        "beats production",
    ),
    # The main metric is judged first: a guard cannot promote a candidate that does not gain.
    PromotionCase(
        "guard passes, metric does not gain",
        LOG_LOSS_GUARD,
        {"auc": 0.5, "log_loss": 0.5},
        {"auc": 0.5, "log_loss": 0.25},
        False,
        "below the required",
    ),
]

PARAMS = [pytest.param(case, id=case.id) for case in CASES]
