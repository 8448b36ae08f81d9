"""Who adjudicated a label, and one history row per (example, labeler, revision).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("labels", sa.Column("adjudicated_by", sa.String(200), nullable=True))
    op.add_column("label_history", sa.Column("adjudicated_by", sa.String(200), nullable=True))
    op.create_index(
        "uq_label_history_revision", "label_history", ["example_id", "labeler", "revision"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_label_history_revision", table_name="label_history")
    with op.batch_alter_table("label_history") as batch:
        batch.drop_column("adjudicated_by")
    with op.batch_alter_table("labels") as batch:
        batch.drop_column("adjudicated_by")
