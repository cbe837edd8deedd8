"""Model versions, kept in the same database as the corrections so that every server sees
the same ones: what each version is (ONNX bytes, the weights to fine-tune, the model card),
its status, and who promoted it when.

Version 1 is the model the server was started with (the one shipped in the package, or
``--model``); it is not stored, is always available, and is active whenever no stored
version is. Stored versions are numbered from 2. A version is a *candidate* when made,
*active* while servers answer with it (at most one), *retired* after another replaced it,
and *rejected* when the gate refused it (``reason`` says why).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import DateTime, Integer, LargeBinary, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from digitrec.errors import DigitrecError
from digitrec.storage.feedback import Base, FeedbackStore

SHIPPED = 1
STATUSES = ("candidate", "active", "rejected", "retired")


class StoredModel(Base):
    __tablename__ = "model_versions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), index=True)
    onnx: Mapped[bytes] = mapped_column(LargeBinary)
    weights: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    card: Mapped[str] = mapped_column(Text)  # JSON
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous: Mapped[int | None] = mapped_column(Integer, nullable=True)  # active before it
    promoted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class ModelVersion:
    number: int
    status: str
    card: dict
    created_at: datetime | None = None
    reason: str | None = None
    promoted_by: str | None = None
    promoted_at: datetime | None = None

    @property
    def name(self) -> str:
        """The model card's version (a timestamp), as answers report it."""
        return str(self.card.get("version", "unknown"))


class NoSuchVersion(DigitrecError):
    code = "no_such_version"


class ModelVersions:
    """Reads and changes the model versions in ``db`` (the corrections database).
    ``shipped_card`` is version 1's model card."""

    def __init__(self, db: FeedbackStore, shipped_card: dict):
        self.db = db
        self.shipped_card = shipped_card

    def add(
        self, onnx: bytes, card: dict, weights: bytes | None = None, status: str = "candidate", reason=None
    ) -> int:
        """Store a new version (a candidate, or rejected with its reason); its number."""
        assert status in ("candidate", "rejected")
        with self.db.available(), self.db.session() as session, session.begin():
            number = max(session.scalar(select(func.max(StoredModel.number))) or SHIPPED, SHIPPED) + 1
            session.add(
                StoredModel(
                    number=number,
                    created_at=datetime.now(timezone.utc),
                    status=status,
                    onnx=onnx,
                    weights=weights,
                    card=json.dumps(card),
                    reason=reason,
                )
            )
        return number

    def active_number(self) -> int:
        """The version servers should answer with now (one small query: servers poll it)."""
        query = select(StoredModel.number).where(StoredModel.status == "active")
        with self.db.available(), self.db.session() as session:
            return session.scalar(query) or SHIPPED

    def list(self) -> list[ModelVersion]:
        """Every version, newest first, version 1 last."""
        columns = [c for c in StoredModel.__table__.columns if c.name not in ("onnx", "weights")]
        with self.db.available(), self.db.session() as session:
            rows = session.execute(select(*columns).order_by(StoredModel.number.desc())).all()
        stored = [
            ModelVersion(
                number=r.number,
                status=r.status,
                card=json.loads(r.card),
                created_at=r.created_at,
                reason=r.reason,
                promoted_by=r.promoted_by,
                promoted_at=r.promoted_at,
            )
            for r in rows
        ]
        active = any(v.status == "active" for v in stored)
        return stored + [ModelVersion(SHIPPED, "active" if not active else "retired", self.shipped_card)]

    def get(self, number: int) -> ModelVersion:
        for version in self.list():
            if version.number == number:
                return version
        raise NoSuchVersion(f"There is no model version {number}: `digitrec model list` shows them.")

    def files(self, number: int) -> tuple[bytes, bytes | None, dict]:
        """(ONNX bytes, weights or None, card) of a stored version (not version 1)."""
        with self.db.available(), self.db.session() as session:
            row = session.get(StoredModel, number)
            if row is None:
                raise NoSuchVersion(f"There is no stored model version {number}.")
            return row.onnx, row.weights, json.loads(row.card)

    def promote(self, number: int, by: str, rolling_back: bool = False) -> ModelVersion:
        """Make ``number`` the active version (version 1: no stored version active). It
        remembers the version it replaced, unless this is a rollback (which goes back)."""
        target = self.get(number)
        if target.status == "rejected":
            raise NoSuchVersion(f"Version {number} was rejected ({target.reason}); it cannot be promoted.")
        now = datetime.now(timezone.utc)
        with self.db.available(), self.db.session() as session, session.begin():
            current = (
                session.scalar(select(StoredModel.number).where(StoredModel.status == "active")) or SHIPPED
            )
            if current == number:
                return target
            session.execute(
                update(StoredModel).where(StoredModel.status == "active").values(status="retired")
            )
            if number != SHIPPED:
                session.execute(
                    update(StoredModel)
                    .where(StoredModel.number == number)
                    .values(status="active", promoted_by=by[:64], promoted_at=now)
                )
                if not rolling_back:
                    session.execute(
                        update(StoredModel).where(StoredModel.number == number).values(previous=current)
                    )
        return self.get(number)

    def rollback(self, by: str) -> ModelVersion:
        """Go back to the version that was active before the active one."""
        with self.db.available(), self.db.session() as session:
            current = session.scalar(select(StoredModel).where(StoredModel.status == "active"))
            previous = current.previous if current is not None else None
        if current is None:
            raise NoSuchVersion("Version 1 (the shipped model) is active: there is nothing to roll back.")
        return self.promote(previous or SHIPPED, by, rolling_back=True)

    def reject(self, number: int, reason: str) -> None:
        with self.db.available(), self.db.session() as session, session.begin():
            session.execute(
                update(StoredModel)
                .where(StoredModel.number == number)
                .values(status="rejected", reason=reason)
            )
