"""Moving models in from and out to MLflow: the calls of ops/import_ops.py and
core/mlflow_export.py.

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's. MLflow's client (the `mlflow` extra) is imported only
when one of these calls runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops.version_ops import VersionRef

if TYPE_CHECKING:
    from registry_project.core.mlflow_import import ImportReport
    from registry_project.core.ops.import_ops import Progress

# import_ops and mlflow_export are imported inside the calls: opening a registry (every
# `registry` command) must not pay for the MLflow reader and writer (issue #18).


class InteropCalls(FacadeBase):
    """Importing an MLflow registry; exporting a version as an MLflow model directory."""

    def import_mlflow(
        self,
        tracking_uri: str,
        *,
        registry_uri: str | None = None,
        models: Sequence[str] | None = None,
        dry_run: bool = False,
        actor: str | None = None,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Import MLflow's registered models (all, or those named in `models`): their
        descriptions and tags, every version with its number (gaps kept, a number taken
        here renumbered and said so), creator, creation time, description, tags, legacy
        stage and aliases; each version's source run (params, latest metrics, status,
        times, dataset inputs as pinned references) and its model directory, stored
        content-addressed with MLflow's flavor and signature.

        Idempotent and resumable: what an earlier import committed is skipped, so running
        it again after an interruption continues where it stopped. Each version is one
        transaction with one `import` audit event per item (model, version, run, dataset)
        naming the MLflow ids; a version that cannot be read is reported in `failed` and
        nothing of it is written. `dry_run=True` reads MLflow and writes nothing.
        `progress(done, total, "name/version")` is called after each version.

        Example::

            report = reg.import_mlflow("sqlite:///mlflow.db")
            [item.ref for item in report.imported], report.failed
        """
        from registry_project.core.ops import import_ops

        return import_ops.import_mlflow(
            self._w,
            tracking_uri=tracking_uri,
            registry_uri=registry_uri,
            models=models,
            dry_run=dry_run,
            actor=actor,
            progress=progress,
        )

    def export_model(
        self,
        version: VersionRef,
        directory: str | os.PathLike[str],
        *,
        format: str = "mlflow",
    ) -> str:
        """Write `version` as an MLflow model directory that `mlflow.pyfunc.load_model`
        loads (MLflow's `models serve`, KServe, MLServer, BentoML take it): the sklearn
        flavor for a scikit-learn estimator, else python_function; the signature, the
        requirements recorded with its run, and the registry's id and digest in the
        MLmodel metadata. An imported MLflow directory is written back as it came.
        `directory` must not exist or be empty. Returns the directory's path.

        Example::

            reg.export_model("churn@production", "serving/churn", format="mlflow")
        """
        from registry_project.core import mlflow_export

        return mlflow_export.export_model(self._w, version, directory, format=format)
