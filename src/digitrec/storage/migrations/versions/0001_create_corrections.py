"""Create the corrections table.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("predicted", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("image_28x28", sa.LargeBinary(), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.CheckConstraint("predicted BETWEEN 0 AND 9", name="predicted_is_a_digit"),
        sa.CheckConstraint("correct BETWEEN 0 AND 9", name="correct_is_a_digit"),
        sa.CheckConstraint("length(image_28x28) = 784", name="image_is_28x28"),
    )
    op.create_index("ix_corrections_created_at", "corrections", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_corrections_created_at", table_name="corrections")
    op.drop_table("corrections")
