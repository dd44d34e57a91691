"""The bell: the list of one's notifications, opening one (marks it read), marking all read."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select, update

from ..dbtypes import utcnow
from ..extensions import db
from ..inputs import PlainForm
from ..security import safe_next, signed_in
from .models import Notification, unread_count

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("/")
@signed_in
def index():
    rows = db.session.scalars(select(Notification).where(Notification.user_id == current_user.id)
                              .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(100)).all()
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
    if not PlainForm().validate_on_submit():
        abort(400)
    db.session.execute(update(Notification).where(Notification.user_id == current_user.id,
                                                  Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    return redirect(url_for("notifications.index"))


@bp.app_context_processor
def _bell():
    """The header's unread count, on every page (called only when someone is signed in)."""
    return {"unread_notifications": _unread}


def _unread() -> int:
    return unread_count(current_user.id) if current_user.is_authenticated else 0
