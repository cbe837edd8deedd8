"""Corrections users send: the SQLAlchemy model, the database, and the queries.

SQLite by default (a file in the data folder, WAL mode, so a crash never leaves a partial
row), PostgreSQL when DIGITREC_DATABASE_URL says so. The schema is created and upgraded by
Alembic migrations (``upgrade``), never by ``create_all``. Nothing that identifies a person
is stored: no IP address, no user agent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Integer,
    LargeBinary,
    String,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MAX_ORIGINAL_BYTES = 1024 * 1024  # originals larger than this are not kept


class Base(DeclarativeBase):
    pass


class Correction(Base):
    __tablename__ = "corrections"
    __table_args__ = (
        CheckConstraint("predicted BETWEEN 0 AND 9", name="predicted_is_a_digit"),
        CheckConstraint("correct BETWEEN 0 AND 9", name="correct_is_a_digit"),
        CheckConstraint("length(image_28x28) = 784", name="image_is_28x28"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    predicted: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(64))
    image_28x28: Mapped[bytes] = mapped_column(LargeBinary)  # uint8, row-major, ink 255
    original: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


@dataclass(frozen=True)
class StoredCorrection:
    id: int
    created_at: datetime
    predicted: int
    correct: int
    model_version: str
    image_28x28: np.ndarray  # uint8 (28, 28)
    has_original: bool


def default_url() -> str:
    """$DIGITREC_DATABASE_URL, else a SQLite file in $DIGITREC_DATA_DIR (or the user data folder)."""
    if os.environ.get("DIGITREC_DATABASE_URL"):
        return os.environ["DIGITREC_DATABASE_URL"]
    folder = os.environ.get("DIGITREC_DATA_DIR")
    if not folder:
        import platformdirs

        folder = platformdirs.user_data_dir("digitrec")
    Path(folder).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(folder) / 'feedback.sqlite3'}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a crash
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def upgrade(url: str) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


class FeedbackStore:
    """All reads and writes of corrections; one per process, thread-safe."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)

    def add(
        self,
        image_28x28: np.ndarray,
        predicted: int,
        correct: int,
        model_version: str,
        original: bytes | None = None,
        request_id: str | None = None,
    ) -> int:
        pixels = np.clip(np.asarray(image_28x28, np.float32) * 255, 0, 255).round()
        row = Correction(
            created_at=datetime.now(timezone.utc),
            predicted=predicted,
            correct=correct,
            model_version=model_version,
            image_28x28=pixels.astype(np.uint8).tobytes(),
            original=original if original and len(original) <= MAX_ORIGINAL_BYTES else None,
            request_id=request_id,
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)
            session.flush()
            return row.id

    def recent(self, limit: int = 100) -> list[StoredCorrection]:
        query = select(Correction).order_by(Correction.id.desc()).limit(limit)
        with Session(self.engine) as session:
            return [_stored(row) for row in session.scalars(query)]

    def get(self, correction_id: int) -> StoredCorrection | None:
        with Session(self.engine) as session:
            row = session.get(Correction, correction_id)
            return _stored(row) if row else None

    def count(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Correction)) or 0

    def pair_counts(self) -> list[tuple[int, int, int]]:
        """(predicted, correct, how many), most frequent first."""
        query = (
            select(Correction.predicted, Correction.correct, func.count())
            .group_by(Correction.predicted, Correction.correct)
            .order_by(func.count().desc(), Correction.predicted, Correction.correct)
        )
        with Session(self.engine) as session:
            return [tuple(row) for row in session.execute(query)]

    def delete(self, correction_id: int) -> bool:
        with Session(self.engine) as session, session.begin():
            return session.execute(delete(Correction).where(Correction.id == correction_id)).rowcount > 0

    def export(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All corrections as (images uint8 (N, 28, 28), correct labels, predicted labels)."""
        query = select(Correction.image_28x28, Correction.correct, Correction.predicted).order_by(Correction.id)
        with Session(self.engine) as session:
            rows = session.execute(query).all()
        images = np.frombuffer(b"".join(r[0] for r in rows), np.uint8).reshape(-1, 28, 28)
        return images, np.array([r[1] for r in rows], np.uint8), np.array([r[2] for r in rows], np.uint8)


def _stored(row: Correction) -> StoredCorrection:
    return StoredCorrection(
        id=row.id,
        created_at=row.created_at,
        predicted=row.predicted,
        correct=row.correct,
        model_version=row.model_version,
        image_28x28=np.frombuffer(row.image_28x28, np.uint8).reshape(28, 28),
        has_original=row.original is not None,
    )
