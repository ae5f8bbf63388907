"""What the promotion sensor decides on one tick: every candidate evaluated since its last
decision is judged, in order, and at most one promotion run is requested.

Pure reading: the registry and the Dagster event log are queried, nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import dagster as dg

from registry_project.core import stages
from registry_project.core.entities import ModelVersion, Stage
from registry_project.core.errors import ModelNotFoundError, NotFoundError
from registry_project.core.policy import PromotionPolicy
from registry_project.core.registry import ModelRegistry
from registry_project.orchestration import metadata as md
from registry_project.orchestration.evaluation import gate_failures

# Evaluations judged per tick at most; the rest wait for the next tick (the cursor stops
# at the last one judged), so a backlog never makes one tick slow.
MAX_EVALUATIONS_PER_TICK = 100


@dataclass(frozen=True)
class PromotionCursor:
    """The sensor's cursor: the storage id of the last evaluation judged, and candidates
    that qualified but wait in staging for an approval (judged again every tick)."""

    after_storage_id: int | None = None
    waiting: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> PromotionCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(int(data["after"]), tuple(str(v) for v in data.get("waiting", ())))
        except (ValueError, KeyError, TypeError):
            # A cursor from before the sensor kept one (or edited by hand): start from the
            # latest evaluation, as on a first tick.
            return cls()

    def dump(self) -> str:
        return json.dumps({"after": self.after_storage_id or 0, "waiting": list(self.waiting)})


@dataclass(frozen=True)
class Decision:
    """The verdict on one candidate: `reason` carries the numbers."""

    subject: str  # the candidate's ref, or the evaluation it came from
    qualifies: bool
    reason: str
    candidate: ModelVersion | None = None
    waits_for_approval: bool = False
    approved: bool = False
    needs_approval: bool = False

    def phase(self) -> str:
        """`run_key` suffix: a pending promotion (staged to wait) and the approved one that
        follows are two runs of the same candidate."""
        if self.approved:
            return "approved"
        return "pending" if self.needs_approval else "auto"

    @property
    def message(self) -> str:
        return f"{self.subject} {self.reason}"


@dataclass(frozen=True)
class TickOutcome:
    decisions: tuple[Decision, ...]
    chosen: Decision | None
    serving: ModelVersion | None
    cursor: PromotionCursor
    nothing_evaluated: bool = False
    # Qualified, then beaten by a later candidate of the same tick: (earlier, later) verdicts.
    superseded: tuple[tuple[Decision, Decision], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Evaluated:
    storage_id: int
    metadata: Mapping[str, Any]


def _new_evaluations(
    instance: dg.DagsterInstance, evaluation_key: dg.AssetKey, cursor: PromotionCursor
) -> list[_Evaluated]:
    if cursor.after_storage_id is None:  # first tick: only the latest evaluation, as before
        records = instance.fetch_materializations(evaluation_key, limit=1).records
    else:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=evaluation_key, after_storage_id=cursor.after_storage_id
            ),
            limit=MAX_EVALUATIONS_PER_TICK,
            ascending=True,
        ).records
    found = []
    for record in records:
        materialization = record.asset_materialization
        if materialization is not None:
            found.append(_Evaluated(record.storage_id, materialization.metadata))
    return sorted(found, key=lambda item: item.storage_id)


def approvals_needed(registry: ModelRegistry, model_name: str, policy: PromotionPolicy) -> int:
    """Approvals a version of `model_name` needs to enter production: the model's stored
    protection rule (the core checks it again when the run promotes), at least one while
    the pipeline's policy declares `require_approval` (its production asset stores that
    declaration, audited, on its next run; the tick itself writes nothing)."""
    try:
        needed = registry.protection(model_name).approvals_needed_for_stage(Stage.PRODUCTION)
    except ModelNotFoundError:
        needed = 0
    return max(needed, 1) if policy.require_approval else needed


def is_approved(registry: ModelRegistry, version: ModelVersion, needed: int = 1) -> bool:
    """The core's four-eyes rule (core/stages.py) over the version's recorded approvals."""
    return stages.is_approved(version.created_by, registry.approvals(version), needed)


def _judge(
    registry: ModelRegistry,
    policy: PromotionPolicy,
    candidate: ModelVersion,
    gates: Any,
    gates_detail: Any,
    baseline: ModelVersion | None,
    baseline_is_pending: bool,
    needed: int,
) -> Decision:
    if gates is not None and not gates:
        failures = gate_failures(gates_detail)
        return Decision(
            candidate.ref,
            False,
            f"failed its quality gates: {'; '.join(failures) or 'unknown'}",
            candidate,
        )
    if candidate.stage in (Stage.PRODUCTION, Stage.ARCHIVED):
        return Decision(candidate.ref, False, f"is already {candidate.stage.value}", candidate)
    # A production version trained on deleted data is no baseline: it must be replaced, so
    # a candidate that passed its gates replaces it without having to beat it.
    stale = baseline is not None and baseline.trained_on_deleted_data
    decision = policy.decide(
        candidate.metrics, None if stale or baseline is None else baseline.metrics
    )
    if stale and decision.promote and baseline is not None:
        decision = replace(
            decision,
            reason=f"replaces {baseline.ref}, trained on deleted data (no baseline): "
            f"{decision.reason.removeprefix('no version in production; ')}",
        )
    if not decision.promote:
        against = (
            f" (judged against {baseline.ref}, which is to be promoted first)"
            if baseline_is_pending and baseline is not None
            else ""
        )
        return Decision(
            candidate.ref, False, f"is not promoted: {decision.reason}{against}", candidate
        )
    approved = bool(needed) and is_approved(registry, candidate, needed)
    if needed and not approved and candidate.stage is Stage.STAGING:
        have = len(
            stages.independent_approvers(candidate.created_by, registry.approvals(candidate))
        )
        return Decision(
            candidate.ref,
            False,
            f"waits for {needed - have} more approval{'s' if needed - have != 1 else ''} by "
            f"someone other than {candidate.created_by} ({have} of {needed}): "
            f"registry approve {candidate.ref} --reason ...",
            candidate,
            waits_for_approval=True,
            needs_approval=True,
        )
    return Decision(
        candidate.ref,
        True,
        decision.reason,
        candidate,
        approved=approved,
        needs_approval=bool(needed),
    )


def decide_tick(
    *,
    instance: dg.DagsterInstance,
    registry: ModelRegistry,
    model_name: str,
    evaluation_key: dg.AssetKey,
    policy: PromotionPolicy,
    cursor: PromotionCursor,
) -> TickOutcome:
    """Judge, in order, the candidates waiting for approval and then every evaluation since
    the cursor. Each candidate is compared with production, or with the candidate judged
    before it in this tick that is to be promoted (so the best of a burst wins, and the
    promotion's compare-and-swap is against the real production)."""
    evaluated = _new_evaluations(instance, evaluation_key, cursor)
    if cursor.after_storage_id is None and not evaluated:
        return TickOutcome(
            (), None, None, PromotionCursor(0, cursor.waiting), nothing_evaluated=True
        )
    # (version id or None, gates passed, gates detail, label), waiting candidates first.
    queue: list[tuple[str | None, Any, Any, str]] = [
        (version_id, True, None, version_id) for version_id in cursor.waiting
    ]
    for item in evaluated:
        recorded = item.metadata.get(md.VERSION_ID)
        gates = item.metadata.get(md.GATES_PASSED)
        detail = item.metadata.get("gates")
        queue.append(
            (
                None if recorded is None else str(recorded.value),
                False if gates is None else bool(gates.value),
                None if detail is None else detail.value,
                f"evaluation #{item.storage_id}",
            )
        )
    serving = registry.production_version(model_name)
    needed = approvals_needed(registry, model_name, policy)
    baseline, chosen = serving, None
    decisions: list[Decision] = []
    superseded: list[tuple[Decision, Decision]] = []
    seen: set[str] = set()
    for version_id, gates, detail, label in queue:
        if version_id is None:
            decisions.append(Decision(label, False, "recorded no candidate version"))
            continue
        if version_id in seen:
            continue  # evaluated twice since the last tick: judged once, on its newest metrics
        seen.add(version_id)
        try:
            candidate = registry.get_version(version_id)
        except NotFoundError:
            decisions.append(Decision(label, False, f"names version {version_id}, not found"))
            continue
        decision = _judge(
            registry, policy, candidate, gates, detail, baseline, chosen is not None, needed
        )
        decisions.append(decision)
        if decision.qualifies:
            if chosen is not None:
                superseded.append((chosen, decision))
            chosen, baseline = decision, candidate
    # Judged again next tick: candidates waiting in staging, and the one about to be staged.
    waiting = tuple(
        d.candidate.id
        for d in decisions
        if d.candidate is not None
        and (d.waits_for_approval or (d is chosen and d.phase() == "pending"))
    )
    last = evaluated[-1].storage_id if evaluated else (cursor.after_storage_id or 0)
    return TickOutcome(
        tuple(decisions),
        chosen,
        serving,
        PromotionCursor(last, waiting),
        superseded=tuple(superseded),
    )


def summary(decisions: Sequence[Decision]) -> str:
    return "; ".join(decision.message for decision in decisions)
