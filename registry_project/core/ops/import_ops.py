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
from registry_project.core.entities import (
    ModelVersion,
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
from registry_project.core.ops import import_records as records
from registry_project.core.ops import tag_ops
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import imports as import_store
from registry_project.core.store import stage_history as history_store
from registry_project.core.store import tags as tag_store
from registry_project.core.store import version_metrics as metric_store
from registry_project.core.store import versions as version_store
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
    who = w.actor(actor)
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
        records.record_import(
            connection,
            source,
            kind="model",
            external_id=model.name,
            local_id=model.name,
            details=details,
            who=who,
            at=at,
            subject_type="model",
            shown={**details, "described": described},
            model_name=model.name,
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
        run_id = records.import_run(connection, source, run, who, at) if run is not None else None
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
            python_class=records.python_class(artifact.details["mlflow_flavors"], artifact.flavor),
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
        metric_store.insert_new_version_metrics(
            connection,
            version_id=entity.id,
            model_name=entity.model_name,
            metrics=metrics,
            actor=creator,
            at=version.created_at,
        )
        history_store.record_transition(
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
        final_stage = records.import_stage(connection, entity, stage, version, who, notes)
        for alias in aliases:
            records.import_alias(connection, entity, alias, who, at)
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
        records.record_import(
            connection,
            source,
            kind="version",
            external_id=key,
            local_id=entity.id,
            details=details,
            who=who,
            at=at,
            subject_type="model_version",
            shown=details,
            model_name=entity.model_name,
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
