"""Number-level corrections: a picture whose digits were miscounted and the number the
person typed. Kept apart from the one-digit corrections so they never become one-digit
training examples.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "number_corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("predicted", sa.String(64), nullable=False),
        sa.Column("correct", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("original", sa.LargeBinary(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_number_corrections_created_at", "number_corrections", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_number_corrections_created_at", table_name="number_corrections")
    op.drop_table("number_corrections")
