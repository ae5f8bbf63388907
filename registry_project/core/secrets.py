"""Credentials never reach a message, a log line or the blob store.

`mask_credentials` is the one function every error path uses before showing text that may
hold a database or index URL: a password in a URL's user information
(`postgresql://user:S3cr3t@host/db`, also when the URL is malformed, as in
`postgresql+psycopg//user:S3cr3t@host/db`) and secret query parameters
(`?password=...`, `&sslpassword=...`, `token=`, `secret=`) become `***`.
"""

from __future__ import annotations

import re

MASK = "***"
# `user:password@` wherever it appears (with or without a `scheme://` before it): a
# user part without '/', ':', '@' or spaces, then a password up to the next '@'.
_USERINFO_PASSWORD = re.compile(r"(?P<user>[^\s/:@'\"]*):(?P<password>[^\s/@'\"]+)@")
# Query or keyword parameters that carry a secret: password=..., pwd=..., token=...
_SECRET_PARAMETER = re.compile(
    r"(?P<key>\b(?:[a-z_]*password|passwd|pwd|[a-z_]*token|[a-z_]*secret[a-z_]*|"
    r"access_key|secret_key|api_key)\s*=\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;,'\")]+)",
    re.IGNORECASE,
)


def mask_credentials(text: str) -> str:
    """`text` with every password and secret parameter replaced by `***`.

    Example::

        mask_credentials("postgresql://bob:S3cr3t@db/x?sslpassword=k")
        # 'postgresql://bob:***@db/x?sslpassword=***'
    """
    masked = _USERINFO_PASSWORD.sub(lambda m: f"{m['user']}:{MASK}@", text)
    return _SECRET_PARAMETER.sub(lambda m: f"{m['key']}{MASK}", masked)
