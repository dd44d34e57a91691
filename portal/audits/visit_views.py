"""Planned visits, the auditors' side: an auditor's visits (open, overdue, done), a trainer's list
of every visit (filters, "unassigned"), one visit, handing it back, a trainer assigning it."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length, Optional

from ..auth.models import Region, User
from ..extensions import db
from ..i18n import user_lang
from ..inputs import PortalForm, int_arg
from ..paging import count, rows_page
from ..security import roles_required
from . import visit_services as vs
from .models import AuditVisit

bp = Blueprint("audit_visits", __name__, url_prefix="/audits/visits")

PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")


class HandBackForm(PortalForm):
    reason = TextAreaField(_l("Why you hand it back"), validators=[Optional(), Length(max=vs.MAX_REASON)],
                           render_kw={"rows": 3, "maxlength": vs.MAX_REASON})


class AssignForm(PortalForm):
    auditor = SelectField(_l("Auditor"), validate_choice=False)


def now() -> datetime:
    return datetime.now(timezone.utc)


def _me() -> User:
    return current_user._get_current_object()


def _manager(user: User) -> bool:
    return user.has_role("trainer", "admin")


@bp.route("/")
@roles_required("auditor", "trainer", "admin")
def index():
    me, day = _me(), vs.today(now())
    if _manager(me) and not (me.has_role("auditor") and "tab" in request.args):
        return _managed(me, day)  # a trainer who also audits gets their own tabs with ?tab=
    tab = request.args.get("tab", "open")
    if tab not in vs.STATES:
        tab = "open"
    query = vs.mine(me, tab, day)
    page = rows_page(query, count(query))
    page.items = vs.rows([row[0] for row in page.items], day)
    counts = {state: count(vs.in_state(vs.visible(me).where(AuditVisit.auditor_id == me.id), state, day))
              for state in vs.STATES}
    return render_template("audits/visits/index.html", page=page, tab=tab, counts=counts, manager=False,
                           lang=user_lang(), day=day)


def _managed(me: User, day):
    # The current month by default: the page's work stays one period's, however many years of
    # visits there are; an empty period (cleared on purpose) lists every period.
    period = request.args.get("period")
    period = f"{day.year}-{day.month:02d}" if period is None else period.strip()
    if period and not PERIOD_RE.match(period):
        flash(_("A period reads 2027-01 (a month) or 2027-Q1 (a quarter)."), "error")
        period = ""
    status = request.args.get("status", "")
    if status not in vs.STATUSES:
        status = ""
    region_id = int_arg("region", None, 1, 2**31)
    auditor_id = int_arg("auditor", None, 1, 2**31)
    query = vs.managed(me, day, status=status, period=period, region_id=region_id, auditor_id=auditor_id)
    page = rows_page(query, count(query))
    page.items = vs.rows([row[0] for row in page.items], day)
    regions = list(db.session.scalars(select(Region).order_by(Region.code)))
    auditor = db.session.get(User, auditor_id) if auditor_id else None
    filters = {"period": period, "status": status, "region": region_id or "", "auditor": auditor_id or ""}
    return render_template("audits/visits/index.html", page=page, manager=True, filters=filters, regions=regions,
                           auditor=auditor, lang=user_lang(), day=day, also_auditor=me.has_role("auditor"))


def _visit_or_404(visit_id: int):
    visit = vs.get_visible(_me(), visit_id)
    if visit is None:
        abort(404)
    return visit


def _render_detail(visit, hand_back_form=None, assign_form=None, status: int = 200):
    me, day = _me(), vs.today(now())
    row = vs.rows([visit], day)[0]
    holder = visit.auditor_id == me.id and visit.status == "open"
    may_assign = me.has_role("trainer") and visit.status == "open" and visit.technician_id != me.id
    if may_assign and assign_form is None:
        assign_form = AssignForm()
    if may_assign:
        assign_form.auditor.choices = [("", _("Choose…"))] + [
            (str(u.id), f"{u.display_name} · {u.outlet.name if u.outlet else _('network-wide')}")
            for u in vs.assignable(visit, _me())]
    return render_template("audits/visits/detail.html", row=row, visit=visit, lang=user_lang(), day=day,
                           holder=holder, manager=_manager(me),
                           hand_back_form=(hand_back_form or HandBackForm()) if holder else None,
                           assign_form=assign_form if may_assign else None), status


@bp.route("/<int:visit_id>")
@roles_required("auditor", "trainer", "admin")
def detail(visit_id: int):
    return _render_detail(_visit_or_404(visit_id))


@bp.route("/<int:visit_id>/hand-back", methods=["POST"])
@roles_required("auditor")
def hand_back(visit_id: int):
    visit = _visit_or_404(visit_id)
    form = HandBackForm()
    if not form.validate_on_submit():
        return _render_detail(visit, hand_back_form=form, status=400)
    try:
        row = vs.hand_back(visit, _me(), form.reason.data or "", now())
    except vs.VisitError as problem:
        if problem.field == "reason":
            form.reason.errors = list(form.reason.errors) + [str(problem)]
        else:
            flash(str(problem), "error")
        return _render_detail(db.session.get(AuditVisit, visit_id), hand_back_form=form, status=400)
    if row.reassigned_to_id:
        flash(_("Visit handed back: another auditor has it now."), "success")
    else:
        flash(_("Visit handed back: no other auditor can take it, the trainers will assign it."), "success")
    return redirect(url_for("audit_visits.index"))


@bp.route("/<int:visit_id>/assign", methods=["POST"])
@roles_required("trainer")
def assign(visit_id: int):
    visit = _visit_or_404(visit_id)
    form = AssignForm()
    if not form.validate_on_submit():
        return _render_detail(visit, assign_form=form, status=400)
    raw = form.auditor.data or ""
    auditor = db.session.get(User, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    try:
        vs.assign(visit, _me(), auditor, now())
    except vs.VisitError as problem:
        if problem.field == "auditor":
            form.auditor.errors = list(form.auditor.errors) + [str(problem)]
        else:
            flash(str(problem), "error")
        return _render_detail(db.session.get(AuditVisit, visit_id), assign_form=form, status=400)
    flash(_("Visit assigned to %(name)s.", name=auditor.display_name), "success")
    return redirect(url_for("audit_visits.detail", visit_id=visit_id))
