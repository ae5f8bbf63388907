"""Run artifacts: files, figures and models a run logs, stored content-addressed like models
(bytes first, then the row and its audit event in one transaction), listed, and downloaded
verified (a damaged blob raises IntegrityCheckError and leaves no file)."""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core import flavors
from registry_project.core.blobs import BlobInfo
from registry_project.core.entities import AuditAction, RunArtifact
from registry_project.core.errors import ArtifactNotFoundError, ConflictError, InvalidInputError
from registry_project.core.ops.run_ops import RunRef, run_id
from registry_project.core.ops.tracking_ops import require_run
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import audit
from registry_project.core.store import run_artifacts as artifact_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import check_storable_text

MAX_ARTIFACT_NAME = 256
MODEL_MEDIA_TYPE = "application/vnd.registry-project.model"


def validate_artifact_name(name: object) -> str:
    """A relative, '/'-separated name such as `plots/loss.png` (no '..', no '\\')."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_ARTIFACT_NAME:
        raise InvalidInputError(
            f"invalid artifact name {name!r}: use 1-{MAX_ARTIFACT_NAME} characters, e.g. "
            "'confusion.png' or 'plots/loss.png'"
        )
    parts = name.split("/")
    if (
        name.startswith("/")
        or "\\" in name
        or any(part in ("", ".", "..") for part in parts)
        or any(not ch.isprintable() for ch in name)
    ):
        raise InvalidInputError(
            f"invalid artifact name {name!r}: a relative path of printable characters, "
            "segments separated by '/', no empty, '.' or '..' segment and no '\\'"
        )
    return check_storable_text(name, "artifact name")


def _media_type(name: str, given: str | None) -> str:
    if given is not None:
        if not isinstance(given, str) or "/" not in given or len(given) > 256:
            raise InvalidInputError(f"media_type must look like 'image/png', got {given!r}")
        return check_storable_text(given, "media type")
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def log_artifact(
    w: Writer,
    run: RunRef,
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    name: str | None,
    media_type: str | None,
    actor: str | None,
) -> RunArtifact:
    wanted = run_id(run)
    if isinstance(source, bytes | bytearray | memoryview):
        if name is None:
            raise InvalidInputError("name the artifact when logging bytes: name='table.csv'")
        data = bytes(source)

        def store() -> BlobInfo:
            return w.blobs.put_bytes(data)

    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"cannot log {str(path)!r} as an artifact: no such file")
        name = path.name if name is None else name

        def store() -> BlobInfo:
            try:
                return w.blobs.put_file(path)
            except OSError as exc:
                raise InvalidInputError(
                    f"cannot read {str(path)!r}: {exc.strerror or exc}"
                ) from exc

    else:
        raise InvalidInputError(
            f"log_artifact takes a file path or bytes, got {type(source).__name__}; for a "
            "figure use log_figure, for a model log_model"
        )
    clean = validate_artifact_name(name)
    return _record(w, wanted, clean, _media_type(clean, media_type), store, actor=actor)


def log_figure(w: Writer, run: RunRef, figure: Any, *, name: str, actor: str | None) -> RunArtifact:
    """A figure with a matplotlib-style `savefig` (matplotlib itself is never imported
    here), saved in the format its name's extension says (PNG when it has none)."""
    savefig = getattr(figure, "savefig", None)
    if not callable(savefig):
        raise InvalidInputError(
            f"log_figure takes a matplotlib Figure (anything with savefig), got "
            f"{type(figure).__name__}; log image bytes with log_artifact"
        )
    clean = validate_artifact_name(name if "." in name.rsplit("/", 1)[-1] else f"{name}.png")
    buffer = io.BytesIO()
    savefig(buffer, format=clean.rsplit(".", 1)[-1])
    data = buffer.getvalue()
    return _record(
        w,
        run_id(run),
        clean,
        _media_type(clean, None),
        lambda: w.blobs.put_bytes(data),
        actor=actor,
    )


def log_model(
    w: Writer,
    run: RunRef,
    model: object,
    *,
    name: str,
    flavor: str | flavors.Flavor | None,
    actor: str | None,
) -> RunArtifact:
    """A model serialised through its flavor, to register later with
    `register_model(name, run=..., artifact=name)`."""
    # Imported here: registration imports this module (register_from_run).
    from registry_project.core.ops.registration import resolve_flavor

    clean = validate_artifact_name(name)
    chosen = resolve_flavor(w, model, flavor)

    def store() -> BlobInfo:
        with w.blobs.writer() as writer:
            chosen.save(model, writer)
        assert writer.info is not None
        return writer.info

    return _record(
        w,
        run_id(run),
        clean,
        MODEL_MEDIA_TYPE,
        store,
        actor=actor,
        flavor=chosen.name,
        python_class=flavors.python_class_of(model),
    )


def _record(
    w: Writer,
    wanted: str,
    name: str,
    media_type: str,
    store: Callable[[], BlobInfo],
    *,
    actor: str | None,
    flavor: str | None = None,
    python_class: str | None = None,
) -> RunArtifact:
    who = w.actor(actor)
    with w.read() as connection:  # refuse before storing bytes nothing would reference
        require_run(connection, wanted)
        _refuse_existing(connection, wanted, name)
    blob = store()  # durable before the transaction; no lock held while bytes travel

    def again() -> None:
        nonlocal blob
        blob = store()

    def work(connection: Connection) -> RunArtifact:
        require_run(connection, wanted)
        _refuse_existing(connection, wanted, name)
        artifact = RunArtifact(
            run_id=wanted,
            name=name,
            digest=blob.digest,
            size_bytes=blob.size,
            media_type=media_type,
            logged_at=now(),
            logged_by=who,
            flavor=flavor,
            python_class=python_class,
        )
        artifact_store.insert_artifact(connection, artifact)
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.LOG_RUN_ARTIFACT,
                subject_type="run",
                subject_id=wanted,
                after={
                    "name": name,
                    "digest": blob.digest,
                    "size": blob.size,
                    "media_type": media_type,
                    "flavor": flavor,
                },
            ),
        )
        w.confirm_stored([blob])
        return artifact

    return w.write_stored(work, again)


def _refuse_existing(connection: Connection, wanted: str, name: str) -> None:
    if artifact_store.fetch_artifact(connection, wanted, name) is not None:
        raise ConflictError(
            f"run {wanted} already has an artifact named {name!r}; artifacts are never "
            "replaced: log this one under another name"
        )


def list_artifacts(w: Writer, run: RunRef) -> list[RunArtifact]:
    wanted = run_id(run)
    with w.read() as connection:
        require_run(connection, wanted)
        return artifact_store.list_artifacts(connection, wanted)


def get_artifact(w: Writer, run: RunRef, name: str) -> RunArtifact:
    wanted = run_id(run)
    clean = validate_artifact_name(name)
    with w.read() as connection:
        require_run(connection, wanted)
        found = artifact_store.fetch_artifact(connection, wanted, clean)
    if found is None:
        raise ArtifactNotFoundError(
            f"run {wanted} has no artifact named {clean!r}; list them with `registry run {wanted}`"
        )
    return found


def download(
    w: Writer,
    run: RunRef,
    name: str,
    destination: str | os.PathLike[str],
    on_bytes: Callable[[int], None] | None,
) -> RunArtifact:
    artifact = get_artifact(w, run, name)
    try:
        w.blobs.download_verified(artifact.digest, destination, on_bytes)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {destination}: {exc.strerror or exc}") from exc
    return artifact
