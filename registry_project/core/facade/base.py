"""What every part of the `ModelRegistry` facade shares: the Writer and the transactions.

The facade is one class (core/registry.py) assembled from one part per concern
(`dataset_calls`, `run_calls`, `registration_calls`, `version_calls`, `stage_calls`,
`audit_calls`, `integrity_calls`, `proof_calls`), so that a newcomer looking for a call
finds its docstring and the concern module doing the work in one hop.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from registry_project.core.blobs import BlobStore
from registry_project.core.ops.writer import Writer
from registry_project.core.transactions import Transactions


class FacadeBase:
    """Attributes `ModelRegistry.__init__` sets, which every part reads."""

    _engine: Engine
    _blobs: BlobStore
    _w: Writer

    @property
    def _tx(self) -> Transactions:
        # The concern modules outside ops/ (cards, evidence, reproduction) take a
        # read/write pair rather than the Writer itself.
        return Transactions(self._w.read, self._w.write)
