"""moto's S3 server over real HTTP on 127.0.0.1, for tests that need S3.

Use the session fixture `s3_server` (endpoint URL) and `s3_bucket` (a fresh bucket per
test) from `registry_project_tests/conftest.py`, or the context manager directly::

    with moto_s3_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="b")
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_SESSION_TOKEN": "testing-session",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """Start moto's ThreadedMotoServer with fake credentials in the environment."""
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in FAKE_CREDENTIALS}
    os.environ.update(FAKE_CREDENTIALS)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
