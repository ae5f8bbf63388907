"""Import provenance: which MLflow model, version, run or dataset became which record.

One new table; no existing row changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry_project.core.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imported_items",
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=1024), nullable=False),
        sa.Column("local_id", sa.String(length=1024), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("imported_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("source", "kind", "external_id", name=op.f("pk_imported_items")),
    )
    op.create_index(
        op.f("ix_imported_items_kind_local_id"),
        "imported_items",
        ["kind", "local_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_imported_items_kind_local_id"), table_name="imported_items")
    op.drop_table("imported_items")
