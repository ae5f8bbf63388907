"""The evidence pack's format, shared by writing it (`export.py`) and checking it
(`verify.py`): the file names inside the zip, the format number, and how its JSON files
and digests are made."""

from __future__ import annotations

import hashlib
import json
from typing import Any

PACK_FORMAT = 1
MANIFEST = "manifest.json"
CARD = "card.md"
RECORD = "record.json"
CHAIN = "audit_chain.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
