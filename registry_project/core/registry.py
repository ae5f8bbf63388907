"""ModelRegistry: the public Python API (see DESIGN.md; these names are a contract).

This module holds how a registry is opened, closed and bound to a Dagster run; the calls
themselves are in one part per concern under core/facade/ (`dataset_calls`, `run_calls`,
`tracking_calls`, `registration_calls`, `version_calls`, `stage_calls`, `governance_calls`,
`retention_calls`, `search_calls`, `audit_calls`, `integrity_calls`, `proof_calls`,
`interop_calls`), each holding its public signatures and docstrings, and each naming the
module under core/ops/ that does the work (docs/ARCHITECTURE.md, "The rooms"); all of them
share one `Writer` (the write recipe's transactions).
Every write validates its input first, writes bytes to the blob store second (a row never
points at a blob that is not durable yet), and writes metadata plus its audit event in one
database transaction last.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from registry_project.core.blobs import BlobStore, open_blob_store
from registry_project.core.config import RegistryConfig
from registry_project.core.errors import StorageError
from registry_project.core.facade.audit_calls import AuditCalls
from registry_project.core.facade.dataset_calls import DatasetCalls
from registry_project.core.facade.governance_calls import GovernanceCalls
from registry_project.core.facade.integrity_calls import IntegrityCalls
from registry_project.core.facade.interop_calls import InteropCalls
from registry_project.core.facade.proof_calls import ProofCalls
from registry_project.core.facade.registration_calls import RegistrationCalls
from registry_project.core.facade.retention_calls import RetentionCalls
from registry_project.core.facade.run_calls import RunCalls
from registry_project.core.facade.search_calls import SearchCalls
from registry_project.core.facade.stage_calls import StageCalls
from registry_project.core.facade.tracking_calls import TrackingCalls
from registry_project.core.facade.version_calls import VersionCalls
from registry_project.core.ops.dataset_ops import DatasetRef
from registry_project.core.ops.integrity_ops import GC_GRACE_PERIOD
from registry_project.core.ops.run_ops import InputsArg, RunRef
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.ops.writer import Writer

# kept importable from here: tests and tools look it up by this name
from registry_project.core.ops.writer import is_retriable as _is_retriable  # noqa: F401
from registry_project.core.secrets import mask_credentials
from registry_project.core.store import migrate, roles
from registry_project.core.store.engine import create_registry_engine, sqlite_file
from registry_project.core.validation import validate_dagster_context

__all__ = ["GC_GRACE_PERIOD", "DatasetRef", "InputsArg", "ModelRegistry", "RunRef", "VersionRef"]


class ModelRegistry(
    DatasetCalls,
    RunCalls,
    TrackingCalls,
    RegistrationCalls,
    VersionCalls,
    StageCalls,
    GovernanceCalls,
    RetentionCalls,
    SearchCalls,
    AuditCalls,
    IntegrityCalls,
    ProofCalls,
    InteropCalls,
):
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
        view._w.identity = self._w.identity
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
        opened = cls(engine, blobs, config=config, allow_pickle=allow_pickle)
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                # Identity mode (`registry db roles`): the actor is the connection's role.
                opened._w.identity = roles.identity(connection)
        return opened

    def close(self) -> None:
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def identity(self) -> str | None:
        """The database role every write records as its actor (PostgreSQL identity mode,
        `registry db roles`); None when the actor is what callers say."""
        return self._w.identity

    @property
    def blobs(self) -> BlobStore:
        return self._blobs

    @property
    def engine(self) -> Engine:
        return self._engine
