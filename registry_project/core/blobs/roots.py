"""Artifact roots: parse the `artifact_root` setting and open the blob store it names.

Its one job is turning a string (a directory, a `file://` URL or `s3://bucket/prefix`)
into a `LocalBlobStore` or an `S3BlobStore`, refusing anything else with a
`ConfigurationError` that says what to write instead, before anything is created.
Invariants it keeps: a `file://` URL is local only (no host), an S3 root names a bucket
botocore would accept, and the S3 endpoint is the argument, else
`$REGISTRY_S3_ENDPOINT_URL`, else boto3's own default chain.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

from registry_project.core.blobs.interface import BlobStore
from registry_project.core.blobs.local import LocalBlobStore
from registry_project.core.blobs.s3 import S3_ENDPOINT_ENV, S3BlobStore
from registry_project.core.errors import ConfigurationError

# botocore's own (permissive) bucket check: legacy us-east-1 names may hold capitals or "_".
_BUCKET_RE = re.compile(r"[A-Za-z0-9.\-_]{1,255}")


def open_blob_store(
    artifact_root: str | os.PathLike[str], *, s3_endpoint_url: str | None = None
) -> BlobStore:
    """`s3://bucket/prefix` -> S3; a path or `file://` URL -> local directory (created).

    The S3 endpoint is `s3_endpoint_url`, else `$REGISTRY_S3_ENDPOINT_URL`, else whatever
    boto3's default chain says (AWS_ENDPOINT_URL, config files, AWS itself).
    """
    root = _root_string(artifact_root)
    scheme, separator, rest = root.partition("://")
    if not separator:
        return LocalBlobStore(Path(root))
    scheme = scheme.lower()
    if scheme == "s3":
        bucket, prefix = _parse_s3_root(root, rest)
        endpoint = s3_endpoint_url or os.environ.get(S3_ENDPOINT_ENV) or None
        return S3BlobStore(bucket, prefix, endpoint)
    if scheme == "file":
        return LocalBlobStore(_file_url_path(root))
    raise ConfigurationError(
        f"artifact root {root!r}: scheme {scheme!r} is not supported. Use a directory, a "
        "file:// URL or s3://bucket/prefix."
    )


def _root_string(artifact_root: object) -> str:
    if isinstance(artifact_root, os.PathLike):
        artifact_root = os.fspath(artifact_root)
    if not isinstance(artifact_root, str) or not artifact_root.strip():
        raise ConfigurationError(
            f"artifact root {artifact_root!r} is empty: pass a directory or "
            "s3://bucket/prefix, or set REGISTRY_ARTIFACT_ROOT"
        )
    return artifact_root.strip()


def _parse_s3_root(root: str, rest: str) -> tuple[str, str]:
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigurationError(
            f"artifact root {root!r} names no bucket; use s3://bucket or s3://bucket/prefix"
        )
    if not _BUCKET_RE.fullmatch(bucket):
        raise ConfigurationError(f"artifact root {root!r}: {bucket!r} is not a valid bucket name")
    return bucket, prefix


def _file_url_path(root: str) -> Path:
    parsed = urlparse(root)
    if parsed.netloc not in ("", "localhost"):
        raise ConfigurationError(
            f"artifact root {root!r} points at host {parsed.netloc!r}; file:// URLs must be "
            "local (file:///absolute/path). Mount remote storage or use s3://."
        )
    if not parsed.path:
        raise ConfigurationError(f"artifact root {root!r} has no path; use file:///absolute/path")
    # Imported here: urllib.request loads http.client, email and ssl, ~10 ms of every
    # command's start-up that only a file:// root needs (issue #18).
    from urllib.request import url2pathname

    return Path(url2pathname(parsed.path))
