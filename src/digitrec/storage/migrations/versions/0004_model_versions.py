"""Model versions: every model a server may answer with (the ONNX bytes, the weights to
fine-tune, the model card), its status and who promoted it. Shared by every server that
uses the database. The model shipped in the package is version 1 and is not stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("onnx", sa.LargeBinary(), nullable=False),
        sa.Column("weights", sa.LargeBinary(), nullable=True),
        sa.Column("card", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("previous", sa.Integer(), nullable=True),
        sa.Column("promoted_by", sa.String(64), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("number >= 2", name="number_after_the_shipped_model"),
        sa.CheckConstraint(
            "status IN ('candidate', 'active', 'rejected', 'retired')", name="status_is_known"
        ),
    )
    op.create_index("ix_model_versions_status", "model_versions", ["status"])


def downgrade() -> None:
    op.drop_index("ix_model_versions_status", table_name="model_versions")
    op.drop_table("model_versions")
