"""Registering model versions: the calls of ops/registration.py.

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.

ops/registration.py is imported in the calls that use it, not with this module:
a command that opens the registry for something else (`registry versions`) does not
pay for loading it (issue #18).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry_project.core import autolog, flavors
from registry_project.core.active_run import ActiveRun
from registry_project.core.entities import ModelVersion, Registration
from registry_project.core.errors import InvalidInputError
from registry_project.core.external import StoredArtifact
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops.run_ops import RunRef

# `register_model`'s model when none is given: None can be a model (pickle flavor).
_NO_MODEL: Any = object()


class RegistrationCalls(FacadeBase):
    """Registering a model (or an artifact another process stored) as a new version."""

    def register_model(
        self,
        name: str,
        model: object = _NO_MODEL,
        *,
        run: RunRef | None = None,
        artifact: str | None = None,
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

        With `artifact=` instead of a model, registers the model a finished run logged
        under that name (`run.log_model(clf, name="model")`), re-hashed first: register
        the best trial of a sweep after the fact. `run=` is then required; `flavor`,
        `signature` and `reuse_identical` do not apply (the logged model has its flavor).

        Example::

            mv = reg.register_model("churn", clf, run=run, metrics={"auc": 0.91},
                                    signature=X_train.head())
            mv.version, mv.id, mv.artifact_digest
            best = reg.runs("churn", order_by="-metrics.val_auc", limit=1)[0]
            mv = reg.register_model("churn", run=best.id, artifact="model")
        """
        from registry_project.core.ops import registration

        if artifact is not None or model is _NO_MODEL:
            if artifact is None:
                raise InvalidInputError(
                    "register_model needs a model, or run= and artifact= naming the model a "
                    "finished run logged (register_model('churn', run=run_id, artifact='model'))"
                )
            if model is not _NO_MODEL:
                raise InvalidInputError(
                    "pass either a model or artifact= (a model the run logged), not both"
                )
            if run is None:
                raise InvalidInputError("artifact= names a run's model: pass run= as well")
            if flavor is not None or signature is not None or reuse_identical:
                raise InvalidInputError(
                    "flavor, signature and reuse_identical do not apply to artifact=: the "
                    "run's logged model already has its flavor"
                )
            return registration.register_from_run(
                self._w,
                name,
                run=run,
                artifact=artifact,
                metrics=metrics,
                description=description,
                actor=actor,
                dagster_run_id=dagster_run_id,
                asset_key=asset_key,
            )
        _autolog_if_asked(run, model)
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
        from registry_project.core.ops import registration

        _autolog_if_asked(run, model)
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
        from registry_project.core.ops import registration

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


def _autolog_if_asked(run: RunRef | None, model: object) -> None:
    """A run started with `autolog=True` records the scikit-learn model registered against
    it (no data here: params, importances or coefficients; the training asset or the user
    calls `run.autolog_estimator` with data for scores and the rest), once."""
    if (
        isinstance(run, ActiveRun)
        and run.autolog
        and not run.autologged
        and autolog.is_sklearn_estimator(model)
    ):
        run.autolog_estimator(model)
