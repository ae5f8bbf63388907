"""The stage machine: which stage changes exist, which call makes each, which need a reason,
and the four-eyes rule for approvals (how many distinct approvers, never the registrant).

Every rule about stages lives here. The facade (registry.py) asks this module before it
writes; the Dagster layer asks it whether a candidate is approved; the CLI's help and the
README's stage rules are generated from, or tested against, `rule_lines()`. Adding a stage
means adding it to `Stage` (entities.py) and its moves below; the CLI's style and the UI's
colour tables are tested to cover every stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from registry_project.core.entities import Stage
from registry_project.core.errors import (
    ApprovalError,
    ApprovalRequiredError,
    InvalidTransitionError,
)


class Via(StrEnum):
    """The API call that makes a move."""

    TRANSITION = "transition"
    # Into production: also archives the current production version, in one transaction
    # (`transition(..., "production")` is a promote).
    PROMOTE = "promote"
    PROMOTE_OR_ROLLBACK = "promote or rollback"


@dataclass(frozen=True)
class Move:
    source: Stage
    target: Stage
    via: Via
    needs_reason: bool = False


# The life cycle of a version, in the order the design brief gives it (Stage's order).
LIFE_CYCLE: tuple[Stage, ...] = tuple(Stage)
MOVES: tuple[Move, ...] = (
    Move(Stage.EXPERIMENT, Stage.STAGING, Via.TRANSITION),
    Move(Stage.EXPERIMENT, Stage.PRODUCTION, Via.PROMOTE),
    Move(Stage.EXPERIMENT, Stage.ARCHIVED, Via.TRANSITION),
    Move(Stage.STAGING, Stage.PRODUCTION, Via.PROMOTE),
    Move(Stage.STAGING, Stage.ARCHIVED, Via.TRANSITION),
    # Also what promote and rollback do to the version they replace (their reason, or
    # "replaced by ...").
    Move(Stage.PRODUCTION, Stage.ARCHIVED, Via.TRANSITION, needs_reason=True),
    Move(Stage.ARCHIVED, Stage.PRODUCTION, Via.PROMOTE_OR_ROLLBACK, needs_reason=True),
)
# Leaving these stages needs a reason whatever the target: asked for before the move itself
# is checked, so a reasonless attempt to leave production is told about the reason first.
EXITS_NEEDING_A_REASON = frozenset({Stage.PRODUCTION})

_BY_STAGES = {(move.source, move.target): move for move in MOVES}


def find_move(source: Stage, target: Stage) -> Move | None:
    return _BY_STAGES.get((source, target))


def moves_from(source: Stage) -> tuple[Move, ...]:
    return tuple(move for move in MOVES if move.source is source)


def needs_reason(source: Stage, target: Stage) -> bool:
    """Whether going from `source` to `target` needs a reason (no move, no reason: staying
    in a stage is refused as "already in" instead)."""
    if source is target:
        return False
    move = find_move(source, target)
    return source in EXITS_NEEDING_A_REASON or (move is not None and move.needs_reason)


def check_transition(ref: str, current: Stage, target: Stage) -> None:
    """Refuse a `transition()` out of `current` into `target` (not production: that is a
    promote) unless the machine has that move."""
    if target is current:
        raise InvalidTransitionError(f"{ref} is already in {current.value}")
    move = find_move(current, target)
    if move is None or move.via is not Via.TRANSITION:
        exits = moves_from(current)
        hint = (
            f"; {current.value} versions return to production only through promote or "
            "rollback with a reason"
            if exits and all(m.via is Via.PROMOTE_OR_ROLLBACK for m in exits)
            else ""
        )
        raise InvalidTransitionError(
            f"{ref} cannot move from {current.value} to {target.value}{hint}"
        )


def check_promotion(ref: str, current: Stage) -> None:
    """Refuse a promote of a version that is already in production."""
    if find_move(current, Stage.PRODUCTION) is None:
        raise InvalidTransitionError(f"{ref} is already in {current.value}")


# --- four eyes ---------------------------------------------------------------------------


def independent_approvers(registrant: str, approvers: Iterable[str]) -> list[str]:
    """The approvals that count: by distinct people other than the version's registrant,
    in the order they approved."""
    counted: list[str] = []
    for actor in approvers:
        if actor != registrant and actor not in counted:
            counted.append(actor)
    return counted


def is_approved(registrant: str, approvers: Iterable[str], needed: int = 1) -> bool:
    return len(independent_approvers(registrant, approvers)) >= needed


def check_approver(ref: str, registrant: str, actor: str, stage: Stage) -> None:
    """Refuse an approval by the registrant. (An archived version may be approved: on a
    protected model a rollback or promote back into production needs its approvals.)"""
    if actor == registrant:
        raise ApprovalError(
            f"{actor!r} registered {ref} and cannot approve it; ask another reviewer"
        )


def check_approvals(
    ref: str, registrant: str, approvers: Iterable[str], *, needed: int, into: str
) -> None:
    """The one approval check every path that moves a version makes (promote, transition,
    rollback, the Dagster production asset, setting a protected alias): refuse unless
    `needed` distinct people other than the registrant approved. `into` names what the
    version was to enter ("production", "alias 'champion'")."""
    counted = independent_approvers(registrant, approvers)
    if len(counted) >= needed:
        return
    have = f"{len(counted)} ({', '.join(counted)})" if counted else "none"
    raise ApprovalRequiredError(
        f"{ref} cannot enter {into}: it needs {needed} approval"
        f"{'s' if needed != 1 else ''} by distinct people other than its registrant "
        f"{registrant!r} and has {have}; {needed - len(counted)} missing. Another reviewer "
        f"records one with `registry approve {ref} --reason ...`. Nothing was changed."
    )


def require_approval(ref: str, registrant: str, approvers: Iterable[str]) -> None:
    """Refuse a promotion that needs one approval and has none."""
    check_approvals(ref, registrant, approvers, needed=1, into="production")


# --- the rules as text (CLI help, README) ----------------------------------------------


def rule_lines() -> list[str]:
    """One line per move, for `registry transition --help` and the README."""
    width = max(len(stage.value) for stage in LIFE_CYCLE)
    lines = []
    for move in MOVES:
        how = str(move.via)
        if move.via is Via.PROMOTE:
            how += " (archives the current production version)"
        if move.needs_reason:
            how += ", with a reason"
        lines.append(f"{move.source.value:<{width}} -> {move.target.value:<{width}}  {how}")
    return lines
