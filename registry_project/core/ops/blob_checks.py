"""verify()'s blob half: every referenced blob re-hashed once, on worker processes for a
large local store, on worker threads otherwise (S3, small stores, not Linux).

Its one job is `BlobChecks`: the digests are handed to `os.cpu_count()` workers in
batches as soon as they are known, so the hashing runs while the caller checks the audit
chain on its own thread. Local blobs go to forked processes: most of a small file's check
(open, read, hash, compare) is Python that holds the GIL, so threads took turns with each
other and with the chain check, while processes (`local.check_blobs`) hash on every
core beside the caller's thread. A worker runs only the standard library's file and hash
calls, never the registry's locks or connections it inherits. S3's checks are mostly
waiting on the network, which releases the GIL: threads overlap them. Batches (not one
task per blob) keep the pool's own cost small next to a tiny blob's. Results are
collected in the order the digests were given, so the report lists blob problems in the
same order as before, and `on_progress` is called once per blob, from the caller's thread.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

from registry_project.core.blobs import BlobStore, LocalBlobStore, check_blobs
from registry_project.core.entities import VerifyProblem
from registry_project.core.errors import RegistryError

# Blobs per task: enough that the pool's cost per task is small beside the blobs', few
# enough that the workers finish together and progress moves. A task to a process costs
# more (its arguments and answer pickled), so its batches are larger.
_MAX_BATCH = 256
_MAX_PROCESS_BATCH = 2000
# Below this many local blobs, starting worker processes costs more than it saves.
_PROCESSES_FROM = 2000

# One outcome per digest: None (intact), or (outcome, the error's text or "").
_Outcome = tuple[str, str] | None


def check_blob(store: BlobStore, digest: str) -> VerifyProblem | None:
    """The problem with one blob, or None when its bytes hash to its digest."""
    try:
        outcome = store.check(digest)
    except RegistryError as exc:  # a directory in its place, permissions, I/O
        return _problem(store, digest, ("unreadable", str(exc)))
    return None if outcome is None else _problem(store, digest, (outcome, ""))


def _problem(store: BlobStore, digest: str, outcome: tuple[str, str]) -> VerifyProblem:
    kind, error = outcome
    return VerifyProblem(f"blob_{kind}", digest, error or f"blob {store.uri_for(digest)} is {kind}")


def _check_batch(store: BlobStore, digests: Sequence[str]) -> list[VerifyProblem | None]:
    return [check_blob(store, digest) for digest in digests]


class _LocalBatch:
    """One task for a worker process: the digests, checked by `local.check_blobs`."""

    __slots__ = ("digests", "future")

    def __init__(self, pool: Executor, store: LocalBlobStore, digests: list[str]) -> None:
        self.digests = digests
        self.future: Future[list[_Outcome]] = pool.submit(check_blobs, store.root_uri, digests)

    def problems(self, store: BlobStore) -> list[VerifyProblem | None]:
        """One entry per digest, in order."""
        return [
            None if outcome is None else _problem(store, digest, outcome)
            for digest, outcome in zip(self.digests, self.future.result(), strict=True)
        ]


class _ThreadBatch:
    __slots__ = ("future",)

    def __init__(self, pool: Executor, store: BlobStore, digests: list[str]) -> None:
        self.future: Future[list[VerifyProblem | None]] = pool.submit(_check_batch, store, digests)

    def problems(self, store: BlobStore) -> list[VerifyProblem | None]:
        return self.future.result()


def _forks() -> bool:
    """Whether the workers can be forked. A fork inherits this process's loaded modules,
    so a worker starts in milliseconds; a spawned or fork-server worker would import the
    caller's `__main__` again (a script, Dagster), seconds and side effects. Linux only:
    macOS's system frameworks are not safe to fork, and Windows has no fork; there the
    threads do the work as before."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class BlobChecks:
    """Started with the digests to check; `results` waits for them."""

    def __init__(
        self, store: BlobStore, digests: Sequence[str], *, processes_from: int = _PROCESSES_FROM
    ) -> None:
        self._store = store
        self._digests = list(digests)
        workers = os.cpu_count() or 1
        self._pool: Executor
        self._batches: list[_LocalBatch | _ThreadBatch] = []
        if isinstance(store, LocalBlobStore) and len(self._digests) >= processes_from and _forks():
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("fork")
            )
            for batch in self._split(workers, _MAX_PROCESS_BATCH):
                self._batches.append(_LocalBatch(self._pool, store, batch))
        else:
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="verify-blobs")
            for batch in self._split(workers, _MAX_BATCH):
                self._batches.append(_ThreadBatch(self._pool, store, batch))

    def _split(self, workers: int, most: int) -> list[list[str]]:
        size = max(1, min(most, len(self._digests) // (workers * 4) or 1))
        return [self._digests[at : at + size] for at in range(0, len(self._digests), size)]

    def results(self, on_progress: Callable[[int, int], None] | None) -> list[VerifyProblem]:
        """The problems found, in the digests' order; the pool is shut down after."""
        problems: list[VerifyProblem] = []
        total = len(self._digests)
        done = 0
        try:
            for batch in self._batches:
                for problem in batch.problems(self._store):
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
