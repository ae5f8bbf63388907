"""Every path that reads stored bytes refuses a damaged blob, on every backend.

`registry download` (CLI), `export_artifact`, `load_model`, and `load_dataset` as pandas
and as Arrow, on a local directory and on S3 (moto's server over HTTP), with SQLite and
PostgreSQL metadata: each raises `IntegrityCheckError` (the CLI: exit 1 and one `error:`
line), and no file appears under the target name; a file already there is left as it was.
(The web UI serves no artifact or dataset bytes, so it has no read path to test here.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from registry_project import ModelRegistry
from registry_project.cli import cli
from registry_project.core.errors import IntegrityCheckError
from registry_project_tests.corruption import DAMAGES, damage_blob

DAMAGE_PARAMS = [pytest.param(damage, id=name) for name, damage in DAMAGES.items()]


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _damaged_version(registry: ModelRegistry, damage: Callable[[bytes], bytes]) -> str:
    version = registry.register_model("churn", {"weights": list(range(2000))})
    damage_blob(registry, version.artifact_digest, damage)
    return version.id


@pytest.mark.parametrize("damage", DAMAGE_PARAMS)
def test_export_artifact_refuses_and_writes_no_file(
    registry: ModelRegistry, tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    version_id = _damaged_version(registry, damage)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityCheckError, match="is corrupt"):
        registry.export_artifact(version_id, out / "model.pkl")
    assert _files(out) == []  # neither the target nor a partial file


def test_export_artifact_leaves_an_existing_file_as_it_was(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    version_id = _damaged_version(registry, DAMAGES["flipped byte"])
    out = tmp_path / "out"
    out.mkdir()
    target = out / "model.pkl"
    target.write_bytes(b"the previous model")
    with pytest.raises(IntegrityCheckError):
        registry.export_artifact(version_id, target)
    assert target.read_bytes() == b"the previous model"
    assert _files(out) == ["model.pkl"]


@pytest.mark.parametrize("damage", DAMAGE_PARAMS)
def test_load_model_refuses(registry: ModelRegistry, damage: Callable[[bytes], bytes]) -> None:
    version_id = _damaged_version(registry, damage)
    with pytest.raises(IntegrityCheckError, match="It was not deserialised"):
        registry.load_model(version_id)


@pytest.mark.parametrize("as_arrow", [False, True], ids=["pandas", "arrow"])
@pytest.mark.parametrize("damage", DAMAGE_PARAMS)
def test_load_dataset_refuses(
    registry: ModelRegistry, damage: Callable[[bytes], bytes], as_arrow: bool
) -> None:
    snapshot = registry.snapshot_dataset(
        "customers", pd.DataFrame({"x": range(2000), "y": [0.5] * 2000})
    )
    damage_blob(registry, snapshot.digest, damage)
    with pytest.raises(IntegrityCheckError, match=snapshot.digest):
        registry.load_dataset(snapshot, as_arrow=as_arrow)


@pytest.mark.parametrize("damage", DAMAGE_PARAMS)
def test_cli_download_refuses_and_writes_no_file(
    registry: ModelRegistry,
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version_id = _damaged_version(registry, damage)
    endpoint = getattr(registry.blobs, "endpoint_url", None)
    if endpoint:
        monkeypatch.setenv("REGISTRY_S3_ENDPOINT_URL", endpoint)
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.pkl").write_bytes(b"the previous model")
    base = [
        "--database-url",
        registry.config.database_url,
        "--artifact-root",
        registry.config.artifact_root,
    ]
    for name in ("model.pkl", "kept.pkl"):
        result = CliRunner().invoke(cli, [*base, "download", version_id, "-o", str(out / name)])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: ") and "is corrupt" in result.stderr
        assert "Traceback" not in result.output
        assert result.stdout == ""
    assert _files(out) == ["kept.pkl"]
    assert (out / "kept.pkl").read_bytes() == b"the previous model"


def test_cli_download_of_an_intact_blob_still_works(
    registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refusals above mean something only if the same command succeeds on good bytes.
    version = registry.register_model("churn", {"weights": list(range(2000))})
    endpoint = getattr(registry.blobs, "endpoint_url", None)
    if endpoint:
        monkeypatch.setenv("REGISTRY_S3_ENDPOINT_URL", endpoint)
    target = tmp_path / "model.pkl"
    result = CliRunner().invoke(
        cli,
        [
            "--database-url",
            registry.config.database_url,
            "--artifact-root",
            registry.config.artifact_root,
            "download",
            version.id,
            "-o",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    assert target.stat().st_size == version.artifact_size
