"""Search: the call of ops/search_ops.py (the filter language is core/filters.py).

Part of the `ModelRegistry` facade (core/registry.py), which inherits this class; the
docstrings here are the public API's.
"""

from __future__ import annotations

from registry_project.core.entities import ModelVersion
from registry_project.core.facade.base import FacadeBase
from registry_project.core.ops import search_ops


class SearchCalls(FacadeBase):
    """Finding versions across models with a filter."""

    def search(
        self,
        filter: str | None = None,
        *,
        order_by: str = "-created_at",
        limit: int | None = search_ops.DEFAULT_LIMIT,
    ) -> list[ModelVersion]:
        """Versions of every model that match `filter`, ordered by `order_by` (`version`,
        `created_at`, `stage_changed_at`, `name` or `metrics.<key>`, '-' for descending;
        versions without that metric come last), at most `limit` (default 100).

        The filter compares `name`, `version`, `stage`, `alias`, `creator`, `created_at`,
        `dataset` (trained on: an input dataset's name or snapshot id), `metrics.<key>`,
        `params.<key>`, `tags.<key>` (the version's) and `model_tags.<key>` with `=`, `!=`,
        `<`, `<=`, `>`, `>=`, `in (...)` and `like` ('%' and '_' wildcards), joined by
        `and`, `or`, `not` and parentheses; text is quoted. A malformed filter raises
        `FilterError` pointing at the position. Example::

            reg.search("metrics.auc > 0.9 and tags.team = 'risk' and created_at > '2026-11-01'",
                       order_by="-metrics.auc", limit=10)
        """
        return search_ops.search(self._w, filter, order_by=order_by, limit=limit)
