"""Eval runs, their items and the result cache.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("prompt_ref", sa.String(220), nullable=False),
        sa.Column("prompt_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("model", sa.String(200), nullable=False, index=True),
        sa.Column("quantization", sa.String(40), nullable=False),
        sa.Column("gguf_file", sa.Text, nullable=False),
        sa.Column("base_url", sa.Text, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("golden_version", sa.String(64), nullable=False, index=True),
        sa.Column("slice", sa.JSON, nullable=False),
        sa.Column("item_ids", sa.JSON, nullable=False),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.JSON, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "eval_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), nullable=False, index=True),
        sa.Column("example_id", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("expected", sa.String(60), nullable=False),
        sa.Column("predicted", sa.String(60), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("raw_output", sa.Text, nullable=False),
        sa.Column("parsed", sa.JSON, nullable=True),
        sa.Column("expected_evidence", sa.JSON, nullable=False),
        sa.Column("cited_evidence", sa.JSON, nullable=False),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("total_ms", sa.Float, nullable=True),
        sa.Column("tokens_per_s", sa.Float, nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=True),
        sa.Column("completion_tokens", sa.Integer, nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("cached", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "example_id", name="uq_eval_items_run_example"),
    )
    op.create_table(
        "eval_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("raw_output", sa.Text, nullable=False),
        sa.Column("outcome_kind", sa.String(20), nullable=False),
        sa.Column("stats", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("eval_cache")
    op.drop_table("eval_items")
    op.drop_table("eval_runs")
