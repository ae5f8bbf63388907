"""Materialization metadata: what registry ids and numbers the Dagster UI shows, and how a
downstream step reads back exactly what its upstream recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from registry_project.core.entities import DatasetSnapshot, ModelVersion, TrainingRun
from registry_project.core.registry import ModelRegistry

# Every metadata key a registry asset records. They are public: read them from your own
# assets, sensors and checks (`event.asset_materialization.metadata[VERSION_ID]`). The README's
# "Metadata keys" table lists the same keys; a test keeps the two equal.
SNAPSHOT_ID = "registry/snapshot_id"
DATASET_NAME = "registry/dataset_name"
DIGEST = "registry/digest"
SIZE_BYTES = "registry/size_bytes"
MODEL_NAME = "registry/model_name"
VERSION = "registry/version"
VERSION_ID = "registry/version_id"
RUN_ID = "registry/run_id"
ARTIFACT_DIGEST = "registry/artifact_digest"
FLAVOR = "registry/flavor"
STAGE = "registry/stage"
UI_LINK = "registry/ui"
PARAMS = "params"
INPUTS = "registry/datasets"
PARTITION_KEY = "registry/partition_key"
GATES_PASSED = "registry/gates_passed"
GATES = "gates"
COMPARISON = "comparison"
PRODUCTION_VERSION_ID = "registry/production_version_id"
STATUS = "registry/status"
MODEL_CARD = "registry/model_card"  # the production version's card, as Markdown
SCORED_WITH = "registry/scored_with"
SOURCE_SNAPSHOT_ID = "registry/source_snapshot_id"
REUSED = "registry/reused"
REGISTRATION = "registry/registration"
AUDIT_HEAD_SEQ = "registry/audit_head_seq"
AUDIT_HEAD_HASH = "registry/audit_head_hash"
# Recorded by registry_sync_sensor on the production asset for changes made outside Dagster.
ACTION = "registry/action"
ACTOR = "registry/actor"
REASON = "registry/reason"
AUDIT_SEQ = "registry/audit_seq"
AUDIT_HASH = "registry/audit_hash"
METRIC_PREFIX = "metric/"
# Recorded by the <model>_reproduce job (its output and an observation of the candidate).
REPRODUCTION = "registry/reproduction"
REPRODUCED = "registry/reproduced"
REPRODUCTION_DETAIL = "registry/reproduction_detail"
REPRODUCED_DIGEST = "registry/reproduced_digest"
ENVIRONMENT_DIFFERENCES = "registry/environment_differences"
METRIC_DIFFERENCES = "registry/metric_differences"
RUN_METRIC_PREFIX = "run_metric/"  # a run's metric, a step metric's final value
EXPERIMENT = "registry/experiment"
RUN_PAGE = "registry/run_page"
SWEEP_TRIALS = "registry/sweep_trials"
SWEEP_BEST_RUN = "registry/sweep_best_run"
SWEEP = "sweep"

METADATA_KEYS: dict[str, str] = {
    SNAPSHOT_ID: "dataset, scores: the registry snapshot's id",
    DATASET_NAME: "dataset, scores: the registry dataset name",
    DIGEST: "dataset, scores: SHA-256 of the parquet snapshot (also the DataVersion)",
    SIZE_BYTES: "dataset, scores: size of the parquet snapshot",
    "dagster/row_count": "dataset, scores: rows in the snapshot",
    "dagster/column_schema": "dataset, scores: column names and types",
    "dagster/uri": "dataset, scores: where the snapshot's bytes live",
    MODEL_NAME: "candidate, evaluation, production: the model's name",
    VERSION: "candidate, evaluation, production: the version number",
    VERSION_ID: "candidate, evaluation, production, scores: the version's UUID",
    STAGE: "candidate, evaluation, production: the version's stage when recorded",
    ARTIFACT_DIGEST: "candidate, evaluation, production: SHA-256 of the model artifact",
    FLAVOR: "candidate, evaluation, production: how the artifact is serialised",
    UI_LINK: "candidate, evaluation, production: the version's page (with REGISTRY_UI_URL)",
    f"{METRIC_PREFIX}<name>": "candidate, evaluation, production: one float per metric",
    RUN_ID: "candidate: the registry training run's id",
    PARAMS: "candidate: the run's params (fixed params, `dg.Config` values, partition key)",
    INPUTS: "candidate: `role:dataset name` -> dataset id, snapshots and pinned references",
    PARTITION_KEY: "dataset, candidate, evaluation, scores: the partition materialized",
    GATES_PASSED: "evaluation: whether every quality gate passed",
    GATES: "evaluation: each gate's result and numbers",
    COMPARISON: "evaluation: markdown table, candidate against production",
    PRODUCTION_VERSION_ID: "evaluation: the production version compared against",
    STATUS: "production: what the run did (promoted, waits for approval, serves) or what "
    "changed outside Dagster",
    MODEL_CARD: "production: the production version's model card, as Markdown",
    SCORED_WITH: "scores: the production version used, as `name/version`",
    SOURCE_SNAPSHOT_ID: "scores: the snapshot that was scored",
    f"{RUN_METRIC_PREFIX}<name>": "candidate: the training run's metrics, a step metric's "
    "final value, one float each (Dagster plots it across materializations)",
    EXPERIMENT: "candidate: the experiment its runs are in (default: the training asset key)",
    RUN_PAGE: "candidate: the training run's page in the registry UI (its curves), a path "
    "under `registry ui`, a link with REGISTRY_UI_URL",
    SWEEP_TRIALS: "candidate (sweep): how many trials ran, each a run of the experiment",
    SWEEP_BEST_RUN: "candidate (sweep): the best trial's run, registered as the candidate",
    SWEEP: "candidate (sweep): markdown table, each trial's config, metric and run",
    REUSED: "candidate: true when nothing new was registered (an identical version existed)",
    REGISTRATION: "candidate: one line, the version registered or the identical one reused",
    AUDIT_HEAD_SEQ: "production, audit chain: sequence number of the audit chain's newest event",
    AUDIT_HEAD_HASH: "production, audit chain: hash of the audit chain's newest event",
    ACTION: "production (changed outside Dagster): `promote`, `rollback` or `transition`",
    ACTOR: "production (changed outside Dagster): who made the change",
    REASON: "production (changed outside Dagster): the reason they gave",
    AUDIT_SEQ: "production (changed outside Dagster): the change's audit event sequence number",
    AUDIT_HASH: "production (changed outside Dagster): the change's audit event hash",
    REPRODUCTION: "reproduce job: the outcome, `identical`, `within_tolerance` or `different`",
    REPRODUCED: "reproduce job: whether the version reproduced",
    REPRODUCTION_DETAIL: "reproduce job: one line, what matched and where it was trained",
    REPRODUCED_DIGEST: "reproduce job: SHA-256 of the retrained artifact",
    ENVIRONMENT_DIFFERENCES: "reproduce job: every difference from the recorded environment",
    METRIC_DIFFERENCES: "reproduce job: retrained minus recorded, per `dataset:metric`",
}
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
        SIZE_BYTES: dg.MetadataValue.int(snapshot.size_bytes or 0),
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
        FLAVOR: dg.MetadataValue.text(version.flavor),
        **metric_metadata(version.metrics),
    }
    ui = os.environ.get(UI_URL_ENV)
    if ui:
        metadata[UI_LINK] = dg.MetadataValue.url(
            f"{ui.rstrip('/')}/models/{version.model_name}/versions/{version.version}"
        )
    return metadata


def run_metadata(run: TrainingRun) -> dict[str, Any]:
    """A training run summarised for its materialization: the experiment, each metric's
    final value as a float (a step metric's last point: Dagster plots it across
    materializations) and the run's page in the registry UI, where its curves are."""
    page = f"/runs/{run.id}"
    ui = os.environ.get(UI_URL_ENV)
    metadata: dict[str, Any] = {
        f"{RUN_METRIC_PREFIX}{key}": dg.MetadataValue.float(value)
        for key, value in sorted(run.metrics.items())
    }
    if run.experiment is not None:
        metadata[EXPERIMENT] = dg.MetadataValue.text(run.experiment)
    metadata[RUN_PAGE] = (
        dg.MetadataValue.url(f"{ui.rstrip('/')}{page}") if ui else dg.MetadataValue.path(page)
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
    return {PARAMS: dg.MetadataValue.json(json.loads(json.dumps(dict(params), default=str)))}


def latest_record(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str | None = None
) -> dg.EventLogRecord | None:
    """The latest materialization of `asset_key`: of `partition_key` when that partition was
    materialized, else of any partition (an unpartitioned upstream), else None."""
    filters = [dg.AssetRecordsFilter(asset_key=asset_key)]
    if partition_key is not None:
        filters.insert(
            0, dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key])
        )
    for records_filter in filters:
        records = instance.fetch_materializations(records_filter, limit=1).records
        if records and records[0].asset_materialization is not None:
            return records[0]
    return None


def recorded_metadata(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str | None = None
) -> Mapping[str, Any] | None:
    """The metadata of `latest_record(...)`, or None if it was never materialized."""
    record = latest_record(instance, asset_key, partition_key)
    if record is None or record.asset_materialization is None:
        return None
    return record.asset_materialization.metadata


def latest_recorded(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    metadata_key: str,
    partition_key: str | None = None,
) -> Any | None:
    """A value the latest materialization of `asset_key` recorded, or None."""
    metadata = recorded_metadata(instance, asset_key, partition_key)
    value = None if metadata is None else metadata.get(metadata_key)
    return None if value is None else value.value


def require_recorded(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    metadata_key: str,
    partition_key: str | None = None,
) -> Any:
    value = latest_recorded(instance, asset_key, metadata_key, partition_key)
    if value is None:
        raise dg.Failure(
            description=f"{asset_key.to_user_string()} has no materialization recording "
            f"{metadata_key!r}; materialize it first (is it a registry asset?).",
        )
    return value
