"""The limits on what the registry accepts, in one place: each is checked before anything
is written (`core/test_limits.py` tries each just under, at and just over it)."""

from __future__ import annotations

from datetime import timedelta

MAX_PARAMS_BYTES = 1024 * 1024
MAX_PARAMS_DEPTH = 32
MAX_REASON_LENGTH = 10_000
MAX_ACTOR_LENGTH = 256
MAX_URI_LENGTH = 4096
MAX_METRICS = 1000
MAX_DESCRIPTION_LENGTH = 10_000
MAX_PIN_LENGTH = 1024  # version_id and etag of a dataset reference
MAX_DAGSTER_RUN_ID_LENGTH = 64  # Dagster's run ids are 36-character UUIDs
MAX_ASSET_KEY_LENGTH = 1024
# The largest `limit` a listing accepts: far above any page anyone reads, and far below the
# 64-bit integers both databases compare a LIMIT with.
MAX_LIMIT = 1_000_000
MAX_NAME_TEXT = 1024  # a column's name or type in a reference's schema
# Row counts are stored as 64-bit integers on both backends.
MAX_ROW_COUNT = 2**63 - 1
# gc's grace period at most: beyond a century, `now - grace` would fall before year 1.
MAX_GRACE_PERIOD = timedelta(days=36_500)
# The largest metric difference a reproduction still counts as reproduced, unless told.
# Here rather than in core/reproduce.py so that `registry reproduce --help` can show it
# without importing the store (issue #18); core.reproduce re-exports it.
DEFAULT_TOLERANCE = 1e-9
# Unicode categories that draw nothing or move the text around them: controls (Cc, which
# includes U+0085 NEXT LINE), format characters such as U+202E RIGHT-TO-LEFT OVERRIDE and
# zero-width spaces (Cf), and the line and paragraph separators U+2028/U+2029 (Zl, Zp).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Run tags (experiment tracking): how many per run, and how long a value may be.
MAX_TAGS = 100
MAX_TAG_VALUE = 5000
# A step metric's step: any non-negative 64-bit integer.
MAX_STEP = 2**63 - 1
