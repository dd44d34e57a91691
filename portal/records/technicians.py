"""``/technicians/USERNAME``: the technician record page (see records.py)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from ..auth.models import Outlet, Province, Region, User
from ..auth.services import active_technicians
from ..certification.rules import local_today, status_label
from ..certification.services import active_tiers
from ..csvexport import columns, place, table_response, yes_no
from ..extensions import db
from ..i18n import user_lang
from ..inputs import int_arg
from ..security import roles_required
from .dashboard import holders
from .record import contribution_status, full_record

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
    user = record_user_or_404(username)
    viewer_is_trainer = current_user.has_role("trainer", "admin")
    lang = user_lang()
    return render_template("technicians/record.html", user=user, lang=lang, status_label=status_label,
                           record=full_record(user, local_today(), lang, viewer_is_trainer),
                           own=user.id == current_user.id, today=local_today(),
                           contribution_status=contribution_status)


@bp.route("/")
@roles_required("trainer", "admin")
def index():
    """The technicians, filtered by place and by the tier they hold (the list behind the
    dashboard's coverage figures)."""
    filters = {"region": int_arg("region"), "province": int_arg("province"), "outlet": int_arg("outlet"),
               "tier": int_arg("tier")}
    today = local_today()
    people = active_technicians(filters["region"], filters["province"], filters["outlet"])
    if filters["tier"]:
        keep = holders(filters["tier"], today, {u.id for u in people})
        people = [u for u in people if u.id in keep]
    tiers = active_tiers()
    held = {t.id: holders(t.id, today, {u.id for u in people}) for t in tiers}
    lang = user_lang()
    if request.args.get("format") in ("csv", "xlsx"):
        header = columns("username", "name", "outlet", "outlet_name", "province", "province_name", "region",
                         "region_name", "start_date") + [t.title(lang) for t in tiers]
        rows = ([u.username, u.name, *place(u.outlet), *place(u.outlet.province if u.outlet else None),
                 *place(u.outlet.province.region if u.outlet else None),
                 u.start_date.isoformat() if u.start_date else ""]
                + [yes_no(True) if u.id in held[t.id] else "" for t in tiers] for u in people)
        return table_response(header, rows, f"technicians-{today.isoformat()}", request.args["format"])
    return render_template("technicians/index.html", people=people, tiers=tiers, held=held, filters=filters,
                           lang=lang, status_label=status_label,
                           regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
                           provinces=db.session.scalars(select(Province).order_by(Province.code)).all(),
                           outlets=db.session.scalars(select(Outlet).order_by(Outlet.code)).all())
