"""Notifications in the portal: something a user should look at, with a link to it. Each is
raised once by the event that causes it (a unique key per user), shown behind the bell with an
unread count, and marked read when opened."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Blueprint, abort, redirect, render_template, url_for
from flask.cli import with_appcontext
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, func, select, update
from sqlalchemy.orm import Mapped, mapped_column, validates

from .cliutil import cli_request, needs_schema
from .dbtypes import UTCDateTime, utcnow
from .extensions import db
from .messages import Message, into, render
from .security import safe_next, signed_in


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

    @validates("text")
    def _message(self, _key, value):
        return into(self, value, "msg_id", "params")

    @property
    def shown_text(self) -> str:
        """In the reader's language and date format."""
        return render(self.msg_id, self.params, text=self.text)


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


bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("/")
@signed_in
def index():
    rows = db.session.scalars(select(Notification).where(Notification.user_id == current_user.id)
                              .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(100)).all()
    from .audits.forms import PlainForm

    return render_template("notifications/index.html", notes=rows, form=PlainForm())


@bp.route("/<int:note_id>")
@signed_in
def open_note(note_id: int):
    """Mark it read and go to what it is about."""
    note = db.session.get(Notification, note_id)
    if note is None or note.user_id != current_user.id:
        abort(404)
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.commit()
    return redirect(safe_next(note.link, url_for("notifications.index")))


@bp.route("/read", methods=["POST"])
@signed_in
def read_all():
    from .audits.forms import PlainForm

    if not PlainForm().validate_on_submit():
        abort(400)
    db.session.execute(update(Notification).where(Notification.user_id == current_user.id,
                                                  Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    return redirect(url_for("notifications.index"))


@click.command("daily")
@with_appcontext
@needs_schema
def daily_command():
    """The daily run (cron): certificate expiry, lapse and expiry warnings; cohort members
    falling behind. Safe to run more than once a day: each notification is raised once."""
    from flask_babel import gettext as _

    from .certification.rules import local_today
    from .certification.services import sweep
    from .learning.services import notify_behind

    with cli_request():
        today = local_today()
        report = sweep(today)
        behind = notify_behind(today)
        db.session.commit()
        click.echo(_("expired %(expired)d, lapsed %(lapsed)d", expired=report.expired, lapsed=report.lapsed))
        click.echo(ngettext("trainers told about %(num)d member falling behind", "trainers told about %(num)d members falling behind", behind))
