"""Model versions once registered (registering them: `registration.py`): evaluation
metrics, the lookups (`get`, `versions`, `models`), load and export of artifacts, and
lineage.

`get` is a hot path (benchmarks W1-W3): one function call below the facade, no further
layers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from sqlalchemy.engine import Connection

from registry_project.core import flavors
from registry_project.core.entities import (
    AuditAction,
    Lineage,
    LineageDataset,
    MetricRecord,
    Model,
    ModelSummary,
    ModelVersion,
    Stage,
)
from registry_project.core.errors import (
    ArtifactRetiredError,
    InvalidInputError,
    ModelNotFoundError,
    NotFoundError,
    VersionNotFoundError,
)
from registry_project.core.ops import dataset_ops
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import aliases as alias_store
from registry_project.core.store import audit, overviews
from registry_project.core.store import dataset_snapshots as dataset_store
from registry_project.core.store import retention as retention_store
from registry_project.core.store import runs as run_store
from registry_project.core.store import stage_history as history_store
from registry_project.core.store import version_metrics as metric_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import (
    parse_order_by,
    parse_stage,
    refuse_pickle_load,
    validate_limit,
    validate_metrics,
    validate_name,
)
from registry_project.core.version_refs import (
    ByAlias,
    ById,
    ByNamedAlias,
    ByNumber,
    parse_reference,
)

VersionRef = ModelVersion | str


def log_metrics(
    w: Writer,
    version: VersionRef,
    metrics: Mapping[str, float],
    *,
    dataset: dataset_ops.DatasetRef | None,
    actor: str | None,
) -> ModelVersion:
    clean = validate_metrics(metrics)
    if not clean:
        raise InvalidInputError("log_metrics needs at least one metric")
    who = w.actor(actor)
    target = get(w, version)
    dataset_id = dataset_ops.get(w, dataset).id if dataset is not None else None

    def work(connection: Connection) -> None:
        if dataset_id is not None:
            # Deleting the dataset meanwhile saw no dependent (this one is not committed):
            # refuse, rather than link new metrics to a tombstone no decision covered.
            evaluated_on = dataset_store.share_lock_dataset(connection, dataset_id)
            if evaluated_on is not None and evaluated_on.deleted:
                raise dataset_ops.deleted_error(evaluated_on, "log metrics evaluated on it")
        metric_store.upsert_metrics(
            connection,
            version_id=target.id,
            model_name=target.model_name,
            metrics=clean,
            dataset_id=dataset_id,
            actor=who,
            at=now(),
        )
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.LOG_METRICS,
                subject_type="model_version",
                subject_id=target.id,
                model_name=target.model_name,
                before={k: target.metrics[k] for k in clean if k in target.metrics},
                after={"metrics": clean, "dataset_id": dataset_id},
            ),
        )

    w.write(work)
    return get(w, target.id)


def metric_history(w: Writer, version: VersionRef) -> list[MetricRecord]:
    target = get(w, version)
    with w.read() as connection:
        return metric_store.metric_records(connection, target.id)


def get(w: Writer, reference: VersionRef) -> ModelVersion:
    if isinstance(reference, ModelVersion):
        reference = reference.id
    parsed = parse_reference(reference)
    with w.read() as connection:
        if isinstance(parsed, ByNamedAlias):
            # An alias resolves to its version id, then the hot lookup by id.
            version_id = alias_store.resolve(connection, parsed.model_name, parsed.alias)
            found = (
                None
                if version_id is None
                else version_store.fetch_version(connection, ById(version_id))
            )
        else:
            found = version_store.fetch_version(connection, parsed)
        if found is None:
            raise _not_found(connection, parsed, reference)
        return found


def _not_found(
    connection: Connection, parsed: ById | ByNumber | ByAlias | ByNamedAlias, reference: str
) -> NotFoundError:
    """Why a reference matched nothing: the model, or only the version, is missing."""
    model_name = getattr(parsed, "model_name", None)
    if model_name is not None and not version_store.model_exists(connection, model_name):
        return ModelNotFoundError(
            f"no model named {model_name!r}; list models with `registry models`"
        )
    if isinstance(parsed, ByNamedAlias):
        return VersionNotFoundError(
            f"model {parsed.model_name!r} has no alias {parsed.alias!r} (the stages are "
            "experiment, staging, production, archived); set it with "
            f"`registry alias set {parsed.model_name} {parsed.alias} REF`"
        )
    if isinstance(parsed, ByAlias):
        return VersionNotFoundError(
            f"model {parsed.model_name!r} has no version in {parsed.alias}; "
            f"see `registry versions {parsed.model_name}`"
        )
    return VersionNotFoundError(f"no model version {reference!r}")


def production(w: Writer, name: str) -> ModelVersion | None:
    validate_name(name, "model name")
    with w.read() as connection:
        return version_store.fetch_version(connection, ByAlias(name, Stage.PRODUCTION.value))


def list_versions(
    w: Writer, name: str, *, stage: Stage | str | None, order_by: str, limit: int | None
) -> list[ModelVersion]:
    validate_name(name, "model name")
    order = parse_order_by(order_by)
    wanted_stage = parse_stage(stage) if stage is not None else None
    limit = validate_limit(limit)
    with w.read() as connection:
        if not version_store.model_exists(connection, name):
            raise ModelNotFoundError(f"no model named {name!r}; list models with `registry models`")
        rows = version_store.list_versions(
            connection, name, stage=wanted_stage, order=order, limit=limit
        )
        return version_store.to_versions(connection, rows)


def models(w: Writer) -> list[Model]:
    with w.read() as connection:
        return version_store.list_models(connection)


def summaries(w: Writer) -> list[ModelSummary]:
    with w.read() as connection:
        return overviews.model_summaries(connection)


def refuse_retired(connection: Connection, version: ModelVersion, doing: str) -> None:
    """Raise `ArtifactRetiredError` if a retention policy retired `version`'s artifact."""
    retired = retention_store.fetch_retirement(connection, version.id)
    if retired is not None:
        raise ArtifactRetiredError(
            f"cannot {doing} {version.ref}: its artifact was retired by retention policy "
            f"({retired.rule}) on {retired.retired_at:%Y-%m-%d %H:%M} UTC by "
            f"{retired.retired_by} ({retired.reason}). Its record (metrics, lineage, "
            "history) remains; register the model again to have an artifact to use."
        )


def _require_artifact(w: Writer, version: ModelVersion, doing: str) -> None:
    with w.read() as connection:
        refuse_retired(connection, version, doing)


def load(w: Writer, reference: VersionRef) -> object:
    target = get(w, reference)
    _require_artifact(w, target, "load")
    chosen = flavors.get_flavor(target.flavor)
    refuse_pickle_load(
        target.ref, chosen.name, pickle_based=chosen.pickle_based, allow_pickle=w.allow_pickle
    )
    # A flavor that does not run its bytes as code may read a large local blob in place.
    in_place = not chosen.pickle_based
    with w.blobs.open_verified(target.artifact_digest, in_place=in_place) as stream:
        return chosen.load(stream)


def export(
    w: Writer,
    reference: VersionRef,
    destination: str | os.PathLike[str],
    on_bytes: Callable[[int], None] | None,
) -> ModelVersion:
    target = get(w, reference)
    _require_artifact(w, target, "export")
    try:
        w.blobs.download_verified(target.artifact_digest, destination, on_bytes)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {destination}: {exc.strerror or exc}") from exc
    return target


def lineage(w: Writer, reference: VersionRef) -> Lineage:
    version = get(w, reference)
    with w.read() as connection:
        run = run_store.fetch_run(connection, version.run_id) if version.run_id else None
        trained = [
            (item.dataset_id, "trained", item.role.value) for item in (run.inputs if run else ())
        ]
        evaluated = [
            (dataset_id, "evaluated", None)
            for dataset_id in metric_store.evaluated_dataset_ids(connection, version.id)
        ]
        found = dataset_store.fetch_datasets(connection, [d for d, _, _ in trained + evaluated])
        history = history_store.transitions(connection, version_id=version.id)
    lineage_datasets = tuple(
        LineageDataset(found[d], relation, role)
        for d, relation, role in trained + evaluated
        if d in found
    )
    return Lineage(
        version=version,
        run=run,
        datasets=lineage_datasets,
        code=run.code if run else None,
        environment=run.environment if run else None,
        dagster_run_id=version.dagster_run_id or (run.dagster_run_id if run else None),
        transitions=tuple(history),
    )
