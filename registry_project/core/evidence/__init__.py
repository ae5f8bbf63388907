"""Evidence packs: one zip that proves what a version was trained on, who moved it
through its stages and why, checkable offline with nothing but the zip and this package.

A pack holds the model card, the record it was rendered from (lineage, stage history,
approvals), and the segment of the audit hash chain from the first event about the
version (its datasets and run included) to the chain's tip. Exporting appends one audit
event that records the digests of the card and the record, so the chain itself vouches
for both; the tip it ends at (sequence number and hash) is the pack's anchor, which can be
compared with one published elsewhere (Dagster's event log).

Events about the version are carried whole and re-hashed by the verifier exactly as
`store/audit.compute_hash` does; the events in between about other subjects are carried
as their hashes only (their content is not the auditor's business), which still links
the chain.

One job per module; the public names are re-exported here:

- `pack`: the format (file names, format number, JSON and digests)
- `export`: `export_pack`, writing a version's pack
- `verify`: `verify_pack` and its `EvidenceReport`, checking a pack offline
"""

from registry_project.core.evidence.export import export_pack
from registry_project.core.evidence.pack import CARD, CHAIN, MANIFEST, PACK_FORMAT, RECORD
from registry_project.core.evidence.verify import EvidenceReport, verify_pack

__all__ = [
    "CARD",
    "CHAIN",
    "MANIFEST",
    "PACK_FORMAT",
    "RECORD",
    "EvidenceReport",
    "export_pack",
    "verify_pack",
]
