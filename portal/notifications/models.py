"""The notification row, and raising / retracting one inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, exists, func, insert, literal, select
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from ..messages import Message, message_columns, split


class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    # What raised it, e.g. "audit-red-line:12": the same event never notifies the same user twice.
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)  # plain text (legacy), or the English copy of msg_id
    msg_id: Mapped[str] = mapped_column(String(60), default="", server_default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    _message, shown_text = message_columns("text", "msg_id", "params")


def notify(user_id: int, kind: str, key: str, text: Message | str, link: str = "") -> Notification | None:
    """Add a notification unless this user already has one with this key. No commit: it is
    part of the caller's transaction (and rolled back with it). ``text`` is a message
    (``msg("cert.expiring", …)``), rendered for the reader when shown."""
    exists = db.session.scalar(select(Notification.id).where(Notification.user_id == user_id,
                                                             Notification.key == key))
    if exists is not None:
        return None
    row = Notification(user_id=user_id, kind=kind, key=key[:120], text=text, link=link[:300])
    db.session.add(row)
    db.session.flush()
    return row


def recipients(user_ids):
    """``user_ids`` (a select whose first column is a user id, duplicates allowed) as a
    subquery of distinct ids, column ``user_id``."""
    column = list(user_ids.selected_columns)[0]
    return user_ids.with_only_columns(column.label("user_id")).distinct().subquery()


def notify_many(user_ids, kind: str, key: str, text: Message | str, link: str = "") -> int:
    """:func:`notify` for everyone a select names (its first column: user ids), in one
    ``INSERT … SELECT`` on the database: constant memory however many they are. Those who
    already have a notification with this key are left out. No commit. Returns how many."""
    plain, msg_id, params = split(text)
    ids = recipients(user_ids)
    already = exists().where(Notification.user_id == ids.c.user_id, Notification.key == key[:120])
    rows = select(ids.c.user_id, literal(key[:120], String), literal(kind, String), literal(plain, Text),
                  literal(msg_id, String), literal(params, JSON), literal(link[:300], String),
                  literal(utcnow(), UTCDateTime)).where(~already)
    result = db.session.execute(insert(Notification.__table__).from_select(
        ["user_id", "key", "kind", "text", "msg_id", "params", "link", "created_at"], rows))
    if result.rowcount is not None and result.rowcount >= 0:
        return result.rowcount
    # psycopg 3 reports no row count for this INSERT … SELECT: count the key's rows instead
    # (exact for a new key, the way reminders use it).
    return db.session.scalar(select(func.count()).select_from(Notification).where(Notification.key == key[:120])) or 0


def retract(key: str) -> int:
    """Remove every user's notification raised by this event: it no longer holds (an amended
    audit has no red line any more). No commit: part of the caller's transaction."""
    rows = db.session.scalars(select(Notification).where(Notification.key == key)).all()
    for row in rows:
        db.session.delete(row)
    db.session.flush()
    return len(rows)


def unread_count(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


class Reminder(db.Model):
    """A reminder a trainer sent (the log: who, to what, how many people it reached). ``token``
    is the form's one-time token: the same form posted twice sends once."""

    __tablename__ = "reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # What it went to: "overdue" (an assignment's overdue people), "cohort" (its members) or
    # "technicians" (a filter of the technician list); ``target`` holds the ids / filter values.
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[dict] = mapped_column(JSON, default=dict)
    # The target as people read it: {"zh": …, "en": …} (course title, cohort name, filter).
    label: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")  # what the trainer typed, shown as typed
    reached: Mapped[int] = mapped_column(default=0)
    mailed: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
