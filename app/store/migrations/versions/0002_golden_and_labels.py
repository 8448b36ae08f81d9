"""Golden examples, labels and label history.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "golden_examples",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False, index=True),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("window_start", sa.String(40), nullable=False),
        sa.Column("window_end", sa.String(40), nullable=False),
        sa.Column("logs", sa.JSON, nullable=False),
        sa.Column("label", sa.JSON, nullable=True),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False, index=True),
        sa.Column("triage_run_id", sa.String(36), nullable=True, index=True),
        sa.Column("needs_second_opinion", sa.Boolean, nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("example_id", sa.String(200), nullable=False, index=True),
        sa.Column("labeler", sa.String(200), nullable=False, index=True),
        sa.Column("root_cause", sa.String(60), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("example_id", "labeler", name="uq_labels_example_labeler"),
    )
    op.create_table(
        "label_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("example_id", sa.String(200), nullable=False, index=True),
        sa.Column("labeler", sa.String(200), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("root_cause", sa.String(60), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("label_history")
    op.drop_table("labels")
    op.drop_table("golden_examples")
