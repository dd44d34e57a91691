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
from ..auth.models import Outlet, Province, Region, User
from ..auth.services import technicians_query
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


PLACE_LEVELS = ("outlet", "province", "region", "none")


def anonymous_place(user: User) -> tuple[str, int | None, int | None, int | None]:
    """Where an anonymous message from ``user`` is placed: (level, outlet id, province id, region id),
    the ids below the level left None. The same threshold (MIN_OUTLET_TECHNICIANS active
    technicians) holds at each level, so that no shown place narrows the sender to fewer people:

    * ``outlet``: their outlet has at least the threshold;
    * ``province``: else, if the province's small outlets (those under the threshold) together
      have at least the threshold (a province-level message comes from one of them);
    * ``region``: else, if the region's small outlets in provinces not shown together have it;
    * ``none``: else (or without an outlet), no place at all.

    One grouped count of the active technicians per outlet of the user's region."""
    outlet = user.outlet
    if outlet is None:
        return "none", None, None, None
    province_id, region_id = outlet.province_id, outlet.province.region_id
    per_outlet = technicians_query().join(Outlet, Outlet.id == User.outlet_id) \
        .join(Province, Province.id == Outlet.province_id).where(Province.region_id == region_id) \
        .with_only_columns(Outlet.id, Outlet.province_id, func.count(func.distinct(User.id))) \
        .group_by(Outlet.id, Outlet.province_id)
    small_by_province: dict[int, int] = {}
    for outlet_id, outlet_province, n in db.session.execute(per_outlet):
        if outlet_id == outlet.id and n >= MIN_OUTLET_TECHNICIANS:
            return "outlet", outlet.id, province_id, region_id
        if n < MIN_OUTLET_TECHNICIANS:
            small_by_province[outlet_province] = small_by_province.get(outlet_province, 0) + n
    if small_by_province.get(province_id, 0) >= MIN_OUTLET_TECHNICIANS:
        return "province", None, province_id, region_id
    if sum(n for n in small_by_province.values() if n < MIN_OUTLET_TECHNICIANS) >= MIN_OUTLET_TECHNICIANS:
        return "region", None, None, region_id
    return "none", None, None, None


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
    message = VoiceMessage(kind=kind, theme=theme, text=text.strip(), named=bool(named), sent_on=local_day(now),
                           status="new")
    receipt = None
    if named:
        outlet = user.outlet
        message.sender_id = user.id
        message.outlet_id = user.outlet_id
        message.province_id = outlet.province_id if outlet else None
        message.region_id = outlet.province.region_id if outlet else None
    else:
        _level, message.outlet_id, message.province_id, message.region_id = anonymous_place(user)
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
    """The messages matching ``filters`` (kind, theme, status, period, region, province, outlet
    codes; ``"-"`` for a place: those where that level is not shown), as a select of VoiceMessage."""
    query = select(VoiceMessage)
    if filters.get("kind") in KINDS:
        query = query.where(VoiceMessage.kind == filters["kind"])
    if filters.get("theme") in THEMES:
        query = query.where(SHOWN_THEME == filters["theme"])
    if filters.get("status") in STATUSES:
        query = query.where(VoiceMessage.status == filters["status"])
    if filters.get("period") in PERIODS:
        query = query.where(VoiceMessage.sent_on > today - timedelta(days=int(filters["period"])))
    for key, column, model in (("region", VoiceMessage.region_id, Region),
                               ("province", VoiceMessage.province_id, Province),
                               ("outlet", VoiceMessage.outlet_id, Outlet)):
        if filters.get(key) == "-":
            query = query.where(column.is_(None))
        elif filters.get(key):
            query = query.where(column.in_(select(model.id).where(model.code == filters[key])))
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
    """(region, province, outlet, count) per shown place (any of them None where that level is not
    shown), a select to page."""
    sub = query.subquery()
    return (select(Region, Province, Outlet, func.count().label("n"))
            .select_from(sub)
            .outerjoin(Region, Region.id == sub.c.region_id)
            .outerjoin(Province, Province.id == sub.c.province_id)
            .outerjoin(Outlet, Outlet.id == sub.c.outlet_id)
            .group_by(Region.id, Province.id, Outlet.id)
            .order_by(func.count().desc(), Region.id, Province.id, Outlet.id))


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
