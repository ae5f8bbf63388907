"""Reproduce a version from its record: the recorded input snapshots (by digest), params and
code commit, retrained by the caller's training function, compared bit for bit (artifact
digest) or, failing that, metric by metric on the recorded evaluation datasets.

What the record cannot rebuild is refused before anything runs: an input that was deleted
(the tombstone is named), a reference whose bytes are not in the registry, no code commit,
a commit made from a dirty tree (its code is in no commit), a commit this repository does
not know. When the working tree is the recorded commit (and clean), the training function
runs in this process; otherwise the commit is checked out into a temporary git worktree and
the training function is imported from it by name and runs in a child process whose
`sys.path` starts there (`reproduce_process.py`), so the recorded code is the code that
trains, with the worktree as its working directory and `inputs.code_dir`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from registry_project.core import environment, flavors, reproduce_process
from registry_project.core.config import resolve_actor
from registry_project.core.entities import (
    AuditAction,
    DatasetKind,
    Lineage,
    ModelVersion,
    Reproduction,
    ReproductionOutcome,
)
from registry_project.core.errors import InvalidInputError, ReproductionRefusedError
from registry_project.core.store import audit, reproductions
from registry_project.core.store.audit import EventDraft
from registry_project.core.transactions import Transactions
from registry_project.core.validation.limits import (
    DEFAULT_TOLERANCE as DEFAULT_TOLERANCE,  # re-exported: callers import it from here
)

if TYPE_CHECKING:
    from registry_project.core.registry import ModelRegistry, VersionRef

_GIT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class ReproductionInputs:
    """What a training function gets: exactly what the version was trained from."""

    version: ModelVersion
    params: Mapping[str, Any]
    datasets: Mapping[str, Any]  # role ("train", ...) -> the recorded snapshot's DataFrame
    code_dir: Path  # the recorded commit's tree (also the working directory while training)


TrainFunction = Callable[[ReproductionInputs], object]
# A training function, or its `"module:function"` name (imported where it trains).
TrainSpec = TrainFunction | str
EvaluateFunction = Callable[[object, Any], Mapping[str, float]]


def _refuse(version: ModelVersion, why: str) -> ReproductionRefusedError:
    return ReproductionRefusedError(f"cannot reproduce {version.ref}: {why}")


def _check_inputs(lineage: Lineage) -> None:
    for item in lineage.datasets:
        snapshot = item.snapshot
        if snapshot.deleted:
            raise _refuse(
                lineage.version,
                f"its {item.relation} dataset {snapshot.name} ({snapshot.id}, "
                f"sha256 {snapshot.digest}) was deleted on {snapshot.deleted_at:%Y-%m-%d} by "
                f"{snapshot.deleted_by}: {snapshot.deletion_reason}. Only its tombstone remains; "
                "retrain on data without it instead.",
            )
        if snapshot.kind is DatasetKind.REFERENCE:
            raise _refuse(
                lineage.version,
                f"its dataset {snapshot.name} is a reference to {snapshot.uri}, whose bytes "
                "the registry does not hold",
            )


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=_GIT_TIMEOUT_SECONDS,
        check=False,
    )


@dataclass(frozen=True)
class _Code:
    tree: Path  # where the recorded commit's files are
    root: Path  # the working tree reproduce was called from
    commit: str
    checked_out: bool  # a temporary worktree (the working tree is another commit)


@contextlib.contextmanager
def _code_at(version: ModelVersion, lineage: Lineage, repo: Path) -> Iterator[_Code]:
    """The recorded commit's tree: the working tree if it is exactly that commit and
    clean, else a temporary git worktree, removed afterwards."""
    code = lineage.code
    if code is None or not code.commit:
        raise _refuse(version, "its run recorded no code commit (it did not run in a git tree)")
    if code.dirty:
        raise _refuse(
            version,
            f"its run was made from a dirty tree at {code.commit[:12]}: the code it ran is in "
            "no commit. Commit before training so that a version can be reproduced.",
        )
    root = environment.find_project_root(repo)
    if _git(root, "cat-file", "-e", f"{code.commit}^{{commit}}").returncode != 0:
        raise _refuse(
            version,
            f"commit {code.commit} is unknown in {root} (fetch it, or pass repo= the "
            "repository it was made in)",
        )
    current = environment.capture_code(root)
    if current.commit == code.commit and current.dirty is False:
        yield _Code(root, root, code.commit, checked_out=False)
        return
    with tempfile.TemporaryDirectory(prefix="registry-reproduce-") as scratch:
        tree = Path(scratch) / "tree"
        added = _git(root, "worktree", "add", "--detach", str(tree), code.commit)
        if added.returncode != 0:
            raise _refuse(version, f"git could not check out {code.commit}: {added.stderr.strip()}")
        try:
            yield _Code(tree, root, code.commit, checked_out=True)
        finally:
            _git(root, "worktree", "remove", "--force", str(tree))


def _packages(registry: ModelRegistry, digest: str | None) -> dict[str, str]:
    if digest is None:
        return {}
    lines = registry.blobs.read_bytes(digest).decode("utf-8", "replace").splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line)


def environment_differences(registry: ModelRegistry, lineage: Lineage) -> list[str]:
    """Every way the recorded environment differs from this one: Python, platform and
    each package added, removed or at another version."""
    recorded = lineage.environment
    if recorded is None:
        return ["no environment was recorded"]
    now = environment.capture_environment()
    differences = []
    if recorded.python_version != now.python_version:
        differences.append(f"python {recorded.python_version} -> {now.python_version}")
    if recorded.platform != now.platform:
        differences.append(f"platform {recorded.platform} -> {now.platform}")
    then = _packages(registry, recorded.packages_digest)
    current = dict(line.split("==", 1) for line in now.packages if "==" in line)
    for name in sorted(then.keys() | current.keys()):
        if name not in current:
            differences.append(f"package {name} {then[name]} is not installed")
        elif name not in then:
            differences.append(f"package {name} {current[name]} was not installed")
        elif then[name] != current[name]:
            differences.append(f"package {name} {then[name]} -> {current[name]}")
    return differences


class _Digest:
    """A write-only stream that hashes what a flavor writes (the artifact is not stored)."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        return self.size


def _artifact_digest(version: ModelVersion, model: object) -> str:
    stream = _Digest()
    flavors.get_flavor(version.flavor).save(model, cast(IO[bytes], stream))
    return stream.sha.hexdigest()


def _metric_differences(
    registry: ModelRegistry,
    lineage: Lineage,
    model: object,
    evaluate: EvaluateFunction,
) -> dict[str, float]:
    """retrained - recorded, per `dataset name:metric`, on every recorded evaluation set."""
    recorded = {
        (r.dataset_id, r.key): r.value
        for r in registry.metric_history(lineage.version)
        if r.dataset_id is not None
    }
    differences = {}
    for item in lineage.datasets:
        if item.relation != "evaluated":
            continue
        metrics = evaluate(model, registry.load_dataset(item.snapshot.id))
        for key, value in metrics.items():
            if (item.snapshot.id, key) in recorded:
                differences[f"{item.snapshot.name}:{key}"] = (
                    float(value) - recorded[(item.snapshot.id, key)]
                )
    return differences


def reproduce(
    registry: ModelRegistry,
    tx: Transactions,
    reference: VersionRef,
    *,
    train: TrainSpec,
    evaluate: EvaluateFunction | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    repo: str | os.PathLike[str] | None = None,
    actor: str | None = None,
) -> Reproduction:
    """Retrain a version from its record and record (audited) how close it came."""
    if isinstance(train, str):
        parse_function_path(train)
    elif not callable(train):
        raise InvalidInputError(
            "reproduce needs train=, a function of ReproductionInputs or its 'module:function'"
        )
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        raise InvalidInputError(f"tolerance must be a number >= 0, got {tolerance!r}")
    who = resolve_actor(actor)
    lineage = registry.lineage(reference)
    version = lineage.version
    if lineage.run is None:
        raise _refuse(version, "it was registered without a training run: nothing records how")
    _check_inputs(lineage)
    differences = environment_differences(registry, lineage)
    datasets = {
        item.role or "train": registry.load_dataset(item.snapshot.id)
        for item in lineage.datasets
        if item.relation == "trained"
    }
    params = dict(lineage.run.params)
    with _code_at(version, lineage, Path(repo) if repo is not None else Path.cwd()) as code:
        if code.checked_out:
            child = reproduce_process.train_at_commit(
                train,
                version=version,
                params=params,
                datasets=datasets,
                tree=code.tree,
                root=code.root,
                commit=code.commit,
            )
            digest = hashlib.sha256(child.artifact).hexdigest()
            trained_by = (
                f"trained by {reproduce_process.describe(train)} in a child process at "
                f"commit {code.commit[:12]} (temporary worktree)"
            )
            if not child.from_commit:
                trained_by += (
                    f"; its code came from {child.origin or 'an unknown file'}, outside the "
                    "recorded commit"
                )
        else:
            model = _train_here(train, ReproductionInputs(version, params, datasets, code.tree))
            digest = _artifact_digest(version, model)
            trained_by = f"trained in process at commit {code.commit[:12]} (the working tree)"
    metric_differences: dict[str, float] = {}
    if digest == version.artifact_digest:
        outcome = ReproductionOutcome.IDENTICAL
        detail = f"bit-identical artifact (sha256 {digest[:12]})"
    elif evaluate is None:
        outcome = ReproductionOutcome.DIFFERENT
        detail = (
            f"artifact sha256 {digest[:12]} differs from the recorded "
            f"{version.artifact_digest[:12]}"
            "; pass evaluate= to compare metrics on the recorded evaluation datasets"
        )
    else:
        if code.checked_out:
            model = reproduce_process.load_artifact(version, child.artifact)
        metric_differences = _metric_differences(registry, lineage, model, evaluate)
        worst = max((abs(d) for d in metric_differences.values()), default=math.inf)
        within = bool(metric_differences) and worst <= tolerance
        outcome = ReproductionOutcome.WITHIN_TOLERANCE if within else ReproductionOutcome.DIFFERENT
        shown = ", ".join(f"{k} {d:+.3g}" for k, d in sorted(metric_differences.items()))
        detail = (
            f"artifact differs; metrics {'within' if within else 'outside'} tolerance "
            f"{tolerance:g}: {shown or 'no recorded evaluation metric to compare'}"
        )
    detail += f"; {trained_by}"
    if differences:
        detail += f"; environment: {len(differences)} difference(s)"
    result = Reproduction(
        version_id=version.id,
        at=datetime.now(UTC),
        actor=who,
        outcome=outcome,
        detail=detail,
        artifact_digest=digest,
        environment_differences=tuple(differences),
        metric_differences=metric_differences,
    )

    def work(connection: Any) -> None:
        reproductions.insert_reproduction(connection, result)
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.REPRODUCE,
                subject_type="model_version",
                subject_id=version.id,
                model_name=version.model_name,
                after={
                    "version": version.version,
                    "outcome": outcome.value,
                    "artifact_digest": digest,
                    "environment_differences": len(differences),
                },
            ),
        )

    tx.write(work)
    return result


def _train_here(train: TrainSpec, inputs: ReproductionInputs) -> object:
    """In this process, in the recorded tree (working directory and first on sys.path, so a
    `"module:function"` name is found there, as in the child process)."""
    previous = Path.cwd()
    os.chdir(inputs.code_dir)
    added = str(inputs.code_dir) not in sys.path
    if added:
        sys.path.insert(0, str(inputs.code_dir))
    try:
        function = load_function(train) if isinstance(train, str) else train
        return function(inputs)
    finally:
        os.chdir(previous)
        if added:
            sys.path.remove(str(inputs.code_dir))


def parse_function_path(path: str) -> tuple[str, str]:
    """`package.module:function` split in two, or refused (a clear message)."""
    module_name, _, name = path.partition(":")
    if not module_name or not name:
        raise InvalidInputError(f"{path!r} is not MODULE:FUNCTION, e.g. mypkg.train:fit")
    return module_name, name


def load_function(path: str) -> Callable[..., Any]:
    """`package.module:function` imported (for `registry reproduce --train`)."""
    module_name, name = parse_function_path(path)
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(f"cannot import {path}: {exc}") from exc
    if not callable(found):
        raise InvalidInputError(f"{path} is not a function")
    return cast(Callable[..., Any], found)


def latest_reproduction(
    registry: ModelRegistry, tx: Transactions, reference: VersionRef
) -> Reproduction | None:
    version = registry.get_version(reference)
    with tx.read() as connection:
        return reproductions.latest_reproduction(connection, version.id)
