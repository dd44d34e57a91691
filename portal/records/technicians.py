"""``/technicians/USERNAME``: the technician record page (see records.py)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import case, false, func, select
from sqlalchemy.orm import aliased, joinedload, lazyload

from ..auth.models import Outlet, Province, Region, User
from ..auth.network import filter_outlets
from ..auth.services import TechnicianFilter, technician_filter, technicians_query
from ..certification.rules import local_today, status_label
from ..certification.models import Tier
from ..certification.services import active_tiers, top_valid_level
from ..csvexport import columns, streamed, place, table_response, yes_no
from ..extensions import db
from ..i18n import user_lang
from ..inputs import int_arg
from ..paging import count, rows_page
from ..security import roles_required
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


SORTS = ("name", "username", "outlet")  # and tier-<id>: the columns the list sorts by (in SQL)


def sort_arg(tiers: list) -> tuple[str, bool]:
    """The ``sort`` (a column: name, username, outlet or tier-<id>) and ``desc`` (1: reversed)
    of the query string; by username when missing or unknown."""
    key = request.args.get("sort", "")
    if key not in SORTS and key not in {f"tier-{t.id}" for t in tiers}:
        key = "username"
    return key, request.args.get("desc") == "1"


def technician_list(found: TechnicianFilter, tier_id: int | None, tiers: list, today, sort: str = "username",
                    descending: bool = False):
    """The select behind the technician list (page and download alike): each active technician
    matching ``found`` (name or username, place, start date: the filter the cohort member picker
    shares), with one yes/no column per tier (certified at it today), in the order of ``sort``
    (then by username, so every page follows on from the one before). The tier filter, the
    columns and the order are worked out by the database, across all pages."""
    query = found.apply(technicians_query())
    top = top_valid_level(today)
    query = query.outerjoin(top, top.c.user_id == User.id)
    if tier_id:
        tier = db.session.get(Tier, tier_id)
        query = query.where(top.c.level >= tier.level if tier is not None else false())
    held = [func.coalesce(top.c.level >= t.level, False).label(f"tier_{t.id}") for t in tiers]
    if sort == "name":  # as shown: the name, or the username for someone without one
        keys = [func.coalesce(func.nullif(User.name, ""), User.username)]
    elif sort == "outlet":  # as shown: the outlet's code; technicians without an outlet last
        shown = aliased(Outlet)  # not the Outlet a place filter joins
        query = query.outerjoin(shown, shown.id == User.outlet_id)
        code = shown.code
        if db.session.get_bind().dialect.name == "postgresql":
            code = code.collate("C")  # codes are ASCII: byte order, as SQLite's, and far cheaper to sort
        keys = [case((User.outlet_id.is_(None), 1), else_=0), code]
    elif sort.startswith("tier-"):  # holders first
        level = next(t.level for t in tiers if f"tier-{t.id}" == sort)
        keys = [case((top.c.level >= level, 0), else_=1)]
    else:
        keys = []
    keys = [k.desc() if descending else k for k in keys]
    last = User.username.desc() if descending else User.username
    return (query.add_columns(*held)
            .options(joinedload(User.outlet).joinedload(Outlet.province).joinedload(Province.region),
                     lazyload(User.role_rows))  # not shown: no extra query per batch for them
            .order_by(*keys, last))


@bp.route("/")
@roles_required("trainer", "admin")
def index():
    """The technicians, found by name or username and filtered by place, start date and the tier
    they hold (the list behind the dashboard's coverage figures), a page at a time; the download
    has every page."""
    found = technician_filter(request.args)
    tier = int_arg("tier")
    filters = {"region": found.region, "province": found.province, "outlet": found.outlet, "tier": tier}
    today = local_today()
    tiers = active_tiers()
    sort, descending = sort_arg(tiers)
    query = technician_list(found, tier, tiers, today, sort, descending)
    lang = user_lang()
    if request.args.get("format") in ("csv", "xlsx"):
        header = columns("username", "name", "outlet", "outlet_name", "province", "province_name", "region",
                         "region_name", "start_date") + [t.title(lang) for t in tiers]
        rows = ([u.username, u.name, *place(u.outlet), *place(u.outlet.province if u.outlet else None),
                 *place(u.outlet.province.region if u.outlet else None),
                 u.start_date.isoformat() if u.start_date else ""]
                + [yes_no(True) if held else "" for held in marks]
                for u, *marks in streamed(query, scalars=False))
        return table_response(header, rows, f"technicians-{today.isoformat()}", request.args["format"], lazy=True)
    page = rows_page(query, count(query.with_only_columns(User.id)))
    page.items = [(u, dict(zip((t.id for t in tiers), marks))) for u, *marks in page.items]
    return render_template("technicians/index.html", page=page, tiers=tiers, filters=filters,
                           sort=sort, descending=descending, lang=lang, status_label=status_label, found=found,
                           regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
                           provinces=db.session.scalars(select(Province).order_by(Province.code)).all(),
                           outlets=filter_outlets(filters["region"], filters["province"], filters["outlet"]))
