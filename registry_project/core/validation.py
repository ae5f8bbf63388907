"""Input validation: every check runs before anything is written.

Each function either returns a clean value or raises an `InvalidInputError` subclass whose
message says what is accepted.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from registry_project.core.entities import Column, Stage
from registry_project.core.errors import (
    InvalidInputError,
    InvalidMetricError,
    InvalidNameError,
    InvalidParamsError,
    UnsafeFlavorError,
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
MAX_DESCRIPTION_LENGTH = 10_000
MAX_PIN_LENGTH = 1024  # version_id and etag of a dataset reference
MAX_DAGSTER_RUN_ID_LENGTH = 64  # Dagster's run ids are 36-character UUIDs
MAX_ASSET_KEY_LENGTH = 1024
# The largest `limit` a listing accepts: far above any page anyone reads, and far below the
# 64-bit integers both databases compare a LIMIT with.
MAX_LIMIT = 1_000_000
MAX_NAME_TEXT = 1024  # a column's name or type in a reference's schema
# Row counts are stored as 64-bit integers on both backends.
MAX_ROW_COUNT = 2**63 - 1
# Unicode categories that draw nothing or move the text around them: controls (Cc, which
# includes U+0085 NEXT LINE), format characters such as U+202E RIGHT-TO-LEFT OVERRIDE and
# zero-width spaces (Cf), and the line and paragraph separators U+2028/U+2029 (Zl, Zp).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def validate_name(name: object, what: str = "name") -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 60 else repr(name[:60])
        raise InvalidNameError(
            f"invalid {what} {shown}: use 1-128 characters from letters, digits, '.', '_' "
            f"and '-', starting with a letter or digit (pattern {NAME_PATTERN})"
        )
    return name


def check_storable_text(value: str, what: str) -> str:
    """Refuse text that one of the two backends cannot store, so SQLite and PostgreSQL hold
    the same data: a NUL character (PostgreSQL refuses it in text) and a lone surrogate
    (not valid Unicode, so it cannot be encoded as UTF-8; a command-line argument that was
    not UTF-8 arrives as one)."""
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character (\\x00); remove it")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} is not valid Unicode (a lone surrogate at position {exc.start}, for "
            "instance from bytes that were not UTF-8); pass UTF-8 text"
        ) from None
    return value


def storable_text(value: str | None) -> str | None:
    """Text the registry records itself (a failed run's traceback), made storable on every
    backend by escaping what `check_storable_text` refuses, instead of refusing it."""
    if value is None:
        return None
    escaped = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.replace("\x00", "\\x00")


def validate_text(
    value: object, what: str, *, max_length: int, optional: bool = True
) -> str | None:
    """Free text stored as given (descriptions, pins): a string, at most `max_length`
    characters, storable on every backend."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if len(value) > max_length:
        raise InvalidInputError(f"{what} is {len(value)} characters; at most {max_length}")
    return check_storable_text(value, what)


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


def validate_reason(reason: object, *, required: bool = False, action: str = "this") -> str | None:
    """One rule for every write that takes a reason: a reason that is given must say
    something (empty or whitespace-only is refused, never stored as "no reason"); None is
    refused only where a reason is `required`. The messages name no Python keyword, so the
    CLI (`--reason`) and the API can show them as they are."""
    if reason is None:
        if required:
            raise InvalidInputError(f"{action} needs a reason: say why you do it")
        return None
    if not isinstance(reason, str):
        raise InvalidInputError(f"reason must be a string, got {type(reason).__name__}")
    if not reason.strip():
        raise InvalidInputError(
            f"the reason for {action} is empty; say why you do it (it goes into the audit log)"
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInputError(f"reason is {len(reason)} characters; at most {MAX_REASON_LENGTH}")
    return check_storable_text(reason, "reason")


def validate_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_ACTOR_LENGTH:
        raise InvalidInputError(
            f"actor must be a non-empty string of at most {MAX_ACTOR_LENGTH} characters, "
            f"got {actor!r}"
        )
    check_storable_text(actor, "actor")
    # An audit trail must not be forgeable by an actor name that starts a new log line or
    # reverses the text after it (U+202E), so every invisible character is refused.
    if any(unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in actor):
        raise InvalidInputError(
            f"actor {actor!r} contains control characters (or invisible format or "
            "line-separator ones); use a plain name"
        )
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
    check_storable_text(uri, "uri")
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
    try:
        return expires_at.astimezone(UTC)
    except (OverflowError, ValueError):  # 9999-12-31T23:00-14:00 is after year 9999 in UTC
        raise InvalidInputError(
            f"expires_at {expires_at.isoformat()} falls outside the years 1-9999 once "
            "converted to UTC; give an earlier date"
        ) from None


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


MAX_GRACE_PERIOD = timedelta(days=36_500)


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


def validate_filter_text(value: object, what: str) -> str | None:
    """A text filter (actor, action): compared with stored text, so it must be storable."""
    return validate_text(value, what, max_length=MAX_REASON_LENGTH)


def validate_dagster_context(
    dagster_run_id: object, asset_key: object
) -> tuple[str | None, str | None]:
    """The Dagster run id and asset key a write records: strings of bounded length."""
    run_id = validate_text(dagster_run_id, "dagster_run_id", max_length=MAX_DAGSTER_RUN_ID_LENGTH)
    key = validate_text(asset_key, "asset_key", max_length=MAX_ASSET_KEY_LENGTH)
    if key is not None and not key.strip():
        raise InvalidInputError("asset_key is empty; give the asset key as 'a/b' or leave it out")
    return run_id, key


def validate_row_count(row_count: object) -> int | None:
    if row_count is None:
        return None
    if type(row_count) is not int or not 0 <= row_count <= MAX_ROW_COUNT:
        raise InvalidInputError(
            f"row_count must be a non-negative integer of at most {MAX_ROW_COUNT}, "
            f"got {row_count!r}"[:300]
        )
    return row_count


def validate_columns(columns: object) -> tuple[Column, ...]:
    """A reference's schema: a sequence of `Column` objects (not bare names)."""
    if columns is None:
        return ()
    if isinstance(columns, str | bytes) or not isinstance(columns, Sequence):
        raise InvalidInputError(
            f"columns must be a list of Column(name, type), got {type(columns).__name__}"
        )
    for item in columns:
        if not isinstance(item, Column):
            raise InvalidInputError(
                f"columns must be Column(name, type) objects, got {type(item).__name__} {item!r}"[
                    :300
                ]
                + "; e.g. Column('age', 'int64')"
            )
        validate_text(item.name, "column name", max_length=MAX_NAME_TEXT, optional=False)
        validate_text(item.type, "column type", max_length=MAX_NAME_TEXT, optional=False)
    return tuple(columns)


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


def validate_description(description: object) -> str | None:
    """A version's description: text of at most MAX_DESCRIPTION_LENGTH characters, or None."""
    return validate_text(description, "description", max_length=MAX_DESCRIPTION_LENGTH)


def validate_pins(
    uri: str, *, version_id: str | None, etag: str | None, digest: str | None
) -> None:
    """A dataset reference's pins: each given pin says something, and at least one is given."""
    for key, value in {"version_id": version_id, "etag": etag}.items():
        if validate_text(value, key, max_length=MAX_PIN_LENGTH) == "":
            raise InvalidInputError(f"{key} is empty; give the pin or leave it out")
    if digest is not None:
        validate_digest(digest)
    if version_id is None and etag is None and digest is None:
        raise InvalidInputError(
            f"reference to {uri!r} is not pinned: pass version_id= (S3 object version or "
            "table snapshot id), etag= or digest= so the exact data can be found again"
        )


def refuse_pickle_registration(flavor: str, *, pickle_based: bool, allow_pickle: bool) -> None:
    """A registry opened with allow_pickle=False registers no code-executing flavor."""
    if pickle_based and not allow_pickle:
        raise UnsafeFlavorError(
            f"flavor {flavor!r} is pickle-based and this registry was opened with "
            "allow_pickle=False; register with a flavor that does not execute code on load"
        )


def refuse_pickle_load(ref: str, flavor: str, *, pickle_based: bool, allow_pickle: bool) -> None:
    """A registry opened with allow_pickle=False loads no code-executing flavor."""
    if pickle_based and not allow_pickle:
        raise UnsafeFlavorError(
            f"{ref} uses the pickle-based flavor {flavor!r}; loading it can run "
            "arbitrary code. This registry was opened with allow_pickle=False: open it "
            "with allow_pickle=True only if you trust everyone who can register models."
        )


def parse_stage(stage: object) -> Stage:
    """A stage given as a Stage or its name, in any case."""
    try:
        return Stage(stage.lower() if isinstance(stage, str) else stage)
    except ValueError as exc:
        raise InvalidInputError(
            f"unknown stage {stage!r}; use one of {', '.join(s.value for s in Stage)}"
        ) from exc


MAX_TAGS = 100
MAX_TAG_VALUE = 5000


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


MAX_STEP = 2**63 - 1


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
