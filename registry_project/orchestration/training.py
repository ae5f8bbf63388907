"""`@registry_training`: the user's function is the body of an asset that records a training
run and registers the model it returns as a new version (the candidate)."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from registry_project.core.active_run import ActiveRun
from registry_project.core.autolog import is_sklearn_estimator
from registry_project.core.entities import DatasetSnapshot, InputRole, Registration
from registry_project.core.errors import InvalidInputError, RegistryError
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration import metadata as md
from registry_project.orchestration import sweeps
from registry_project.orchestration._body import (
    AssetBody,
    compute_function,
    input_keys,
    registry_resource,
    training_params,
)
from registry_project.orchestration._common import (
    AssetRef,
    as_failure,
    asset_options,
    partition_metadata,
    partition_of,
    recorded_snapshots,
    to_asset_key,
)
from registry_project.orchestration.datasets import default_dataset_name
from registry_project.orchestration.translator import RegistryAssetProps, RegistryTranslator

ROLES = {role.value for role in InputRole}
# A training function parameter of this name receives the ActiveRun (step metrics,
# artifacts): `def train(train: pd.DataFrame, run: ActiveRun)`.
RUN_PARAM = "run"


@dataclass(frozen=True)
class TrainingResult:
    """What a training function returns."""

    model: object
    metrics: Mapping[str, float] = field(default_factory=dict)
    signature: Any = None  # a sample DataFrame of the model's input
    flavor: str | None = None
    description: str | None = None
    # (X, y) the model was fitted on / validated with: with `autolog=True` the run records
    # the scores, and a confusion matrix or residual summary, on them (core/autolog.py).
    train_data: tuple[Any, Any] | None = None
    validation_data: tuple[Any, Any] | None = None


def register_training_result(
    registry: ModelRegistry,
    model_name: str,
    result: TrainingResult,
    *,
    run: ActiveRun | str,
    reuse_identical: bool = True,
) -> Registration:
    """Register what a training step produced; with `reuse_identical`, a model whose
    artifact digest, params and inputs equal an existing version's registers nothing and
    that version is returned (`reused=True`)."""
    options: dict[str, Any] = {
        "run": run,
        "metrics": result.metrics,
        "flavor": result.flavor,
        "signature": result.signature,
        "description": result.description,
    }
    if reuse_identical:
        return registry.register_or_reuse(model_name, result.model, **options)
    return Registration(registry.register_model(model_name, result.model, **options), False)


def registration_metadata(registration: Registration) -> dict[str, Any]:
    """What a training materialization says about its registration: `registry/reused` and a
    one-line `registry/registration` that names the version either way."""
    version = registration.version
    if registration.reused:
        note = (
            f"nothing new registered: {version.ref} ({version.stage.value}) already has this "
            f"artifact (sha256:{version.artifact_digest[:12]}), these params and this data"
        )
    else:
        note = f"registered {version.ref}"
    return {
        md.REUSED: dg.MetadataValue.bool(registration.reused),
        md.REGISTRATION: dg.MetadataValue.text(note),
    }


def registry_training(
    *,
    model_name: str,
    datasets: Mapping[str, AssetRef] | None = None,
    params: Mapping[str, Any] | None = None,
    ins: Mapping[str, dg.AssetIn] | None = None,
    deps: Sequence[Any] | None = None,
    input_roles: Mapping[str, str] | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    name: str | None = None,
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    translator: RegistryTranslator | None = None,
    resource_key: str = "registry",
    reuse_identical: bool = True,
    experiment: str | None = None,
    autolog: bool = False,
    sweep: sweeps.SweepArg = None,
    sweep_metric: str | None = None,
    sweep_higher_is_better: bool = True,
) -> Callable[[Callable[..., TrainingResult]], dg.AssetsDefinition]:
    """Make the decorated function the body of the `<model>/<model>_candidate` asset.

    The function is an ordinary asset body (`context`, upstream assets, `config: dg.Config`,
    resources, `partition_key`) that fits a model and returns a `TrainingResult`. Around it
    the asset records a registry run and registers the model as a new version (EXPERIMENT):

    - `datasets` maps an input role (`train`, `validation`, `test`; also the parameter name)
      to a `@registry_dataset` asset (or one output key of a split): the function receives
      exactly the snapshot that asset's materialization recorded, loaded from the registry.
    - Any other upstream asset the function takes as an input is read through its IO manager
      as usual. A registry snapshot is recorded as a run input; any other asset as a pinned
      reference (its data version) with role `input_roles[name]`, the parameter's name when
      that is a role, else `train`.
    - The run's params are `params`, the `dg.Config` values of this run and, for a
      partitioned asset, `partition_key`, so a hyperparameter change is run config, not code.
      A function parameter named `params` receives them as one dict, one named `run` the
      registry's `ActiveRun`, for step metrics and artifacts (`run.log_metric("loss", v,
      step=k)`, `run.log_artifact(...)`).
    - With `reuse_identical` (the default), a model whose artifact digest, params and inputs
      equal an existing version's registers nothing: the materialization names that version
      and says so (`registry/reused`, `registry/registration`) and keeps its data version,
      so nothing downstream re-runs for it. Pass False to register every training.
    - Runs are grouped under `experiment`, by default the asset's key joined by `.`
      (`reg.runs("cancer.cancer_candidate")`). The materialization records each run metric's
      final value (`run_metric/<key>`: Dagster plots it across materializations; a step
      metric's last point) and the run's page in the registry UI, where its curves are.
    - `autolog=True` records the scikit-learn model the function returns on the run
      (params, importances or coefficients, signature; scores and a confusion matrix or
      residuals on `TrainingResult.train_data` / `validation_data`; core/autolog.py).
    - `sweep` runs the function once per config (a list of dicts, or a grid
      `{"C": [0.1, 1.0], "max_iter": [200, 500]}`), each a run of the experiment with the
      config in its params (and in `config`'s fields), the model logged as the run's
      `model` artifact; the trial with the best `sweep_metric` (a key of the returned
      metrics; `sweep_higher_is_better`) is registered as the candidate, the others stay
      in the experiment (registrable later: `reg.register_model(name, run=id,
      artifact="model")`). One asset materialization; evaluation and promotion follow as
      for any candidate.

    Example::

        class ForestConfig(dg.Config):
            n_estimators: int = 100

        @registry_training(model_name="cancer", datasets={"train": "cancer_train"})
        def cancer_candidate(config: ForestConfig, train: pd.DataFrame) -> TrainingResult:
            model = RandomForestClassifier(config.n_estimators).fit(train[X], train[y])
            return TrainingResult(model, metrics={"train_accuracy": model.score(...)})
    """
    chosen = translator or RegistryTranslator()
    roles = {
        InputRole(role).value: to_asset_key(ref, hint=role)
        for role, ref in (datasets or {}).items()
    }
    fixed_params = dict(params or {})
    trials = sweeps.expand(sweep)
    if trials is not None and not sweep_metric:
        raise InvalidInputError(
            "a sweep needs sweep_metric=, the returned metric that picks the best trial"
        )
    named_roles = {k: InputRole(v).value for k, v in (input_roles or {}).items()}

    def decorator(fn: Callable[..., TrainingResult]) -> dg.AssetsDefinition:
        body = AssetBody(fn, frozenset({*roles, "params", RUN_PARAM}), resource_key)
        props = RegistryAssetProps("training", name or fn.__name__, model_name, fn)
        options = asset_options(
            chosen,
            props,
            description=description,
            group_name=group_name,
            owners=owners,
            tags=tags,
            automation_condition=automation_condition,
        )

        def run(context: dg.AssetExecutionContext, passed: Mapping[str, Any]) -> Any:
            registry = registry_resource(passed, resource_key).for_context(context)
            partition = partition_of(context)
            run_params = training_params(fixed_params, passed, partition)
            try:
                snapshots = recorded_snapshots(context, registry, roles, partition)
                frames = {role: registry.load_dataset(snap) for role, snap in snapshots.items()}
                inputs = [(snap, role) for role, snap in snapshots.items()]
                for input_name, key in input_keys(context, passed).items():
                    role = named_roles.get(input_name) or (
                        input_name if input_name in ROLES else InputRole.TRAIN.value
                    )
                    found = _input_dataset(context, registry, key, partition, chosen)
                    if found is not None:
                        inputs.append((found, role))
                group = experiment or experiment_name(context.asset_key)
                start = functools.partial(
                    registry.start_run,
                    f"{model_name}-training",
                    experiment=group,
                    inputs=inputs,
                    autolog=autolog,
                )

                def fit(run: ActiveRun, given: Mapping[str, Any], values: dict) -> TrainingResult:
                    called = body.call(context, given, params=values, **{RUN_PARAM: run}, **frames)
                    result = _checked(fn.__name__, called)
                    _autolog(run, result)
                    return result

                shown_params, extra = run_params, {}
                if trials is None:
                    with start(params=run_params) as training_run:
                        result = fit(training_run, passed, run_params)
                        registration = register_training_result(
                            registry,
                            model_name,
                            result,
                            run=training_run,
                            reuse_identical=reuse_identical,
                        )
                    run_id = training_run.id
                else:
                    best, result, extra = _run_sweep(
                        context,
                        registry,
                        start,
                        fit,
                        passed,
                        run_params,
                        trials,
                        sweep_metric or "",
                        sweep_higher_is_better,
                    )
                    registration = register_training_result(
                        registry,
                        model_name,
                        result,
                        run=best.run_id,
                        reuse_identical=reuse_identical,
                    )
                    run_id, shown_params = best.run_id, {**run_params, **best.config}
                summary = md.run_metadata(registry.get_run(run_id))
            except RegistryError as exc:
                raise as_failure(exc) from exc
            version = registration.version
            outcome = registration_metadata(registration)
            context.log.info(f"{outcome[md.REGISTRATION].value} ({version.id})")
            return dg.MaterializeResult(
                metadata={
                    **md.version_metadata(version),
                    **outcome,
                    md.RUN_ID: dg.MetadataValue.text(run_id),
                    **summary,
                    **extra,
                    **md.params_metadata(shown_params),
                    md.INPUTS: dg.MetadataValue.json(
                        {f"{role}:{snap.name}": snap.id for snap, role in inputs}
                    ),
                    **partition_metadata(context),
                },
                data_version=dg.DataVersion(version.id),
            )

        return dg.asset(
            key=chosen.get_asset_key(props),
            ins=ins,
            deps=[*roles.values(), *(deps or ())],
            partitions_def=partitions_def,
            **options,
        )(compute_function(body, run))

    return decorator


def experiment_name(key: dg.AssetKey) -> str:
    """A training asset's default experiment: its key, parts joined by `.` (experiment
    names are registry names, without `/`): `churn.churn_candidate`."""
    return ".".join(key.path)


def _run_sweep(
    context: dg.AssetExecutionContext,
    registry: ModelRegistry,
    start: Callable[..., ActiveRun],
    fit: Callable[[ActiveRun, Mapping[str, Any], dict], TrainingResult],
    passed: Mapping[str, Any],
    run_params: Mapping[str, Any],
    trials: Sequence[Mapping[str, Any]],
    metric: str,
    higher_is_better: bool,
) -> tuple[sweeps.Trial, TrainingResult, dict[str, Any]]:
    """Each trial a run of the experiment (tagged with the sweep and its position), its
    model logged as the run's `model` artifact; returns the best trial, its result (the
    only model kept in memory) and the materialization's sweep metadata."""
    done: list[sweeps.Trial] = []
    leader: tuple[sweeps.Trial, TrainingResult] | None = None
    sweep_name = experiment_name(context.asset_key)
    for position, config in enumerate(trials):
        values = {**run_params, **config}
        tags = {sweeps.SWEEP_TAG: sweep_name, sweeps.TRIAL_TAG: str(position)}
        with start(params=values, tags=tags) as trial_run:
            result = fit(trial_run, sweeps.trial_inputs(passed, config), values)
            score = sweeps.trial_score(result.metrics, metric, position)
            if result.metrics:
                registry.log_run_metrics(trial_run.id, result.metrics)
            trial_run.log_model(result.model, flavor=result.flavor)
        trial = sweeps.Trial(position, config, trial_run.id, score, dict(result.metrics))
        done.append(trial)
        contenders = [trial] if leader is None else [leader[0], trial]
        if sweeps.best(contenders, higher_is_better) is trial:
            leader = (trial, result)
        context.log.info(f"sweep trial {position} {config}: {metric}={score:.6g} ({trial.run_id})")
    assert leader is not None  # expand() refuses an empty sweep
    best, result = leader
    registry.set_run_tags(best.run_id, {sweeps.BEST_TAG: "true"})
    return best, result, sweeps.sweep_metadata(done, best, metric)


def _checked(function_name: str, result: Any) -> TrainingResult:
    if not isinstance(result, TrainingResult):
        raise dg.Failure(
            description=f"{function_name} must return a TrainingResult, got {type(result).__name__}"
        )
    return result


def _autolog(run: ActiveRun, result: TrainingResult) -> None:
    """With `autolog=True`, record a scikit-learn model on its run with the data the
    function returned (registration would otherwise record it without data)."""
    if run.autolog and is_sklearn_estimator(result.model):
        run.autolog_estimator(
            result.model,
            *(result.train_data or (None, None)),
            *(result.validation_data or (None, None)),
        )


def _input_dataset(
    context: dg.AssetExecutionContext,
    registry: ModelRegistry,
    key: dg.AssetKey,
    partition: str | None,
    translator: RegistryTranslator,
) -> DatasetSnapshot | None:
    """The registry dataset behind an input: the snapshot a registry asset recorded, else a
    pinned reference to the asset's materialization (its data version, else its event)."""
    record = md.latest_record(context.instance, key, partition)
    recorded = (
        record.asset_materialization.metadata if record and record.asset_materialization else {}
    )
    snapshot_id = recorded.get(md.SNAPSHOT_ID)
    if snapshot_id is not None:
        return registry.get_dataset(snapshot_id.value)
    if not translator.settings.record_non_registry_inputs:
        return None
    uri = recorded.get("dagster/uri")
    tags = record.asset_materialization.tags if record and record.asset_materialization else {}
    pin = (tags or {}).get("dagster/data_version")
    if pin is None:
        pin = (
            f"dagster-event:{record.storage_id}" if record else f"dagster-run:{context.run.run_id}"
        )
    location = str(uri.value) if uri is not None else ""
    if location.startswith("/"):
        location = f"file://{location}"
    if "://" not in location:
        location = f"dagster://asset/{key.to_user_string()}"
    return registry.reference_dataset(default_dataset_name(key), uri=location, version_id=pin)
