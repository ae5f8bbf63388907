"""What an MLflow item becomes here: pure mappings from `mlflow_source` records to this
registry's entities, and the report an import returns. No database, no MLflow calls:
`ops/import_ops.py` does the writing.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry_project.core.entities import (
    CodeVersion,
    Column,
    DatasetKind,
    DatasetSnapshot,
    InputRole,
    RunInput,
    RunStatus,
    Stage,
    TrainingRun,
    frozen_mapping,
)
from registry_project.core.errors import InvalidInputError, RegistryError
from registry_project.core.mlflow_source import MlflowDataset, MlflowRun, MlflowVersion
from registry_project.core.validation import (
    MAX_STEP,
    MAX_TAGS,
    validate_params,
    validate_reference_uri,
    validate_tags,
)
from registry_project.core.version_refs import validate_alias

IMPORT_ACTOR_FALLBACK = "mlflow"  # the creator when MLflow recorded none

STAGES = {
    "None": Stage.EXPERIMENT,
    "Staging": Stage.STAGING,
    "Production": Stage.PRODUCTION,
    "Archived": Stage.ARCHIVED,
}

_RUN_STATUS = {
    "FINISHED": RunStatus.FINISHED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.FAILED,
    "RUNNING": RunStatus.RUNNING,
    "SCHEDULED": RunStatus.RUNNING,
}

_ROLES = {"training": InputRole.TRAIN, "train": InputRole.TRAIN, "test": InputRole.TEST}


@dataclass(frozen=True)
class ImportedItem:
    """One item of the source and what became of it (`ref` here; `note` says how)."""

    kind: str  # model, version
    mlflow_id: str  # the model name, or name/version
    ref: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "mlflow_id": self.mlflow_id, "ref": self.ref, "note": self.note}


@dataclass(frozen=True)
class ImportFailure:
    kind: str
    mlflow_id: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "mlflow_id": self.mlflow_id, "reason": self.reason}


@dataclass(frozen=True)
class ImportReport:
    """What `import_mlflow` did: `imported` (or, on a dry run, would import), `skipped`
    (imported before), `failed` (with the reason; nothing of them was written)."""

    source: str
    dry_run: bool
    imported: tuple[ImportedItem, ...] = ()
    skipped: tuple[ImportedItem, ...] = ()
    failed: tuple[ImportFailure, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "imported": [item.to_json() for item in self.imported],
            "skipped": [item.to_json() for item in self.skipped],
            "failed": [item.to_json() for item in self.failed],
        }


def version_key(version: MlflowVersion) -> str:
    return f"{version.model_name}/{version.version}"


def production_choice(versions: Sequence[MlflowVersion]) -> int | None:
    """MLflow may hold several versions in Production; here one can be. The newest number
    becomes production, the others are imported archived (and said so in the report)."""
    numbers = [v.version for v in versions if v.stage == "Production"]
    return max(numbers) if numbers else None


def target_stage(version: MlflowVersion, production: int | None) -> tuple[Stage, str | None]:
    """The stage a version is imported into, and a note when it is not MLflow's own."""
    stage = STAGES.get(version.stage, Stage.EXPERIMENT)
    if stage is Stage.PRODUCTION and version.version != production:
        return Stage.ARCHIVED, (
            f"Production in MLflow, imported archived: version {production} is production"
        )
    return stage, None


def usable_aliases(version: MlflowVersion) -> tuple[list[str], list[str]]:
    """The version's aliases this registry accepts, and notes on the ones it refuses
    (stage names and `latest` keep their meaning in references here)."""
    kept, notes = [], []
    for alias in version.aliases:
        try:
            kept.append(validate_alias(alias))
        except RegistryError as exc:
            notes.append(f"alias {alias!r} not imported: {exc}")
    return kept, notes


def metric_points(run: MlflowRun) -> list[tuple[str, int, float, datetime]]:
    """Every finite value of every metric's history as step-metric points, in order; a
    negative step (MLflow allows it) cannot be a step here and is left out."""
    return [
        (key, step, value, at)
        for key, points in sorted(run.metric_history.items())
        for step, value, at in points
        if math.isfinite(value) and 0 <= step <= MAX_STEP
    ]


def run_tags(run: MlflowRun) -> dict[str, str]:
    """The run's own tags: MLflow's system tags (`mlflow.*`: source, user, git) are mapped
    to the run's fields instead, and tags this registry cannot hold are left out."""
    kept: dict[str, str] = {}
    for key, value in sorted(run.tags.items()):
        if key.startswith("mlflow.") or len(kept) >= MAX_TAGS:
            continue
        try:
            kept.update(validate_tags({key: value}))
        except InvalidInputError:
            continue
    return kept


def finite_metrics(run: MlflowRun) -> tuple[dict[str, float], list[str]]:
    """Latest metric values; NaN and infinities (MLflow stores them) are left out, named."""
    kept = {k: float(v) for k, v in run.metrics.items() if math.isfinite(float(v))}
    dropped = sorted(set(run.metrics) - set(kept))
    return kept, [f"metric {key!r} not finite in MLflow, not imported" for key in dropped]


def training_run(run: MlflowRun, inputs: Sequence[RunInput]) -> tuple[TrainingRun, str]:
    """The run entity and its params as canonical JSON (MLflow's params are strings)."""
    params_json = validate_params(dict(run.params))
    status = _RUN_STATUS.get(run.status, RunStatus.FINISHED)
    entity = TrainingRun(
        id=str(uuid.uuid4()),
        name=run.name[:128],
        status=status,
        params=frozen_mapping(json.loads(params_json)),
        metrics=frozen_mapping(None),
        inputs=tuple(inputs),
        started_at=run.started_at,
        ended_at=run.ended_at,
        created_by=(run.user or IMPORT_ACTOR_FALLBACK)[:256],
        code=CodeVersion(
            commit=run.tags.get("mlflow.source.git.commit"),
            branch=run.tags.get("mlflow.source.git.branch"),
            remote=run.tags.get("mlflow.source.git.repoURL"),
        ),
        environment=None,
        error="killed in MLflow" if run.status == "KILLED" else None,
    )
    return entity, params_json


def dataset_key(dataset: MlflowDataset) -> str:
    return f"{dataset.name}@{dataset.digest}:{dataset.source_uri or ''}"


def dataset_reference(
    dataset: MlflowDataset, run: MlflowRun, actor: str, at: Any
) -> DatasetSnapshot:
    """A run's `mlflow.data` input as a pinned reference: its source location, pinned by
    MLflow's digest (`version_id="mlflow:<digest>"`; MLflow's digest is not a SHA-256 of
    the data, so it is not passed off as one)."""
    uri = dataset.source_uri
    if uri and "://" not in uri and uri.startswith("/"):
        uri = f"file://{uri}"
    try:
        uri = validate_reference_uri(uri)
    except RegistryError:
        # No absolute location MLflow could give (code, an in-memory frame): the run's
        # dataset entry itself is the location.
        uri = f"mlflow://runs/{run.run_id}/datasets/{dataset.name}"
    return DatasetSnapshot(
        id=str(uuid.uuid4()),
        name=_dataset_name(dataset.name),
        kind=DatasetKind.REFERENCE,
        digest=None,
        uri=uri,
        size_bytes=None,
        row_count=None,
        columns=(),
        created_at=at,
        created_by=actor,
        version_id=f"mlflow:{dataset.digest}",
    )


def role_of(dataset: MlflowDataset) -> InputRole:
    context = (dataset.context or "").lower()
    if context.startswith("val") or context.startswith("eval"):
        return InputRole.VALIDATION
    return _ROLES.get(context, InputRole.TRAIN)


def _dataset_name(name: str) -> str:
    from registry_project.core.validation import validate_name

    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name).strip("-.")
    candidate = (cleaned or "mlflow-dataset")[:128]
    try:
        return validate_name(candidate, "dataset name")
    except RegistryError:
        return "mlflow-dataset"


def signature_columns(signature: Mapping[str, Any] | None) -> tuple[Column, ...] | None:
    """MLflow's input schema as this registry's columns, when it is a named column list
    (a tensor signature stays only in the import record)."""
    if not signature or not signature.get("inputs"):
        return None
    try:
        specs = json.loads(signature["inputs"])
    except (TypeError, ValueError):
        return None
    if not isinstance(specs, list) or not all(
        isinstance(s, dict) and s.get("name") and s.get("type") for s in specs
    ):
        return None
    return tuple(Column(str(s["name"]), str(s["type"])) for s in specs)
