"""Model cards, evidence packs, audit anchors and reproduction: thin calls over
model_card.py, evidence/, anchors.py and reproduce.py.

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from registry_project.core.entities import ModelCardText, Reproduction
from registry_project.core.entities.vocabulary import KEEP
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops.version_ops import VersionRef
from registry_project.core.validation.limits import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    from registry_project.core.evidence import EvidenceReport
    from registry_project.core.reproduce import EvaluateFunction, TrainSpec

# model_card, evidence, anchors and reproduce are imported inside the calls: opening a
# registry (every `registry` command) must not pay for them (issue #18).


class ProofCalls(FacadeBase):
    """What a reviewer hands an auditor: cards, evidence packs, anchors, reproductions.

    (In PostgreSQL identity mode the actor passed on is the database role, as in ops/.)"""

    # (the logic is in model_card.py, evidence/, anchors.py and reproduce.py)

    def model_card(self, reference: VersionRef) -> str:
        """A version's model card as Markdown: data, params, metrics against production,
        stage history, approvals. Example: `print(reg.model_card("churn/7"))`."""
        from registry_project.core import model_card as cards

        return cards.model_card(self, self._tx, reference)

    def export_evidence(
        self,
        reference: VersionRef,
        destination: str | os.PathLike[str],
        *,
        actor: str | None = None,
    ) -> tuple[int, str]:
        """Write a version's evidence pack (a zip that `verify_evidence` checks offline);
        returns the audit head (seq, hash) it ends at.
        Example: `reg.export_evidence("churn/7", "pack.zip")`."""
        from registry_project.core import evidence

        return evidence.export_pack(
            self, self._tx, reference, destination, actor=self._w.identity or actor
        )

    def set_model_card_text(
        self,
        name: str,
        *,
        intended_use: str | None = KEEP,
        limitations: str | None = KEEP,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelCardText:
        """Set the owners' free text of model `name`'s card (audited); None clears a field,
        one left out is kept. Example:
        `reg.set_model_card_text("churn", intended_use="Rank retention offers", actor="ana")`."""
        from registry_project.core import model_card as cards

        return cards.set_card_text(
            self._tx,
            name,
            intended_use=intended_use,
            limitations=limitations,
            actor=self._w.identity or actor,
            reason=reason,
        )

    def model_card_text(self, name: str) -> ModelCardText | None:
        """The owners' free text of model `name`'s card, or None if never set."""
        from registry_project.core import model_card as cards

        return cards.card_text(self._tx, name)

    def audit_head(self) -> tuple[int, str]:
        """The audit chain's tip (seq, hash): what to publish as an anchor for `verify`."""
        from registry_project.core import anchors as anchor_checks

        return anchor_checks.audit_head(self._tx)

    def reproduce(
        self,
        reference: VersionRef,
        *,
        train: TrainSpec,
        evaluate: EvaluateFunction | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        repo: str | os.PathLike[str] | None = None,
        actor: str | None = None,
    ) -> Reproduction:
        """Retrain a version from its record (input snapshots, params, code commit) with
        `train(inputs)` and record, audited, whether the artifact is bit-identical or its
        metrics on the recorded evaluation datasets (`evaluate(model, df)`) are within
        `tolerance`. Refused (`ReproductionRefusedError`) when the record cannot be rebuilt.

        `train` is a module-level function or its name (`"pkg.training:fit"`). When the
        working tree is not the recorded commit, the function is imported by that name in
        a child process whose code is the recorded commit's (a temporary git worktree), so
        the recorded code is the code that trains; a lambda is then refused.
        Example: `reg.reproduce("churn/7", train="churn.training:fit")`."""
        from registry_project.core import reproduce as reproduction

        return reproduction.reproduce(
            self,
            self._tx,
            reference,
            train=train,
            evaluate=evaluate,
            tolerance=tolerance,
            repo=repo,
            actor=self._w.identity or actor,
        )

    def latest_reproduction(self, reference: VersionRef) -> Reproduction | None:
        """The newest reproduction attempt of a version, or None."""
        from registry_project.core import reproduce as reproduction

        return reproduction.latest_reproduction(self, self._tx, reference)

    @staticmethod
    def verify_evidence(
        path: str | os.PathLike[str], *, anchors: Sequence[tuple[int, str]] = ()
    ) -> EvidenceReport:
        """Check an evidence pack with no registry at all (a static method)."""
        from registry_project.core import evidence

        return evidence.verify_pack(path, anchors=anchors)
