"""The audit chain anchored in Dagster's event log, and read back from it.

Whoever can write the registry database can rewrite its audit chain whole, every event
re-hashed so the chain is consistent again. Dagster's event log is another store: the
production asset's materializations, the registry-sync sensor's and this module's periodic
observation record audit heads (`registry/audit_head_seq` / `_hash`, and a change's own
`registry/audit_seq` / `_hash`). `dagster_anchors(instance)` collects them, for
`ModelRegistry.verify(anchors=...)`; `python -m registry_project.orchestration.anchors`
prints them as `SEQ:HASH` lines for `registry verify --anchor-file -`.

One Dagster instance, one registry: anchors of another registry's chain in the same
instance would not match this one (pass `asset_keys` to read only some assets).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence

import dagster as dg

from registry_project.core.registry import ModelRegistry
from registry_project.orchestration import metadata as md

AUDIT_CHAIN_KEY = dg.AssetKey(["registry", "audit_chain"])
_PAIRS = ((md.AUDIT_HEAD_SEQ, md.AUDIT_HEAD_HASH), (md.AUDIT_SEQ, md.AUDIT_HASH))
_PAGE = 1000


def _records(instance: dg.DagsterInstance, key: dg.AssetKey) -> Iterable[object]:
    """Every materialization and observation of `key`, page by page."""
    for fetch in (instance.fetch_materializations, instance.fetch_observations):
        cursor = None
        while True:
            page = fetch(key, limit=_PAGE, cursor=cursor)
            yield from page.records
            if not page.has_more:
                break
            cursor = page.cursor


def dagster_anchors(
    instance: dg.DagsterInstance, *, asset_keys: Sequence[dg.AssetKey] | None = None
) -> list[tuple[int, str]]:
    """The audit heads `(seq, hash)` the registry's materializations and observations
    recorded in `instance`'s event log (every asset's, or `asset_keys`'), oldest first,
    each once. Example: `reg.verify(anchors=dagster_anchors(dg.DagsterInstance.get()))`."""
    keys = list(asset_keys) if asset_keys is not None else instance.get_asset_keys()
    found: set[tuple[int, str]] = set()
    for key in keys:
        for record in _records(instance, key):
            event = record.asset_materialization or record.asset_observation  # type: ignore[attr-defined]
            metadata = event.metadata if event is not None else {}
            for seq_key, hash_key in _PAIRS:
                seq, digest = metadata.get(seq_key), metadata.get(hash_key)
                if seq is not None and digest is not None:
                    found.add((int(seq.value), str(digest.value)))
    return sorted(found)


def audit_chain_asset(key: dg.AssetKey = AUDIT_CHAIN_KEY) -> dg.AssetSpec:
    """The asset the anchor sensor's observations are recorded on (an external asset)."""
    return dg.AssetSpec(
        key,
        description="The registry's audit hash chain: each observation records its head "
        "(sequence number and hash), an anchor outside the registry database for "
        "`registry verify`.",
        kinds={"registry"},
    )


def registry_audit_anchor_sensor(
    *,
    name: str = "registry_audit_anchor_sensor",
    asset_key: dg.AssetKey = AUDIT_CHAIN_KEY,
    minimum_interval_seconds: int = 3600,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
    resource_key: str = "registry",
) -> dg.SensorDefinition:
    """Periodically records the audit head as an observation of `asset_key` (put
    `audit_chain_asset(asset_key)` in the definitions too), whenever it moved since the
    last one. STOPPED unless `default_status` says otherwise."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys={resource_key},
        description="Anchors the registry's audit chain in Dagster's event log: an "
        f"observation of {asset_key.to_user_string()} with its head.",
    )
    def _anchor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        registry: ModelRegistry = getattr(context.resources, resource_key).get_registry()
        seq, digest = registry.audit_head()
        if seq == 0:
            return dg.SensorResult(skip_reason="the audit log is empty")
        if context.cursor == f"{seq}:{digest}":
            return dg.SensorResult(skip_reason=f"the audit head is still #{seq}")
        observation = dg.AssetObservation(
            asset_key=asset_key,
            description=f"audit head #{seq} {digest}",
            metadata={
                md.AUDIT_HEAD_SEQ: dg.MetadataValue.int(seq),
                md.AUDIT_HEAD_HASH: dg.MetadataValue.text(digest),
            },
        )
        return dg.SensorResult(asset_events=[observation], cursor=f"{seq}:{digest}")

    return _anchor


def main(argv: Sequence[str] | None = None) -> int:
    """Print the anchors of the Dagster instance DAGSTER_HOME names, one `SEQ:HASH` a line:
    `python -m registry_project.orchestration.anchors | registry verify --anchor-file -`."""
    parser = argparse.ArgumentParser(
        prog="python -m registry_project.orchestration.anchors",
        description="Print the registry audit heads recorded in the Dagster instance of "
        "DAGSTER_HOME, one SEQ:HASH a line, for `registry verify --anchor-file -`.",
    )
    parser.add_argument(
        "--asset", action="append", default=None, help="Only this asset key (repeatable)."
    )
    options = parser.parse_args(argv)
    keys = [dg.AssetKey.from_user_string(a) for a in options.asset] if options.asset else None
    with dg.DagsterInstance.get() as instance:
        anchors = dagster_anchors(instance, asset_keys=keys)
    if not anchors:
        print("no registry audit heads in this Dagster instance's event log", file=sys.stderr)
        return 1
    for seq, digest in anchors:
        print(f"{seq}:{digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
