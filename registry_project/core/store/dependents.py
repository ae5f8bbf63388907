"""The model versions that depend on a dataset: trained on it (a run input) or evaluated on
it (metrics logged against it), in pages.

One statement (both relations, each version once per relation, ordered in SQL) run on the
driver's cursor (prepared.py): `delete_dataset` reads every dependent under its lock, and a
snapshot shared by a whole model family can have tens of thousands of them, so the per-row
cost is the cost. Pages are keyset pages: the next one starts after the last (model, version,
relation) returned, so reading page 500 costs what page 1 does.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.entities import Dependent, Stage
from registry_project.core.store.prepared import PreparedStatement
from registry_project.core.store.schema import model_versions, run_inputs, version_metrics

# Larger than any page anyone asks for: "no limit" as a bound value, so one compiled
# statement serves every call.
NO_LIMIT = 2**62
# Sorts before every real (model, version, relation): names are never empty.
_START = ("", 0, "")
_STAGE_OF = {stage.value: stage for stage in Stage}

_version_columns = (
    model_versions.c.id.label("version_id"),
    model_versions.c.model_name,
    model_versions.c.version,
    model_versions.c.stage,
)
# Semi-joins (`IN (subquery)`), not joins: each version comes out once per relation with no
# GROUP BY or DISTINCT to sort away duplicates.
_first_role = (
    sa.select(sa.func.min(run_inputs.c.role))
    .where(
        run_inputs.c.run_id == model_versions.c.run_id,
        run_inputs.c.dataset_id == sa.bindparam("dataset_id"),
    )
    # A snapshot read in two roles (train and test) is one dependent: its first role.
    .scalar_subquery()
)
_trained = sa.select(
    *_version_columns, sa.literal("trained").label("relation"), _first_role.label("role")
).where(
    model_versions.c.run_id.in_(
        sa.select(run_inputs.c.run_id).where(run_inputs.c.dataset_id == sa.bindparam("dataset_id"))
    )
)
_evaluated = sa.select(
    *_version_columns, sa.literal("evaluated").label("relation"), sa.null().label("role")
).where(
    model_versions.c.id.in_(
        sa.select(version_metrics.c.version_id).where(
            version_metrics.c.dataset_id == sa.bindparam("dataset_id")
        )
    )
)
_both = sa.union_all(_trained, _evaluated).subquery("dependents")
_PAGE = PreparedStatement(
    sa.select(_both)
    .where(
        sa.tuple_(_both.c.model_name, _both.c.version, _both.c.relation)
        > sa.tuple_(
            sa.bindparam("after_model", type_=sa.String()),
            sa.bindparam("after_version", type_=sa.Integer()),
            sa.bindparam("after_relation", type_=sa.String()),
        )
    )
    .order_by(_both.c.model_name, _both.c.version, _both.c.relation)
    .limit(sa.bindparam("page_size", type_=sa.BigInteger()))
)


def dependents_of(
    connection: Connection,
    dataset_id: str,
    *,
    limit: int | None = None,
    after: Dependent | None = None,
) -> list[Dependent]:
    """Versions trained or evaluated on the dataset, ordered by (model, version, relation):
    the first `limit` of them after `after` (the last dependent of the previous page)."""
    start = _START if after is None else (after.model_name, after.version, after.relation)
    rows = _PAGE.execute(
        connection,
        {
            "dataset_id": dataset_id,
            "after_model": start[0],
            "after_version": start[1],
            "after_relation": start[2],
            "page_size": NO_LIMIT if limit is None else limit,
        },
    )
    stage_of = _STAGE_OF
    return [
        Dependent(version_id, model_name, version, stage_of[stage], relation, role)
        for version_id, model_name, version, stage, relation, role in rows
    ]
