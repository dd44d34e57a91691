"""``/reminders/``: a trainer chases people — the overdue people of a course assignment, the
members of a cohort, or the technicians a filter of the technician list finds.

The form shows how many people the reminder reaches; sending raises one bell notification each
(``INSERT … SELECT``: constant memory, at most :data:`MAX_PEOPLE`), queues an e-mail for each who
has an address when SMTP is configured (the outbox, same transaction), and logs the reminder (who,
what, how many) in ``reminder``. The form carries a one-time token, unique in ``reminder``: the
same form posted twice sends once.

Who may remind whom follows the trainer pages' rules: any trainer sees every assignment and the
whole technician list, so may remind those; a cohort's members are reminded by that cohort's
trainers only (as only they sign its members off). The sender is never among the recipients.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import false, select
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..auth.models import Outlet, Province, Region, User
from ..auth.services import technician_filter, technicians_query
from ..certification.models import Tier
from ..certification.rules import local_today
from ..certification.services import top_valid_level
from ..errors import render_error
from ..extensions import db
from ..i18n import user_lang
from ..inputs import PortalForm, int_arg
from ..learning.models import Assignment, AssignmentMember, Cohort, CohortMember
from ..messages import Message, both, msg
from ..notifications import Reminder, enqueue_many, notify_many
from ..paging import count, rows_page
from ..security import roles_required

bp = Blueprint("reminders", __name__, url_prefix="/reminders")

MAX_PEOPLE = 30_000
NOTE_MAX = 500
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
KINDS = {"overdue": _l("Overdue on a course"), "cohort": _l("Cohort members"),
         "technicians": _l("Technician list filter")}


class ReminderError(ValueError):
    pass


@dataclass
class Target:
    """Who a reminder goes to: ``user_ids`` is a select of their ids (never loaded here)."""

    kind: str
    ref: dict
    label: dict  # {"zh": …, "en": …}
    user_ids: object
    message: Message
    link: str
    refusal: str | None = None
    back: str = ""  # the page the trainer came from


def _people(ids, sender: User):
    """Active users among ``ids`` (a select of user ids), the sender left out."""
    return select(User.id).where(User.id.in_(ids), User.active, User.id != sender.id)


def _overdue(sender: User, args) -> Target:
    item = db.session.get(Assignment, int_arg("assignment", source=args) or 0) or abort(404)
    T = AssignmentMember.__table__
    ids = select(T.c.user_id).where(T.c.assignment_id == item.id, T.c.completed_at.is_(None),
                                    T.c.due_on < local_today())
    course = both(item.course.title_zh, item.course.title_en)
    return Target("overdue", {"assignment": item.id}, course, _people(ids, sender),
                  msg("remind.overdue", sender=sender.display_name, course=course),
                  url_for("learning.course", slug=item.course.slug),
                  back=url_for("learning.assignment", assignment_id=item.id))


def _cohort(sender: User, args) -> Target:
    item = db.session.get(Cohort, int_arg("cohort", source=args) or 0) or abort(404)
    refusal = None
    if sender.id not in {t.id for t in item.trainers}:
        refusal = _("Only the trainers of %(cohort)s (%(trainers)s) remind its members.", cohort=item.name,
                    trainers=", ".join(t.display_name for t in item.trainers) or "-")
    ids = select(CohortMember.user_id).where(CohortMember.cohort_id == item.id)
    return Target("cohort", {"cohort": item.id}, both(item.name, item.name), _people(ids, sender),
                  msg("remind.cohort", sender=sender.display_name, cohort=item.name),
                  url_for("learning.home"), refusal, back=url_for("learning.cohort", cohort_id=item.id))


def _technicians(sender: User, args) -> Target:
    """Whoever the technician list shows for the same query string: its shared filter (name or
    username, region, province, outlet, start dates) and the tier held."""
    found = technician_filter(args)
    tier_id = int_arg("tier", source=args)
    query = found.apply(technicians_query())
    parts_zh, parts_en = [], []
    if found.q:
        parts_zh.append(f"“{found.q}”")
        parts_en.append(f"“{found.q}”")
    for model, value in ((Region, found.region), (Province, found.province), (Outlet, found.outlet)):
        if value:
            place = db.session.get(model, value)
            parts_zh.append(place.name_zh if place else "?")
            parts_en.append((place.name_en or place.name_zh) if place else "?")
    if found.started_from or found.started_to:
        span = f"{found.started_from or ''}–{found.started_to or ''}"
        parts_zh.append(f"入职 {span}")
        parts_en.append(f"started {span}")
    if tier_id:
        tier = db.session.get(Tier, tier_id)
        top = top_valid_level(local_today())
        query = query.join(top, top.c.user_id == User.id).where(
            top.c.level >= tier.level if tier is not None else false())
        parts_zh.append(tier.title("zh") if tier else "?")
        parts_en.append(tier.title("en") if tier else "?")
    ref = {**found.args(), **({"tier": tier_id} if tier_id else {})}
    label = both("、".join(parts_zh) or "全部技师", ", ".join(parts_en) or "All technicians")
    return Target("technicians", ref, label, _people(query.with_only_columns(User.id), sender),
                  msg("remind.technicians", sender=sender.display_name), url_for("core.home"),
                  back=url_for("technicians.index", **ref))


TARGETS = {"overdue": _overdue, "cohort": _cohort, "technicians": _technicians}


def resolve(kind: str, sender: User, args) -> Target:
    if kind not in TARGETS:
        abort(404)
    return TARGETS[kind](sender, args)


def reach(target: Target) -> int:
    """How many people the reminder reaches (one COUNT)."""
    return count(target.user_ids)


def send(target: Target, sender: User, note: str, token: str) -> tuple[Reminder, bool]:
    """Send the reminder once per token: (the reminder, whether this call sent it). Everything —
    the log row, the notifications, the queued e-mails — is one transaction."""
    if target.refusal:
        raise ReminderError(target.refusal)
    done = db.session.scalar(select(Reminder).where(Reminder.token == token))
    if done is not None:
        return done, False
    people = reach(target)
    if people == 0:
        raise ReminderError(_("Nobody to remind: the list is empty."))
    if people > MAX_PEOPLE:
        raise ReminderError(_("This reaches %(n)d people; a reminder reaches at most %(max)d. Narrow the filter.",
                              n=people, max=MAX_PEOPLE))
    note = (note or "").strip()
    reminder = Reminder(token=token, sender_id=sender.id, kind=target.kind, target=target.ref, label=target.label,
                        note=note)
    db.session.add(reminder)
    try:
        db.session.flush()
    except IntegrityError:  # the same form, posted at the same moment by a second click
        db.session.rollback()
        done = db.session.scalar(select(Reminder).where(Reminder.token == token))
        if done is None:
            raise
        return done, False
    text = msg("remind.with-note", reminder=target.message, note=note) if note else target.message
    key = f"reminder:{reminder.id}"
    reminder.reached = notify_many(target.user_ids, "reminder", key, text, target.link)
    reminder.mailed = enqueue_many(target.user_ids, key, text, target.link)
    db.session.commit()
    current_app.logger.info("reminder %d by %s to %s %s: %d notified, %d e-mails queued", reminder.id,
                            sender.username, target.kind, target.ref, reminder.reached, reminder.mailed)
    return reminder, True


# --- pages ---------------------------------------------------------------------------------------


class ReminderForm(PortalForm):
    note = TextAreaField(_l("Your message (optional)"), validators=[Optional(), Length(max=NOTE_MAX)],
                         description=_l("Shown as you write it, after the reminder."), render_kw={"rows": 3})
    token = HiddenField(validators=[DataRequired()])


@bp.route("/new/<kind>", methods=["GET", "POST"])
@roles_required("trainer")
def new(kind: str):
    sender = db.session.get(User, current_user.id)
    target = resolve(kind, sender, request.args)
    if target.refusal:
        return render_error(403, target.refusal)
    form = ReminderForm()
    if request.method == "GET":
        form.token.data = secrets.token_urlsafe(24)
    problem = None
    if form.validate_on_submit():
        if not TOKEN_RE.match(form.token.data or ""):
            abort(400)
        try:
            reminder, sent = send(target, sender, form.note.data or "", form.token.data)
        except ReminderError as error:
            problem = str(error)
        else:
            if sent:
                flash(ngettext("Reminder sent to %(num)d person.", "Reminder sent to %(num)d people.",
                               reminder.reached), "success")
            else:
                flash(_("This reminder was already sent (to %(n)d people); it was not sent again.",
                        n=reminder.reached), "info")
            return redirect(url_for("reminders.index"), 303)
    return render_template("reminders/new.html", form=form, target=target, kind_label=KINDS[kind],
                           people=reach(target), limit=MAX_PEOPLE, problem=problem, lang=user_lang())


@bp.route("/")
@roles_required("trainer")
def index():
    """The reminders sent, newest first (the log)."""
    query = (select(Reminder, User).outerjoin(User, User.id == Reminder.sender_id)
             .order_by(Reminder.created_at.desc(), Reminder.id.desc()))
    page = rows_page(query, count(select(Reminder.id)))
    return render_template("reminders/index.html", page=page, kinds=KINDS, lang=user_lang())


def button_url(kind: str, **values) -> str:
    """The reminder form for a target (templates: ``remind_url``)."""
    return url_for("reminders.new", kind=kind, **{k: v for k, v in values.items() if v})


@bp.app_context_processor
def _helpers():
    return {"remind_url": button_url}

