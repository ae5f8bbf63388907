"""Search indexes: a search across models is driven from an index, not a scan of every
version (issue #15; `store/search_plan.py` says how each is used).

- version_metric_latest (key, value, version_id): a metric range across models, and the
  walk in a metric's order with LIMIT (the (model_name, key, value) index needs a model).
- version_tags (key, value, version_id) replaces (key, value): the same lookups, and the
  version ids come from the index itself (SQLite's secondary indexes carry the rowid, not
  the primary key).
- model_aliases (alias, version_id): an alias across models (the key starts with the model).
- model_versions (created_at): a creation-time range, and the default newest-first order.

Indexes only; no row changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_version_metric_latest_key_value_version_id"),
        "version_metric_latest",
        ["key", "value", "version_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_version_tags_key_value_version_id"),
        "version_tags",
        ["key", "value", "version_id"],
        unique=False,
    )
    op.drop_index(op.f("ix_version_tags_key_value"), table_name="version_tags")
    op.create_index(
        op.f("ix_model_aliases_alias_version_id"),
        "model_aliases",
        ["alias", "version_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_model_versions_created_at"), "model_versions", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_model_versions_created_at"), table_name="model_versions")
    op.drop_index(op.f("ix_model_aliases_alias_version_id"), table_name="model_aliases")
    op.create_index(
        op.f("ix_version_tags_key_value"), "version_tags", ["key", "value"], unique=False
    )
    op.drop_index(op.f("ix_version_tags_key_value_version_id"), table_name="version_tags")
    op.drop_index(
        op.f("ix_version_metric_latest_key_value_version_id"), table_name="version_metric_latest"
    )
