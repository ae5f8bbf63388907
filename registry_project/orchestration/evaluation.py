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
from registry_project.orchestration._common import (
    AssetRef,
    as_failure,
    asset_options,
    call_user_function,
    registry_for,
    to_asset_key,
)


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
    name: str = "evaluation",
    description: str | None = None,
    group_name: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    automation_condition: dg.AutomationCondition | None = None,
    resource_key: str = "registry",
) -> Callable[[Callable[..., Mapping[str, float]]], dg.AssetsDefinition]:
    """Turn a metric function into the `<model_name>/evaluation` asset.

    The function gets the candidate model (loaded from the registry, digest verified) and
    the holdout snapshot the `holdout` asset recorded, and returns metrics. They are logged
    on the version for that dataset; the materialization shows a markdown table against
    production; each gate is a blocking asset check, so a failing gate stops the rest of
    the run and the promotion sensor skips the candidate.

    Example::

        @registry_evaluation(model_name="churn", candidate=churn_candidate,
                             holdout=customers_holdout,
                             gates=[MetricThreshold("auc", minimum=0.7),
                                    MaxRegression("auc", max_regression=0.02)])
        def churn_evaluation(model, holdout: pd.DataFrame) -> dict[str, float]:
            return {"auc": roc_auc_score(holdout["churned"], model.predict_proba(...)[:, 1])}
    """
    candidate_key = to_asset_key(candidate)
    holdout_key = to_asset_key(holdout)
    asset_key = dg.AssetKey([model_name, name])
    names = [gate.check_name for gate in gates]
    if len(set(names)) != len(names):
        raise ValueError(f"two gates share a check name: {names}")
    check_specs = [
        dg.AssetCheckSpec(
            gate.check_name, asset=asset_key, blocking=True, description=gate.describe()
        )
        for gate in gates
    ]

    def decorator(fn: Callable[..., Mapping[str, float]]) -> dg.AssetsDefinition:
        @dg.asset(
            key=asset_key,
            deps=[candidate_key, holdout_key],
            check_specs=check_specs,
            **asset_options(
                role="evaluation",
                model_name=model_name,
                kinds={"python"},
                description=description or fn.__doc__,
                group_name=group_name,
                owners=owners,
                tags=tags,
                resource_key=resource_key,
                automation_condition=automation_condition,
            ),
        )
        def _evaluation(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            registry = registry_for(context, resource_key)
            try:
                version = registry.get_version(
                    md.require_recorded(context.instance, candidate_key, md.VERSION_ID)
                )
                snapshot = registry.get_dataset(
                    md.require_recorded(context.instance, holdout_key, md.SNAPSHOT_ID)
                )
                model = registry.load_model(version)
                frame = registry.load_dataset(snapshot)
                metrics = validate_metrics(
                    call_user_function(fn, context, model=model, holdout=frame)
                )
                version = registry.log_metrics(version, metrics, dataset=snapshot)
                production = registry.production_version(model_name)
            except RegistryError as exc:
                raise as_failure(exc) from exc
            if production is not None and production.id == version.id:
                production = None  # re-evaluating the serving version: compare with nothing
            outcomes = [
                (gate, *gate.evaluate(metrics, production.metrics if production else None))
                for gate in gates
            ]
            passed = all(ok for _, ok, _ in outcomes)
            return dg.MaterializeResult(
                metadata={
                    **md.version_metadata(version),
                    **md.metric_metadata(metrics),
                    md.GATES_PASSED: dg.MetadataValue.bool(passed),
                    md.PRODUCTION_VERSION_ID: dg.MetadataValue.text(
                        production.id if production else ""
                    ),
                    md.SNAPSHOT_ID: dg.MetadataValue.text(snapshot.id),
                    "comparison": dg.MetadataValue.md(
                        comparison_markdown(version, production, metrics)
                    ),
                    "gates": dg.MetadataValue.json(
                        {
                            gate.check_name: {"passed": ok, "detail": text}
                            for gate, ok, text in outcomes
                        }
                    ),
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
                ],
                data_version=dg.DataVersion(f"{version.id}:{snapshot.digest}"),
            )

        return _evaluation

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
