"""A write heals a corrupt copy of its bytes; verify() lists every problem, including rows
changed in SQL behind the audit log's back (issue 19, items 6-7)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from registry_project import ModelRegistry
from registry_project.core.store.schema import datasets, model_versions

MODEL = {"weights": list(range(1000))}


def _blob_path(registry: ModelRegistry, digest: str) -> Path:
    return Path(registry.blobs.uri_for(digest))


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "emptied"])
def test_registering_identical_bytes_heals_a_corrupt_copy_on_disk(
    sqlite_registry: ModelRegistry, damage: str
) -> None:
    first = sqlite_registry.register_model("churn", MODEL, flavor="pickle")
    path = _blob_path(sqlite_registry, first.artifact_digest)
    data = bytearray(path.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data[: len(data) // 2] if damage == "truncated" else data))
    if damage == "emptied":
        path.write_bytes(b"")
    assert not sqlite_registry.verify().ok

    second = sqlite_registry.register_model("churn", MODEL, flavor="pickle")

    assert second.artifact_digest == first.artifact_digest  # still stored once
    assert sqlite_registry.load_model(second) == MODEL
    assert sqlite_registry.load_model(first) == MODEL  # healed for every version
    assert sqlite_registry.verify().ok


@pytest.mark.parametrize("damage", ["truncated", "flipped byte (same size)"])
def test_registering_identical_bytes_heals_a_corrupt_object_on_s3(
    s3_server: str, s3_bucket: str, tmp_path: Path, damage: str
) -> None:
    import boto3

    registry = ModelRegistry.open(
        f"sqlite:///{tmp_path / 'r.db'}", f"s3://{s3_bucket}/r", s3_endpoint_url=s3_server
    )
    with registry:
        first = registry.register_model("churn", MODEL, flavor="pickle")
        key = registry.blobs.uri_for(first.artifact_digest).removeprefix(f"s3://{s3_bucket}/")
        client = boto3.client("s3", endpoint_url=s3_server)
        body = bytearray(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
        if damage == "truncated":
            body = body[:-10]
        else:
            body[len(body) // 2] ^= 0xFF
        client.put_object(Bucket=s3_bucket, Key=key, Body=bytes(body))
        assert not registry.verify().ok

        second = registry.register_model("churn", MODEL, flavor="pickle")

        assert second.artifact_digest == first.artifact_digest  # still one object
        assert registry.load_model(second) == MODEL
        assert registry.load_model(first) == MODEL
        assert registry.verify().ok


def test_verify_lists_every_unreadable_and_corrupt_blob(sqlite_registry: ModelRegistry) -> None:
    first = sqlite_registry.register_model("churn", {"v": 1})
    second = sqlite_registry.register_model("churn", {"v": 2})
    snapshot = sqlite_registry.snapshot_dataset("customers", pd.DataFrame({"a": [1, 2]}))
    in_the_way = _blob_path(sqlite_registry, first.artifact_digest)
    in_the_way.unlink()
    in_the_way.mkdir()  # a directory where the blob file should be
    corrupt = _blob_path(sqlite_registry, second.artifact_digest)
    corrupt.write_bytes(b"not the model")
    _blob_path(sqlite_registry, snapshot.digest).unlink()

    report = sqlite_registry.verify()

    found = {(problem.kind, problem.subject) for problem in report.problems}
    assert found == {
        ("blob_unreadable", first.artifact_digest),
        ("blob_corrupt", second.artifact_digest),
        ("blob_missing", snapshot.digest),
    }
    assert report.blobs_checked >= 3


def _execute(registry: ModelRegistry, statement: sa.Executable) -> None:
    with registry.engine.begin() as connection:
        connection.execute(statement)


def test_verify_sees_rows_changed_in_sql_behind_the_audit_log(registry: ModelRegistry) -> None:
    first = registry.register_model("churn", {"v": 1})
    second = registry.register_model("churn", {"v": 2})
    registry.promote(second, actor="alice", reason="better")
    snapshot = registry.snapshot_dataset("customers", pd.DataFrame({"a": [1, 2]}))
    registry.delete_dataset(snapshot, actor="dpo", reason="GDPR request 17")
    assert registry.verify().ok

    # Point churn/1 at churn/2's (valid) blob, put it in production instead of churn/2,
    # and bring the deleted dataset back to life: every blob still hashes correctly.
    _execute(
        registry,
        model_versions.update()
        .where(model_versions.c.id == first.id)
        .values(artifact_digest=second.artifact_digest),
    )
    _execute(
        registry,
        model_versions.update().where(model_versions.c.id == second.id).values(stage="archived"),
    )
    _execute(
        registry,
        model_versions.update().where(model_versions.c.id == first.id).values(stage="production"),
    )
    _execute(
        registry, datasets.update().where(datasets.c.id == snapshot.id).values(deleted_at=None)
    )

    report = registry.verify()

    mismatches = {
        (problem.subject, problem.detail.split(" ")[0])
        for problem in report.problems
        if problem.kind == "record_mismatch"
    }
    assert mismatches == {
        ("churn/1", "artifact_digest"),
        ("churn/1", "stage"),
        ("churn/2", "stage"),
        (f"dataset customers ({snapshot.id})", "deleted"),
    }
