"""Retention: policies per dataset name and per model, tombstones of retired artifacts.

Two new tables; no existing row changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry_project.core.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_name", sa.String(length=128), nullable=False),
        sa.Column("keep_days", sa.Integer(), nullable=True),
        sa.Column("keep_last", sa.Integer(), nullable=False),
        sa.Column("rollback_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("subject_type", "subject_name", name=op.f("pk_retention_policies")),
    )
    op.create_table(
        "artifact_retirements",
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=False),
        sa.Column("retired_by", sa.String(length=256), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_artifact_retirements_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_artifact_retirements")),
    )
    op.create_index(
        op.f("ix_artifact_retirements_digest"), "artifact_retirements", ["digest"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_artifact_retirements_digest"), table_name="artifact_retirements")
    op.drop_table("artifact_retirements")
    op.drop_table("retention_policies")
