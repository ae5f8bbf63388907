"""What a training process outside the registry's own process reports back.

A training that runs elsewhere (a subprocess, a Kubernetes pod, Databricks, ...) writes
its bytes straight into the registry's content-addressed blob store: the model artifact,
the package list and the environment files. It never touches the metadata database. It
hands back a `StoredArtifact` and a `StoredSoftware` (digests, not bytes) which the
registry's own process checks against the blob store before it records a run and a
version. A process that dies before reporting leaves only unreferenced blobs, which `gc`
removes after its grace period; never a row.

The wire form (`to_json` / `from_json`) is plain JSON so any transport can carry it
(Dagster Pipes messages in `registry_project.pipes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry_project.core import flavors
from registry_project.core.blobs import BlobStore, check_digest
from registry_project.core.entities import CodeVersion, Column
from registry_project.core.environment import capture_software
from registry_project.core.errors import InvalidInputError


@dataclass(frozen=True)
class StoredArtifact:
    """A model artifact already in the blob store, with how to load it."""

    digest: str
    size: int
    flavor: str
    python_class: str | None = None
    signature: tuple[Column, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "size": self.size,
            "flavor": self.flavor,
            "python_class": self.python_class,
            "signature": None
            if self.signature is None
            else [[c.name, c.type] for c in self.signature],
        }

    @classmethod
    def from_json(cls, data: Any) -> StoredArtifact:
        record = _mapping(data, "artifact", ("digest", "size", "flavor"))
        digest = check_digest(record["digest"])
        size = record["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInputError(f"artifact size must be a non-negative integer, got {size!r}")
        signature = record.get("signature")
        columns = None
        if signature is not None:
            try:
                columns = tuple(Column(str(name), str(kind)) for name, kind in signature)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"artifact signature must be a list of [name, type] pairs: {exc}"
                ) from exc
        return cls(
            digest=digest,
            size=size,
            flavor=_text(record["flavor"], "artifact flavor"),
            python_class=record.get("python_class"),
            signature=columns,
        )


@dataclass(frozen=True)
class StoredSoftware:
    """The code version and environment captured where a run executed, with the package
    list and environment files already stored as blobs."""

    code: CodeVersion
    python_version: str
    platform: str
    packages_digest: str
    package_count: int
    files: tuple[tuple[str, str, int], ...] = ()  # (name, digest, size)

    @property
    def digests(self) -> tuple[str, ...]:
        return (self.packages_digest, *(digest for _, digest, _ in self.files))

    def to_json(self) -> dict[str, Any]:
        return {
            "code": {
                "commit": self.code.commit,
                "dirty": self.code.dirty,
                "remote": self.code.remote,
                "branch": self.code.branch,
            },
            "python_version": self.python_version,
            "platform": self.platform,
            "packages_digest": self.packages_digest,
            "package_count": self.package_count,
            "files": [list(entry) for entry in self.files],
        }

    @classmethod
    def from_json(cls, data: Any) -> StoredSoftware:
        record = _mapping(
            data, "software", ("code", "python_version", "platform", "packages_digest")
        )
        code = _mapping(record["code"], "software code", ())
        files = []
        for entry in record.get("files") or ():
            try:
                name, digest, size = entry
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"software files must be [name, digest, size] triples, got {entry!r}"
                ) from exc
            files.append((_text(name, "environment file name"), check_digest(digest), int(size)))
        return cls(
            code=CodeVersion(
                commit=code.get("commit"),
                dirty=code.get("dirty"),
                remote=code.get("remote"),
                branch=code.get("branch"),
            ),
            python_version=_text(record["python_version"], "python_version"),
            platform=_text(record["platform"], "platform"),
            packages_digest=check_digest(record["packages_digest"]),
            package_count=int(record.get("package_count") or 0),
            files=tuple(files),
        )


def store_model(
    blobs: BlobStore, model: object, *, flavor: str | None = None, signature: Any = None
) -> StoredArtifact:
    """Serialise `model` (flavor inferred as in `register_model`) straight into `blobs`."""
    chosen = flavors.get_flavor(flavor) if flavor else flavors.infer_flavor(model)
    with blobs.writer() as writer:
        chosen.save(model, writer)
    return StoredArtifact(
        digest=writer.info.digest,
        size=writer.info.size,
        flavor=chosen.name,
        python_class=flavors.python_class_of(model),
        signature=None if signature is None else flavors.signature_from_sample(signature),
    )


def store_software(blobs: BlobStore, start: Path | None = None) -> StoredSoftware:
    """Capture the code version and environment of this process (git work tree and project
    root of `start`, default the working directory) and store its files in `blobs`."""
    code, captured = capture_software(start)
    packages = blobs.put_bytes(captured.packages_text())
    files = []
    for relative, path in captured.files:
        try:
            stored = blobs.put_file(path)
        except OSError:  # deleted or unreadable since the capture: leave it out
            continue
        files.append((relative, stored.digest, stored.size))
    return StoredSoftware(
        code=code,
        python_version=captured.python_version,
        platform=captured.platform,
        packages_digest=packages.digest,
        package_count=len(captured.packages),
        files=tuple(files),
    )


def _mapping(data: Any, what: str, required: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"{what} must be a JSON object, got {type(data).__name__}")
    missing = [key for key in required if key not in data]
    if missing:
        raise InvalidInputError(f"{what} is missing {', '.join(missing)}")
    return data


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    return value
