"""The draw page for trainers: a period's draw of a programme (seed, rules, figures, a page of its
planned visits with their reasons) and drawing the current period now. Never for technicians: a
visit is a mystery visit."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased, defer

from ..auth.models import Outlet, User
from ..extensions import db
from ..i18n import local_today, user_lang
from ..inputs import PlainForm
from ..paging import count, rows_page
from ..security import roles_required
from . import draw as drawing
from .models import AuditDraw, AuditProgramme, AuditVisit

bp = Blueprint("audit_draws", __name__, url_prefix="/audits/programmes")

DRAWERS = ("trainer", "admin")


def _programme_or_404(slug: str) -> AuditProgramme:
    programme = db.session.scalar(select(AuditProgramme).where(AuditProgramme.slug == slug))
    if programme is None:
        abort(404)
    return programme


def visits_query(draw_id: int, viewer_id: int):
    """A page of the draw's visits, never the viewer's own (a trainer who is also a technician)."""
    technician, auditor = aliased(User), aliased(User)
    return (select(AuditVisit, technician, Outlet, auditor)
            .join(technician, AuditVisit.technician_id == technician.id)
            .outerjoin(Outlet, AuditVisit.outlet_id == Outlet.id)
            .outerjoin(auditor, AuditVisit.auditor_id == auditor.id)
            .where(AuditVisit.draw_id == draw_id, AuditVisit.technician_id != viewer_id).order_by(AuditVisit.id))


@bp.route("/<slug>/draws/<period>")
@roles_required(*DRAWERS)
def show(slug: str, period: str):
    """One period's draw. Its inputs (every candidate) are read only when ``verify`` is asked
    for: the page itself reads a page of visits, whatever the network's size."""
    programme = _programme_or_404(slug)
    if drawing.period_kind(period) is None:
        abort(404)
    row = db.session.scalar(select(AuditDraw).options(defer(AuditDraw.candidates)).where(
        AuditDraw.programme_id == programme.id, AuditDraw.period == period))
    current = drawing.period_of(local_today(), (programme.spec or {}).get("period", "monthly"))
    visits = verified = None
    if row is not None:
        query = visits_query(row.id, current_user.id)
        visits = rows_page(query, count(query))
        if request.args.get("verify") == "1":
            verified = drawing.verify(row)
    return render_template("audits/draw.html", programme=programme, period=period, draw=row, visits=visits,
                           verified=verified, current=current, form=PlainForm(), lang=user_lang(),
                           spec=row.spec if row is not None else programme.spec)


@bp.route("/<slug>/draw", methods=["POST"])
@roles_required(*DRAWERS)
def draw_now(slug: str):
    """Draw the current period now (the same draw ``flask daily`` makes; once a period)."""
    programme = _programme_or_404(slug)
    if not PlainForm().validate_on_submit():
        abort(400)
    if current_user.has_role("technician"):
        abort(403)  # the draw samples technicians: nobody draws the lot they are in
    today = local_today()
    period = drawing.period_of(today, (programme.spec or {}).get("period", "monthly"))
    if not programme.active:
        flash(_("This programme is not active: nothing was drawn."), "error")
        return redirect(url_for("audit_draws.show", slug=slug, period=period))
    before = drawing.existing_draw(programme, period)
    if before is not None:
        flash(_("This period was already drawn; nothing changed."), "info")
        return redirect(url_for("audit_draws.show", slug=slug, period=period))
    try:
        row = drawing.draw(programme, period, by=current_user._get_current_object(), today=today)
    except drawing.DrawError as error:
        flash(str(error), "error")
        return redirect(url_for("audit_draws.show", slug=slug, period=period))
    flash(_("Drawn: %(drawn)d visits, %(unassigned)d without an auditor.", drawn=row.drawn,
            unassigned=row.unassigned), "success")
    return redirect(url_for("audit_draws.show", slug=slug, period=period))
