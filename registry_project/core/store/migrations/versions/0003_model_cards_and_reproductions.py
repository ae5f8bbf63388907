"""Model card texts (intended use, limitations) and reproduction attempts.

Two new tables; no existing row changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry_project.core.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_card_texts",
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("intended_use", sa.Text(), nullable=True),
        sa.Column("limitations", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name"], ["models.name"], name=op.f("fk_model_card_texts_model_name_models")
        ),
        sa.PrimaryKeyConstraint("model_name", name=op.f("pk_model_card_texts")),
    )
    op.create_table(
        "reproductions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_reproductions_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reproductions")),
    )
    with op.batch_alter_table("reproductions") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reproductions_version_id_at"), ["version_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reproductions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_reproductions_version_id_at"))
    op.drop_table("reproductions")
    op.drop_table("model_card_texts")
