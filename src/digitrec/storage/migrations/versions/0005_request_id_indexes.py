"""Indexes on the request id of both kinds of correction: a new correction of an answer
replaces the earlier ones of the same answer, and an answer's corrections can be withdrawn,
both found by its request id.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_corrections_request_id", "corrections", ["request_id"])
    op.create_index("ix_number_corrections_request_id", "number_corrections", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_number_corrections_request_id", table_name="number_corrections")
    op.drop_index("ix_corrections_request_id", table_name="corrections")
