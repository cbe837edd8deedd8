"""Storage of user corrections (SQLAlchemy + Alembic)."""
