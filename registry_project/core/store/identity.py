"""Which existing version a registration would duplicate: same model, same artifact digest,
same run params and the same input data (by content, not by snapshot id)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from registry_project.core.store.retention import not_retired
from registry_project.core.store.schema import datasets, model_versions, run_inputs, runs

NO_PARAMS = "{}"  # a version registered without a run trained with no params and no inputs

# What makes two inputs the same data: the role it played and the data's identity. A
# snapshot's digest names its bytes; a reference is its pinned location. Ids are not
# compared: a reference to the same pinned object registered twice gets two ids.
InputKey = tuple[str, str, str, str | None, str, str | None, str | None]


def _input_keys(connection: Connection, run_ids: Sequence[str]) -> dict[str, frozenset[InputKey]]:
    keys: dict[str, set[InputKey]] = defaultdict(set)
    if not run_ids:
        return {}
    rows = connection.execute(
        sa.select(
            run_inputs.c.run_id,
            run_inputs.c.role,
            datasets.c.name,
            datasets.c.kind,
            datasets.c.digest,
            datasets.c.uri,
            datasets.c.version_id,
            datasets.c.etag,
        )
        .select_from(run_inputs.join(datasets, datasets.c.id == run_inputs.c.dataset_id))
        .where(run_inputs.c.run_id.in_(list(run_ids)))
    )
    for run_id, *key in rows:
        keys[run_id].add(tuple(key))  # type: ignore[arg-type]
    return {run_id: frozenset(found) for run_id, found in keys.items()}


def find_identical_version_id(
    connection: Connection, model_name: str, artifact_digest: str, run_id: str | None
) -> str | None:
    """The oldest version of `model_name` with this artifact digest whose run had the same
    params and inputs as `run_id` (no run: no params, no inputs), or None.

    Uses the (artifact_digest) index: only versions with the same bytes are compared.
    """
    params = NO_PARAMS
    if run_id is not None:
        params = (
            connection.execute(sa.select(runs.c.params_json).where(runs.c.id == run_id)).scalar()
            or NO_PARAMS
        )
    candidates = list(
        connection.execute(
            sa.select(model_versions.c.id, model_versions.c.run_id, runs.c.params_json)
            .select_from(model_versions.outerjoin(runs, runs.c.id == model_versions.c.run_id))
            .where(
                model_versions.c.artifact_digest == artifact_digest,
                model_versions.c.model_name == model_name,
                # A retired artifact's version is no longer reusable: its bytes are gone.
                not_retired(model_versions.c.id),
            )
            .order_by(model_versions.c.version)
        )
    )
    same_params = [row for row in candidates if (row.params_json or NO_PARAMS) == params]
    if not same_params:
        return None
    run_ids = {row.run_id for row in same_params if row.run_id is not None}
    if run_id is not None:
        run_ids.add(run_id)
    inputs = _input_keys(connection, sorted(run_ids))
    wanted = inputs.get(run_id, frozenset()) if run_id is not None else frozenset()
    for row in same_params:
        found = inputs.get(row.run_id, frozenset()) if row.run_id is not None else frozenset()
        if found == wanted:
            return str(row.id)
    return None
