"""Dependents indexes: "which model versions were trained or evaluated on dataset X" is
answered from indexes alone (issue #18, W4; `store/dependents.py` says how each is used).

- run_inputs (dataset_id, run_id, role) replaces (dataset_id): a dataset's runs and each
  run's first role come from the index (SQLite's secondary indexes carry the rowid, not
  the primary key, so the old index needed a table lookup per run).
- version_metrics (dataset_id, version_id) replaces (dataset_id): the versions evaluated on
  a dataset, and the probe "was this version evaluated on it", without the table.
- model_versions (run_id, model_name, version, stage, id) replaces (run_id): a run's
  versions with what a dependent shows, without a lookup into the (wide) version rows.
- model_versions (model_name, version, run_id, stage, id): the versions in order with the
  same, for the walk a page of a widely used dataset takes (the unique (model_name,
  version) index needs a lookup into the version rows per version, scattered across the
  table when models are registered interleaved: a page-cache miss each on SQLite).

Indexes only; no row changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_run_inputs_dataset_id_run_id_role"),
        "run_inputs",
        ["dataset_id", "run_id", "role"],
        unique=False,
    )
    op.drop_index(op.f("ix_run_inputs_dataset_id"), table_name="run_inputs")
    op.create_index(
        op.f("ix_version_metrics_dataset_id_version_id"),
        "version_metrics",
        ["dataset_id", "version_id"],
        unique=False,
    )
    op.drop_index(op.f("ix_version_metrics_dataset_id"), table_name="version_metrics")
    op.create_index(
        op.f("ix_model_versions_run_id_model_name_version_stage_id"),
        "model_versions",
        ["run_id", "model_name", "version", "stage", "id"],
        unique=False,
    )
    op.drop_index(op.f("ix_model_versions_run_id"), table_name="model_versions")
    op.create_index(
        op.f("ix_model_versions_model_name_version_run_id_stage_id"),
        "model_versions",
        ["model_name", "version", "run_id", "stage", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_model_versions_model_name_version_run_id_stage_id"), table_name="model_versions"
    )
    op.create_index(op.f("ix_model_versions_run_id"), "model_versions", ["run_id"], unique=False)
    op.drop_index(
        op.f("ix_model_versions_run_id_model_name_version_stage_id"), table_name="model_versions"
    )
    op.create_index(
        op.f("ix_version_metrics_dataset_id"), "version_metrics", ["dataset_id"], unique=False
    )
    op.drop_index(op.f("ix_version_metrics_dataset_id_version_id"), table_name="version_metrics")
    op.create_index(op.f("ix_run_inputs_dataset_id"), "run_inputs", ["dataset_id"], unique=False)
    op.drop_index(op.f("ix_run_inputs_dataset_id_run_id_role"), table_name="run_inputs")
