"""Eval runs shared by workers: claims, workers, repeats, scenarios and the history of retried items.

Runs recorded before this revision keep working: their items get repeat 0 and no scenario, their claims
are created the first time a worker resumes them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("eval_runs") as batch:
        batch.alter_column("id", type_=sa.String(64), existing_type=sa.String(36), existing_nullable=False)
        batch.add_column(sa.Column("repeats", sa.Integer, nullable=False, server_default=sa.text("1")))
        batch.add_column(sa.Column("report", sa.JSON, nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("eval_items") as batch:
        batch.alter_column(
            "run_id", type_=sa.String(64), existing_type=sa.String(36), existing_nullable=False
        )
        batch.add_column(sa.Column("repeat", sa.Integer, nullable=False, server_default=sa.text("0")))
        batch.add_column(sa.Column("scenario", sa.String(200), nullable=True))
        batch.drop_constraint("uq_eval_items_run_example", type_="unique")
        batch.create_unique_constraint("uq_eval_items_run_example_repeat", ["run_id", "example_id", "repeat"])
    op.create_table(
        "eval_claims",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("example_id", sa.String(200), nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("claimed_by", sa.String(36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.UniqueConstraint("run_id", "example_id", "repeat", name="uq_eval_claims_run_example_repeat"),
    )
    op.create_index("ix_eval_claims_run_state", "eval_claims", ["run_id", "state"])
    op.create_table(
        "eval_workers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        sa.Column("shard_index", sa.Integer, nullable=True),
        sa.Column("shard_count", sa.Integer, nullable=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
    )
    op.create_table(
        "eval_item_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        sa.Column("example_id", sa.String(200), nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("eval_item_history")
    op.drop_table("eval_workers")
    op.drop_index("ix_eval_claims_run_state", table_name="eval_claims")
    op.drop_table("eval_claims")
    # Only the first repeat of each item fits the old unique key.
    op.execute(sa.text("DELETE FROM eval_items WHERE repeat <> 0"))
    with op.batch_alter_table("eval_items") as batch:
        batch.drop_constraint("uq_eval_items_run_example_repeat", type_="unique")
        batch.create_unique_constraint("uq_eval_items_run_example", ["run_id", "example_id"])
        batch.drop_column("scenario")
        batch.drop_column("repeat")
        batch.alter_column(
            "run_id", type_=sa.String(36), existing_type=sa.String(64), existing_nullable=False
        )
    with op.batch_alter_table("eval_runs") as batch:
        batch.drop_column("report")
        batch.drop_column("repeats")
        batch.alter_column("id", type_=sa.String(36), existing_type=sa.String(64), existing_nullable=False)
