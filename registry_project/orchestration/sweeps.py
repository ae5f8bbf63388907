"""Sweeps: one training asset materialization runs several configs, each a tracked run of
the asset's experiment; the best by a chosen metric becomes the candidate version, the
others stay in the experiment (`reg.runs("<model>.<model>_candidate")`).

This module holds what a sweep is made of: the configs (a list, or a grid expanded here),
each trial's config handed to the user's function, the choice of the best, and what the
materialization says about the trials. `registry_training(sweep=...)` runs the loop.
"""

# No `from __future__ import annotations`: dg.Config's pydantic models are copied here.

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from registry_project.core.errors import InvalidInputError
from registry_project.orchestration import metadata as md

SweepArg = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]] | None
MAX_TRIALS = 1000  # one asset materialization; a larger search belongs in partitions

SWEEP_TAG = "sweep"  # every trial's run: the sweep's experiment
TRIAL_TAG = "sweep.trial"  # its position, from 0
BEST_TAG = "sweep.best"  # "true" on the trial registered as the candidate


def expand(sweep: SweepArg) -> tuple[dict[str, Any], ...] | None:
    """The trials' configs: a list of mappings as given, or a grid (a mapping of name to
    values: every combination, in order). None when there is no sweep."""
    if sweep is None:
        return None
    if isinstance(sweep, Mapping):
        names = list(sweep)
        for name in names:
            values = sweep[name]
            if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
                raise InvalidInputError(
                    f"sweep grid {name!r} needs a non-empty list of values, got {values!r}"
                )
        configs = [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(sweep[n] for n in names))
        ]
    elif isinstance(sweep, Sequence) and not isinstance(sweep, str | bytes):
        configs = []
        for position, config in enumerate(sweep):
            if not isinstance(config, Mapping):
                raise InvalidInputError(
                    f"sweep trial {position} is a {type(config).__name__}; each trial is a "
                    "mapping of param name to value, e.g. sweep=[{'C': 0.1}, {'C': 1.0}]"
                )
            configs.append(dict(config))
    else:
        raise InvalidInputError(
            "sweep is a list of configs ([{'C': 0.1}, {'C': 1.0}]) or a grid ({'C': [0.1, 1.0]})"
        )
    if not configs:
        raise InvalidInputError("sweep has no trials; give at least one config")
    if len(configs) > MAX_TRIALS:
        raise InvalidInputError(
            f"sweep has {len(configs)} trials, at most {MAX_TRIALS} in one materialization; "
            "split the search over partitions"
        )
    for config in configs:
        bad = [k for k in config if not isinstance(k, str) or not k]
        if bad:
            raise InvalidInputError(f"sweep param names must be non-empty text, got {bad!r}")
    return tuple(configs)


def trial_inputs(passed: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """What the user's function receives for one trial: the run's `dg.Config` with the
    trial's values for its fields (the other trial values reach it through `params`)."""
    chosen = dict(passed)
    current = passed.get("config")
    if isinstance(current, dg.Config):
        fields = type(current).model_fields
        update = {k: v for k, v in config.items() if k in fields}
        # validated like run config: a wrong type fails the trial with pydantic's message
        chosen["config"] = type(current)(**{**current.model_dump(), **update})
    return chosen


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep, as run."""

    position: int
    config: Mapping[str, Any]
    run_id: str
    score: float
    metrics: Mapping[str, float]


def trial_score(metrics: Mapping[str, float], metric: str, position: int) -> float:
    if metric not in metrics:
        raise InvalidInputError(
            f"sweep trial {position} returned metrics {sorted(metrics)} without {metric!r}, "
            "the sweep's metric: return it in TrainingResult.metrics"
        )
    value = float(metrics[metric])
    if not math.isfinite(value):
        raise InvalidInputError(f"sweep trial {position}: {metric} is {value}, not a number")
    return value


def best(trials: Sequence[Trial], higher_is_better: bool) -> Trial:
    """The best trial; a tie goes to the earlier one (a stable, repeatable choice)."""
    sign = 1.0 if higher_is_better else -1.0
    return max(trials, key=lambda t: (sign * t.score, -t.position))


def sweep_metadata(trials: Sequence[Trial], chosen: Trial, metric: str) -> dict[str, Any]:
    """The trials as a Markdown table (config, metric, run), the count and the best run."""
    lines = [f"| trial | config | {metric} | run |", "|---|---|---|---|"]
    for t in trials:
        mark = " **best**" if t is chosen else ""
        config = json.dumps(dict(t.config), sort_keys=True, default=str).replace("|", "\\|")
        lines.append(f"| {t.position}{mark} | `{config}` | {t.score:.6g} | `{t.run_id}` |")
    return {
        md.SWEEP_TRIALS: dg.MetadataValue.int(len(trials)),
        md.SWEEP_BEST_RUN: dg.MetadataValue.text(chosen.run_id),
        md.SWEEP: dg.MetadataValue.md("\n".join(lines)),
    }
