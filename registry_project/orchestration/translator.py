"""`RegistryTranslator`: how registry assets are named, grouped and described in Dagster.

Shaped like dagster-dbt's `DagsterDbtTranslator`: every decorator and `build_model_pipeline`
asks a translator for an asset's key, group, kinds, owners, tags, description and
automation condition. Subclass it and override the methods you want to change; switches
that are not naming live in the frozen `RegistryTranslatorSettings`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import dagster as dg

Role = Literal["dataset", "training", "evaluation", "production", "scoring"]

# The default last key component of each model asset, after the model's name.
ROLE_SUFFIX: Mapping[str, str] = {
    "training": "candidate",
    "evaluation": "evaluation",
    "production": "production",
    "scoring": "scores",
}


def identifier(name: str) -> str:
    """A model or dataset name as a Python identifier (`churn-forest` -> `churn_forest`)."""
    return re.sub(r"\W", "_", name)


@dataclass(frozen=True)
class RegistryAssetProps:
    """What a translator knows about one registry asset when it names it.

    `role` is one of dataset, training, evaluation, production, scoring; `name` is the
    decorated function's name (or a multi-asset output's name); `model_name` is None for
    datasets.
    """

    role: Role
    name: str
    model_name: str | None = None
    function: Callable[..., Any] | None = None
    key_prefix: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegistryTranslatorSettings:
    """Switches for the registry's Dagster assets.

    Args:
        enable_asset_checks: each evaluation gate becomes a blocking asset check (if off, the
            gates are still evaluated and recorded under `registry/gates_passed`, but no check
            stops the run).
        enable_automatic_retraining: training assets retrain when their training data's data
            version changes, evaluations follow when the candidate's (or the holdout's) data
            version changes, and `ModelPipeline.definitions()` includes an automation
            condition sensor for them.
        record_non_registry_inputs: an input that is not a registry snapshot (any other asset
            of your project) is recorded in the run's lineage as a pinned reference.
        production_max_age: the freshness policy of each `<model>/production` asset: a
            production model not promoted (or re-recorded) for longer shows as stale in the
            Dagster UI (None: no freshness policy).
        production_warn_age: warn before that (None: no warning).
    """

    enable_asset_checks: bool = True
    enable_automatic_retraining: bool = True
    record_non_registry_inputs: bool = True
    production_max_age: timedelta | None = timedelta(days=30)
    production_warn_age: timedelta | None = None


def _eager_on_changed_data_versions(label: str) -> dg.AutomationCondition:
    """Dagster's `eager()`, except that an upstream asset counts as updated only when its
    data version changed."""
    condition = dg.AutomationCondition
    changed = condition.any_deps_match(condition.data_version_changed()).with_label(
        "an input's data version changed"
    )
    return condition.eager().replace("any_deps_updated", changed).with_label(label)


def retrain_on_changed_data() -> dg.AutomationCondition:
    """Dagster's `eager()`, except that an upstream dataset counts as updated only when its
    data version (the snapshot digest) changed: re-snapshotting identical data, which the
    registry stores once, does not retrain a model on it again."""
    return _eager_on_changed_data_versions("retrain on changed data")


def evaluate_on_changed_candidate() -> dg.AutomationCondition:
    """The evaluation's condition: re-evaluate when the candidate's data version (its
    version id) or the holdout snapshot changed. A retraining that registered nothing new
    (it names the identical existing version) keeps the candidate's data version, so the
    version is not evaluated again."""
    return _eager_on_changed_data_versions("evaluate a changed candidate or holdout")


@dataclass(frozen=True)
class RegistryTranslator:
    """Derives the Dagster definition of each registry asset. Override any method.

    The default keys never collide between models: every model asset is
    `<model>/<model>_<role>` (`churn/churn_candidate`, `churn-forest/churn_forest_candidate`),
    so the asset graph's labels (the key's last part) differ too; each model gets its own
    group.

    Example::

        class TeamTranslator(RegistryTranslator):
            def get_asset_key(self, props: RegistryAssetProps) -> dg.AssetKey:
                return super().get_asset_key(props).with_prefix("ml")

            def get_group_name(self, props: RegistryAssetProps) -> str | None:
                return "ml_models"

        pipeline = build_model_pipeline(..., translator=TeamTranslator())
    """

    settings: RegistryTranslatorSettings = field(default_factory=RegistryTranslatorSettings)

    def get_asset_key(self, props: RegistryAssetProps) -> dg.AssetKey:
        """Datasets: `<key_prefix>/<function name>`; model assets: `<model>/<model>_<role>`.

        Example: `AssetKey(["churn", "churn_candidate"])` for churn's training asset.
        """
        if props.model_name is None or props.role == "dataset":
            return dg.AssetKey([*props.key_prefix, props.name])
        label = f"{identifier(props.model_name)}_{ROLE_SUFFIX[props.role]}"
        return dg.AssetKey([*props.key_prefix, props.model_name, label])

    def get_group_name(self, props: RegistryAssetProps) -> str | None:
        """One group per model (`churn_forest`); datasets stay in Dagster's default group."""
        return identifier(props.model_name) if props.model_name else None

    def get_kinds(self, props: RegistryAssetProps) -> set[str]:
        """The UI's kind badges: data assets are pandas + parquet, model assets python."""
        if props.role in ("dataset", "scoring"):
            return {"pandas", "parquet"}
        return {"python"}

    def get_owners(self, props: RegistryAssetProps) -> Sequence[str]:
        """Owners shown in the UI (`team:ml`, `alice@example.com`); none by default."""
        return []

    def get_tags(self, props: RegistryAssetProps) -> Mapping[str, str]:
        """`registry/role` and, for model assets, `registry/model` (select with
        `tag:registry/model=churn`)."""
        tags = {"registry/role": props.role}
        if props.model_name is not None:
            tags["registry/model"] = props.model_name
        return tags

    def get_description(self, props: RegistryAssetProps) -> str | None:
        """The function's docstring, else a sentence about the asset's role."""
        if props.function is not None and props.function.__doc__:
            return props.function.__doc__
        model = props.model_name or ""
        return {
            "dataset": "A dataset snapshotted in the model registry.",
            "training": f"Trains a {model} candidate and registers it as a new version.",
            "evaluation": f"Evaluates the latest {model} candidate on the holdout snapshot.",
            "production": f"The {model} version in production, promoted by the promotion sensor.",
            "scoring": f"Scores data with the {model} version in production.",
        }[props.role]

    def get_automation_condition(self, props: RegistryAssetProps) -> dg.AutomationCondition | None:
        """With automatic retraining: training retrains when its data's data version changes
        and evaluation follows when the candidate's or holdout's data version changes
        (not after a retraining that reused an identical version); nothing else is
        automated."""
        if not self.settings.enable_automatic_retraining:
            return None
        if props.role == "training":
            return retrain_on_changed_data()
        if props.role == "evaluation":
            return evaluate_on_changed_candidate()
        return None

    def get_freshness_policy(self, props: RegistryAssetProps) -> dg.FreshnessPolicy | None:
        """The `<model>/production` asset's freshness policy: stale once its last
        materialization (a promotion, a rollback, a change recorded by the sync sensor) is
        older than `settings.production_max_age`; other assets have none."""
        if props.role != "production" or self.settings.production_max_age is None:
            return None
        return dg.FreshnessPolicy.time_window(
            fail_window=self.settings.production_max_age,
            warn_window=self.settings.production_warn_age,
        )
