"""Few-shot leakage per eval item: what an answer copies from its prompt's worked examples.

Items recorded before this revision get NULL: not checked, which the run's leak count leaves out.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("eval_items") as batch:
        batch.add_column(sa.Column("copied_example", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("eval_items") as batch:
        batch.drop_column("copied_example")
