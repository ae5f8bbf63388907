"""A model directory (MLflow's layout: MLmodel, the model file, environment files) as one
blob: a tar whose bytes depend only on the files' paths and contents, so the same directory
always has the same digest, whoever packs it and whenever.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from registry_project.core.errors import FlavorError


def files_of(directory: Path) -> list[tuple[str, Path]]:
    """Every regular file under `directory`: (its relative POSIX path, its path), sorted."""
    found = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        for name in sorted(names):
            path = Path(root, name)
            if path.is_file() and not path.is_symlink():
                found.append((path.relative_to(directory).as_posix(), path))
    return sorted(found)


def pack(directory: Path, fileobj: BinaryIO) -> None:
    """Write `directory`'s files as a tar stream (no seeking: the blob writer is a stream).

    Times, owners and permissions are fixed so the digest names the content alone."""
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for relative, path in files_of(directory):
            info = tarfile.TarInfo(relative)
            info.size = path.stat().st_size
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with path.open("rb") as source:
                tar.addfile(info, source)


def unpack(fileobj: BinaryIO, destination: Path) -> None:
    """Extract a packed directory under `destination` (files only).

    tarfile's "data" filter refuses absolute paths, `..`, links and devices, so an artifact
    cannot write outside `destination` whoever made it."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=fileobj, mode="r:") as tar:
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise FlavorError(f"cannot unpack the model directory: {exc}") from exc


def read_members(data: bytes) -> dict[str, bytes]:
    """The files of a packed directory held in memory: relative path -> bytes (for tests
    and small directories)."""
    members = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                members[str(PurePosixPath(member.name))] = extracted.read()
    return members
