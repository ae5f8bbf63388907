"""ModelRegistryResource: the registry, configured once, for assets, checks, sensors and jobs."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from registry_project.core.registry import ModelRegistry


class ModelRegistryResource(dg.ConfigurableResource):
    """The model registry as a Dagster resource.

    Everything written through it inside a run records that run's id (and, through
    `for_context`, the asset key), so the registry's lineage points back at Dagster.

    Example::

        defs = dg.Definitions(
            assets=[...],
            resources={"registry": ModelRegistryResource(
                database_url=dg.EnvVar("REGISTRY_DATABASE_URL"),
                artifact_root=dg.EnvVar("REGISTRY_ARTIFACT_ROOT"),
            )},
        )

        @dg.asset
        def report(registry: ModelRegistryResource) -> None:
            model = registry.get_registry().load_model("churn@production")
    """

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database; default REGISTRY_DATABASE_URL, "
        "else ./.registry/registry.db",
    )
    artifact_root: str | None = Field(
        default=None,
        description="Directory or s3://bucket/prefix for blobs; default REGISTRY_ARTIFACT_ROOT, "
        "else ./.registry/artifacts",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible store (MinIO, moto, ...)."
    )
    allow_pickle: bool = Field(
        default=True,
        description="Load pickle-based flavors (pickle, joblib). Loading those runs code "
        "chosen by whoever registered the model.",
    )

    _registry: ModelRegistry | None = PrivateAttr(default=None)
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Sensors and schedules have no run.
        self._run_id = context.run.run_id if context.run is not None else None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._registry is not None:
            self._registry.close()
            self._registry = None

    def _open(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry.open(
                self.database_url,
                self.artifact_root,
                allow_pickle=self.allow_pickle,
                s3_endpoint_url=self.s3_endpoint_url,
            )
        return self._registry

    def get_registry(self, asset_key: str | None = None) -> ModelRegistry:
        """The registry; writes record the current Dagster run id (and `asset_key`)."""
        return self._open().bound(dagster_run_id=self._run_id, asset_key=asset_key)

    def for_context(self, context: Any, asset_key: dg.AssetKey | None = None) -> ModelRegistry:
        """The registry bound to an asset or op execution context's run and asset key (of a
        multi-asset: `asset_key`, the output being recorded)."""
        if asset_key is None and isinstance(context, dg.AssetExecutionContext):
            keys = context.assets_def.keys if context.has_assets_def else ()
            asset_key = next(iter(keys)) if len(keys) == 1 else None
        return self._open().bound(
            dagster_run_id=context.run.run_id,
            asset_key=asset_key.to_user_string() if asset_key is not None else None,
        )
