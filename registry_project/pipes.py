"""The registry inside an external training process launched through Dagster Pipes.

Imports `dagster_pipes` and the registry's core only (never `dagster` or the orchestration
layer), so it runs in a slim training image, on Kubernetes, Databricks or a GPU box.

Who writes what: this process writes its bytes (the model artifact, the package list, the
environment files) straight into the registry's content-addressed blob store, whose root
the Dagster asset passes in the Pipes extras; it needs blob-store credentials (S3 through
boto3's default chain) but never the metadata database's. It reports digests, params and
metrics back as one Pipes message. The Dagster process re-hashes the blobs and then
records the run (inputs, this process's code commit and environment, the Dagster run id)
and the version in the database. A process that crashes or reports a bad metric records
nothing; bytes it already wrote are unreferenced and `registry gc` removes them.

Example (the script a `@registry_pipes_training` asset launches)::

    from registry_project.pipes import open_registry_pipes

    with open_registry_pipes() as training:
        train = training.load_input("train")          # the snapshot, digest verified
        model = fit(train, **training.params)
        training.report_model(model, metrics={"train_auc": 0.93}, signature=train.head())
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster_pipes import PipesContext, open_dagster_pipes

from registry_project.core import parquet
from registry_project.core.blobs import BlobStore, open_blob_store
from registry_project.core.external import store_model, store_software

EXTRAS_KEY = "registry"  # the Pipes extra the Dagster asset fills in
MESSAGE_KEY = "registry/training"  # the custom message this helper reports


@dataclass(frozen=True)
class PipesInput:
    """A registry snapshot handed to the external process: where its bytes are."""

    role: str
    id: str
    name: str
    digest: str | None
    uri: str


class RegistryPipesTraining:
    """The training's view of the registry from inside a Pipes process."""

    def __init__(self, pipes: PipesContext) -> None:
        extras = pipes.get_extra(EXTRAS_KEY)
        self.pipes = pipes
        self.model_name: str = extras["model_name"]
        self.params: dict[str, Any] = dict(extras.get("params") or {})
        self.inputs: dict[str, PipesInput] = {
            role: PipesInput(role=role, **entry) for role, entry in extras["inputs"].items()
        }
        self._artifact_root: str = extras["artifact_root"]
        self._s3_endpoint_url: str | None = extras.get("s3_endpoint_url")
        self._blobs: BlobStore | None = None
        self.reported = False

    @property
    def blobs(self) -> BlobStore:
        """The registry's blob store, as the Dagster asset sees it."""
        if self._blobs is None:
            self._blobs = open_blob_store(
                self._artifact_root, s3_endpoint_url=self._s3_endpoint_url
            )
        return self._blobs

    def load_input(self, role: str, *, as_arrow: bool = False) -> Any:
        """The snapshot passed for `role` (`train`, `validation`, `test`), digest verified."""
        if role not in self.inputs:
            raise KeyError(f"no input {role!r}; the asset passed {sorted(self.inputs)}")
        found = self.inputs[role]
        if found.digest is None:
            raise ValueError(f"input {role!r} is a reference to {found.uri}; read it from there")
        with self.blobs.open_verified(found.digest) as stream:
            return parquet.read_parquet(stream, as_arrow=as_arrow)

    def report_model(
        self,
        model: object,
        *,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        flavor: str | None = None,
        signature: Any = None,
        description: str | None = None,
        project_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Store `model` in the blob store and report it with its metrics and params, and
        the code version and environment of this process (the git work tree and project
        files of `project_dir`, default the working directory). Call it once."""
        if self.reported:
            raise RuntimeError("report_model was already called: one training, one version")
        artifact = store_model(self.blobs, model, flavor=flavor, signature=signature)
        software = store_software(self.blobs, Path(project_dir) if project_dir else None)
        self.pipes.report_custom_message(
            {
                MESSAGE_KEY: {
                    "artifact": artifact.to_json(),
                    "software": software.to_json(),
                    "metrics": dict(metrics or {}),
                    "params": dict(params or {}),
                    "description": description,
                    "dagster_run_id": self.pipes.run_id,
                }
            }
        )
        self.reported = True
        self.pipes.log.info(f"stored {artifact.flavor} artifact sha256 {artifact.digest}")


@contextlib.contextmanager
def open_registry_pipes(**pipes_options: Any) -> Iterator[RegistryPipesTraining]:
    """`dagster_pipes.open_dagster_pipes(**pipes_options)` with the registry's view of it.
    An exception inside the block reaches Dagster as the step's failure."""
    with open_dagster_pipes(**pipes_options) as pipes:
        yield RegistryPipesTraining(pipes)
