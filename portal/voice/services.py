"""Sending, reading and answering technicians' suggestions and complaints.

Anonymity is kept by what is written (models), and by what is not: sending an anonymous
message raises no notification, writes no log line and no account event, and the rate limit
counts sends under a keyed digest of the user in the limiter's store (expiring with its
window, the same for named and anonymous sends), never in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .. import apilimits
from ..auth.models import Outlet, Province, User
from ..auth.services import technician_count
from ..extensions import db
from ..messages import msg
from ..notifications import notify
from ..security import refuse_self
from .models import KINDS, MIN_OUTLET_TECHNICIANS, STATUSES, THEMES, VoiceAnswer, VoiceMessage

RATE_SETTING = "PORTAL_VOICE_RATE"
RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
PERIODS = ("30", "90", "365")  # days back; "" = all


def kind_labels() -> dict:
    return {"suggestion": _l("Suggestion"), "complaint": _l("Complaint")}


def theme_labels() -> dict:
    return {"scheduling": _l("Scheduling and dispatch"), "parts": _l("Parts and stock"), "training": _l("Training"),
            "tools": _l("Tools and equipment"), "pay": _l("Pay and incentives"),
            "management": _l("Management and fairness"), "customer": _l("Customer process"), "other": _l("Other")}


def status_labels() -> dict:
    return {"new": _l("New"), "read": _l("Read"), "closed": _l("Closed")}


assert set(kind_labels()) == set(KINDS) and set(theme_labels()) == set(THEMES) and set(status_labels()) == set(STATUSES)


class VoiceError(ValueError):
    """A refused send or answer; ``str()`` says why, for the person."""


def local_day(moment: datetime) -> date:
    """The portal's day (PORTAL_TIMEZONE) of a moment."""
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


# --- sending ------------------------------------------------------------------------------------


def outlet_is_small(user: User) -> bool:
    """Whether an anonymous message from ``user`` shows only the province: their outlet has
    fewer than MIN_OUTLET_TECHNICIANS active technicians (or they have no outlet)."""
    return user.outlet_id is None or technician_count(outlet_id=user.outlet_id) < MIN_OUTLET_TECHNICIANS


def send_wait(user: User) -> int | None:
    """Count one send against PORTAL_VOICE_RATE: None while within it, else seconds to wait.
    The key is an HMAC of the user id under the secret key (named and anonymous alike)."""
    digest = hmac.new(str(current_app.config["SECRET_KEY"]).encode(), f"voice:{user.id}".encode(),
                      hashlib.sha256).hexdigest()
    return apilimits.spend(RATE_SETTING, "voice", digest)


def receipt_digest(code: str) -> str:
    normal = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


def new_receipt() -> str:
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def send(user: User, kind: str, theme: str, text: str, named: bool, now: datetime) -> tuple[VoiceMessage, str | None]:
    """Store a message (and commit). Returns it and, for an anonymous one, the receipt code
    (shown once; only its hash is kept)."""
    if kind not in KINDS or theme not in THEMES or not (text or "").strip():
        raise VoiceError(_("kind, theme and text are required"))
    outlet = user.outlet
    message = VoiceMessage(kind=kind, theme=theme, text=text.strip(), named=bool(named), sent_on=local_day(now),
                           status="new", province_id=outlet.province_id if outlet else None)
    receipt = None
    if named:
        message.sender_id = user.id
        message.outlet_id = user.outlet_id
    else:
        message.outlet_id = None if outlet_is_small(user) else user.outlet_id
        receipt = new_receipt()
        message.receipt_hash = receipt_digest(receipt)
    db.session.add(message)
    db.session.commit()
    return message, receipt


def by_receipt(code: str) -> VoiceMessage | None:
    if not (code or "").strip():
        return None
    return db.session.scalar(select(VoiceMessage).where(VoiceMessage.receipt_hash == receipt_digest(code)))


def mine(user: User):
    """The user's named messages, newest first (a select)."""
    return (select(VoiceMessage).where(VoiceMessage.named.is_(True), VoiceMessage.sender_id == user.id)
            .order_by(VoiceMessage.sent_on.desc(), VoiceMessage.id))


# --- the trainers' side ------------------------------------------------------------------------

SHOWN_THEME = func.coalesce(VoiceMessage.theme_tag, VoiceMessage.theme)


def filtered(filters: dict, today: date):
    """The messages matching ``filters`` (kind, theme, status, period, province, outlet codes;
    ``outlet="-"``: those whose outlet is not shown), as a select of VoiceMessage."""
    query = select(VoiceMessage)
    if filters.get("kind") in KINDS:
        query = query.where(VoiceMessage.kind == filters["kind"])
    if filters.get("theme") in THEMES:
        query = query.where(SHOWN_THEME == filters["theme"])
    if filters.get("status") in STATUSES:
        query = query.where(VoiceMessage.status == filters["status"])
    if filters.get("period") in PERIODS:
        query = query.where(VoiceMessage.sent_on > today - timedelta(days=int(filters["period"])))
    if filters.get("province"):
        query = query.where(VoiceMessage.province_id.in_(
            select(Province.id).where(Province.code == filters["province"])))
    if filters.get("outlet") == "-":
        query = query.where(VoiceMessage.outlet_id.is_(None))
    elif filters.get("outlet"):
        query = query.where(VoiceMessage.outlet_id.in_(select(Outlet.id).where(Outlet.code == filters["outlet"])))
    return query


def with_answer_counts(query):
    """``query`` (a select of VoiceMessage) with each message's number of answers beside it, counted
    by the database in the same statement (a subquery on the answers' message index): rows of
    (message, n), nothing loaded per message."""
    answers = (select(func.count(VoiceAnswer.id)).where(VoiceAnswer.message_id == VoiceMessage.id)
               .correlate(VoiceMessage).scalar_subquery())
    return query.add_columns(answers.label("answers"))


def ordered(query):
    """Newest day first; within a day by the random id, so the order of sending is not shown."""
    return query.order_by(VoiceMessage.sent_on.desc(), VoiceMessage.id)


def theme_counts(query) -> dict[str, int]:
    sub = query.subquery()
    theme = func.coalesce(sub.c.theme_tag, sub.c.theme)
    return {t: n for t, n in db.session.execute(select(theme, func.count()).group_by(theme))}


def place_counts(query):
    """(province, outlet or None, count) per province and shown outlet, a select to page."""
    sub = query.subquery()
    return (select(Province, Outlet, func.count().label("n"))
            .select_from(sub)
            .outerjoin(Province, Province.id == sub.c.province_id)
            .outerjoin(Outlet, Outlet.id == sub.c.outlet_id)
            .group_by(Province.id, Outlet.id)
            .order_by(func.count().desc(), Province.id, Outlet.id))


def province_counts(query):
    sub = query.subquery()
    return list(db.session.execute(
        select(Province, func.count().label("n")).select_from(sub)
        .outerjoin(Province, Province.id == sub.c.province_id)
        .group_by(Province.id).order_by(func.count().desc(), Province.id)))


def answer(message: VoiceMessage, author: User, text: str, now: datetime, link: str) -> VoiceAnswer:
    """A trainer's answer (committed). Nobody answers their own named message; its sender is
    told by the bell. An anonymous sender reads it with the receipt code."""
    if message.named:
        refuse_self(author, message.sender_id, VoiceError)
    row = VoiceAnswer(message=message, author_id=author.id, text=text.strip(), at=now)
    if message.status == "new":
        message.status = "read"
    db.session.add(row)
    db.session.flush()
    if message.named and message.sender_id:
        notify(message.sender_id, "voice", f"voice-answer:{row.id}",
               msg("voice.answered", name=author.display_name, day=message.sent_on), link)
    db.session.commit()
    return row


def update(message: VoiceMessage, by: User, status: str | None, theme_tag: str | None) -> None:
    """Mark read/closed/new and correct the theme (``""``: back to the sender's). Committed."""
    if message.named:
        refuse_self(by, message.sender_id, VoiceError)
    if status in STATUSES:
        message.status = status
    if theme_tag is not None:
        message.theme_tag = theme_tag if theme_tag in THEMES and theme_tag != message.theme else None
    db.session.commit()


def visible_to(message: VoiceMessage | None, user: User) -> bool:
    """Trainers and administrators read every message; a technician only their own named ones."""
    if message is None:
        return False
    if user.has_role("trainer", "admin"):
        return True
    return message.named and message.sender_id == user.id
