"""Inputs of experiment tracking: run tags, a step metric's value and its step.

`validate_metric_value` runs once per logged point, so its common case (a finite float) is
checked first and returns at once.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

from registry_project.core.errors import InvalidInputError, InvalidMetricError
from registry_project.core.validation.limits import MAX_STEP, MAX_TAG_VALUE, MAX_TAGS
from registry_project.core.validation.names import check_storable_text
from registry_project.core.validation.values import validate_metric_key


def validate_tags(tags: Mapping[str, object] | None) -> dict[str, str]:
    """Tag keys follow metric keys' rules; values are text (numbers are written as text)."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInputError(
            f"tags must be a mapping of name to text, got {type(tags).__name__}"
        )
    if len(tags) > MAX_TAGS:
        raise InvalidInputError(f"too many tags ({len(tags)}); at most {MAX_TAGS}")
    clean: dict[str, str] = {}
    for key, value in tags.items():
        validate_metric_key(key)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidInputError(
                f"tag {key!r} is {type(value).__name__}; tag values are text (or numbers)"
            )
        text = value if isinstance(value, str) else repr(value)
        if len(text) > MAX_TAG_VALUE:
            raise InvalidInputError(
                f"tag {key!r} is {len(text)} characters; at most {MAX_TAG_VALUE}"
            )
        clean[key] = check_storable_text(text, f"tag {key!r}")
    return clean


def validate_metric_value(key: str, value: object) -> float:
    """A metric value as a finite float, or the same refusal as `validate_metrics`."""
    if isinstance(value, float) and math.isfinite(value):
        return value  # the common case, checked first: this runs once per logged point
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidMetricError(
            f"metric {key!r} is {value!r} ({type(value).__name__}); metrics must be finite numbers"
        )
    try:
        number = float(value)
    except OverflowError:
        raise InvalidMetricError(f"metric {key!r} is too large to store as a number") from None
    if not math.isfinite(number):
        raise InvalidMetricError(
            f"metric {key!r} is {number}; NaN and infinity are refused, log a finite number"
        )
    return number


def validate_step(step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInputError(f"step must be a whole number >= 0, got {step!r}")
    if not 0 <= int(step) <= MAX_STEP:
        raise InvalidInputError(f"step {step} is out of range: use 0 to {MAX_STEP}")
    return int(step)
