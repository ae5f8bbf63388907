"""The durability worker: where the last step of a deferred write runs.

Its one job is a small process-wide thread pool for `writer(defer_durability=True)`: the
step that makes a written blob durable (local: fsync the temp file, rename it into place,
fsync the directory; S3: upload the spool) runs there while the caller prepares its
metadata. Invariants it keeps:

- The step runs exactly once, on the pool or (when no pool can start) in the caller,
  never not at all; its outcome reaches the caller through the future
  (`BlobWriter.wait_durable`), which must return before a row that points at the blob
  commits. So the database transaction overlaps the fsync, but never commits ahead of it.
- No lock is held while bytes travel: `_pool_lock` only guards creating the pool.
- A forked child has none of its parent's threads, so it forgets the inherited pool (and
  its lock, which a parent thread may have held at the fork) and starts a fresh one.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable


def run_or_submit(
    step: Callable[[], None], in_background: bool
) -> concurrent.futures.Future[None] | None:
    """Run the step that makes a blob durable now, or hand it to the background pool."""
    if in_background:
        try:
            return _background_pool().submit(step)
        except RuntimeError:  # the interpreter is shutting down: no new threads
            pass
    step()
    return None


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _background_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=2, thread_name_prefix="registry-blob-durability"
            )
        return _pool


def _forget_pool_after_fork() -> None:
    # A forked child has none of the parent's threads; a fresh pool starts its own.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)
