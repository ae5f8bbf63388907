"""ModelRegistry: the public Python API (see DESIGN.md; these names are a contract).

The facade holds what users read: every public call, its signature and its docstring.
The work is done by one module per concern under core/ops/ (docs/ARCHITECTURE.md, "The
rooms"): `dataset_ops`, `run_ops`, `version_ops`, `stage_ops`, `audit_ops`,
`integrity_ops`, `comparison`, all sharing one `Writer` (the write recipe's transactions).
Every write validates its input first, writes bytes to the blob store second (a row never
points at a blob that is not durable yet), and writes metadata plus its audit event in one
database transaction last.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from registry_project.core import anchors as anchor_checks
from registry_project.core import evidence, flavors
from registry_project.core import model_card as cards
from registry_project.core import reproduce as reproduction
from registry_project.core.active_run import ActiveRun
from registry_project.core.blobs import BlobStore, open_blob_store
from registry_project.core.config import RegistryConfig
from registry_project.core.entities import (
    AuditEvent,
    Column,
    Comparison,
    DatasetSnapshot,
    Dependent,
    GcReport,
    Lineage,
    MetricRecord,
    Model,
    ModelCardText,
    ModelSummary,
    ModelVersion,
    Registration,
    Reproduction,
    RunStatus,
    Stage,
    StageTransition,
    TrainingRun,
    VerifyReport,
)
from registry_project.core.errors import StorageError
from registry_project.core.external import StoredArtifact, StoredSoftware
from registry_project.core.ops import (
    audit_ops,
    comparison,
    dataset_ops,
    integrity_ops,
    registration,
    run_ops,
    stage_ops,
    version_ops,
)
from registry_project.core.ops.dataset_ops import DatasetRef
from registry_project.core.ops.integrity_ops import GC_GRACE_PERIOD
from registry_project.core.ops.run_ops import InputsArg, RunRef
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.ops.writer import Writer

# kept importable from here: tests and tools look it up by this name
from registry_project.core.ops.writer import is_retriable as _is_retriable  # noqa: F401
from registry_project.core.policy import PromotionPolicy
from registry_project.core.secrets import mask_credentials
from registry_project.core.store import migrate
from registry_project.core.store.engine import create_registry_engine, sqlite_file
from registry_project.core.transactions import Transactions
from registry_project.core.validation import validate_dagster_context

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["GC_GRACE_PERIOD", "DatasetRef", "InputsArg", "ModelRegistry", "RunRef", "VersionRef"]
_UNSET: Any = stage_ops.UNSET


class ModelRegistry:
    """A model registry over a SQL database (metadata) and a blob store (bytes).

    Example::

        reg = ModelRegistry.open()  # ./.registry/ unless REGISTRY_* says otherwise
        snap = reg.snapshot_dataset("customers", df)
        with reg.start_run("churn-training", params={"C": 1.0}, inputs=[snap]) as run:
            mv = reg.register_model("churn", model, run=run, metrics={"auc": 0.91})
        reg.promote(mv, actor="alice", reason="first model")
        model = reg.load_model("churn@production")
    """

    def __init__(
        self,
        engine: Engine,
        blobs: BlobStore,
        *,
        config: RegistryConfig,
        allow_pickle: bool = True,
    ) -> None:
        self._engine = engine
        self._blobs = blobs
        self.config = config
        self._owns_engine = True
        self._w = Writer(engine, blobs, allow_pickle=allow_pickle)

    # A bound view's Dagster defaults and the pickle switch live on its Writer, which
    # every concern module reads.
    @property
    def allow_pickle(self) -> bool:
        return self._w.allow_pickle

    @allow_pickle.setter
    def allow_pickle(self, value: bool) -> None:
        self._w.allow_pickle = value

    @property
    def default_dagster_run_id(self) -> str | None:
        """Recorded on every write that does not name its own (see `bound`)."""
        return self._w.default_dagster_run_id

    @default_dagster_run_id.setter
    def default_dagster_run_id(self, value: str | None) -> None:
        self._w.default_dagster_run_id = value

    @property
    def default_asset_key(self) -> str | None:
        """Recorded on every write that does not name its own (see `bound`)."""
        return self._w.default_asset_key

    @default_asset_key.setter
    def default_asset_key(self, value: str | None) -> None:
        self._w.default_asset_key = value

    def bound(
        self, *, dagster_run_id: str | None = None, asset_key: str | None = None
    ) -> ModelRegistry:
        """A view of this registry whose writes record this Dagster run id and asset key
        unless a call passes its own. It shares the connection pool; closing it is a no-op.

        Example::

            reg.bound(dagster_run_id=context.run_id, asset_key="churn/candidate")
        """
        view = ModelRegistry(
            self._engine, self._blobs, config=self.config, allow_pickle=self.allow_pickle
        )
        view._owns_engine = False
        view.default_dagster_run_id, view.default_asset_key = validate_dagster_context(
            dagster_run_id, asset_key
        )
        return view

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        artifact_root: str | None = None,
        *,
        allow_pickle: bool = True,
        s3_endpoint_url: str | None = None,
        create: bool = True,
    ) -> ModelRegistry:
        """Open (and on first use create) a registry.

        `database_url` defaults to REGISTRY_DATABASE_URL, else ./.registry/registry.db;
        `artifact_root` to REGISTRY_ARTIFACT_ROOT, else ./.registry/artifacts (a directory
        or `s3://bucket/prefix`). An empty database is created at the current schema; an
        older one must be upgraded with `registry db upgrade`.

        `allow_pickle=False` refuses to load pickle-based flavors (pickle, joblib): loading
        those runs code chosen by whoever wrote the artifact.

        `create=False` opens only an existing registry: where there is none (no SQLite
        file, or an empty database) it raises `RegistryNotFoundError` and creates nothing.
        """
        config = RegistryConfig.resolve(database_url, artifact_root)
        database_file = sqlite_file(config.database_url)
        if not create and database_file is not None and not database_file.is_file():
            raise migrate.registry_not_found(config.database_url)
        engine = create_registry_engine(config.database_url)
        try:
            migrate.ensure_schema(engine, create=create)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise StorageError(
                mask_credentials(
                    f"cannot reach the registry database ({engine.url.render_as_string()}): "
                    f"{exc.orig}. Check REGISTRY_DATABASE_URL and that the server is running."
                )
            ) from exc
        except BaseException:
            engine.dispose()
            raise
        blobs = open_blob_store(config.artifact_root, s3_endpoint_url=s3_endpoint_url)
        return cls(engine, blobs, config=config, allow_pickle=allow_pickle)

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    @property
    def engine(self) -> Engine:
        return self._engine

    # --- datasets (ops/dataset_ops.py) ---------------------------------------------------

    def snapshot_dataset(
        self,
        name: str,
        data: Any,
        *,
        expires_at: datetime | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> DatasetSnapshot:
        """Store a DataFrame or Arrow table as a content-addressed parquet snapshot.

        The same content under the same name returns the existing snapshot.

        Example::

            snap = reg.snapshot_dataset("customers", df)
            snap.digest, snap.row_count, snap.columns
        """
        return dataset_ops.snapshot(
            self._w,
            name,
            data,
            expires_at=expires_at,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
        )

    def reference_dataset(
        self,
        name: str,
        uri: str,
        *,
        version_id: str | None = None,
        etag: str | None = None,
        digest: str | None = None,
        row_count: int | None = None,
        columns: Sequence[Column] | None = None,
        expires_at: datetime | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> DatasetSnapshot:
        """Pin data too large to copy (an S3 object version, an ETag, a table snapshot id or
        a SHA-256 digest) without copying it. At least one pin is required.

        Example::

            ref = reg.reference_dataset("events", uri="s3://lake/events.parquet",
                                        version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
        """
        return dataset_ops.reference(
            self._w,
            name,
            uri,
            version_id=version_id,
            etag=etag,
            digest=digest,
            row_count=row_count,
            columns=columns,
            expires_at=expires_at,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
        )

    def get_dataset(self, dataset: DatasetRef) -> DatasetSnapshot:
        """A snapshot or reference by its object or id."""
        return dataset_ops.get(self._w, dataset)

    def datasets(
        self, name: str | None = None, *, include_deleted: bool = True
    ) -> list[DatasetSnapshot]:
        """Snapshots and references, newest first per name; tombstones included by default."""
        return dataset_ops.list_all(self._w, name, include_deleted=include_deleted)

    def load_dataset(self, dataset: DatasetRef, *, as_arrow: bool = False) -> Any:
        """The exact snapshotted data (digest verified before parsing), as a DataFrame, or a
        pyarrow Table with `as_arrow=True`."""
        return dataset_ops.load(self._w, dataset, as_arrow=as_arrow)

    def dependents(self, dataset: DatasetRef) -> list[Dependent]:
        """Every model version trained (run input) or evaluated (metrics) on this dataset."""
        return dataset_ops.dependents(self._w, dataset)

    def delete_dataset(
        self,
        dataset: DatasetRef,
        *,
        actor: str | None = None,
        reason: str,
        force: bool = False,
    ) -> DatasetSnapshot:
        """Delete a snapshot's bytes, keeping a tombstone (digest, schema, rows, who, when,
        why) so lineage still answers.

        Refused with `DatasetInUseError` while any model version depends on it, unless
        `force=True`; forcing marks those versions as trained on deleted data. If another
        live snapshot holds identical bytes, the bytes stay until that one is deleted too.
        """
        return dataset_ops.delete(self._w, dataset, actor=actor, reason=reason, force=force)

    # --- runs (ops/run_ops.py) -----------------------------------------------------------

    def start_run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        inputs: InputsArg = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
        capture_environment: bool = True,
        software: StoredSoftware | None = None,
        actor: str | None = None,
    ) -> ActiveRun:
        """Start a training run; use it as a context manager.

        `inputs` are the snapshots the run reads: a list (role "train"), `(snapshot, role)`
        pairs, or a mapping `{"train": snap, "test": holdout}`. The code version (git commit,
        dirty flag, remote) and the environment (Python, platform, installed packages,
        Dockerfile / requirements / pyproject at the project root) are captured, unless
        `software` brings them from where the run really executed (an external training
        process that stored its environment files as blobs; see `core.external`).

        Example::

            with reg.start_run("churn-training", params={"C": 1.0}, inputs=[snap]) as run:
                mv = reg.register_model("churn", model, run=run, metrics={"auc": 0.91})
        """
        run = run_ops.start(
            self._w,
            name,
            params=params,
            inputs=inputs,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
            capture_environment=capture_environment,
            actor=actor,
            software=software,
        )
        return ActiveRun(self, run.id, name)

    def log_run_metrics(self, run: RunRef, metrics: Mapping[str, float]) -> None:
        """Training metrics of a run itself (a version's metrics go to register_model)."""
        run_ops.log_metrics(self._w, run, metrics)

    def finish_run(
        self, run: RunRef, *, status: RunStatus = RunStatus.FINISHED, error: str | None = None
    ) -> None:
        """Mark a run FINISHED (or FAILED, with its error text). Leaving the `start_run`
        block does this; call it for a run started without one.

        Example::

            reg.finish_run(run.id, status=RunStatus.FAILED, error="out of memory")
        """
        run_ops.finish(self._w, run, status, error)

    def get_run(self, run: RunRef) -> TrainingRun:
        """A run by its ActiveRun, TrainingRun or id."""
        return run_ops.get(self._w, run)

    # --- model versions (ops/registration.py, ops/version_ops.py) ------------------------

    def register_model(
        self,
        name: str,
        model: object,
        *,
        run: RunRef | None = None,
        metrics: Mapping[str, float] | None = None,
        flavor: str | flavors.Flavor | None = None,
        signature: Any = None,
        description: str | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
        reuse_identical: bool = False,
    ) -> ModelVersion:
        """Serialise `model` through a flavor and register it as the next version (stage
        EXPERIMENT), in one transaction.

        `flavor` defaults to joblib for scikit-learn objects and pickle otherwise;
        `signature` is a sample DataFrame / Arrow table whose columns describe the input.

        `reuse_identical=True` registers nothing when a version of this model already has
        the same artifact digest, run params and input data, and returns that version
        instead (see `register_or_reuse`, which also says whether it reused one). It is off
        by default: a direct call registers what it is given, as it always has; the
        Dagster training asset turns it on, so retraining on unchanged data adds no
        byte-identical versions.

        Example::

            mv = reg.register_model("churn", clf, run=run, metrics={"auc": 0.91},
                                    signature=X_train.head())
            mv.version, mv.id, mv.artifact_digest
        """
        return registration.register(
            self._w,
            name,
            model,
            run=run,
            metrics=metrics,
            flavor=flavor,
            signature=signature,
            description=description,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
            reuse_identical=reuse_identical,
        ).version

    def register_or_reuse(
        self,
        name: str,
        model: object,
        *,
        run: RunRef | None = None,
        metrics: Mapping[str, float] | None = None,
        flavor: str | flavors.Flavor | None = None,
        signature: Any = None,
        description: str | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> Registration:
        """`register_model`, unless a version of `name` already has the same artifact
        digest, the same run params and the same input data (snapshots by digest,
        references by their pin): then nothing is written and that version is returned
        with `reused=True`. The run stays recorded as a tracked run; the version keeps
        pointing at the run that first produced it, and `metrics` are not logged on it.

        Safe under concurrency: the lookup and the insert run in one transaction holding
        the model's lock, so two identical registrations at once make one version.

        Example::

            done = reg.register_or_reuse("churn", clf, run=run)
            if done.reused:
                print(f"nothing new: {done.version.ref} has these bytes, params and data")
        """
        return registration.register(
            self._w,
            name,
            model,
            run=run,
            metrics=metrics,
            flavor=flavor,
            signature=signature,
            description=description,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
            reuse_identical=True,
        )

    def register_artifact(
        self,
        name: str,
        artifact: StoredArtifact,
        *,
        run: RunRef | None = None,
        metrics: Mapping[str, float] | None = None,
        description: str | None = None,
        actor: str | None = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
    ) -> ModelVersion:
        """Register a model whose artifact another process already wrote to this registry's
        blob store (`core.external.store_model`), as the next version (EXPERIMENT).

        The blob is re-hashed first: a missing, truncated or different blob is refused
        (`IntegrityCheckError`) and nothing is recorded.

        Example::

            artifact = StoredArtifact.from_json(reported["artifact"])
            mv = reg.register_artifact("churn", artifact, run=run, metrics={"auc": 0.91})
        """
        return registration.register_artifact(
            self._w,
            name,
            artifact,
            run=run,
            metrics=metrics,
            description=description,
            actor=actor,
            dagster_run_id=dagster_run_id,
            asset_key=asset_key,
        )

    def log_metrics(
        self,
        version: VersionRef,
        metrics: Mapping[str, float],
        *,
        dataset: DatasetRef | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Record evaluation metrics on a version, per dataset (e.g. the holdout snapshot).
        The newest value of each metric is what ordering and promotion read."""
        return version_ops.log_metrics(self._w, version, metrics, dataset=dataset, actor=actor)

    def metric_history(self, version: VersionRef) -> list[MetricRecord]:
        """Every metric logged on a version, by dataset (None = training)."""
        return version_ops.metric_history(self._w, version)

    def get_version(self, reference: VersionRef) -> ModelVersion:
        """A version by ModelVersion, UUID, `name/7`, `name@production` or `name@latest`."""
        return version_ops.get(self._w, reference)

    def production_version(self, name: str) -> ModelVersion | None:
        """The version of model `name` in production, or None (no such model, or none in
        production yet). Example: `reg.production_version("churn")`."""
        return version_ops.production(self._w, name)

    def versions(
        self,
        name: str,
        *,
        stage: Stage | str | None = None,
        order_by: str = "-version",
        limit: int | None = None,
    ) -> list[ModelVersion]:
        """Versions of a model, e.g. `versions("churn", order_by="-metrics.auc", limit=10)`.
        Versions lacking the ordering metric come last."""
        return version_ops.list_versions(self._w, name, stage=stage, order_by=order_by, limit=limit)

    def models(self) -> list[Model]:
        """Every model with its version count and production version."""
        return version_ops.models(self._w)

    def model_summaries(self) -> list[ModelSummary]:
        """Every model with its production and latest version (metrics included) and when
        it last changed, in one read however many models there are.

        Example::

            for s in reg.model_summaries():
                s.model.name, s.shown.version, s.key_metric("auc")
        """
        return version_ops.summaries(self._w)

    def load_model(self, reference: VersionRef) -> object:
        """Deserialise a version's artifact, after verifying its SHA-256 digest."""
        return version_ops.load(self._w, reference)

    def export_artifact(
        self,
        reference: VersionRef,
        destination: str | os.PathLike[str],
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> ModelVersion:
        """Copy a version's artifact bytes to a file, verified, without deserialising them
        (for serving images or inspection). The file appears only once its digest matched.

        Example::

            reg.export_artifact("churn@production", "/srv/model.joblib")
        """
        return version_ops.export(self._w, reference, destination, on_bytes)

    def lineage(self, reference: VersionRef) -> Lineage:
        """Everything needed to recreate a version: datasets (with digests and whether they
        were deleted), the run, its code and environment, the Dagster run, stage history."""
        return version_ops.lineage(self._w, reference)

    # --- comparison (ops/comparison.py) --------------------------------------------------

    def compare(self, name: str, versions: Sequence[int | str | ModelVersion]) -> pd.DataFrame:
        """Params and metrics of several versions side by side, with each metric's delta to
        the production version. Rows: `stage`, `param.<name>`, `metric.<name>`, ...;
        columns: `v5`, `v7`, ..., `production (v3)`, `Δ v5`, ..."""
        return comparison.compare(self._w, name, versions).to_frame()

    def comparison(self, name: str, versions: Sequence[int | str | ModelVersion]) -> Comparison:
        """What `compare` shows, as a value: its rows, its columns (each with the version
        it shows and whether it is a delta), every cell, and the rows that differ between
        the versions; `.to_frame()` is `compare`'s DataFrame.

        Example::

            c = reg.comparison("churn", [5, 7])
            c.differing, c.value("metric.auc", "Δ v7")
        """
        return comparison.compare(self._w, name, versions)

    # --- stages and approvals (ops/stage_ops.py; the rules in stages.py) -----------------

    def transition(
        self,
        version: VersionRef,
        stage: Stage | str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Move a version between stages: experiment -> staging -> production -> archived,
        experiment|staging -> archived. Into production archives the current production
        version (like `promote`); leaving production needs a reason; archived versions
        return only through `promote` or `rollback`."""
        return stage_ops.transition(self._w, version, stage, actor=actor, reason=reason)

    def promote(
        self,
        version: VersionRef,
        *,
        actor: str | None = None,
        reason: str | None = None,
        expected_current: VersionRef | None = _UNSET,
        policy: PromotionPolicy | None = None,
    ) -> ModelVersion:
        """Make `version` the production version, atomically archiving the previous one.

        `expected_current` makes it a compare-and-swap: pass the production version you
        based the decision on (or None for "no production yet"); if production changed
        meanwhile, `PromotionConflictError` is raised and nothing changes. With a `policy`
        that requires approval, the version must have been approved by someone other than
        its registrant.
        """
        return stage_ops.promote(
            self._w,
            version,
            actor=actor,
            reason=reason,
            expected_current=expected_current,
            policy=policy,
        )

    def rollback(
        self, name: str, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        """Re-promote the version that was in production before the current one."""
        return stage_ops.rollback(self._w, name, actor=actor, reason=reason)

    def approve(
        self, version: VersionRef, *, actor: str | None = None, reason: str | None = None
    ) -> ModelVersion:
        """Record a four-eyes approval: by anyone but the version's registrant."""
        return stage_ops.approve(self._w, version, actor=actor, reason=reason)

    def history(self, version: VersionRef) -> list[StageTransition]:
        """The stage transitions of one version, oldest first."""
        return stage_ops.history(self._w, version)

    def approvals(self, version: VersionRef) -> list[str]:
        """Who approved a version, in the order they did."""
        return stage_ops.approvals(self._w, version)

    # --- audit (ops/audit_ops.py) --------------------------------------------------------

    def audit_log(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        after_seq: int | None = None,
    ) -> list[AuditEvent]:
        """Audit events, oldest first (or `newest_first`), filtered by model / dataset name,
        actor, action and time; `limit` keeps the first N in that order. `after_seq` reads
        only events appended after that sequence number: a follower's cursor.

        Example::

            reg.audit_log(model="churn", action="promote", newest_first=True, limit=10)
            reg.audit_log(after_seq=cursor, limit=500)  # what happened since cursor
        """
        where = audit_ops.event_filter(model, dataset, actor, action, since, after_seq)
        return audit_ops.events(self._w, where, limit=limit, newest_first=newest_first)

    def audit_count(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many audit events match the same filters as `audit_log` (without reading them)."""
        where = audit_ops.event_filter(model, dataset, actor, action, since)
        return audit_ops.count(self._w, where)

    def verify_audit_chain(self) -> VerifyReport:
        """Only the audit log's hash chain: reads the log once and no blob, so a page or a
        health check may run it on request. `verify()` also re-hashes every blob."""
        return audit_ops.verify_chain(self._w)

    # --- integrity (ops/integrity_ops.py) ------------------------------------------------

    def verify(
        self,
        *,
        on_progress: Callable[[int, int], None] | None = None,
        anchors: Sequence[tuple[int, str]] = (),
    ) -> VerifyReport:
        """Re-hash every blob the metadata references, check the audit hash chain, and
        cross-check each version's and dataset's row against what its audit events
        recorded. Every problem is listed; an unreadable blob does not stop the check.

        `anchors` are audit heads `(seq, hash)` recorded outside this database (an
        evidence pack's, Dagster's): a history rewritten whole no longer matches them.
        Example: `reg.verify(anchors=[(42, "9f86d08...")])`."""
        return integrity_ops.verify(self._w, on_progress, anchors=anchors)

    def gc(
        self,
        *,
        dry_run: bool = True,
        grace_period: timedelta = GC_GRACE_PERIOD,
        actor: str | None = None,
    ) -> GcReport:
        """Find (and unless `dry_run`, delete) blobs no row references.

        Blobs younger than `grace_period` are kept: they may belong to a registration whose
        row is being written right now. Leftover temp files and incomplete S3 multipart
        uploads older than the grace period are cleaned up too.
        """
        return integrity_ops.gc(self._w, dry_run=dry_run, grace_period=grace_period, actor=actor)

    # --- proof: model cards, evidence packs, anchors, reproduction ----------------------
    # (the logic is in model_card.py, evidence.py, anchors.py and reproduce.py)

    @property
    def _tx(self) -> Transactions:
        return Transactions(self._w.read, self._w.write)

    def model_card(self, reference: VersionRef) -> str:
        """A version's model card as Markdown: data, params, metrics against production,
        stage history, approvals. Example: `print(reg.model_card("churn/7"))`."""
        return cards.model_card(self, self._tx, reference)

    def export_evidence(
        self,
        reference: VersionRef,
        destination: str | os.PathLike[str],
        *,
        actor: str | None = None,
    ) -> tuple[int, str]:
        """Write a version's evidence pack (a zip that `verify_evidence` checks offline);
        returns the audit head (seq, hash) it ends at.
        Example: `reg.export_evidence("churn/7", "pack.zip")`."""
        return evidence.export_pack(self, self._tx, reference, destination, actor=actor)

    def set_model_card_text(
        self,
        name: str,
        *,
        intended_use: str | None = cards.KEEP,
        limitations: str | None = cards.KEEP,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelCardText:
        """Set the owners' free text of model `name`'s card (audited); None clears a field,
        one left out is kept. Example:
        `reg.set_model_card_text("churn", intended_use="Rank retention offers", actor="ana")`."""
        return cards.set_card_text(
            self._tx,
            name,
            intended_use=intended_use,
            limitations=limitations,
            actor=actor,
            reason=reason,
        )

    def model_card_text(self, name: str) -> ModelCardText | None:
        """The owners' free text of model `name`'s card, or None if never set."""
        return cards.card_text(self._tx, name)

    def audit_head(self) -> tuple[int, str]:
        """The audit chain's tip (seq, hash): what to publish as an anchor for `verify`."""
        return anchor_checks.audit_head(self._tx)

    def reproduce(
        self,
        reference: VersionRef,
        *,
        train: reproduction.TrainFunction,
        evaluate: reproduction.EvaluateFunction | None = None,
        tolerance: float = reproduction.DEFAULT_TOLERANCE,
        repo: str | os.PathLike[str] | None = None,
        actor: str | None = None,
    ) -> Reproduction:
        """Retrain a version from its record (input snapshots, params, code commit) with
        `train(inputs)` and record, audited, whether the artifact is bit-identical or its
        metrics on the recorded evaluation datasets (`evaluate(model, df)`) are within
        `tolerance`. Refused (`ReproductionRefusedError`) when the record cannot be rebuilt.
        Example: `reg.reproduce("churn/7", train=lambda i: fit(i.datasets["train"], i.params))`."""
        return reproduction.reproduce(
            self,
            self._tx,
            reference,
            train=train,
            evaluate=evaluate,
            tolerance=tolerance,
            repo=repo,
            actor=actor,
        )

    def latest_reproduction(self, reference: VersionRef) -> Reproduction | None:
        """The newest reproduction attempt of a version, or None."""
        return reproduction.latest_reproduction(self, self._tx, reference)

    @staticmethod
    def verify_evidence(
        path: str | os.PathLike[str], *, anchors: Sequence[tuple[int, str]] = ()
    ) -> evidence.EvidenceReport:
        """Check an evidence pack with no registry at all (a static method)."""
        return evidence.verify_pack(path, anchors=anchors)
