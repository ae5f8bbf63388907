"""PromotionPolicy: the decision table (promotion_cases.py) and the policy's own checks."""

from __future__ import annotations

import math

import pytest

from registry_project.core.errors import InvalidInputError
from registry_project.core.policy import GuardMetric, PromotionPolicy
from registry_project_tests.promotion_cases import PARAMS, PromotionCase


@pytest.mark.parametrize("case", PARAMS)
def test_policy_decides_each_row_of_the_table(case: PromotionCase) -> None:
    decision = case.policy.decide(case.candidate, case.production)
    assert decision.promote is case.promote, decision.reason
    assert case.because in decision.reason
    assert decision.candidate_value == case.candidate.get(case.policy.metric)
    expected_production = (case.production or {}).get(case.policy.metric)
    if case.policy.metric in case.candidate:
        assert decision.production_value == expected_production


@pytest.mark.parametrize(
    ("higher_is_better", "candidate", "production", "gain"),
    [
        (True, 0.75, 0.5, 0.25),
        (True, 0.5, 0.75, -0.25),
        (False, 0.5, 0.75, 0.25),
        (False, 0.75, 0.5, -0.25),
    ],
)
def test_improvement_is_positive_when_the_candidate_is_better(
    higher_is_better: bool, candidate: float, production: float, gain: float
) -> None:
    policy = PromotionPolicy("m", higher_is_better=higher_is_better)
    assert policy.improvement(candidate, production) == gain


@pytest.mark.parametrize("bad", [-0.0625, math.nan, math.inf, -math.inf])
def test_min_delta_must_be_finite_and_not_negative(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="min_delta"):
        PromotionPolicy("auc", min_delta=bad)


@pytest.mark.parametrize("bad", [-0.0625, math.nan, math.inf])
def test_guard_allowance_must_be_finite_and_not_negative(bad: float) -> None:
    with pytest.raises(InvalidInputError, match="max_regression"):
        GuardMetric("log_loss", max_regression=bad)


def test_zero_allowances_are_accepted() -> None:
    assert PromotionPolicy("auc", min_delta=0.0).min_delta == 0.0
    assert GuardMetric("accuracy", max_regression=0.0).max_regression == 0.0
