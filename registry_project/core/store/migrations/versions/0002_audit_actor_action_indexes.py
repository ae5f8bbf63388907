"""Index the audit log by actor and by action.

"Who promoted what" and "every deletion" are the governance questions; without these
indexes they scan the whole log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.create_index("ix_audit_events_actor_seq", ["actor", "seq"], unique=False)
        batch_op.create_index("ix_audit_events_action_seq", ["action", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_index("ix_audit_events_action_seq")
        batch_op.drop_index("ix_audit_events_actor_seq")
