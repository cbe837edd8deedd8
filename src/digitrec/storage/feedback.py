"""Corrections users send: the SQLAlchemy model, the database, and the queries.

SQLite by default (a file in the data folder, WAL mode, so a crash never leaves a partial
row), PostgreSQL when the DATABASE_URL setting says so. The schema is created and upgraded
by Alembic migrations (``upgrade``, run by `digitrec db upgrade` and `digitrec serve`),
never by ``create_all`` and never by the app factory. Every failure to reach the database is
raised as ``StorageUnavailable``. Nothing that identifies a person is stored: no IP
address, no user agent.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from digitrec.engine.preprocess import to_uint8_28x28
from digitrec.errors import DigitrecError

MAX_ORIGINAL_BYTES = 1024 * 1024  # originals larger than this are not kept


class Base(DeclarativeBase):
    pass


class Correction(Base):
    __tablename__ = "corrections"
    __table_args__ = (
        CheckConstraint("predicted BETWEEN 0 AND 9", name="predicted_is_a_digit"),
        CheckConstraint("correct BETWEEN 0 AND 9", name="correct_is_a_digit"),
        CheckConstraint("length(image_28x28) = 784", name="image_is_28x28"),
        {"sqlite_autoincrement": True},  # a withdrawn correction's id is never given again
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    predicted: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(64))
    image_28x28: Mapped[bytes] = mapped_column(LargeBinary)  # uint8, row-major, ink 255
    original: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    digit_index: Mapped[int | None] = mapped_column(Integer, nullable=True)  # which digit of a number


class NumberCorrection(Base):
    """A picture read as the wrong number of digits, and the number the person typed: kept
    for people to look at and for number reading to be measured on, never exported as
    one-digit examples (nobody said which part of the picture is which digit)."""

    __tablename__ = "number_corrections"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    predicted: Mapped[str] = mapped_column(String(64))  # the number read
    correct: Mapped[str] = mapped_column(String(64))  # the number typed
    model_version: Mapped[str] = mapped_column(String(64))
    original: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


@dataclass(frozen=True)
class Saved:
    """A stored correction, and how many earlier corrections of the same answer it replaced."""

    id: int
    replaced: int


@dataclass(frozen=True)
class StoredCorrection:
    id: int
    created_at: datetime
    predicted: int
    correct: int
    model_version: str
    image_28x28: np.ndarray  # uint8 (28, 28)
    has_original: bool
    digit_index: int | None = None


class StorageUnavailable(DigitrecError):
    """The corrections database cannot be reached or used right now (down, folder gone,
    schema not created). Predictions do not need it; corrections wait until it is back."""

    code = "storage_unavailable"


class OutdatedSchema(StorageUnavailable):
    """The database answers, but its tables are older than this version of digitrec (or
    were never created): `digitrec db upgrade` fixes it; waiting does not."""


# What a database that is down, unreachable, corrupt or missing its files raises;
# constraint violations (IntegrityError) are bugs and are not hidden behind this.
_UNAVAILABLE = (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError)
# After a failure, the store answers StorageUnavailable at once for this long instead of
# trying again: a database that hangs would otherwise hold a server thread on every
# correction and /ready call, and predictions would queue behind them.
RETRY_AFTER_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 2


@contextmanager
def unavailable_as_typed_error(url: str, creating: bool = False) -> Iterator[None]:
    """Turn the driver's 'cannot reach or use the database' errors into StorageUnavailable."""
    try:
        yield
    except sa_exc.IntegrityError:
        raise
    except _UNAVAILABLE as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        missing = None if creating else _missing_sqlite_file(url)
        if missing:
            raise StorageUnavailable(
                f"The corrections database {missing} does not exist (yet): `digitrec db upgrade` "
                "or `digitrec serve` creates it."
            ) from None
        raise StorageUnavailable(
            f"The corrections database {safe_url(url)} is unavailable: {reason.rstrip('.')}."
        ) from None


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file of ``url`` if it does not exist; None for anything else."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "(unparsable URL)"


def make_engine(url: str, create: bool = True) -> Engine:
    """An engine for ``url``. SQLite: WAL and full sync; with ``create=False`` the file is
    opened read-write but never created, and every use opens it afresh (no pool), so a data
    folder that vanishes is noticed at once instead of writes going to a deleted file. The
    URL and its driver were checked with the settings (``settings._database_url``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=_connect_timeout(parsed)
        )
    if not create and parsed.database and parsed.database != ":memory:":
        as_uri = Path(parsed.database).expanduser().resolve().as_uri()  # file:///..., also on Windows
        parsed = parsed.set(database=as_uri, query={**parsed.query, "mode": "rw", "uri": "true"})
    engine = create_engine(parsed, poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a crash
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def _connect_timeout(url) -> dict:
    return {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if url.get_backend_name() == "postgresql" else {}


def _alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@functools.cache
def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


def _revision(connection) -> str | None:
    """The schema's Alembic revision; None where it has none (no table, or no row)."""
    try:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except sa_exc.DBAPIError:
        return None


def upgrade(url: str) -> str | None:
    """Create or upgrade the schema to the newest Alembic revision (and, for SQLite, the
    data folder); the revision it had before (None: it had no schema). Raises
    StorageUnavailable when the database cannot be reached."""
    from alembic import command

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # A folder that cannot be made is a setup problem (OSError), not an outage.
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    with unavailable_as_typed_error(url, creating=True):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                before = _revision(connection)
        finally:
            engine.dispose()
        command.upgrade(_alembic_config(url), "head")
    return before


def upgrade_when_back(url: str, every: float = 5.0) -> threading.Thread:
    """Keep trying ``upgrade`` in a daemon thread until it succeeds: for a server that
    started while its database was down, so that a database that comes back empty gets
    its schema without a restart."""

    def keep_trying() -> None:
        while True:
            time.sleep(every)
            try:
                upgrade(url)
            except StorageUnavailable:
                continue
            print(
                f"digitrec: the corrections database {safe_url(url)} is back and up to date.", file=sys.stderr
            )
            return

    thread = threading.Thread(target=keep_trying, name="digitrec-upgrade", daemon=True)
    thread.start()
    return thread


class FeedbackStore:
    """All reads and writes of corrections; one per process, thread-safe. Connects only when
    used; every failure to reach the database is raised as StorageUnavailable."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url, create=False)
        self._down_until = 0.0
        self._last_failure: StorageUnavailable | None = None

    @contextmanager
    def available(self) -> Iterator[None]:
        """Run a use of the database; right after a failure, fail at once instead."""
        if time.monotonic() < self._down_until and self._last_failure is not None:
            raise StorageUnavailable(self._last_failure.message)
        try:
            with unavailable_as_typed_error(self.url):
                yield
        except StorageUnavailable as failure:
            self._last_failure, self._down_until = failure, time.monotonic() + RETRY_AFTER_SECONDS
            raise

    def session(self) -> Session:
        return Session(self.engine)

    def check(self) -> None:
        """Raise StorageUnavailable unless the database answers and its schema is current."""
        with self.available(), self.engine.connect() as connection:
            revision = _revision(connection)
        if revision != head_revision():
            self._down_until = 0.0  # not an outage: nothing to wait for
            raise OutdatedSchema(
                f"The corrections database {safe_url(self.url)} has no current schema "
                f"(revision {revision}, expected {head_revision()}): run `digitrec db upgrade`."
            )

    def add(
        self,
        image_28x28: np.ndarray,
        predicted: int,
        correct: int,
        model_version: str,
        original: bytes | None = None,
        request_id: str | None = None,
        digit_index: int | None = None,
    ) -> Saved:
        row = Correction(
            created_at=datetime.now(timezone.utc),
            predicted=predicted,
            correct=correct,
            model_version=model_version,
            image_28x28=to_uint8_28x28(image_28x28).tobytes(),
            original=original if original and len(original) <= MAX_ORIGINAL_BYTES else None,
            request_id=request_id,
            digit_index=digit_index,
        )
        return self._save(row, request_id, digit_index=digit_index)

    def add_number(
        self,
        predicted: str,
        correct: str,
        model_version: str,
        original: bytes | None = None,
        request_id: str | None = None,
    ) -> Saved:
        row = NumberCorrection(
            created_at=datetime.now(timezone.utc),
            predicted=predicted,
            correct=correct,
            model_version=model_version,
            original=original if original and len(original) <= MAX_ORIGINAL_BYTES else None,
            request_id=request_id,
        )
        return self._save(row, request_id, digit_index=EVERY_DIGIT)

    def _save(self, row: Correction | NumberCorrection, request_id: str | None, digit_index) -> Saved:
        """Store ``row``, in the same transaction as taking back what it replaces: the
        person's last word on an answer wins. A digit's correction replaces the earlier one
        of the same digit and any typed number for that answer; a typed number replaces
        everything said about that answer. Without a request id nothing is replaced."""
        with self.available(), self.session() as session, session.begin():
            replaced = _withdraw(session, request_id, digit_index) if request_id else 0
            session.add(row)
            session.flush()
            return Saved(row.id, replaced)

    def withdraw(self, request_id: str) -> int:
        """Delete every correction of the answer ``request_id`` (the person's undo); how many."""
        with self.available(), self.session() as session, session.begin():
            return _withdraw(session, request_id, EVERY_DIGIT)

    def number_corrections(self, limit: int = 100) -> list[tuple[int, str, str]]:
        """(id, number read, number typed) of the latest number-level corrections."""
        query = select(NumberCorrection.id, NumberCorrection.predicted, NumberCorrection.correct)
        with self.available(), self.session() as session:
            return [
                tuple(row) for row in session.execute(query.order_by(NumberCorrection.id.desc()).limit(limit))
            ]

    def recent(self, limit: int = 100) -> list[StoredCorrection]:
        query = select(Correction).order_by(Correction.id.desc()).limit(limit)
        with self.available(), self.session() as session:
            return [_stored(row) for row in session.scalars(query)]

    def get(self, correction_id: int) -> StoredCorrection | None:
        with self.available(), self.session() as session:
            row = session.get(Correction, correction_id)
            return _stored(row) if row else None

    def count(self) -> int:
        with self.available(), self.session() as session:
            return session.scalar(select(func.count()).select_from(Correction)) or 0

    def pair_counts(self) -> list[tuple[int, int, int]]:
        """(predicted, correct, how many), most frequent first: the mistakes. A digit sent
        back as what it was read (a confirmation) is kept as an example, not a mistake."""
        query = (
            select(Correction.predicted, Correction.correct, func.count())
            .where(Correction.predicted != Correction.correct)
            .group_by(Correction.predicted, Correction.correct)
            .order_by(func.count().desc(), Correction.predicted, Correction.correct)
        )
        with self.available(), self.session() as session:
            return [tuple(row) for row in session.execute(query)]

    def counts_by_model(self) -> dict[str, int]:
        """How many corrections each model version (by its card's version) received."""
        query = select(Correction.model_version, func.count()).group_by(Correction.model_version)
        with self.available(), self.session() as session:
            return {str(row[0]): int(row[1]) for row in session.execute(query)}

    def delete(self, correction_id: int) -> bool:
        return self._delete(Correction, correction_id)

    def delete_number(self, correction_id: int) -> bool:
        """Delete one typed number (a number-level correction)."""
        return self._delete(NumberCorrection, correction_id)

    def _delete(self, table: type[Correction] | type[NumberCorrection], correction_id: int) -> bool:
        with self.available(), self.session() as session, session.begin():
            return session.execute(delete(table).where(table.id == correction_id)).rowcount > 0

    def export(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All corrections as (images uint8 (N, 28, 28), correct labels, predicted labels)."""
        query = select(Correction.image_28x28, Correction.correct, Correction.predicted).order_by(
            Correction.id
        )
        with self.available(), self.session() as session:
            rows = session.execute(query).all()
        images = np.frombuffer(b"".join(r[0] for r in rows), np.uint8).reshape(-1, 28, 28)
        return images, np.array([r[1] for r in rows], np.uint8), np.array([r[2] for r in rows], np.uint8)

    def for_training(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(images uint8 (N, 28, 28), correct labels, group of each): corrections of one
        drawing share a group (its request id, or else its pixels), so a held-out share of
        them never has the same drawing on the other side."""
        import hashlib

        query = select(Correction.image_28x28, Correction.correct, Correction.request_id).order_by(
            Correction.id
        )
        with self.available(), self.session() as session:
            rows = session.execute(query).all()
        images = np.frombuffer(b"".join(r[0] for r in rows), np.uint8).reshape(-1, 28, 28)
        groups = [r[2] or hashlib.sha1(r[0]).hexdigest() for r in rows]
        return images, np.array([r[1] for r in rows], np.uint8), groups


EVERY_DIGIT = "every digit"  # for _withdraw: all of an answer's corrections, not one digit's


def _withdraw(session: Session, request_id: str, digit_index: int | None | str) -> int:
    """Delete the corrections of the answer ``request_id``: those of one digit (``None``: the
    answer's only digit) and its typed number, or with EVERY_DIGIT all of them."""
    digits = delete(Correction).where(Correction.request_id == request_id)
    if digit_index != EVERY_DIGIT:
        digits = digits.where(
            Correction.digit_index.is_(None) if digit_index is None else Correction.digit_index == digit_index
        )
    numbers = delete(NumberCorrection).where(NumberCorrection.request_id == request_id)
    return session.execute(digits).rowcount + session.execute(numbers).rowcount


def _stored(row: Correction) -> StoredCorrection:
    return StoredCorrection(
        id=row.id,
        created_at=row.created_at,
        predicted=row.predicted,
        correct=row.correct,
        model_version=row.model_version,
        image_28x28=np.frombuffer(row.image_28x28, np.uint8).reshape(28, 28),  # as stored
        has_original=row.original is not None,
        digit_index=row.digit_index,
    )
