"""Correction ids are never given again: SQLite hands out the highest id + 1, so the id of
a withdrawn (or deleted) newest correction went to the next one, and a retried delete of
the old id, or an admin page left open, would remove someone else's correction. The
tables are rebuilt with AUTOINCREMENT on SQLite (rows and ids kept); PostgreSQL's
sequences never reuse an id, so nothing changes there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("corrections", "number_corrections")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
