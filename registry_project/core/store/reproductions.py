"""Reproduction attempts of model versions: who rebuilt which version, when, and what came
out (identical, within tolerance, different, refused)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import Reproduction, ReproductionOutcome, frozen_mapping
from registry_project.core.store.schema import reproductions
from registry_project.core.validation import canonical_json


def insert_reproduction(connection: Connection, result: Reproduction) -> None:
    detail = {
        "detail": result.detail,
        "artifact_digest": result.artifact_digest,
        "environment_differences": list(result.environment_differences),
        "metric_differences": dict(result.metric_differences),
    }
    connection.execute(
        reproductions.insert().values(
            id=str(uuid.uuid4()),
            version_id=result.version_id,
            at=result.at,
            actor=result.actor,
            outcome=result.outcome.value,
            detail_json=canonical_json(detail),
        )
    )


def _from_row(row: Any) -> Reproduction:
    detail = json.loads(row.detail_json)
    return Reproduction(
        version_id=row.version_id,
        at=row.at,
        actor=row.actor,
        outcome=ReproductionOutcome(row.outcome),
        detail=detail.get("detail", ""),
        artifact_digest=detail.get("artifact_digest"),
        environment_differences=tuple(detail.get("environment_differences", ())),
        metric_differences=frozen_mapping(detail.get("metric_differences")),
    )


def latest_reproduction(connection: Connection, version_id: str) -> Reproduction | None:
    row = connection.execute(
        sa.select(reproductions)
        .where(reproductions.c.version_id == version_id)
        .order_by(reproductions.c.at.desc())
        .limit(1)
    ).first()
    return None if row is None else _from_row(row)
