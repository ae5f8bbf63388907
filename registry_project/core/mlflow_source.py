"""Reading an MLflow tracking server and model registry, through MLflow's own client.

Everything this registry knows about MLflow's API is here: `MlflowSource` turns registered
models, their versions, source runs and model directories into frozen dataclasses, so the
import (`ops/import_ops.py`) never touches an MLflow object. MLflow is imported only when a
source is opened (the optional `mlflow` extra), never when the core is imported, and its
tables are never read directly: the client works against any backend MLflow supports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry_project.core.errors import ImportSourceError, MissingExtraError
from registry_project.core.secrets import mask_credentials

PAGE_SIZE = 200
# MLflow's legacy stages, as MlflowClient reports them.
LEGACY_STAGES = ("None", "Staging", "Production", "Archived")


def require_mlflow() -> Any:
    """The `mlflow` module, or a MissingExtraError saying how to install it."""
    try:
        import mlflow
        from mlflow import MlflowClient  # noqa: F401  (the client is what is used)
    except ImportError as exc:
        raise MissingExtraError(
            "reading or writing MLflow needs MLflow's client: "
            "pip install 'registry_project[mlflow]' (installs mlflow-skinny)"
        ) from exc
    return mlflow


@dataclass(frozen=True)
class MlflowDataset:
    """One dataset input of a run (`mlflow.data`): its name, digest, source and context."""

    name: str
    digest: str
    source_type: str
    source_uri: str | None
    context: str | None


@dataclass(frozen=True)
class MlflowRun:
    run_id: str
    name: str
    experiment_id: str
    status: str  # RUNNING, SCHEDULED, FINISHED, FAILED, KILLED
    started_at: datetime
    ended_at: datetime | None
    user: str | None
    params: Mapping[str, str]
    metrics: Mapping[str, float]  # latest value of each key
    metric_steps: Mapping[str, int]  # how many values each key's history holds
    tags: Mapping[str, str]
    datasets: tuple[MlflowDataset, ...]
    # Each key's every logged value: (step, value, when), in MLflow's order (step, then time)
    metric_history: Mapping[str, tuple[tuple[int, float, datetime], ...]] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class MlflowVersion:
    model_name: str
    version: int
    creator: str | None
    created_at: datetime
    updated_at: datetime
    description: str | None
    tags: Mapping[str, str]
    stage: str
    aliases: tuple[str, ...]
    run_id: str | None
    source: str | None
    status: str


@dataclass(frozen=True)
class MlflowModel:
    name: str
    description: str | None
    created_at: datetime
    tags: Mapping[str, str]
    aliases: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MlflowModelDir:
    """A version's model directory, downloaded: where, and what its MLmodel says."""

    path: Path
    flavors: tuple[str, ...]
    signature: Mapping[str, Any] | None
    model_uuid: str | None


def _time(millis: int | None) -> datetime | None:
    return None if millis is None else datetime.fromtimestamp(millis / 1000, tz=UTC)


def _source_uri(source: str | None) -> str | None:
    """The location in a dataset source's JSON (`{"uri": ...}`, `{"url": ...}`, ...)."""
    if not source:
        return None
    try:
        parsed = json.loads(source)
    except ValueError:
        return source
    if isinstance(parsed, dict):
        for key in ("uri", "url", "path", "table_name"):
            if isinstance(parsed.get(key), str) and parsed[key]:
                return parsed[key]
    return None


class MlflowSource:
    """An MLflow tracking server and model registry, read through `MlflowClient`."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        require_mlflow()
        from mlflow import MlflowClient

        if not isinstance(tracking_uri, str) or not tracking_uri.strip():
            raise ImportSourceError("tracking_uri must name an MLflow tracking server or store")
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        # The identity of the source in the import records: the registry's URI, without
        # credentials (they change; the registry does not).
        self.source_id = mask_credentials(self.registry_uri.rstrip("/"))
        try:
            self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=self.registry_uri)
        except Exception as exc:  # MLflow raises many types for a bad URI
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: BaseException) -> ImportSourceError:
        return ImportSourceError(
            mask_credentials(
                f"cannot read the MLflow store at {self.tracking_uri}: {exc}. Check "
                "--tracking-uri (and --registry-uri if the registry is elsewhere)."
            )
        )

    def models(self, names: Sequence[str] | None = None) -> list[MlflowModel]:
        """The registered models, by name; `names` restricts them (each must exist)."""
        try:
            if names:
                found = [self._client.get_registered_model(name) for name in names]
            else:
                found = list(self._paged(self._client.search_registered_models))
        except Exception as exc:
            raise self._unreachable(exc) from exc
        return sorted(
            (
                MlflowModel(
                    name=m.name,
                    description=m.description or None,
                    created_at=_time(m.creation_timestamp) or datetime.now(UTC),
                    tags=dict(m.tags or {}),
                    aliases={alias: int(v) for alias, v in (m.aliases or {}).items()},
                )
                for m in found
            ),
            key=lambda m: m.name,
        )

    def versions(self, model: MlflowModel) -> list[MlflowVersion]:
        """Every version of `model`, oldest number first, with the model's aliases that
        name it (a version search does not report aliases on every backend)."""
        by_version: dict[int, list[str]] = {}
        for alias, number in model.aliases.items():
            by_version.setdefault(number, []).append(alias)
        escaped = model.name.replace("'", "\\'")
        try:
            found = list(
                self._paged(self._client.search_model_versions, filter_string=f"name='{escaped}'")
            )
        except Exception as exc:
            raise self._unreachable(exc) from exc
        versions = [
            MlflowVersion(
                model_name=v.name,
                version=int(v.version),
                creator=v.user_id or None,
                created_at=_time(v.creation_timestamp) or datetime.now(UTC),
                updated_at=_time(v.last_updated_timestamp or v.creation_timestamp)
                or datetime.now(UTC),
                description=v.description or None,
                tags=dict(v.tags or {}),
                stage=v.current_stage or "None",
                aliases=tuple(sorted({*(v.aliases or ()), *by_version.get(int(v.version), ())})),
                run_id=v.run_id or None,
                source=v.source or None,
                status=v.status or "READY",
            )
            for v in found
        ]
        return sorted(versions, key=lambda v: v.version)

    def run(self, run_id: str) -> MlflowRun:
        """A version's source run; ImportSourceError when MLflow cannot read it."""
        try:
            run = self._client.get_run(run_id)
            history = {
                key: tuple(
                    sorted(
                        (int(m.step), float(m.value), _time(m.timestamp) or datetime.now(UTC))
                        for m in self._client.get_metric_history(run_id, key)
                    )
                )
                for key in run.data.metrics
            }
            steps = {key: len(points) for key, points in history.items()}
        except Exception as exc:
            raise ImportSourceError(f"cannot read MLflow run {run_id}: {exc}") from exc
        inputs = run.inputs.dataset_inputs if run.inputs is not None else []
        datasets = []
        for item in inputs or ():
            context = next(
                (t.value for t in item.tags or () if t.key == "mlflow.data.context"), None
            )
            d = item.dataset
            datasets.append(
                MlflowDataset(d.name, d.digest, d.source_type, _source_uri(d.source), context)
            )
        tags = dict(run.data.tags or {})
        return MlflowRun(
            run_id=run.info.run_id,
            name=run.info.run_name or tags.get("mlflow.runName") or run.info.run_id,
            experiment_id=run.info.experiment_id,
            status=run.info.status,
            started_at=_time(run.info.start_time) or datetime.now(UTC),
            ended_at=_time(run.info.end_time),
            user=run.info.user_id or tags.get("mlflow.user") or None,
            params=dict(run.data.params or {}),
            metrics=dict(run.data.metrics or {}),
            metric_steps=steps,
            tags=tags,
            datasets=tuple(datasets),
            metric_history=history,
        )

    def download(self, version: MlflowVersion, destination: Path) -> MlflowModelDir:
        """The version's model directory (or the one file its source names) downloaded
        under `destination`; ImportSourceError when it is missing or unreadable."""
        mlflow = require_mlflow()
        from mlflow.models import Model

        try:
            uri = self._client.get_model_version_download_uri(
                version.model_name, str(version.version)
            )
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=str(destination), tracking_uri=self.tracking_uri
                )
            )
        except Exception as exc:
            said = " ".join(str(exc).split())  # MLflow's message spans lines
            raise ImportSourceError(
                f"cannot download the artifact of MLflow model {version.model_name!r} "
                f"version {version.version} ({version.source}): {said}"
            ) from exc
        if not local.exists() or (local.is_dir() and not any(local.iterdir())):
            raise ImportSourceError(
                f"the artifact of MLflow model {version.model_name!r} version "
                f"{version.version} ({version.source}) is missing or empty"
            )
        flavors: tuple[str, ...] = ()
        signature = None
        model_uuid = None
        if local.is_dir() and (local / "MLmodel").is_file():
            try:
                mlmodel = Model.load(str(local / "MLmodel"))
            except Exception as exc:
                raise ImportSourceError(
                    f"the MLmodel file of {version.model_name!r} version {version.version} "
                    f"cannot be read: {exc}"
                ) from exc
            flavors = tuple(sorted(mlmodel.flavors))
            signature = mlmodel.signature.to_dict() if mlmodel.signature is not None else None
            model_uuid = mlmodel.model_uuid
        return MlflowModelDir(local, flavors, signature, model_uuid)

    @staticmethod
    def _paged(search: Any, **kwargs: Any) -> Iterator[Any]:
        token = None
        while True:
            page = search(max_results=PAGE_SIZE, page_token=token, **kwargs)
            yield from page
            token = page.token
            if not token:
                return
