"""Params added to a run after it started: what autologging learns from the fitted
estimator (`get_params()`), which the run could not know when it began."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from registry_project.core.errors import InvalidParamsError, RunNotFoundError
from registry_project.core.ops.run_ops import RunRef, run_id
from registry_project.core.ops.writer import Writer
from registry_project.core.store import run_params
from registry_project.core.validation import validate_params


def log_params(
    w: Writer, run: RunRef, params: Mapping[str, Any], *, keep_existing: bool = False
) -> None:
    """Add `params` to the run's. A key the run already has keeps its value: the same value
    is accepted, a different one refused (params say how the run was made, so they are
    never rewritten), or, with `keep_existing` (autologging: the user's params win over the
    estimator's of the same name), silently left out."""
    added = json.loads(validate_params(params))
    wanted = run_id(run)

    def work(connection: Connection) -> None:
        stored = run_params.fetch_params_json(connection, wanted, lock=True)
        if stored is None:
            raise RunNotFoundError(
                f"no training run with id {wanted}; list runs with `registry runs`"
            )
        current = json.loads(stored)
        clashes = sorted(k for k, v in added.items() if k in current and current[k] != v)
        if clashes and not keep_existing:
            raise InvalidParamsError(
                f"the run already has params {clashes} with other values; params are never "
                "rewritten: start a new run for other values"
            )
        merged = {**added, **current}
        if merged != current:
            # validated as a whole: the sum may pass the size limit its parts did not
            run_params.update_params_json(connection, wanted, validate_params(merged))

    if added:
        w.write(work)
