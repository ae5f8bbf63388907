"""verify()'s blob half: every referenced blob re-hashed once, on a pool of worker threads.

Its one job is `BlobChecks`: the digests are handed to `os.cpu_count()` threads in
batches as soon as they are known, so the hashing runs while the caller checks the audit
chain on its own thread. SHA-256 and file or network reads release the GIL, so large blobs
hash on every core and S3's round trips overlap; batches (not one task per blob) keep the
pool's own cost small next to a tiny blob's. Results are collected in the order the
digests were given, so the report lists blob problems in the same order as before, and
`on_progress` is called once per blob, from the caller's thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from registry_project.core.blobs import BlobStore
from registry_project.core.entities import VerifyProblem
from registry_project.core.errors import RegistryError

# Blobs per task: enough that the pool's cost per task is small beside the blobs', few
# enough that the workers finish together and progress moves.
_MAX_BATCH = 256


def check_blob(store: BlobStore, digest: str) -> VerifyProblem | None:
    """The problem with one blob, or None when its bytes hash to its digest."""
    try:
        outcome = store.check(digest)
        if outcome is None:
            return None
        detail = f"blob {store.uri_for(digest)} is {outcome}"
    except RegistryError as exc:  # a directory in its place, permissions, I/O
        outcome, detail = "unreadable", str(exc)
    return VerifyProblem(f"blob_{outcome}", digest, detail)


def _check_batch(store: BlobStore, digests: Sequence[str]) -> list[VerifyProblem | None]:
    return [check_blob(store, digest) for digest in digests]


class BlobChecks:
    """Started with the digests to check; `results` waits for them."""

    def __init__(self, store: BlobStore, digests: Sequence[str]) -> None:
        self._digests = list(digests)
        workers = os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify-blobs")
        size = max(1, min(_MAX_BATCH, len(self._digests) // (workers * 4) or 1))
        self._batches: list[Future[list[VerifyProblem | None]]] = [
            self._pool.submit(_check_batch, store, self._digests[start : start + size])
            for start in range(0, len(self._digests), size)
        ]

    def results(self, on_progress: Callable[[int, int], None] | None) -> list[VerifyProblem]:
        """The problems found, in the digests' order; the pool is shut down after."""
        problems: list[VerifyProblem] = []
        total = len(self._digests)
        done = 0
        try:
            for batch in self._batches:
                for problem in batch.result():
                    done += 1
                    if problem is not None:
                        problems.append(problem)
                    if on_progress is not None:
                        on_progress(done, total)
        finally:
            self.cancel()
        return problems

    def cancel(self) -> None:
        """Stop: batches not started are dropped, running ones finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)
