"""``/technicians/USERNAME``: the technician record page (see records.py)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user
from sqlalchemy import select

from .auth.models import User
from .extensions import db
from .security import roles_required

bp = Blueprint("technicians", __name__, url_prefix="/technicians")


def record_user_or_404(username: str) -> User:
    """A technician's record: their own, or anyone's for trainers and admins. Auditors none."""
    user = db.session.scalar(select(User).where(User.username == username.lower()))
    if user is None or not user.has_role("technician"):
        abort(404)
    if not (current_user.has_role("trainer", "admin") or user.id == current_user.id):
        abort(404)
    return user


@bp.route("/<username>")
@roles_required("technician", "trainer", "admin")
def record(username: str):
    from .certification.rules import local_today, status_label
    from .kb.views import user_lang
    from .records import contribution_status, full_record

    user = record_user_or_404(username)
    viewer_is_trainer = current_user.has_role("trainer", "admin")
    lang = user_lang()
    return render_template("technicians/record.html", user=user, lang=lang, status_label=status_label,
                           record=full_record(user, local_today(), lang, viewer_is_trainer),
                           own=user.id == current_user.id, today=local_today(),
                           contribution_status=contribution_status)
