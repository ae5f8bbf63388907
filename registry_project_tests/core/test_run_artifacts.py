"""Run artifacts on every backend (SQLite and PostgreSQL, local disk and S3): logged,
listed, downloaded byte-identical, refused when damaged, kept by gc, checked by verify."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from registry_project import ModelRegistry
from registry_project.core.entities import AuditAction
from registry_project.core.errors import (
    ArtifactNotFoundError,
    ConflictError,
    IntegrityCheckError,
    InvalidInputError,
    RunNotFoundError,
)
from registry_project_tests.corruption import damage_blob


def _png(width: int = 4, height: int = 3) -> bytes:
    """A real, tiny RGB PNG (what a figure's savefig writes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\0" + b"".join(bytes([x * 60, y * 80, 128]) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Figure:
    """The part of matplotlib's Figure that log_figure uses (matplotlib is not a
    dependency): savefig(file, format=...)."""

    def __init__(self) -> None:
        self.formats: list[str] = []

    def savefig(self, target, format: str) -> None:
        self.formats.append(format)
        target.write(_png())


def test_a_figure_and_a_csv_are_logged_listed_and_downloaded_identical(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    csv = tmp_path / "importances.csv"
    csv.write_bytes(b"feature,importance\ntenure,0.5\nspend,0.25\n")
    figure = Figure()
    with registry.start_run("trial", capture_environment=False) as run:
        logged_csv = run.log_artifact(csv)
        logged_png = run.log_figure(figure, "plots/confusion")
        run.log_artifact(b"{}", name="notes.json")
    assert figure.formats == ["png"]
    assert (logged_csv.name, logged_csv.media_type) == ("importances.csv", "text/csv")
    assert (logged_png.name, logged_png.media_type) == ("plots/confusion.png", "image/png")
    listed = registry.run_artifacts(run.id)
    assert [(a.name, a.size_bytes) for a in listed] == [
        ("importances.csv", csv.stat().st_size),
        ("notes.json", 2),
        ("plots/confusion.png", len(_png())),
    ]
    registry.download_run_artifact(run.id, "importances.csv", tmp_path / "out.csv")
    registry.download_run_artifact(run, "plots/confusion.png", tmp_path / "out.png")
    assert (tmp_path / "out.csv").read_bytes() == csv.read_bytes()
    assert (tmp_path / "out.png").read_bytes() == _png()
    events = [e for e in registry.audit_log() if e.action == AuditAction.LOG_RUN_ARTIFACT.value]
    assert len(events) == 3 and {e.subject_id for e in events} == {run.id}
    assert registry.verify().ok


def test_a_flipped_byte_is_refused_on_download_and_reported_by_verify(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    with registry.start_run("trial", capture_environment=False) as run:
        artifact = run.log_artifact(b"x" * 5000, name="table.csv")
    damage_blob(registry, artifact.digest)
    target = tmp_path / "out.csv"
    with pytest.raises(IntegrityCheckError):
        registry.download_run_artifact(run.id, "table.csv", target)
    assert not target.exists() and list(tmp_path.glob("out.csv*")) == []
    problems = registry.verify().problems
    assert [p.subject for p in problems] == [artifact.digest]


def test_gc_keeps_run_artifacts(registry: ModelRegistry) -> None:
    with registry.start_run("trial", capture_environment=False) as run:
        kept = run.log_artifact(b"kept bytes", name="kept.bin")
        run.log_model({"w": 1})
    orphan = registry.blobs.put_bytes(b"nobody points here")
    report = registry.gc(dry_run=False, grace_period=timedelta(0))
    assert report.deleted == (orphan.digest,)
    assert registry.blobs.read_bytes(kept.digest) == b"kept bytes"
    assert registry.register_model("churn", run=run.id, artifact="model").version == 1
    assert registry.load_model("churn/1") == {"w": 1}


def test_bad_artifacts_are_refused_and_write_nothing(
    sqlite_registry: ModelRegistry, tmp_path: Path
) -> None:
    reg = sqlite_registry
    with reg.start_run("trial", capture_environment=False) as run:
        run.log_artifact(b"1", name="a.txt")
        with pytest.raises(ConflictError, match="never replaced"):
            run.log_artifact(b"2", name="a.txt")
        for name in ("../up.txt", "/abs.txt", "a//b", "a\\b", "", "x" * 257, "tab\there"):
            with pytest.raises(InvalidInputError):
                run.log_artifact(b"2", name=name)
        with pytest.raises(InvalidInputError, match="name the artifact"):
            run.log_artifact(b"2")
        with pytest.raises(InvalidInputError, match="no such file"):
            run.log_artifact(tmp_path / "missing.csv")
        with pytest.raises(InvalidInputError, match="file path or bytes"):
            run.log_artifact(12)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="savefig"):
            run.log_figure(object(), "plot")
    assert [a.name for a in reg.run_artifacts(run)] == ["a.txt"]
    assert reg.blobs.read_bytes(reg.run_artifacts(run)[0].digest) == b"1"
    with pytest.raises(ArtifactNotFoundError, match="registry run"):
        reg.download_run_artifact(run.id, "b.txt", tmp_path / "b.txt")
    with pytest.raises(RunNotFoundError):
        reg.log_run_artifact("00000000-0000-0000-0000-000000000000", b"1", name="a.txt")
