"""`import_mlflow`: an MLflow registry's models, versions and their source runs, one
version at a time through the write recipe.

For each version: read its run and download its model directory (MLflow's client,
`core/mlflow_source.py`), store the directory's bytes (content-addressed, durable before
any row), then one transaction holding the version, its run and dataset references (when
not imported before), its stage, aliases and tags, the import records
(`store/imports.py`) and one `import` audit event per item. A version that fails anywhere
before the commit leaves nothing but unreferenced bytes (gc's to remove); the import
records make a second import skip what the first committed, so an interrupted import run
again continues where it stopped.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core import flavors, model_dirs
from registry_project.core import mlflow_import as mapping
from registry_project.core.blobs import BlobInfo
from registry_project.core.config import resolve_actor
from registry_project.core.entities import (
    AuditAction,
    ModelVersion,
    RunInput,
    Stage,
    frozen_mapping,
)
from registry_project.core.errors import (
    ConflictError,
    ImportSourceError,
    InvalidInputError,
    RegistryError,
)
from registry_project.core.mlflow_source import (
    MlflowModel,
    MlflowModelDir,
    MlflowSource,
    MlflowVersion,
)
from registry_project.core.ops import governance_ops, tag_ops
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import aliases as alias_store
from registry_project.core.store import audit
from registry_project.core.store import datasets as dataset_store
from registry_project.core.store import imports as import_store
from registry_project.core.store import runs as run_store
from registry_project.core.store import tags as tag_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import validate_description, validate_name

# Called as (done, total, what) after each version: the CLI draws its progress bar with it.
Progress = Callable[[int, int, str], None]

# A file a version's source names directly (not an MLflow model directory), by suffix.
_FILE_FLAVORS = {".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib"}


@dataclass(frozen=True)
class _Artifact:
    blob: BlobInfo
    flavor: str
    details: dict[str, Any]
    columns: Any


def import_mlflow(
    w: Writer,
    *,
    tracking_uri: str,
    registry_uri: str | None,
    models: Sequence[str] | None,
    dry_run: bool,
    actor: str | None,
    progress: Progress | None = None,
) -> mapping.ImportReport:
    who = resolve_actor(actor)
    if models is not None and (
        isinstance(models, str) or not all(isinstance(m, str) for m in models)
    ):
        raise InvalidInputError("models must be a list of MLflow registered model names")
    source = MlflowSource(tracking_uri, registry_uri)
    imported: list[mapping.ImportedItem] = []
    skipped: list[mapping.ImportedItem] = []
    failed: list[mapping.ImportFailure] = []
    with w.read() as connection:
        done_models = import_store.imported_ids(connection, source.source_id, "model")
        done_versions = import_store.imported_ids(connection, source.source_id, "version")
    plan: list[tuple[MlflowModel, list[MlflowVersion]]] = []
    for model in source.models(list(models) if models else None):
        try:
            validate_name(model.name, "model name")
        except RegistryError as exc:
            failed.append(mapping.ImportFailure("model", model.name, str(exc)))
            continue
        plan.append((model, source.versions(model)))
    total = sum(1 for _, vs in plan for v in vs if mapping.version_key(v) not in done_versions)
    done = 0
    for model, versions in plan:
        if model.name in done_models:
            skipped.append(mapping.ImportedItem("model", model.name, model.name))
        elif dry_run:
            imported.append(mapping.ImportedItem("model", model.name, model.name, "would import"))
        else:
            try:
                imported.append(_import_model(w, source, model, who))
            except RegistryError as exc:
                failed.append(mapping.ImportFailure("model", model.name, str(exc)))
                continue
        production = mapping.production_choice(versions)
        for version in versions:
            key = mapping.version_key(version)
            if key in done_versions:
                skipped.append(mapping.ImportedItem("version", key, done_versions[key]))
                continue
            if dry_run:
                imported.append(mapping.ImportedItem("version", key, None, "would import"))
            else:
                try:
                    item = _import_version(w, source, version, production, who)
                except RegistryError as exc:
                    failed.append(mapping.ImportFailure("version", key, str(exc)))
                else:
                    (imported if item.note != "imported meanwhile" else skipped).append(item)
            done += 1
            if progress is not None:
                progress(done, total, key)
    return mapping.ImportReport(
        source.source_id, dry_run, tuple(imported), tuple(skipped), tuple(failed)
    )


def _import_model(
    w: Writer, source: MlflowSource, model: MlflowModel, who: str
) -> mapping.ImportedItem:
    description = model.description
    validate_description(description)
    tags = _usable_tags(model.tags)

    def work(connection: Connection) -> mapping.ImportedItem:
        at = now()
        if import_store.local_id(connection, source.source_id, "model", model.name):
            return mapping.ImportedItem("model", model.name, model.name, "imported meanwhile")
        created = version_store.ensure_model(connection, model.name, who, model.created_at)
        version_store.lock_model(connection, model.name)
        described = bool(description) and import_store.describe_model(
            connection, model.name, description or ""
        )
        for key, value in tags.items():
            exists = tag_store.fetch_value(connection, model.name, None, key) is not None
            tag_store.put_tag(
                connection, model.name, None, key, value, actor=who, at=at, exists=exists
            )
        details = {
            "mlflow_model": model.name,
            "created_at": model.created_at.isoformat(),
            "description": description,
            "tags": dict(model.tags),
            "new_here": created,
        }
        import_store.record(
            connection,
            source=source.source_id,
            kind="model",
            external_id=model.name,
            local_id=model.name,
            details=details,
            actor=who,
            at=at,
        )
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.IMPORT,
                subject_type="model",
                subject_id=model.name,
                model_name=model.name,
                after={"source": source.source_id, **details, "described": described},
            ),
        )
        return mapping.ImportedItem("model", model.name, model.name)

    return w.write(work)


def _usable_tags(tags: Any) -> dict[str, str]:
    usable = {}
    for key, value in tags.items():
        try:
            usable[tag_ops.validate_tag_key(key)] = tag_ops.validate_tag_value(value)
        except RegistryError:
            continue  # named in the import record's details (every tag is kept there)
    return usable


def _store_artifact(w: Writer, source: MlflowSource, version: MlflowVersion) -> _Artifact:
    """Download the version's model and store its bytes; nothing recorded yet."""
    with tempfile.TemporaryDirectory(prefix="registry-import-") as tmp:
        downloaded: MlflowModelDir = source.download(version, Path(tmp))
        path = downloaded.path
        if path.is_dir():
            if not (path / "MLmodel").is_file():
                raise ImportSourceError(
                    f"{mapping.version_key(version)}: {version.source} is a directory "
                    "without an MLmodel file; not an MLflow model"
                )
            with w.blobs.writer() as writer:
                model_dirs.pack(path, writer)
            flavor = "mlflow"
            files = {name: p.stat().st_size for name, p in model_dirs.files_of(path)}
        else:
            flavor = _FILE_FLAVORS.get(path.suffix.lower(), "")
            if not flavor:
                raise ImportSourceError(
                    f"{mapping.version_key(version)}: {version.source} is a single file of "
                    "unknown format; give it a .pkl or .joblib name or log it as an MLflow model"
                )
            with path.open("rb") as file, w.blobs.writer() as writer:
                while chunk := file.read(1 << 20):
                    writer.write(chunk)
            files = {path.name: path.stat().st_size}
    assert writer.info is not None
    details = {
        "mlflow_flavors": list(downloaded.flavors),
        "mlflow_signature": downloaded.signature,
        "mlflow_model_uuid": downloaded.model_uuid,
        "files": files,
    }
    return _Artifact(writer.info, flavor, details, mapping.signature_columns(downloaded.signature))


def _import_version(
    w: Writer,
    source: MlflowSource,
    version: MlflowVersion,
    production: int | None,
    who: str,
) -> mapping.ImportedItem:
    key = mapping.version_key(version)
    validate_description(version.description)
    run = source.run(version.run_id) if version.run_id else None
    metrics, notes = mapping.finite_metrics(run) if run else ({}, [])
    stage, note = mapping.target_stage(version, production)
    notes += [note] if note else []
    aliases, alias_notes = mapping.usable_aliases(version)
    notes += alias_notes
    tags = _usable_tags(version.tags)
    flavor_check = flavors.get_flavor("mlflow")
    if flavor_check.pickle_based and not w.allow_pickle:
        raise InvalidInputError(
            "this registry was opened with allow_pickle=False; MLflow model directories "
            "load through code (pickles); open it with allow_pickle=True to import them"
        )
    artifact = _store_artifact(w, source, version)
    creator = (version.creator or (run.user if run else None) or mapping.IMPORT_ACTOR_FALLBACK)[
        :256
    ]

    def again() -> None:
        nonlocal artifact
        artifact = _store_artifact(w, source, version)

    def work(connection: Connection) -> mapping.ImportedItem:
        at = now()
        existing = import_store.local_id(connection, source.source_id, "version", key)
        if existing is not None:
            return mapping.ImportedItem("version", key, existing, "imported meanwhile")
        version_store.ensure_model(connection, version.model_name, who, version.created_at)
        version_store.lock_model(connection, version.model_name)
        run_id = _import_run(connection, source, run, who, at) if run is not None else None
        last = import_store.last_version(connection, version.model_name)
        gaps: list[int] = []
        renumbered_from = None
        if version.version > last:
            gaps = list(range(last + 1, version.version))
            import_store.keep_number(connection, version.model_name, version.version)
            number = version.version
        else:  # taken here by a version registered before the import: the next number
            number = version_store.allocate_version_number(connection, version.model_name)
            assert number is not None
            renumbered_from = version.version
        entity = ModelVersion(
            id=str(uuid.uuid4()),
            model_name=version.model_name,
            version=number,
            stage=Stage.EXPERIMENT,
            flavor=artifact.flavor,
            python_class=_python_class(artifact),
            artifact_digest=artifact.blob.digest,
            artifact_size=artifact.blob.size,
            created_at=version.created_at,
            created_by=creator,
            stage_changed_at=version.created_at,
            run_id=run_id,
            metrics=frozen_mapping(metrics),
            signature=artifact.columns,
            description=version.description,
        )
        version_store.insert_version(connection, entity)
        version_store.insert_new_version_metrics(
            connection,
            version_id=entity.id,
            model_name=entity.model_name,
            metrics=metrics,
            actor=creator,
            at=version.created_at,
        )
        version_store.record_transition(
            connection,
            version_id=entity.id,
            model_name=entity.model_name,
            version=number,
            from_stage=None,
            to_stage=Stage.EXPERIMENT,
            actor=creator,
            reason=None,
            at=version.created_at,
        )
        final_stage = _import_stage(connection, entity, stage, version, who, notes)
        for alias in aliases:
            _import_alias(connection, entity, alias, who, at)
        for tag_key, value in tags.items():
            tag_store.put_tag(
                connection,
                entity.model_name,
                entity.id,
                tag_key,
                value,
                actor=who,
                at=at,
                exists=False,
            )
        details = {
            "mlflow_model": version.model_name,
            "mlflow_version": version.version,
            "mlflow_run_id": version.run_id,
            "mlflow_source": version.source,
            "mlflow_stage": version.stage,
            "mlflow_aliases": list(version.aliases),
            "mlflow_tags": dict(version.tags),
            "mlflow_status": version.status,
            "version": number,
            "stage": final_stage.value,
            "gaps_before": gaps,
            "renumbered_from": renumbered_from,
            "digest": artifact.blob.digest,
            "flavor": artifact.flavor,
            "notes": notes,
            **artifact.details,
        }
        import_store.record(
            connection,
            source=source.source_id,
            kind="version",
            external_id=key,
            local_id=entity.id,
            details=details,
            actor=who,
            at=at,
        )
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.IMPORT,
                subject_type="model_version",
                subject_id=entity.id,
                model_name=entity.model_name,
                after={"source": source.source_id, **details},
            ),
        )
        w.confirm_stored([artifact.blob])
        ref = f"{entity.model_name}/{number}"
        said = "; ".join(
            notes
            + ([f"numbers {gaps[0]}-{gaps[-1]} absent in MLflow (gap kept)"] if gaps else [])
            + ([f"renumbered from {renumbered_from}: taken here"] if renumbered_from else [])
        )
        return mapping.ImportedItem("version", key, ref, said or None)

    try:
        return w.write_stored(work, again)
    except ConflictError as exc:
        raise ConflictError(f"{key}: {exc}") from exc


def _python_class(artifact: _Artifact) -> str:
    # Recorded for people: which of MLflow's flavors the directory holds.
    named = ",".join(artifact.details["mlflow_flavors"]) or artifact.flavor
    return f"mlflow:{named}"[:512]


def _import_stage(
    connection: Connection,
    entity: ModelVersion,
    stage: Stage,
    version: MlflowVersion,
    who: str,
    notes: list[str],
) -> Stage:
    if stage is Stage.EXPERIMENT:
        return stage
    if stage is Stage.PRODUCTION:
        current = version_store.fetch_production(connection, entity.model_name)
        if current is not None:
            notes.append(
                f"Production in MLflow, imported archived: {current.ref} is production here"
            )
            stage = Stage.ARCHIVED
    if stage in (Stage.STAGING, Stage.PRODUCTION):
        governance_ops.check_stage_entry(connection, entity, stage)
    version_store.set_stage(connection, entity.id, stage, version.updated_at)
    version_store.record_transition(
        connection,
        version_id=entity.id,
        model_name=entity.model_name,
        version=entity.version,
        from_stage=Stage.EXPERIMENT,
        to_stage=stage,
        actor=who,
        reason=f"imported from MLflow (stage {version.stage})",
        at=version.updated_at,
    )
    return stage


def _import_alias(
    connection: Connection, entity: ModelVersion, alias: str, who: str, at: Any
) -> None:
    governance_ops.check_alias_entry(connection, entity, alias)
    current = alias_store.fetch_alias(connection, entity.model_name, alias)
    before = None
    if current is not None:
        moved = version_store.fetch_by_id(connection, current.version_id)
        before = moved.version if moved is not None else None
    alias_store.put_alias(
        connection,
        entity.model_name,
        alias,
        entity.id,
        actor=who,
        at=at,
        exists=current is not None,
    )
    alias_store.record_change(
        connection,
        entity.model_name,
        alias,
        from_version=before,
        to_version=entity.version,
        actor=who,
        reason="imported from MLflow",
        at=at,
    )


def _import_run(connection: Connection, source: MlflowSource, run: Any, who: str, at: Any) -> str:
    """The version's source run (and its dataset references), unless imported before."""
    existing = import_store.local_id(connection, source.source_id, "run", run.run_id)
    if existing is not None:
        return existing
    inputs = []
    for dataset in run.datasets:
        dataset_id = _import_dataset(connection, source, run, dataset, who, at)
        inputs.append(RunInput(dataset_id, mapping.role_of(dataset)))
    entity, params_json = mapping.training_run(run, _unique(inputs))
    metrics, _ = mapping.finite_metrics(run)
    run_store.insert_run(connection, entity, params_json=params_json)
    if entity.ended_at is not None:  # a new run's row has no end; MLflow's ended
        run_store.finish_run(
            connection,
            entity.id,
            status=entity.status.value,
            ended_at=entity.ended_at,
            error=entity.error,
        )
    run_store.upsert_run_metrics(
        connection, entity.id, metrics, entity.ended_at or entity.started_at
    )
    details = {
        "mlflow_run_id": run.run_id,
        "mlflow_experiment_id": run.experiment_id,
        "mlflow_status": run.status,
        "tags": dict(run.tags),
        "metric_history_lengths": dict(run.metric_steps),
    }
    import_store.record(
        connection,
        source=source.source_id,
        kind="run",
        external_id=run.run_id,
        local_id=entity.id,
        details=details,
        actor=who,
        at=at,
    )
    audit.append_event(
        connection,
        EventDraft(
            actor=who,
            action=AuditAction.IMPORT,
            subject_type="run",
            subject_id=entity.id,
            after={"source": source.source_id, "name": entity.name, **details},
        ),
    )
    return entity.id


def _unique(inputs: list[RunInput]) -> list[RunInput]:
    seen, unique = set(), []
    for item in inputs:
        if item.dataset_id not in seen:
            seen.add(item.dataset_id)
            unique.append(item)
    return unique


def _import_dataset(
    connection: Connection, source: MlflowSource, run: Any, dataset: Any, who: str, at: Any
) -> str:
    key = mapping.dataset_key(dataset)
    existing = import_store.local_id(connection, source.source_id, "dataset", key)
    if existing is not None:
        return existing
    snapshot = mapping.dataset_reference(dataset, run, who, at)
    dataset_store.insert_dataset(connection, snapshot)
    details = {
        "mlflow_name": dataset.name,
        "mlflow_digest": dataset.digest,
        "mlflow_source_type": dataset.source_type,
        "mlflow_source": dataset.source_uri,
        "first_run": run.run_id,
    }
    import_store.record(
        connection,
        source=source.source_id,
        kind="dataset",
        external_id=key,
        local_id=snapshot.id,
        details=details,
        actor=who,
        at=at,
    )
    audit.append_event(
        connection,
        EventDraft(
            actor=who,
            action=AuditAction.IMPORT,
            subject_type="dataset",
            subject_id=snapshot.id,
            dataset_name=snapshot.name,
            after={"source": source.source_id, "uri": snapshot.uri, **details},
        ),
    )
    return snapshot.id
