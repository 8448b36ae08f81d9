"""Per-model prompt rates from llama-server's timings, and each triage run's latency target and estimate.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_prompt_rates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("quantization", sa.String(40), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("prompt_n", sa.Integer, nullable=False),
        sa.Column("prompt_ms", sa.Float, nullable=False),
        sa.Column("cache_n", sa.Integer, nullable=False),
        sa.Column("ttft_ms", sa.Float, nullable=True),
        sa.Column("prefix_sha256", sa.String(64), nullable=True),
    )
    op.create_index("ix_model_prompt_rates_model_id", "model_prompt_rates", ["model", "id"])
    with op.batch_alter_table("triage_runs") as batch:
        batch.add_column(sa.Column("latency_target_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("estimated_ttft_ms", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triage_runs") as batch:
        batch.drop_column("estimated_ttft_ms")
        batch.drop_column("latency_target_s")
    op.drop_index("ix_model_prompt_rates_model_id", table_name="model_prompt_rates")
    op.drop_table("model_prompt_rates")
