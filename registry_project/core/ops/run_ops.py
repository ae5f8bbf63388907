"""Training runs: start (code and environment captured, inputs recorded), metrics of the
run itself, finish (or fail), get."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core import environment
from registry_project.core.active_run import ActiveRun
from registry_project.core.blobs import BlobInfo
from registry_project.core.entities import (
    AuditAction,
    CodeVersion,
    DatasetSnapshot,
    EnvironmentFile,
    EnvironmentInfo,
    InputRole,
    RunInput,
    RunStatus,
    TrainingRun,
    frozen_mapping,
)
from registry_project.core.errors import DatasetNotFoundError, InvalidInputError, RunNotFoundError
from registry_project.core.external import StoredSoftware
from registry_project.core.ops.writer import Writer, now
from registry_project.core.store import audit
from registry_project.core.store import dataset_snapshots as dataset_store
from registry_project.core.store import runs as run_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.validation import (
    storable_text,
    validate_metrics,
    validate_name,
    validate_params,
    validate_tags,
)
from registry_project.core.version_refs import parse_uuid

InputsArg = (
    Sequence[DatasetSnapshot | tuple[DatasetSnapshot, str | InputRole]]
    | Mapping[str, DatasetSnapshot | Sequence[DatasetSnapshot]]
    | None
)
RunRef = ActiveRun | TrainingRun | str


def run_id(run: RunRef) -> str:
    """The id of an ActiveRun, a TrainingRun or a UUID string."""
    if isinstance(run, ActiveRun | TrainingRun):
        return run.id
    parsed = parse_uuid(run) if isinstance(run, str) else None
    if parsed is None:
        raise InvalidInputError(
            f"invalid run reference {run!r}: pass the object from start_run or its UUID"
        )
    return parsed


def start(
    w: Writer,
    name: str,
    *,
    params: Mapping[str, Any] | None,
    inputs: InputsArg,
    dagster_run_id: str | None,
    asset_key: str | None,
    capture_environment: bool,
    actor: str | None,
    software: StoredSoftware | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> TrainingRun:
    """The new run as written (the facade wraps it in an ActiveRun)."""
    validate_name(name, "run name")
    experiment = validate_name(name if experiment is None else experiment, "experiment name")
    clean_tags = validate_tags(tags)
    params_json = validate_params(params)
    who = w.actor(actor)
    dagster_run_id, asset_key = w.dagster_context(dagster_run_id, asset_key)
    pairs = normalise_inputs(inputs)
    run = TrainingRun(
        id=str(uuid.uuid4()),
        name=name,
        status=RunStatus.RUNNING,
        params=frozen_mapping(json.loads(params_json)),
        metrics=frozen_mapping(None),
        inputs=tuple(RunInput(d, InputRole(role)) for d, role in pairs),
        started_at=now(),
        ended_at=None,
        created_by=who,
        code=CodeVersion(),
        environment=None,
        dagster_run_id=dagster_run_id,
        asset_key=asset_key,
        experiment=experiment,
        tags=frozen_mapping(clean_tags),
    )
    stored: tuple[BlobInfo, ...] = ()
    captured: environment.CapturedEnvironment | None = None
    if software is not None:
        # Captured where the run really executed, its files already stored as blobs by
        # that process: checked, never stored again here (so never "vanished" either).
        w.require_blobs(software.digests, "the run's environment files")
        run = dataclasses.replace(
            run, code=software.code, environment=_software_environment(software)
        )
    elif capture_environment:
        # The package list and files are stored (and fsynced) while git still runs.
        code, captured, (environment_info, stored) = environment.capture_software_with(
            lambda fresh: _store_environment(w, fresh)
        )
        run = dataclasses.replace(
            run,
            code=CodeVersion(
                commit=code.commit, dirty=code.dirty, remote=code.remote, branch=code.branch
            ),
            environment=environment_info,
        )

    def store_again() -> None:
        nonlocal run, stored
        assert captured is not None  # only stored bytes can vanish
        w.stored_capture = None
        environment_info, stored = _store_environment(w, captured)
        run = dataclasses.replace(run, environment=environment_info)

    def work(connection: Connection) -> None:
        known = dataset_store.fetch_datasets(connection, [d for d, _ in pairs])
        missing = [d for d, _ in pairs if d not in known]
        if missing:
            raise DatasetNotFoundError(f"run inputs not in this registry: {missing}")
        run_store.insert_run(connection, run, params_json=params_json)
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.START_RUN,
                subject_type="run",
                subject_id=run.id,
                after={
                    "name": name,
                    **({"experiment": experiment} if experiment != name else {}),
                    "inputs": [f"{role}:{d}" for d, role in pairs],
                    "code_commit": run.code.commit,
                    "dagster_run_id": dagster_run_id,
                },
            ),
        )
        w.confirm_stored(stored)

    # Visible (RUNNING) from this commit on, to other processes and the UI, but not synced
    # on its own: the process's next write (a registration, the run's end) syncs the WAL
    # and with it this commit (engine.write_transaction). A power loss before then loses
    # only the RUNNING row of a run whose process died with the power; any row that refers
    # to the run commits after it, so it is never durable without it. Saves one fsync of
    # the WAL per run (~0.5 ms on SSD-backed VMs, far more on a disk).
    w.write_stored(work, store_again, sync_later=True)
    if captured is not None and run.environment is not None:
        # Reused by the next run only now that a committed row keeps these blobs.
        w.stored_capture = (
            captured,
            run.environment.packages_digest,
            tuple((f.path, f.digest, f.size_bytes) for f in run.environment.files),
            stored,
        )
    return run


def _software_environment(software: StoredSoftware) -> EnvironmentInfo:
    """The run's environment from a capture made in another process (`core.external`)."""
    return EnvironmentInfo(
        python_version=software.python_version,
        platform=software.platform,
        packages_digest=software.packages_digest,
        package_count=software.package_count,
        files=tuple(EnvironmentFile(path, d, size) for path, d, size in software.files),
    )


def _store_environment(
    w: Writer, captured: environment.CapturedEnvironment
) -> tuple[EnvironmentInfo, tuple[BlobInfo, ...]]:
    """Store the package list and environment files as blobs (once per capture)."""
    if w.stored_capture is not None and w.stored_capture[0] is captured:
        _, digest, files, blobs = w.stored_capture
    else:
        packages_blob = w.blobs.put_bytes(captured.packages_text())
        stored_files = []
        stored_blobs = [packages_blob]
        for relative, path in captured.files:
            try:  # index URLs in requirements files may carry tokens: stored without them
                stored = w.blobs.put_bytes(environment.read_environment_file(path))
            except OSError:  # deleted or unreadable since the capture: leave it out
                continue
            stored_files.append((relative, stored.digest, stored.size))
            stored_blobs.append(stored)
        digest, files, blobs = packages_blob.digest, tuple(stored_files), tuple(stored_blobs)
    info = EnvironmentInfo(
        python_version=captured.python_version,
        platform=captured.platform,
        packages_digest=digest,
        package_count=len(captured.packages),
        files=tuple(EnvironmentFile(path, d, size) for path, d, size in files),
    )
    return info, blobs


def normalise_inputs(inputs: InputsArg) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []

    def add(snapshot: object, role: object) -> None:
        if not isinstance(snapshot, DatasetSnapshot):
            raise InvalidInputError(
                f"run inputs must be DatasetSnapshot objects (from snapshot_dataset or "
                f"reference_dataset), got {type(snapshot).__name__}"
            )
        try:
            role_value = InputRole(role).value
        except ValueError as exc:
            raise InvalidInputError(
                f"unknown input role {role!r}; use train, validation or test"
            ) from exc
        if (snapshot.id, role_value) not in pairs:
            pairs.append((snapshot.id, role_value))

    if inputs is None:
        return pairs
    if not isinstance(inputs, Mapping | Sequence):
        raise InvalidInputError(
            "inputs must be a list of snapshots, (snapshot, role) pairs or a mapping "
            f"of role to snapshots, got {type(inputs).__name__}"
        )
    if isinstance(inputs, Mapping):
        for role, value in inputs.items():
            for snapshot in value if isinstance(value, Sequence) else [value]:
                add(snapshot, role)
        return pairs
    for item in inputs:
        if isinstance(item, tuple):
            add(*item)
        else:
            add(item, InputRole.TRAIN)
    return pairs


def log_metrics(w: Writer, run: RunRef, metrics: Mapping[str, float]) -> None:
    clean = validate_metrics(metrics)
    wanted = run_id(run)

    def work(connection: Connection) -> None:
        if run_store.fetch_run(connection, wanted) is None:
            raise RunNotFoundError(f"no training run with id {wanted}")
        run_store.upsert_run_metrics(connection, wanted, clean, now())

    w.write(work)


def finish(w: Writer, run: RunRef, status: RunStatus, error: str | None) -> None:
    """Mark a run FINISHED or FAILED (with its error text) and audit it."""
    wanted = run_id(run)
    who = w.actor(None)

    def work(connection: Connection) -> None:
        run_store.finish_run(
            connection, wanted, status=status.value, ended_at=now(), error=storable_text(error)
        )
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.END_RUN,
                subject_type="run",
                subject_id=wanted,
                after={
                    "status": status.value,
                    "error": storable_text((error or "")[-500:]) or None,
                },
            ),
        )

    w.write(work)


def get(w: Writer, run: RunRef) -> TrainingRun:
    wanted = run_id(run)
    with w.read() as connection:
        found = run_store.fetch_run(connection, wanted)
    if found is None:
        raise RunNotFoundError(f"no training run with id {wanted}")
    return found
