"""Validation of values: metrics, params (and their canonical JSON), listing limits,
time bounds, row counts, the order of a listing, stages."""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from registry_project.core.entities import Stage
from registry_project.core.errors import InvalidInputError, InvalidMetricError, InvalidParamsError
from registry_project.core.validation.limits import (
    MAX_GRACE_PERIOD,
    MAX_LIMIT,
    MAX_METRICS,
    MAX_PARAMS_BYTES,
    MAX_PARAMS_DEPTH,
    MAX_ROW_COUNT,
)

_METRIC_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,255}")


def validate_metric_key(key: object) -> str:
    if not isinstance(key, str) or not _METRIC_KEY_RE.fullmatch(key):
        raise InvalidMetricError(
            f"invalid metric name {key!r}: use 1-256 characters from letters, digits, "
            "'_', '.', '-' and '/', starting with a letter, digit or '_'"
        )
    return key


def validate_metrics(metrics: Mapping[str, object] | None) -> dict[str, float]:
    """Metric values must be finite real numbers (bool is refused: it is not a measurement)."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise InvalidMetricError(
            f"metrics must be a mapping of name to number, got {type(metrics).__name__}"
        )
    if len(metrics) > MAX_METRICS:
        raise InvalidMetricError(f"too many metrics ({len(metrics)}); at most {MAX_METRICS}")
    clean: dict[str, float] = {}
    for key, value in metrics.items():
        validate_metric_key(key)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidMetricError(
                f"metric {key!r} is {value!r} ({type(value).__name__}); metrics must be "
                "finite numbers"
            )
        try:
            number = float(value)
        except OverflowError:  # an int beyond the float range, e.g. 10**400
            raise InvalidMetricError(
                f"metric {key!r} is too large to store as a number (about 1.8e308 at most); "
                "log a finite float"
            ) from None
        if not math.isfinite(number):
            raise InvalidMetricError(
                f"metric {key!r} is {number}; NaN and infinity are refused, log a finite number"
            )
        clean[key] = number
    return clean


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_PARAMS_DEPTH:
        raise InvalidParamsError(f"params are nested deeper than {MAX_PARAMS_DEPTH} levels")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidParamsError(f"param keys must be strings, got {key!r}")
            _check_depth(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_depth(item, depth + 1)


def canonical_json(value: Any) -> str:
    """Stable JSON text (sorted keys, no spaces, no NaN): what is stored and hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def validate_params(params: Mapping[str, Any] | None) -> str:
    """Returns the params as canonical JSON text."""
    if params is None:
        return "{}"
    if not isinstance(params, Mapping):
        raise InvalidParamsError(f"params must be a mapping, got {type(params).__name__}")
    _check_depth(params)
    try:
        text = canonical_json(params)
    except (TypeError, ValueError) as exc:
        raise InvalidParamsError(
            f"params must be JSON values (str, number, bool, None, lists, dicts) without "
            f"NaN or infinity: {exc}. Convert other objects with str() first."
        ) from exc
    if len(text.encode()) > MAX_PARAMS_BYTES:
        raise InvalidParamsError(
            f"params are {len(text.encode())} bytes as JSON; at most {MAX_PARAMS_BYTES}. "
            "Store large configuration as a dataset or artifact instead."
        )
    return text


def validate_limit(limit: object) -> int | None:
    """A listing's `limit`: None (everything) or 1..MAX_LIMIT (bool is not a count)."""
    if limit is None:
        return None
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        shown = repr(limit) if len(repr(limit)) <= 40 else f"{repr(limit)[:40]}..."
        raise InvalidInputError(
            f"limit must be a positive integer of at most {MAX_LIMIT:,}, got {shown}; leave it "
            "out to get everything"
        )
    return limit


def validate_grace_period(grace_period: object) -> timedelta:
    """gc's grace period: a timedelta from zero to a century (beyond, `now - grace` would
    fall before year 1)."""
    if not isinstance(grace_period, timedelta) or not (
        timedelta(0) <= grace_period <= MAX_GRACE_PERIOD
    ):
        raise InvalidInputError(
            f"grace_period must be a timedelta from 0 to {MAX_GRACE_PERIOD.days} days, "
            f"got {grace_period!r}"[:300]
        )
    return grace_period


def validate_since(since: object) -> datetime | None:
    """A lower time bound: a timezone-aware datetime that exists in UTC."""
    if since is None:
        return None
    if not isinstance(since, datetime) or since.tzinfo is None:
        raise InvalidInputError(
            "since must be a timezone-aware datetime, e.g. datetime(2026, 11, 1, tzinfo=UTC)"
        )
    try:
        return since.astimezone(UTC)
    except (OverflowError, ValueError):  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise InvalidInputError(
            f"since {since.isoformat()} falls outside the years 1-9999 once converted to UTC; "
            "give a later date"
        ) from None


def validate_expiry(expires_at: object) -> datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
        raise InvalidInputError(
            "expires_at must be a timezone-aware datetime, e.g. datetime(2027, 1, 1, tzinfo=UTC)"
        )
    try:
        return expires_at.astimezone(UTC)
    except (OverflowError, ValueError):  # 9999-12-31T23:00-14:00 is after year 9999 in UTC
        raise InvalidInputError(
            f"expires_at {expires_at.isoformat()} falls outside the years 1-9999 once "
            "converted to UTC; give an earlier date"
        ) from None


def validate_row_count(row_count: object) -> int | None:
    if row_count is None:
        return None
    if type(row_count) is not int or not 0 <= row_count <= MAX_ROW_COUNT:
        raise InvalidInputError(
            f"row_count must be a non-negative integer of at most {MAX_ROW_COUNT}, "
            f"got {row_count!r}"[:300]
        )
    return row_count


@dataclass(frozen=True)
class OrderBy:
    field: str  # "version", "created_at", "stage_changed_at" or a metric key
    is_metric: bool
    descending: bool


_ORDER_FIELDS = ("version", "created_at", "stage_changed_at")


def parse_order_by(order_by: object) -> OrderBy:
    """`-metrics.auc`, `metrics.loss`, `-version`, `created_at`: known fields and metrics only."""
    if not isinstance(order_by, str) or not order_by:
        raise InvalidInputError("order_by must be a string such as '-metrics.auc' or '-version'")
    descending = order_by.startswith("-")
    body = order_by.lstrip("+-") if order_by[0] in "+-" else order_by
    if body.startswith("metrics."):
        key = body[len("metrics.") :]
        try:
            validate_metric_key(key)
        except InvalidMetricError as exc:
            raise InvalidInputError(f"invalid order_by {order_by!r}: {exc}") from exc
        return OrderBy(key, True, descending)
    if body in _ORDER_FIELDS:
        return OrderBy(body, False, descending)
    raise InvalidInputError(
        f"invalid order_by {order_by!r}: use one of {', '.join(_ORDER_FIELDS)} or "
        "metrics.<name>, with a leading '-' for descending"
    )


def parse_stage(stage: object) -> Stage:
    """A stage given as a Stage or its name, in any case."""
    try:
        return Stage(stage.lower() if isinstance(stage, str) else stage)
    except ValueError as exc:
        raise InvalidInputError(
            f"unknown stage {stage!r}; use one of {', '.join(s.value for s in Stage)}"
        ) from exc
