"""Training runs: the calls of ops/run_ops.py.

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.

ops/run_param_ops.py is imported in the calls that use it, not with this module:
a command that opens the registry for something else (`registry versions`) does not
pay for loading it (issue #18).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry_project.core.active_run import ActiveRun
from registry_project.core.entities import RunStatus, TrainingRun
from registry_project.core.external import StoredSoftware
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops import run_ops
from registry_project.core.ops.run_ops import InputsArg, RunRef


class RunCalls(FacadeBase):
    """Starting, logging and finishing training runs."""

    def start_run(
        self,
        name: str,
        *,
        experiment: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        inputs: InputsArg = None,
        dagster_run_id: str | None = None,
        asset_key: str | None = None,
        capture_environment: bool = True,
        software: StoredSoftware | None = None,
        actor: str | None = None,
        autolog: bool = False,
    ) -> ActiveRun:
        """Start a training run; use it as a context manager.

        `inputs` are the snapshots the run reads: a list (role "train"), `(snapshot, role)`
        pairs, or a mapping `{"train": snap, "test": holdout}`. The code version (git commit,
        dirty flag, remote) and the environment (Python, platform, installed packages,
        Dockerfile / requirements / pyproject at the project root) are captured, unless
        `software` brings them from where the run really executed (an external training
        process that stored its environment files as blobs; see `core.external`).

        `experiment` groups runs (`reg.runs("churn")`); it defaults to the run's name.
        `tags` are text labels (`{"team": "risk"}`) that `runs(filter="tags.team = 'risk'")`
        finds. A run need not register anything: a sweep's trials are tracked runs.

        `autolog=True` (opt-in): a scikit-learn model registered against this run is
        recorded first (params, importances or coefficients, signature; core/autolog.py),
        and `run.autolog_estimator(est, X_train, y_train, X_val, y_val)` records one with
        its scores, confusion matrix or residuals. Nothing is patched; off, nothing is
        logged.

        Example::

            with reg.start_run("churn-training", params={"C": 1.0}, inputs=[snap]) as run:
                mv = reg.register_model("churn", model, run=run, metrics={"auc": 0.91})
            with reg.start_run("trial-3", experiment="churn", params={"C": 0.1}) as run:
                for step, loss in enumerate(losses):
                    run.log_metric("loss", loss, step=step)
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
            experiment=experiment,
            tags=tags,
        )
        return ActiveRun(self, run.id, name, autolog=autolog)

    def log_run_metrics(self, run: RunRef, metrics: Mapping[str, float]) -> None:
        """Training metrics of a run itself (a version's metrics go to register_model)."""
        run_ops.log_metrics(self._w, run, metrics)

    def log_run_params(
        self, run: RunRef, params: Mapping[str, Any], *, keep_existing: bool = False
    ) -> None:
        """Add params to a run after it started (`run.log_params` inside the block). A key
        the run has keeps its value: a different value is refused, or with `keep_existing`
        left out (autologging: the user's params win over the estimator's)."""
        from registry_project.core.ops import run_param_ops

        run_param_ops.log_params(self._w, run, params, keep_existing=keep_existing)

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
