"""Model cards: a version's record gathered into one JSON document, and that document
rendered as Markdown.

The card is a pure function of the record (`render_card(record)`), with no clock and no
registry: an evidence pack carries both, and its verifier renders the record again to
prove that not one byte of the card was changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from registry_project.core.config import resolve_actor
from registry_project.core.display import inert
from registry_project.core.entities import (
    AuditAction,
    DatasetSnapshot,
    Lineage,
    ModelCardText,
    ModelVersion,
)
from registry_project.core.entities.vocabulary import KEEP as KEEP  # re-exported
from registry_project.core.errors import InvalidInputError, ModelNotFoundError
from registry_project.core.store import audit, card_texts, reproductions
from registry_project.core.store import stage_history as history_store
from registry_project.core.store import versions as version_store
from registry_project.core.store.audit import EventDraft
from registry_project.core.transactions import Transactions
from registry_project.core.validation import (
    MAX_DESCRIPTION_LENGTH,
    validate_name,
    validate_reason,
    validate_text,
)

if TYPE_CHECKING:
    from registry_project.core.registry import ModelRegistry, VersionRef

RECORD_FORMAT = 1
TRAINING = "training"  # how the record names metrics logged without a dataset


def _time(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat(timespec="microseconds")


def _dataset(snapshot: DatasetSnapshot, relation: str, role: str | None) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "name": snapshot.name,
        "relation": relation,
        "role": role,
        "kind": snapshot.kind.value,
        "digest": snapshot.digest,
        "rows": snapshot.row_count,
        "size_bytes": snapshot.size_bytes,
        "uri": snapshot.uri,
        "columns": [[column.name, column.type] for column in snapshot.columns],
        "deleted": (
            None
            if not snapshot.deleted
            else {
                "at": _time(snapshot.deleted_at),
                "by": snapshot.deleted_by,
                "reason": snapshot.deletion_reason,
            }
        ),
    }


def _run(lineage: Lineage) -> dict[str, Any] | None:
    run = lineage.run
    if run is None:
        return None
    environment = run.environment
    return {
        "id": run.id,
        "name": run.name,
        "params": dict(run.params),
        "code": {
            "commit": run.code.commit,
            "dirty": run.code.dirty,
            "remote": run.code.remote,
            "branch": run.code.branch,
        },
        "environment": None
        if environment is None
        else {
            "python": environment.python_version,
            "platform": environment.platform,
            "packages_digest": environment.packages_digest,
            "package_count": environment.package_count,
        },
        "dagster_run_id": run.dagster_run_id,
        "asset_key": run.asset_key,
    }


def _delta(value: float, baseline: float | None) -> float | None:
    if baseline is None:
        return None
    delta = value - baseline
    return delta if math.isfinite(delta) else None


def _metrics(
    registry: ModelRegistry, version: ModelVersion, production: ModelVersion | None
) -> list[dict[str, Any]]:
    """Every metric per dataset, with production's value on the same dataset."""
    baseline: dict[tuple[str | None, str], float] = {}
    if production is not None and production.id != version.id:
        baseline = {(r.dataset_id, r.key): r.value for r in registry.metric_history(production)}
    names: dict[str, str] = {}
    rows = []
    for record in registry.metric_history(version):
        if record.dataset_id is not None and record.dataset_id not in names:
            names[record.dataset_id] = registry.get_dataset(record.dataset_id).name
        production_value = baseline.get((record.dataset_id, record.key))
        rows.append(
            {
                "dataset_id": record.dataset_id,
                "dataset": names.get(record.dataset_id or "", TRAINING),
                "key": record.key,
                "value": record.value,
                "production_value": production_value,
                "delta": _delta(record.value, production_value),
            }
        )
    return rows


def build_record(
    registry: ModelRegistry, tx: Transactions, reference: VersionRef
) -> dict[str, Any]:
    """The version's whole record as JSON-ready values: what the card shows and an
    evidence pack carries as `record.json`."""
    lineage = registry.lineage(reference)
    version = lineage.version
    production = registry.production_version(version.model_name)
    with tx.read() as connection:
        approvals = history_store.approval_records(connection, version.id)
        text = card_texts.fetch_card_text(connection, version.model_name)
        reproduction = reproductions.latest_reproduction(connection, version.id)
    return {
        "format": RECORD_FORMAT,
        "model": version.model_name,
        "version": version.version,
        "version_id": version.id,
        "stage": version.stage.value,
        "flavor": version.flavor,
        "python_class": version.python_class,
        "artifact_digest": version.artifact_digest,
        "artifact_size": version.artifact_size,
        "created_at": _time(version.created_at),
        "created_by": version.created_by,
        "description": version.description,
        "trained_on_deleted_data": version.trained_on_deleted_data,
        "dagster_run_id": lineage.dagster_run_id,
        "run": _run(lineage),
        "datasets": [_dataset(d.snapshot, d.relation, d.role) for d in lineage.datasets],
        "production": None
        if production is None
        else {"version": production.version, "version_id": production.id},
        "metrics": _metrics(registry, version, production),
        "stage_history": [
            {
                "from": t.from_stage.value if t.from_stage else None,
                "to": t.to_stage.value,
                "actor": t.actor,
                "reason": t.reason,
                "at": _time(t.at),
            }
            for t in lineage.transitions
        ],
        "approvals": [{"actor": a.actor, "reason": a.reason, "at": _time(a.at)} for a in approvals],
        "card_text": None
        if text is None
        else {"intended_use": text.intended_use, "limitations": text.limitations},
        "reproduction": None
        if reproduction is None
        else {
            "outcome": reproduction.outcome.value,
            "at": _time(reproduction.at),
            "by": reproduction.actor,
            "detail": reproduction.detail,
            "artifact_digest": reproduction.artifact_digest,
            "environment_differences": list(reproduction.environment_differences),
            "metric_differences": dict(reproduction.metric_differences),
        },
    }


# --- rendering ---------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A table cell: stored text made inert, and the one Markdown table character escaped."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return inert(str(value)).replace("|", "\\|").replace("\n", " ")


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.6g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    if not rows:
        return ["(none)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _text(value: str | None, missing: str) -> str:
    return inert(value) if value else f"_{missing}_"


def render_card(record: Mapping[str, Any]) -> str:
    """The Markdown model card of a record from `build_record` (deterministic)."""
    title = f"{record['model']}/{record['version']}"
    lines = [f"# Model card: {_cell(title)}", ""]
    lines += _table(
        ["field", "value"],
        [
            ("model", record["model"]),
            ("version", record["version"]),
            ("version id", record["version_id"]),
            ("stage", record["stage"]),
            ("flavor", f"{record['flavor']} ({record['python_class']})"),
            ("artifact", f"sha256:{record['artifact_digest']} ({record['artifact_size']} bytes)"),
            ("registered", f"{record['created_at']} by {record['created_by']}"),
            ("dagster run", record["dagster_run_id"]),
            ("trained on deleted data", record["trained_on_deleted_data"]),
        ],
    )
    card_text = record.get("card_text") or {}
    lines += ["", "## Description", "", _text(record.get("description"), "no description")]
    lines += ["", "## Intended use", "", _text(card_text.get("intended_use"), "not stated")]
    lines += ["", "## Limitations", "", _text(card_text.get("limitations"), "not stated")]
    lines += ["", "## Training and evaluation data", ""]
    lines += _table(
        ["dataset", "relation", "digest", "rows", "schema", "deleted"],
        [
            (
                d["name"],
                d["relation"] + (f" ({d['role']})" if d["role"] else ""),
                d["digest"],
                d["rows"],
                ", ".join(f"{name}: {kind}" for name, kind in d["columns"]),
                None
                if d["deleted"] is None
                else f"{d['deleted']['at']} by {d['deleted']['by']}: {d['deleted']['reason']}",
            )
            for d in record["datasets"]
        ],
    )
    run = record["run"]
    lines += ["", "## Training run", ""]
    if run is None:
        lines.append("_registered without a training run_")
    else:
        environment = run["environment"] or {}
        code = run["code"]
        lines += _table(
            ["field", "value"],
            [
                ("run", f"{run['name']} ({run['id']})"),
                ("code commit", code["commit"]),
                ("working tree dirty", code["dirty"]),
                ("python", environment.get("python")),
                ("platform", environment.get("platform")),
                ("packages", environment.get("packages_digest")),
                ("dagster asset", run["asset_key"]),
            ],
        )
        lines += ["", "### Params", ""]
        lines += _table(["param", "value"], sorted(run["params"].items()))
    production = record["production"]
    against = "production" if production is None else f"production (v{production['version']})"
    lines += ["", "## Metrics", ""]
    lines += _table(
        ["dataset", "metric", "value", against, "delta"],
        [
            (m["dataset"], m["key"], m["value"], m["production_value"], _signed(m["delta"]))
            for m in record["metrics"]
        ],
    )
    lines += ["", "## Stage history", ""]
    lines += _table(
        ["at", "from", "to", "by", "reason"],
        [(t["at"], t["from"], t["to"], t["actor"], t["reason"]) for t in record["stage_history"]],
    )
    lines += ["", "## Approvals", ""]
    lines += _table(
        ["at", "by", "reason"], [(a["at"], a["actor"], a["reason"]) for a in record["approvals"]]
    )
    lines += ["", "## Reproduction", ""]
    reproduction = record.get("reproduction")
    if not reproduction:
        lines.append("_never reproduced_")
    else:
        lines.append(
            f"{_cell(reproduction['outcome'])} at {_cell(reproduction['at'])} by "
            f"{_cell(reproduction['by'])}: {_cell(reproduction['detail'])}"
        )
    return "\n".join(lines) + "\n"


def set_card_text(
    tx: Transactions,
    model_name: str,
    *,
    intended_use: str | None = KEEP,
    limitations: str | None = KEEP,
    actor: str | None = None,
    reason: str | None = None,
) -> ModelCardText:
    """Set (or with None clear) the free text of a model's card; an argument left out
    keeps its current value. One audit event records the before and after."""
    validate_name(model_name, "model name")
    if intended_use is KEEP and limitations is KEEP:
        raise InvalidInputError("set_model_card_text needs intended_use= or limitations=")
    new = {
        key: validate_text(value, key.replace("_", " "), max_length=MAX_DESCRIPTION_LENGTH)
        for key, value in (("intended_use", intended_use), ("limitations", limitations))
        if value is not KEEP
    }
    why = validate_reason(reason, action="changing a model card")
    who = resolve_actor(actor)

    def work(connection: Any) -> ModelCardText:
        if not version_store.lock_model(connection, model_name):
            raise ModelNotFoundError(
                f"no model named {model_name!r}; list models with `registry models`"
            )
        current = card_texts.fetch_card_text(connection, model_name)
        before = {
            "intended_use": current.intended_use if current else None,
            "limitations": current.limitations if current else None,
        }
        after = {**before, **new}
        at = datetime.now(UTC)
        card_texts.save_card_text(connection, model_name, **after, actor=who, at=at)
        audit.append_event(
            connection,
            EventDraft(
                actor=who,
                action=AuditAction.SET_CARD_TEXT,
                subject_type="model",
                subject_id=model_name,
                model_name=model_name,
                before=before,
                after=after,
                reason=why,
            ),
        )
        return ModelCardText(model_name, after["intended_use"], after["limitations"], at, who)

    return tx.write(work)


def card_text(tx: Transactions, model_name: str) -> ModelCardText | None:
    validate_name(model_name, "model name")
    with tx.read() as connection:
        return card_texts.fetch_card_text(connection, model_name)


def model_card(registry: ModelRegistry, tx: Transactions, reference: VersionRef) -> str:
    """The Markdown model card of a version."""
    return render_card(build_record(registry, tx, reference))
