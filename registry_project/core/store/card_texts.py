"""The free text of each model's card: intended use and limitations."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import ModelCardText
from registry_project.core.store.schema import model_card_texts


def fetch_card_text(connection: Connection, model_name: str) -> ModelCardText | None:
    row = connection.execute(
        sa.select(model_card_texts).where(model_card_texts.c.model_name == model_name)
    ).first()
    if row is None:
        return None
    return ModelCardText(
        row.model_name, row.intended_use, row.limitations, row.updated_at, row.updated_by
    )


def save_card_text(
    connection: Connection,
    model_name: str,
    *,
    intended_use: str | None,
    limitations: str | None,
    actor: str,
    at: datetime,
) -> None:
    values = {
        "intended_use": intended_use,
        "limitations": limitations,
        "updated_at": at,
        "updated_by": actor,
    }
    updated = connection.execute(
        model_card_texts.update().where(model_card_texts.c.model_name == model_name).values(values)
    )
    if updated.rowcount == 0:
        connection.execute(model_card_texts.insert().values(model_name=model_name, **values))
