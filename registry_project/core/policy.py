"""PromotionPolicy: when does a candidate deserve to replace production?

Pure logic over metric mappings, so a Dagster sensor can decide in its tick without side
effects, and a notebook can ask the same question.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from registry_project.core.errors import InvalidInputError
from registry_project.core.validation import validate_metric_key


@dataclass(frozen=True)
class GuardMetric:
    """A metric that may not get worse than production by more than `max_regression`."""

    name: str
    higher_is_better: bool = True
    max_regression: float = 0.0

    def __post_init__(self) -> None:
        validate_metric_key(self.name)
        if not math.isfinite(self.max_regression) or self.max_regression < 0:
            raise InvalidInputError(
                f"guard {self.name!r}: max_regression must be a finite number >= 0"
            )


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    candidate_value: float | None
    production_value: float | None


@dataclass(frozen=True)
class PromotionPolicy:
    """Promote when `metric` beats production by at least `min_delta` and no guard regresses.

    Example::

        policy = PromotionPolicy("auc", min_delta=0.005,
                                 guards=(GuardMetric("log_loss", higher_is_better=False,
                                                     max_regression=0.01),))
        decision = policy.decide(candidate.metrics, production.metrics if production else None)
    """

    metric: str
    higher_is_better: bool = True
    min_delta: float = 0.0
    guards: tuple[GuardMetric, ...] = ()
    # Not a rule of its own: a pipeline that declares it has its production asset store it
    # as the model's protection rule (`reg.protect`, audited), which every path obeys; the
    # approval check itself is `core/stages.check_approvals`.
    require_approval: bool = False

    def __post_init__(self) -> None:
        validate_metric_key(self.metric)
        if not math.isfinite(self.min_delta) or self.min_delta < 0:
            raise InvalidInputError("min_delta must be a finite number >= 0")

    def improvement(self, candidate: float, production: float) -> float:
        """Positive when the candidate is better, whatever the metric's direction."""
        return candidate - production if self.higher_is_better else production - candidate

    def decide(
        self,
        candidate_metrics: Mapping[str, float],
        production_metrics: Mapping[str, float] | None,
    ) -> PromotionDecision:
        candidate = candidate_metrics.get(self.metric)
        if candidate is None:
            return PromotionDecision(
                False, f"candidate has no {self.metric!r} metric; evaluate it first", None, None
            )
        if production_metrics is None:
            return PromotionDecision(
                True,
                f"no version in production; candidate {self.metric}={candidate:.6g}",
                candidate,
                None,
            )
        production = production_metrics.get(self.metric)
        if production is None:
            return PromotionDecision(
                True,
                f"production has no {self.metric!r} metric; candidate {self.metric}="
                f"{candidate:.6g}",
                candidate,
                None,
            )
        gain = self.improvement(candidate, production)
        if gain < self.min_delta or gain <= 0:
            return PromotionDecision(
                False,
                f"{self.metric} {candidate:.6g} vs production {production:.6g}: improvement "
                f"{gain:+.6g} is below the required {self.min_delta:.6g}",
                candidate,
                production,
            )
        for guard in self.guards:
            failure = _guard_failure(guard, candidate_metrics, production_metrics)
            if failure:
                return PromotionDecision(False, failure, candidate, production)
        return PromotionDecision(
            True,
            f"{self.metric} {candidate:.6g} beats production {production:.6g} by {gain:+.6g}",
            candidate,
            production,
        )


def _guard_failure(
    guard: GuardMetric, candidate: Mapping[str, float], production: Mapping[str, float]
) -> str | None:
    new, old = candidate.get(guard.name), production.get(guard.name)
    if old is None:
        return None
    if new is None:
        return f"guard metric {guard.name!r} is missing on the candidate"
    regression = (old - new) if guard.higher_is_better else (new - old)
    if regression > guard.max_regression:
        return (
            f"guard {guard.name} regresses by {regression:.6g} ({new:.6g} vs production "
            f"{old:.6g}); at most {guard.max_regression:.6g} allowed"
        )
    return None
