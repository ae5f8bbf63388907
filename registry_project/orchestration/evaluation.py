"""`@registry_evaluation`: metrics on a holdout snapshot, a comparison with production, and
blocking asset checks (quality gates) that stop promotion when they fail."""

# No `from __future__ import annotations`: Dagster reads the real type hints of the
# decorated functions (context and config classes).

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from registry_project.core.entities import ModelVersion
from registry_project.core.errors import RegistryError
from registry_project.core.validation import validate_metrics
from registry_project.orchestration import metadata as md
from registry_project.orchestration._body import AssetBody, compute_function, registry_resource
from registry_project.orchestration._common import (
    AssetRef,
    as_failure,
    asset_options,
    partition_metadata,
    partition_of,
    to_asset_key,
)
from registry_project.orchestration.translator import RegistryAssetProps, RegistryTranslator


def _check_name(metric: str, suffix: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_]', '_', metric)}_{suffix}"


@dataclass(frozen=True)
class MetricThreshold:
    """Gate: the candidate's metric must lie within [minimum, maximum]."""

    metric: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def check_name(self) -> str:
        return _check_name(self.metric, "threshold")

    def describe(self) -> str:
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return f"{self.metric} {' and '.join(bounds) or '(any value)'}"

    def evaluate(
        self, candidate: Mapping[str, float], production: Mapping[str, float] | None
    ) -> tuple[bool, str]:
        value = candidate.get(self.metric)
        if value is None:
            return False, f"{self.metric} was not measured"
        ok = (self.minimum is None or value >= self.minimum) and (
            self.maximum is None or value <= self.maximum
        )
        return ok, f"{self.metric} = {value:.6g}; required {self.describe()}"


@dataclass(frozen=True)
class MaxRegression:
    """Gate: the metric may not be worse than production's by more than `max_regression`."""

    metric: str
    higher_is_better: bool = True
    max_regression: float = 0.0

    @property
    def check_name(self) -> str:
        return _check_name(self.metric, "regression")

    def describe(self) -> str:
        return f"{self.metric} at most {self.max_regression:g} worse than production"

    def evaluate(
        self, candidate: Mapping[str, float], production: Mapping[str, float] | None
    ) -> tuple[bool, str]:
        value = candidate.get(self.metric)
        if value is None:
            return False, f"{self.metric} was not measured"
        baseline = (production or {}).get(self.metric)
        if baseline is None:
            return True, f"{self.metric} = {value:.6g}; no production value to regress from"
        regression = baseline - value if self.higher_is_better else value - baseline
        ok = regression <= self.max_regression
        return ok, (
            f"{self.metric} = {value:.6g} vs production {baseline:.6g}: regression "
            f"{regression:+.6g}, allowed {self.max_regression:g}"
        )


Gate = MetricThreshold | MaxRegression


def comparison_markdown(
    candidate: ModelVersion, production: ModelVersion | None, metrics: Mapping[str, float]
) -> str:
    """Candidate vs production, one metric a row, with the delta."""
    title = f"production {production.ref}" if production else "production (none)"
    lines = [f"| metric | candidate {candidate.ref} | {title} | delta |", "|---|---:|---:|---:|"]
    for key in sorted(metrics):
        new = metrics[key]
        old = production.metrics.get(key) if production else None
        delta = f"{new - old:+.4f}" if old is not None and math.isfinite(new - old) else "n/a"
        shown_old = f"{old:.4f}" if old is not None else "n/a"
        lines.append(f"| {key} | {new:.4f} | {shown_old} | {delta} |")
    return "\n".join(lines)


def registry_evaluation(
    *,
    model_name: str,
    candidate: AssetRef,
    holdout: AssetRef,
    gates: Sequence[Gate] = (),
    ins: Mapping[str, dg.AssetIn] | None = None,
    deps: Sequence[Any] | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    name: str | None = None,
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    translator: RegistryTranslator | None = None,
    resource_key: str = "registry",
) -> Callable[[Callable[..., Mapping[str, float]]], dg.AssetsDefinition]:
    """Make the decorated metric function the body of the `<model>/<model>_evaluation` asset.

    The function receives `model` (the candidate the `candidate` asset registered, loaded
    from the registry, digest verified) and `holdout` (the snapshot the `holdout` asset
    recorded), plus anything an asset body takes (`context`, other inputs, `config`,
    resources, `partition_key`), and returns metrics. They are logged on the version for
    that dataset; the materialization shows a markdown table against production; each gate
    is a blocking asset check, so a failing gate stops the rest of the run and the promotion
    sensor skips the candidate.

    Example::

        @registry_evaluation(model_name="cancer", candidate=cancer_candidate,
                             holdout="cancer_test",
                             gates=[MetricThreshold("auc", minimum=0.9)])
        def cancer_evaluation(model, holdout: pd.DataFrame) -> dict[str, float]:
            return {"auc": roc_auc_score(holdout[y], model.predict_proba(holdout[X])[:, 1])}
    """
    chosen = translator or RegistryTranslator()
    candidate_key = to_asset_key(candidate)
    holdout_key = to_asset_key(holdout, hint="test")
    names = [gate.check_name for gate in gates]
    if len(set(names)) != len(names):
        raise ValueError(f"two gates share a check name: {names}")

    def decorator(fn: Callable[..., Mapping[str, float]]) -> dg.AssetsDefinition:
        body = AssetBody(fn, frozenset({"model", "holdout"}), resource_key)
        props = RegistryAssetProps("evaluation", name or fn.__name__, model_name, fn)
        asset_key = chosen.get_asset_key(props)
        check_specs = [
            dg.AssetCheckSpec(
                gate.check_name, asset=asset_key, blocking=True, description=gate.describe()
            )
            for gate in gates
        ]
        with_checks = chosen.settings.enable_asset_checks

        def run(context: dg.AssetExecutionContext, passed: Mapping[str, Any]) -> Any:
            registry = registry_resource(passed, resource_key).for_context(context)
            partition = partition_of(context)
            try:
                version = registry.get_version(
                    md.require_recorded(context.instance, candidate_key, md.VERSION_ID, partition)
                )
                snapshot = registry.get_dataset(
                    md.require_recorded(context.instance, holdout_key, md.SNAPSHOT_ID, partition)
                )
                model = registry.load_model(version)
                frame = registry.load_dataset(snapshot)
                metrics = validate_metrics(body.call(context, passed, model=model, holdout=frame))
                version = registry.log_metrics(version, metrics, dataset=snapshot)
                production = registry.production_version(model_name)
            except RegistryError as exc:
                raise as_failure(exc) from exc
            if production is not None and production.id == version.id:
                production = None  # re-evaluating the serving version: compare with nothing
            # A production version trained on deleted data defends nothing (it must be
            # replaced): its successor is held to the absolute gates only.
            baseline = (
                None
                if production is None or production.trained_on_deleted_data
                else (production.metrics)
            )
            outcomes = [(gate, *gate.evaluate(metrics, baseline)) for gate in gates]
            passed_all = all(ok for _, ok, _ in outcomes)
            return dg.MaterializeResult(
                metadata={
                    **md.version_metadata(version),
                    **md.metric_metadata(metrics),
                    md.GATES_PASSED: dg.MetadataValue.bool(passed_all),
                    md.PRODUCTION_VERSION_ID: dg.MetadataValue.text(
                        production.id if production else ""
                    ),
                    md.SNAPSHOT_ID: dg.MetadataValue.text(snapshot.id),
                    md.COMPARISON: dg.MetadataValue.md(
                        comparison_markdown(version, production, metrics)
                    ),
                    md.GATES: dg.MetadataValue.json(
                        {
                            gate.check_name: {"passed": ok, "detail": text}
                            for gate, ok, text in outcomes
                        }
                    ),
                    **partition_metadata(context),
                },
                check_results=[
                    dg.AssetCheckResult(
                        check_name=gate.check_name,
                        passed=ok,
                        severity=dg.AssetCheckSeverity.ERROR,
                        description=text,
                        metadata={"version": dg.MetadataValue.text(version.ref)},
                    )
                    for gate, ok, text in outcomes
                ]
                if with_checks
                else [],
                data_version=dg.DataVersion(f"{version.id}:{snapshot.digest}"),
            )

        return dg.asset(
            key=asset_key,
            ins=ins,
            deps=[candidate_key, holdout_key, *(deps or ())],
            check_specs=check_specs if with_checks else None,
            partitions_def=partitions_def,
            **asset_options(
                chosen,
                props,
                description=description,
                group_name=group_name,
                owners=owners,
                tags=tags,
                automation_condition=automation_condition,
            ),
        )(compute_function(body, run))

    return decorator


def gate_failures(details: Any) -> list[str]:
    """The failing gates' descriptions, from the `gates` metadata of an evaluation."""
    if not isinstance(details, Mapping):
        return []
    return [
        f"{name}: {entry.get('detail')}"
        for name, entry in details.items()
        if isinstance(entry, Mapping) and not entry.get("passed")
    ]
