"""moto's S3 server over real HTTP on 127.0.0.1, for tests that need S3.

Requests go through boto3's real HTTP stack (signing, multipart, streaming bodies), not
an in-process mock. While the server runs, the environment holds fake credentials and a
region, and a developer's own AWS settings (profile, config files, endpoint overrides)
are hidden, so a test can never reach real AWS.

In pytest, use the session fixture `s3_server` (endpoint URL) and `s3_bucket` (a fresh
bucket per test) from `registry_project_tests/conftest.py`::

    def test_something(s3_server: str, s3_bucket: str) -> None:
        store = open_blob_store(f"s3://{s3_bucket}/prefix", s3_endpoint_url=s3_server)

Elsewhere, use the context manager directly::

    with moto_s3_server() as endpoint:
        bucket = create_bucket(endpoint)
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_SESSION_TOKEN": "testing-session",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Point boto3 away from ~/.aws so no real profile or setting applies.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
HIDDEN_SETTINGS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "REGISTRY_S3_ENDPOINT_URL",
)


@contextlib.contextmanager
def _fake_aws_environment() -> Iterator[None]:
    """Set fake credentials and hide real settings; restore everything afterwards."""
    names = (*FAKE_CREDENTIALS, *HIDDEN_SETTINGS)
    saved = {name: os.environ.get(name) for name in names}
    for name in HIDDEN_SETTINGS:
        os.environ.pop(name, None)
    os.environ.update(FAKE_CREDENTIALS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """Run moto's ThreadedMotoServer on a free port of 127.0.0.1; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    with _fake_aws_environment():
        # Port 0: the OS picks a free port when the server binds, so there is no race.
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def create_bucket(endpoint: str, name: str | None = None) -> str:
    """Create a bucket (a fresh random name by default) on the server; return its name."""
    import boto3

    name = name or f"test-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name
