"""Experiment tracking: a run's experiment and tags, step metrics, run artifacts.

Existing rows: every run gets `experiment` = its name (the default for new runs too); three
new tables start empty. The latest value of each run metric stays in `run_metrics`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry_project.core.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable at the SQL level: SQLite cannot add a NOT NULL column without a constant
    # default, and recreating `runs` (which four tables reference) is not worth it. The
    # backfill below and every insert (store/rows.run_values) write it.
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("experiment", sa.String(length=128), nullable=True))
    op.execute("UPDATE runs SET experiment = name WHERE experiment IS NULL")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_runs_experiment_started_at"), ["experiment", "started_at"], unique=False
        )
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_tags_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_run_tags")),
    )
    op.create_table(
        "run_step_metrics",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("logged_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_step_metrics_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "key", "step", name=op.f("pk_run_step_metrics")),
        # SQLite: the rows live in the primary key's own B-tree, one insert per point
        # instead of two (the table and its key's index); a hot path (store/step_metrics).
        sqlite_with_rowid=False,
    )
    op.create_table(
        "run_artifacts",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=256), nullable=False),
        sa.Column("flavor", sa.String(length=64), nullable=True),
        sa.Column("python_class", sa.String(length=512), nullable=True),
        sa.Column("logged_at", UTCDateTime(), nullable=False),
        sa.Column("logged_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_artifacts_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_run_artifacts")),
    )
    with op.batch_alter_table("run_artifacts") as batch_op:
        batch_op.create_index(batch_op.f("ix_run_artifacts_digest"), ["digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_artifacts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_artifacts_digest"))
    op.drop_table("run_artifacts")
    op.drop_table("run_step_metrics")
    op.drop_table("run_tags")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_experiment_started_at"))
        batch_op.drop_column("experiment")
