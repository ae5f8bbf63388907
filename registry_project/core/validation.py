"""Input validation: every check runs before anything is written.

Each function either returns a clean value or raises an `InvalidInputError` subclass whose
message says what is accepted.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry_project.core.errors import (
    InvalidInputError,
    InvalidMetricError,
    InvalidNameError,
    InvalidParamsError,
)

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_NAME_RE = re.compile(NAME_PATTERN)
_METRIC_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,255}")
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")

MAX_PARAMS_BYTES = 1024 * 1024
MAX_PARAMS_DEPTH = 32
MAX_REASON_LENGTH = 10_000
MAX_ACTOR_LENGTH = 256
MAX_URI_LENGTH = 4096
MAX_METRICS = 1000


def validate_name(name: object, what: str = "name") -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 60 else repr(name[:60])
        raise InvalidNameError(
            f"invalid {what} {shown}: use 1-128 characters from letters, digits, '.', '_' "
            f"and '-', starting with a letter or digit (pattern {NAME_PATTERN})"
        )
    return name


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
        number = float(value)
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


def validate_reason(reason: object, *, required: bool = False, action: str = "this") -> str | None:
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        if required:
            raise InvalidInputError(f"{action} needs a reason: pass reason='why you do it'")
        return None
    if not isinstance(reason, str):
        raise InvalidInputError(f"reason must be a string, got {type(reason).__name__}")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInputError(f"reason is {len(reason)} characters; at most {MAX_REASON_LENGTH}")
    return reason


def validate_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR_LENGTH:
        raise InvalidInputError(
            f"actor must be a non-empty string of at most {MAX_ACTOR_LENGTH} characters, "
            f"got {actor!r}"
        )
    # An audit trail must not be forgeable by an actor name that starts a new log line.
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in actor):
        raise InvalidInputError(f"actor {actor!r} contains control characters; use a plain name")
    return actor


def validate_digest(digest: object) -> str:
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise InvalidInputError(
            f"invalid digest {digest!r}: expected 64 lowercase hexadecimal characters (SHA-256)"
        )
    return digest


def validate_reference_uri(uri: object) -> str:
    """A URI pinned by a dataset reference: recorded, never opened by the registry."""
    if not isinstance(uri, str) or not uri.strip() or len(uri) > MAX_URI_LENGTH:
        raise InvalidInputError(
            f"uri must be a non-empty string of at most {MAX_URI_LENGTH} characters"
        )
    if any(ord(ch) < 32 for ch in uri):
        raise InvalidInputError("uri must not contain control characters")
    scheme, sep, rest = uri.partition("://")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) or not rest:
        raise InvalidInputError(
            f"uri {uri!r} must be absolute with a scheme, such as s3://bucket/key, "
            "gs://bucket/key, file:///abs/path or an iceberg:// / delta:// table"
        )
    if ".." in rest.split("/"):
        raise InvalidInputError(f"uri {uri!r} contains a '..' segment; give the resolved location")
    return uri


def validate_expiry(expires_at: object) -> datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
        raise InvalidInputError(
            "expires_at must be a timezone-aware datetime, e.g. datetime(2027, 1, 1, tzinfo=UTC)"
        )
    return expires_at.astimezone(UTC)


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
