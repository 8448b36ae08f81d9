"""Prompt versions and triage runs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, index=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("front_matter", sa.JSON, nullable=False),
        sa.Column("source_path", sa.Text, nullable=False, server_default=""),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "triage_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_kind", sa.String(40), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("namespace", sa.String(253), nullable=False, index=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log_lines", sa.Integer, nullable=False),
        sa.Column("logs", sa.JSON, nullable=False),
        sa.Column("prompt_name", sa.String(200), nullable=False),
        sa.Column("prompt_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("quantization", sa.String(40), nullable=False),
        sa.Column("budget", sa.JSON, nullable=False),
        sa.Column("raw_output", sa.Text, nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("root_cause", sa.String(60), nullable=True),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("total_ms", sa.Float, nullable=True),
        sa.Column("tokens_per_s", sa.Float, nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=True),
        sa.Column("completion_tokens", sa.Integer, nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=True, index=True),
        sa.Column("queued_for_labeling", sa.Boolean, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("triage_runs")
    op.drop_table("prompt_versions")
