"""Damaging a stored blob in place, wherever it lives (local disk or S3 through moto)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import boto3

from registry_project import ModelRegistry


def flip_a_byte(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    return bytes(damaged)


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def append_a_byte(data: bytes) -> bytes:
    return data + b"\0"


DAMAGES: dict[str, Callable[[bytes], bytes]] = {
    "flipped byte": flip_a_byte,
    "truncated": truncate,
    "appended byte": append_a_byte,
}


def damage_blob(
    registry: ModelRegistry, digest: str, damage: Callable[[bytes], bytes] = flip_a_byte
) -> None:
    """Rewrite the stored bytes of `digest` through `damage`, under the same name."""
    uri = registry.blobs.uri_for(digest)
    if uri.startswith("s3://"):
        bucket, _, key = uri[len("s3://") :].partition("/")
        client = boto3.client("s3", endpoint_url=registry.blobs.endpoint_url)  # type: ignore[attr-defined]
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        client.put_object(Bucket=bucket, Key=key, Body=damage(data))
    else:
        path = Path(uri)
        data = path.read_bytes()
        path.chmod(0o644)
        path.write_bytes(damage(data))
