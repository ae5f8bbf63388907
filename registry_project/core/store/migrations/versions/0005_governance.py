"""Governance: protection rules, aliases and their history, tags on models and versions.

Five new tables; no existing row changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry_project.core.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "protection_rules",
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("require_approval", sa.Boolean(), nullable=False),
        sa.Column("min_approvals", sa.Integer(), nullable=False),
        sa.Column("protected_stages_json", sa.Text(), nullable=False),
        sa.Column("protected_aliases_json", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_name"], ["models.name"], name=op.f("fk_protection_rules_model_name_models")
        ),
        sa.PrimaryKeyConstraint("model_name", name=op.f("pk_protection_rules")),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("alias", sa.String(length=128), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("set_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name"], ["models.name"], name=op.f("fk_model_aliases_model_name_models")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_aliases_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("model_name", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_index(
        op.f("ix_model_aliases_version_id"), "model_aliases", ["version_id"], unique=False
    )
    op.create_table(
        "alias_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("alias", sa.String(length=128), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias_changes")),
    )
    op.create_index(
        op.f("ix_alias_changes_model_name_alias_id"),
        "alias_changes",
        ["model_name", "alias", "id"],
        unique=False,
    )
    op.create_table(
        "model_tags",
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("set_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name"], ["models.name"], name=op.f("fk_model_tags_model_name_models")
        ),
        sa.PrimaryKeyConstraint("model_name", "key", name=op.f("pk_model_tags")),
    )
    op.create_index(op.f("ix_model_tags_key_value"), "model_tags", ["key", "value"], unique=False)
    op.create_table(
        "version_tags",
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("set_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_version_tags_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", "key", name=op.f("pk_version_tags")),
    )
    op.create_index(
        op.f("ix_version_tags_key_value"), "version_tags", ["key", "value"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_version_tags_key_value"), table_name="version_tags")
    op.drop_table("version_tags")
    op.drop_index(op.f("ix_model_tags_key_value"), table_name="model_tags")
    op.drop_table("model_tags")
    op.drop_index(op.f("ix_alias_changes_model_name_alias_id"), table_name="alias_changes")
    op.drop_table("alias_changes")
    op.drop_index(op.f("ix_model_aliases_version_id"), table_name="model_aliases")
    op.drop_table("model_aliases")
    op.drop_table("protection_rules")
