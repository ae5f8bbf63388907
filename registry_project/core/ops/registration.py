"""Registering a model version: bytes first (a model serialised through its flavor, or an
artifact another process stored, re-hashed), then one transaction with the version row, its
metrics, first transition and audit event - or, with `reuse_identical`, the identical
existing version and nothing written.

`register` is a hot path (benchmarks W1-W3): one function call below the facade.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core import flavors
from registry_project.core.blobs import BlobInfo
from registry_project.core.entities import (
    AuditAction,
    ModelVersion,
    Registration,
    RunStatus,
    Stage,
    frozen_mapping,
)
from registry_project.core.errors import (
    IntegrityCheckError,
    InvalidInputError,
    RegistryError,
    RunNotFoundError,
)
from registry_project.core.external import StoredArtifact
from registry_project.core.ops import run_artifact_ops, run_ops
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import audit
from registry_project.core.store import identity as identity_store
from registry_project.core.store import runs as run_store
from registry_project.core.store import stage_history as history_store
from registry_project.core.store import version_metrics as metric_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import (
    refuse_pickle_registration,
    validate_description,
    validate_metrics,
    validate_name,
)
from registry_project.core.version_refs import ById


def register(
    w: Writer,
    name: str,
    model: object,
    *,
    run: run_ops.RunRef | None,
    metrics: Mapping[str, float] | None,
    flavor: str | flavors.Flavor | None,
    signature: Any,
    description: str | None,
    actor: str | None,
    dagster_run_id: str | None,
    asset_key: str | None,
    reuse_identical: bool,
) -> Registration:
    """Serialise `model`, store its bytes, then record the version (or, with
    `reuse_identical`, find the identical existing one)."""
    validate_name(name, "model name")
    clean_metrics = validate_metrics(metrics)
    who = w.actor(actor)
    dagster_run_id, asset_key = w.dagster_context(dagster_run_id, asset_key)
    validate_description(description)
    chosen = resolve_flavor(w, model, flavor)
    columns = None if signature is None else flavors.signature_from_sample(signature)
    run_id = run_ops.run_id(run) if run is not None else None
    blob, durable = _store_model(w, chosen, model, overlap=w.overlaps_blob_durability)
    try:
        return _record_version(
            w,
            name,
            StoredArtifact(
                blob.digest, blob.size, chosen.name, flavors.python_class_of(model), columns
            ),
            run_id=run_id,
            metrics=clean_metrics,
            description=description,
            actor=who,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
            store_again=lambda: _store_model(w, chosen, model, overlap=False),
            reuse_identical=reuse_identical,
            durable=durable,
        )
    finally:
        # A registration that failed before waiting (an unknown run, a database error)
        # still lets the background step end (its temp file removed) before it returns;
        # that step's own error, if any, was raised inside the transaction or is moot.
        with contextlib.suppress(RegistryError):
            durable()


def register_artifact(
    w: Writer,
    name: str,
    artifact: StoredArtifact,
    *,
    run: run_ops.RunRef | None,
    metrics: Mapping[str, float] | None,
    description: str | None,
    actor: str | None,
    dagster_run_id: str | None,
    asset_key: str | None,
) -> ModelVersion:
    """Record a version over an artifact another process stored (re-hashed first)."""
    validate_name(name, "model name")
    clean_metrics = validate_metrics(metrics)
    if not isinstance(artifact, StoredArtifact):
        raise InvalidInputError(f"artifact must be a StoredArtifact, got {type(artifact).__name__}")
    validate_description(description)
    dagster_run_id, asset_key = w.dagster_context(dagster_run_id, asset_key)
    resolve_flavor(w, None, artifact.flavor)  # known, and pickle allowed if pickled
    w.require_blobs([artifact.digest], "the model artifact", sizes={artifact.digest: artifact.size})
    return _record_version(
        w,
        name,
        artifact,
        run_id=run_ops.run_id(run) if run is not None else None,
        metrics=clean_metrics,
        description=description,
        actor=w.actor(actor),
        dagster_run_id=dagster_run_id,
        asset_key=asset_key,
    ).version


def _record_version(
    w: Writer,
    name: str,
    artifact: StoredArtifact,
    *,
    run_id: str | None,
    metrics: dict[str, float],
    description: str | None,
    actor: str,
    dagster_run_id: str | None,
    asset_key: str | None,
    store_again: Callable[[], object] | None = None,
    reuse_identical: bool = False,
    durable: Callable[[], None] = lambda: None,
) -> Registration:
    """The version row, its metrics, first transition and audit event, in one transaction
    (or, with `reuse_identical`, the identical existing version and nothing written).

    `durable` returns once the artifact's bytes are durable (at once, unless their fsync
    and rename overlap this transaction: `Writer.overlaps_blob_durability`); it is called
    before the audit event, so the chain's head is never locked while the disk syncs.
    The artifact's bytes are confirmed under the audit head lock (`Writer.confirm_stored`);
    if a concurrent deletion removed them, `store_again` stores the same bytes anew and the
    transaction runs again. Bytes another process stored cannot be stored again here."""
    blob = BlobInfo(artifact.digest, artifact.size)

    def again() -> None:
        if store_again is None:
            raise IntegrityCheckError(
                f"the model artifact (sha256 {artifact.digest}) was deleted from "
                f"{w.blobs.root_uri} while it was being registered; nothing was "
                "recorded. Store it again and register it again."
            )
        store_again()

    def work(connection: Connection) -> Registration:
        at = now()
        summary = None
        if run_id is not None:
            # Before reading whether its data was deleted: see `lock_dataset`.
            run_store.lock_run_inputs(connection, run_id)
            # Read once the version number is allocated: one round trip on PostgreSQL. An
            # unknown run still writes nothing, the transaction being rolled back.
            summary = run_store.run_summary_soon(connection, run_id)

        def run_facts() -> tuple[str | None, bool]:
            """(The run's Dagster run id, trained on deleted data?); (None, False) without
            a run."""
            if summary is None:
                return None, False
            found = summary()
            if found is None:
                raise RunNotFoundError(f"no training run with id {run_id}")
            return found

        if reuse_identical:
            run_facts()
            existing = _identical_version(connection, name, blob.digest, run_id, actor, at)
            if existing is not None:
                durable()  # this call's own copy, renamed over the identical bytes
                # Nothing is written. The bytes were stored (and made durable) before
                # this transaction, and a committed row, the existing version's,
                # references them, so no gc or deletion removes them.
                return Registration(existing, reused=True)
        number = version_store.allocate_version_number(connection, name)
        if number is None:  # the model's first version: create it, then count
            version_store.ensure_model(connection, name, actor, at)
            number = version_store.allocate_version_number(connection, name)
            assert number is not None
        run_dagster_id, trained_on_deleted = run_facts()
        version = ModelVersion(
            id=str(uuid.uuid4()),
            model_name=name,
            version=number,
            stage=Stage.EXPERIMENT,
            flavor=artifact.flavor,
            python_class=artifact.python_class,
            artifact_digest=artifact.digest,
            artifact_size=artifact.size,
            created_at=at,
            created_by=actor,
            stage_changed_at=at,
            run_id=run_id,
            metrics=frozen_mapping(metrics),
            signature=artifact.signature,
            description=description,
            trained_on_deleted_data=bool(trained_on_deleted),
            dagster_run_id=dagster_run_id or run_dagster_id,
            asset_key=asset_key,
        )
        version_store.insert_version(connection, version)
        metric_store.insert_new_version_metrics(
            connection,
            version_id=version.id,
            model_name=name,
            metrics=metrics,
            actor=actor,
            at=at,
        )
        history_store.record_transition(
            connection,
            version_id=version.id,
            model_name=name,
            version=number,
            from_stage=None,
            to_stage=Stage.EXPERIMENT,
            actor=actor,
            reason=None,
            at=at,
        )
        durable()
        audit.append_event(
            connection,
            EventDraft(
                actor=actor,
                action=AuditAction.REGISTER_MODEL,
                subject_type="model_version",
                subject_id=version.id,
                model_name=name,
                after={
                    "version": number,
                    "digest": artifact.digest,
                    "flavor": artifact.flavor,
                    "run_id": run_id,
                    "metrics": metrics,
                },
            ),
        )
        w.confirm_stored([blob])
        return Registration(version, reused=False)

    return w.write_stored(work, again)


def _identical_version(
    connection: Connection, name: str, digest: str, run_id: str | None, actor: str, at: datetime
) -> ModelVersion | None:
    """The version this registration would duplicate, looked up under the model's lock
    so that a concurrent identical registration waits for ours and then finds it.

    PostgreSQL: the model row is created if missing (an INSERT that conflicts with an
    uncommitted one waits for it) and locked FOR UPDATE; under READ COMMITTED the
    lookup after the lock sees what the other transaction committed. SQLite: the write
    transaction already holds the database's write lock (BEGIN IMMEDIATE).
    """
    version_store.ensure_model(connection, name, actor, at)
    version_store.lock_model(connection, name)
    found = identity_store.find_identical_version_id(connection, name, digest, run_id)
    if found is None:
        return None
    return version_store.fetch_version(connection, ById(found))


def _store_model(
    w: Writer, chosen: flavors.Flavor, model: object, *, overlap: bool
) -> tuple[BlobInfo, Callable[[], None]]:
    """The stored blob, and what returns once it is durable. A row never commits ahead of
    its bytes, and no database lock is held while they travel (an S3 upload can take
    minutes, and every other write would wait behind it): the bytes are durable before
    the version's transaction starts, except, with `overlap`, a small local blob's last
    fsyncs, which the transaction waits for (`BlobStore.defer_max_bytes`)."""
    with w.blobs.writer(defer_durability=overlap) as writer:
        chosen.save(model, writer)
    assert writer.info is not None  # set when the block exits normally
    return writer.info, writer.wait_durable


def resolve_flavor(w: Writer, model: object, flavor: str | flavors.Flavor | None) -> flavors.Flavor:
    if flavor is None:
        chosen = flavors.infer_flavor(model)
    elif isinstance(flavor, flavors.Flavor):
        chosen = flavor
    else:
        chosen = flavors.get_flavor(flavor)
    refuse_pickle_registration(
        chosen.name, pickle_based=chosen.pickle_based, allow_pickle=w.allow_pickle
    )
    return chosen


def register_from_run(
    w: Writer,
    name: str,
    *,
    run: run_ops.RunRef,
    artifact: str,
    metrics: Mapping[str, float] | None,
    description: str | None,
    actor: str | None,
    dagster_run_id: str | None,
    asset_key: str | None,
) -> ModelVersion:
    """Register a model a finished run logged (`ActiveRun.log_model`) as the next version:
    "register the best trial" after a sweep. Its bytes are re-hashed first."""
    validate_name(name, "model name")
    clean_metrics = validate_metrics(metrics)
    validate_description(description)
    dagster_run_id, asset_key = w.dagster_context(dagster_run_id, asset_key)
    found = run_artifact_ops.get_artifact(w, run, artifact)
    status = run_ops.get(w, found.run_id).status
    if status is not RunStatus.FINISHED:
        raise InvalidInputError(
            f"run {found.run_id} is {status.value}: only a finished run's model is registered "
            "from it (leave the start_run block first, or pass the model itself)"
        )
    if found.flavor is None or found.python_class is None:
        raise InvalidInputError(
            f"artifact {artifact!r} of run {found.run_id} is a file ({found.media_type}), not "
            "a model: log the model with run.log_model(model, name=...) to register it later"
        )
    resolve_flavor(w, None, found.flavor)  # known, and pickle allowed if pickled
    w.require_blobs(
        [found.digest], "the run's model artifact", sizes={found.digest: found.size_bytes}
    )
    return _record_version(
        w,
        name,
        StoredArtifact(found.digest, found.size_bytes, found.flavor, found.python_class, None),
        run_id=found.run_id,
        metrics=clean_metrics,
        description=description,
        actor=w.actor(actor),
        dagster_run_id=dagster_run_id,
        asset_key=asset_key,
    ).version
