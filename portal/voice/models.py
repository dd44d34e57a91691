"""A technician's suggestion or complaint, and the trainers' answers to it.

What an anonymous message keeps, and what it does not: no sender (id, username, name), no
address, session or browser, the day it was sent (not the time), and of the sender's place only
the narrowest level that stands for at least ``MIN_OUTLET_TECHNICIANS`` active technicians: the
outlet, else the province, else the region, else none (services.anonymous_place). Its key is
a random public id (``new_public_id``), used in every URL: nothing in it follows the order of
sending that could be matched to sign-ins. A one-time receipt code
given to the sender is kept as its SHA-256 hash only, so the sender can read the answers later.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Outlet, Province, Region, User
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db

KINDS = ("suggestion", "complaint")
THEMES = ("scheduling", "parts", "training", "tools", "pay", "management", "customer", "other")
STATUSES = ("new", "read", "closed")
MAX_TEXT = 2000
MIN_OUTLET_TECHNICIANS = 5


def new_public_id() -> str:
    """128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


class VoiceMessage(db.Model):
    __tablename__ = "voice_message"
    __table_args__ = (Index("ix_voice_message_sent_on", "sent_on"),
                      Index("ix_voice_message_theme", "theme"),
                      Index("ix_voice_message_status", "status"))

    # The random public id is the key itself: there is no counter beside it.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    kind: Mapped[str] = mapped_column(String(12))
    theme: Mapped[str] = mapped_column(String(16))  # as the sender chose it
    theme_tag: Mapped[str | None] = mapped_column(String(16))  # a trainer's correction
    text: Mapped[str] = mapped_column(Text)  # plain text, shown escaped, as typed
    named: Mapped[bool] = mapped_column(default=False)
    # Only a named message has a sender.
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id", ondelete="SET NULL"), index=True)
    province_id: Mapped[int | None] = mapped_column(ForeignKey("province.id", ondelete="SET NULL"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id", ondelete="SET NULL"), index=True)
    sent_on: Mapped[date] = mapped_column()  # the portal's day, never the time
    status: Mapped[str] = mapped_column(String(8), default="new")
    receipt_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    sender: Mapped[User | None] = relationship(foreign_keys=[sender_id], lazy="joined")
    outlet: Mapped[Outlet | None] = relationship(lazy="joined")
    province: Mapped[Province | None] = relationship(lazy="joined")
    region: Mapped[Region | None] = relationship(lazy="joined")
    answers: Mapped[list["VoiceAnswer"]] = relationship(back_populates="message", order_by="VoiceAnswer.at",
                                                       cascade="all, delete-orphan")

    @property
    def shown_theme(self) -> str:
        return self.theme_tag or self.theme


class VoiceAnswer(db.Model):
    """A trainer's answer: the sender of a named message is told; an anonymous sender reads it
    with their receipt code."""

    __tablename__ = "voice_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("voice_message.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[VoiceMessage] = relationship(back_populates="answers")
    author: Mapped[User | None] = relationship(lazy="joined")
