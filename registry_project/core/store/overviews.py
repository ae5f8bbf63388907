"""Model overviews for listings: every model with its production and latest version (and
their metrics) and when it last changed, in four queries however many models there are."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import ModelSummary, ModelVersion, Stage
from registry_project.core.store.rows import version_from_row
from registry_project.core.store.schema import PRODUCTION, model_versions, models
from registry_project.core.store.version_metrics import latest_metrics
from registry_project.core.store.versions import list_models


def model_summaries(connection: Connection) -> list[ModelSummary]:
    every = list_models(connection)
    # The production version and the newest version of each model (often the same row).
    rows = connection.execute(
        sa.select(model_versions)
        .select_from(model_versions.join(models, models.c.name == model_versions.c.model_name))
        .where(
            sa.or_(
                model_versions.c.stage == PRODUCTION,
                model_versions.c.version == models.c.last_version,
            )
        )
    ).all()
    metrics = latest_metrics(connection, [row.id for row in rows])
    last_version = {model.name: model.latest_version for model in every}
    production: dict[str, ModelVersion] = {}
    latest: dict[str, ModelVersion] = {}
    for row in rows:
        version = version_from_row(row, metrics.get(row.id))
        if version.stage is Stage.PRODUCTION:
            production[version.model_name] = version
        if version.version == last_version.get(version.model_name):
            latest[version.model_name] = version
    # Registration and every stage change move stage_changed_at; the newest is the last
    # time the model changed in a way that matters to its users.
    changed = dict(
        connection.execute(
            sa.select(
                model_versions.c.model_name, sa.func.max(model_versions.c.stage_changed_at)
            ).group_by(model_versions.c.model_name)
        ).all()
    )
    return [
        ModelSummary(
            model=model,
            production=production.get(model.name),
            latest=latest.get(model.name),
            last_changed=max(
                [model.created_at, *([changed[model.name]] if model.name in changed else [])]
            ),
        )
        for model in every
    ]
