"""Materialization metadata: what registry ids and numbers the Dagster UI shows, and how a
downstream step reads back exactly what its upstream recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from registry_project.core.entities import DatasetSnapshot, ModelVersion
from registry_project.core.registry import ModelRegistry

SNAPSHOT_ID = "registry/snapshot_id"
DATASET_NAME = "registry/dataset_name"
DIGEST = "registry/digest"
MODEL_NAME = "registry/model_name"
VERSION = "registry/version"
VERSION_ID = "registry/version_id"
RUN_ID = "registry/run_id"
ARTIFACT_DIGEST = "registry/artifact_digest"
STAGE = "registry/stage"
GATES_PASSED = "registry/gates_passed"
PRODUCTION_VERSION_ID = "registry/production_version_id"
REUSED = "registry/reused"  # True: the training registered nothing; the version existed
REGISTRATION = "registry/registration"  # one line: what the training registered (or reused)
AUDIT_HEAD_SEQ = "registry/audit_head_seq"
AUDIT_HEAD_HASH = "registry/audit_head_hash"
METRIC_PREFIX = "metric/"
UI_URL_ENV = "REGISTRY_UI_URL"


def snapshot_metadata(snapshot: DatasetSnapshot) -> dict[str, Any]:
    return {
        "dagster/row_count": dg.MetadataValue.int(snapshot.row_count or 0),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(column.name, column.type) for column in snapshot.columns]
        ),
        "dagster/uri": dg.MetadataValue.text(snapshot.uri),
        SNAPSHOT_ID: dg.MetadataValue.text(snapshot.id),
        DATASET_NAME: dg.MetadataValue.text(snapshot.name),
        DIGEST: dg.MetadataValue.text(snapshot.digest or ""),
        "registry/size_bytes": dg.MetadataValue.int(snapshot.size_bytes or 0),
    }


def metric_metadata(metrics: Mapping[str, float]) -> dict[str, Any]:
    """One float per metric under a stable key, so the UI plots it across materializations."""
    return {
        f"{METRIC_PREFIX}{key}": dg.MetadataValue.float(value) for key, value in metrics.items()
    }


def version_metadata(version: ModelVersion) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        MODEL_NAME: dg.MetadataValue.text(version.model_name),
        VERSION: dg.MetadataValue.int(version.version),
        VERSION_ID: dg.MetadataValue.text(version.id),
        STAGE: dg.MetadataValue.text(version.stage.value),
        ARTIFACT_DIGEST: dg.MetadataValue.text(version.artifact_digest),
        "registry/flavor": dg.MetadataValue.text(version.flavor),
        **metric_metadata(version.metrics),
    }
    ui = os.environ.get(UI_URL_ENV)
    if ui:
        metadata["registry/ui"] = dg.MetadataValue.url(
            f"{ui.rstrip('/')}/models/{version.model_name}/versions/{version.version}"
        )
    return metadata


def audit_head_metadata(registry: ModelRegistry) -> dict[str, Any]:
    """The tip of the registry's audit hash chain (sequence number and hash), anchored in
    Dagster's event log: a history rewritten later would no longer end at a hash Dagster
    recorded, and `registry audit` can be compared with it."""
    head = registry.audit_log(newest_first=True, limit=1)
    if not head:
        return {}
    return {
        AUDIT_HEAD_SEQ: dg.MetadataValue.int(head[0].seq),
        AUDIT_HEAD_HASH: dg.MetadataValue.text(head[0].hash),
    }


def params_metadata(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"params": dg.MetadataValue.json(json.loads(json.dumps(dict(params), default=str)))}


def latest_recorded(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, metadata_key: str
) -> Any | None:
    """A value the latest materialization of `asset_key` recorded, or None."""
    event = instance.get_latest_materialization_event(asset_key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(metadata_key)
    return None if value is None else value.value


def require_recorded(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, metadata_key: str
) -> Any:
    value = latest_recorded(instance, asset_key, metadata_key)
    if value is None:
        raise dg.Failure(
            description=f"{asset_key.to_user_string()} has no materialization recording "
            f"{metadata_key!r}; materialize it first.",
        )
    return value
