"""Input validation: every check runs before anything is written.

Each function either returns a clean value or raises an `InvalidInputError` subclass whose
message says what is accepted. One job per module; every public name is re-exported here,
so callers import from `registry_project.core.validation`:

- `limits`: every limit (`MAX_*`), and the invisible Unicode categories
- `names`: names and free text (actor, reason, description, filters, the Dagster context)
- `values`: metrics, params and their canonical JSON, `limit=`, time bounds, row counts,
  `order_by`, stages
- `dataset_refs`: a dataset reference's URI, pins and schema
- `pickle_refusals`: the `allow_pickle` refusals
- `tracking`: run tags, a step metric's value and step

Resolved on first use (PEP 562), each name from its own module, as the top-level package
does: a command's options need a limit, not every check's module and the records they name
(`registry --help` loads only `limits`; issue #18). Type checkers and IDEs read the
`TYPE_CHECKING` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_project.core.lazy_names import lazy_names

if TYPE_CHECKING:
    from registry_project.core.validation.dataset_refs import (
        validate_columns,
        validate_digest,
        validate_pins,
        validate_reference_uri,
    )
    from registry_project.core.validation.limits import (
        INVISIBLE_CATEGORIES,
        MAX_ACTOR_LENGTH,
        MAX_ASSET_KEY_LENGTH,
        MAX_DAGSTER_RUN_ID_LENGTH,
        MAX_DESCRIPTION_LENGTH,
        MAX_GRACE_PERIOD,
        MAX_LIMIT,
        MAX_METRICS,
        MAX_NAME_TEXT,
        MAX_PARAMS_BYTES,
        MAX_PARAMS_DEPTH,
        MAX_PIN_LENGTH,
        MAX_REASON_LENGTH,
        MAX_ROW_COUNT,
        MAX_STEP,
        MAX_TAG_VALUE,
        MAX_TAGS,
        MAX_URI_LENGTH,
    )
    from registry_project.core.validation.names import (
        NAME_PATTERN,
        check_storable_text,
        storable_text,
        validate_actor,
        validate_dagster_context,
        validate_description,
        validate_filter_text,
        validate_name,
        validate_reason,
        validate_text,
    )
    from registry_project.core.validation.pickle_refusals import (
        refuse_pickle_load,
        refuse_pickle_registration,
    )
    from registry_project.core.validation.tracking import (
        validate_metric_value,
        validate_step,
        validate_tags,
    )
    from registry_project.core.validation.values import (
        OrderBy,
        canonical_json,
        parse_order_by,
        parse_stage,
        validate_expiry,
        validate_grace_period,
        validate_limit,
        validate_metric_key,
        validate_metrics,
        validate_params,
        validate_row_count,
        validate_since,
    )

_PUBLIC = {
    "INVISIBLE_CATEGORIES": "registry_project.core.validation.limits",
    "MAX_ACTOR_LENGTH": "registry_project.core.validation.limits",
    "MAX_ASSET_KEY_LENGTH": "registry_project.core.validation.limits",
    "MAX_DAGSTER_RUN_ID_LENGTH": "registry_project.core.validation.limits",
    "MAX_DESCRIPTION_LENGTH": "registry_project.core.validation.limits",
    "MAX_GRACE_PERIOD": "registry_project.core.validation.limits",
    "MAX_LIMIT": "registry_project.core.validation.limits",
    "MAX_METRICS": "registry_project.core.validation.limits",
    "MAX_NAME_TEXT": "registry_project.core.validation.limits",
    "MAX_PARAMS_BYTES": "registry_project.core.validation.limits",
    "MAX_PARAMS_DEPTH": "registry_project.core.validation.limits",
    "MAX_PIN_LENGTH": "registry_project.core.validation.limits",
    "MAX_REASON_LENGTH": "registry_project.core.validation.limits",
    "MAX_ROW_COUNT": "registry_project.core.validation.limits",
    "MAX_STEP": "registry_project.core.validation.limits",
    "MAX_TAGS": "registry_project.core.validation.limits",
    "MAX_TAG_VALUE": "registry_project.core.validation.limits",
    "MAX_URI_LENGTH": "registry_project.core.validation.limits",
    "NAME_PATTERN": "registry_project.core.validation.names",
    "OrderBy": "registry_project.core.validation.values",
    "canonical_json": "registry_project.core.validation.values",
    "check_storable_text": "registry_project.core.validation.names",
    "parse_order_by": "registry_project.core.validation.values",
    "parse_stage": "registry_project.core.validation.values",
    "refuse_pickle_load": "registry_project.core.validation.pickle_refusals",
    "refuse_pickle_registration": "registry_project.core.validation.pickle_refusals",
    "storable_text": "registry_project.core.validation.names",
    "validate_actor": "registry_project.core.validation.names",
    "validate_columns": "registry_project.core.validation.dataset_refs",
    "validate_dagster_context": "registry_project.core.validation.names",
    "validate_description": "registry_project.core.validation.names",
    "validate_digest": "registry_project.core.validation.dataset_refs",
    "validate_expiry": "registry_project.core.validation.values",
    "validate_filter_text": "registry_project.core.validation.names",
    "validate_grace_period": "registry_project.core.validation.values",
    "validate_limit": "registry_project.core.validation.values",
    "validate_metric_key": "registry_project.core.validation.values",
    "validate_metric_value": "registry_project.core.validation.tracking",
    "validate_metrics": "registry_project.core.validation.values",
    "validate_name": "registry_project.core.validation.names",
    "validate_params": "registry_project.core.validation.values",
    "validate_pins": "registry_project.core.validation.dataset_refs",
    "validate_reason": "registry_project.core.validation.names",
    "validate_reference_uri": "registry_project.core.validation.dataset_refs",
    "validate_row_count": "registry_project.core.validation.values",
    "validate_since": "registry_project.core.validation.values",
    "validate_step": "registry_project.core.validation.tracking",
    "validate_tags": "registry_project.core.validation.tracking",
    "validate_text": "registry_project.core.validation.names",
}

__all__ = [
    "INVISIBLE_CATEGORIES",
    "MAX_ACTOR_LENGTH",
    "MAX_ASSET_KEY_LENGTH",
    "MAX_DAGSTER_RUN_ID_LENGTH",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_GRACE_PERIOD",
    "MAX_LIMIT",
    "MAX_METRICS",
    "MAX_NAME_TEXT",
    "MAX_PARAMS_BYTES",
    "MAX_PARAMS_DEPTH",
    "MAX_PIN_LENGTH",
    "MAX_REASON_LENGTH",
    "MAX_ROW_COUNT",
    "MAX_STEP",
    "MAX_TAGS",
    "MAX_TAG_VALUE",
    "MAX_URI_LENGTH",
    "NAME_PATTERN",
    "OrderBy",
    "canonical_json",
    "check_storable_text",
    "parse_order_by",
    "parse_stage",
    "refuse_pickle_load",
    "refuse_pickle_registration",
    "storable_text",
    "validate_actor",
    "validate_columns",
    "validate_dagster_context",
    "validate_description",
    "validate_digest",
    "validate_expiry",
    "validate_filter_text",
    "validate_grace_period",
    "validate_limit",
    "validate_metric_key",
    "validate_metric_value",
    "validate_metrics",
    "validate_name",
    "validate_params",
    "validate_pins",
    "validate_reason",
    "validate_reference_uri",
    "validate_row_count",
    "validate_since",
    "validate_step",
    "validate_tags",
    "validate_text",
]


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC, globals(), __all__)
