"""Audit coverage pages for trainers and admins: the scope's table, the list behind each figure
and the table as CSV (audits/coverage.py computes them)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..csvexport import columns, csv_response
from ..i18n import user_lang
from ..inputs import int_arg
from ..paging import count, rows_page
from ..security import roles_required
from . import coverage as cov

bp = Blueprint("audit_coverage", __name__, url_prefix="/audits/coverage")

ROLES = ("trainer", "admin")
LIST_KINDS = {**{w: "visits" for w in cov.VISIT_FIGURES}, "handedback": "visits", "unplanned": "reports",
              **{w: "technicians" for w in cov.TECHNICIAN_FIGURES}, "visits": "year"}


def _inputs():
    """(scope, period, day) of the query string; 404 for a code that names nothing, 400 for a
    period that is not 2027-01 or 2027-Q1."""
    scope = cov.scope_from(request.args)
    if scope is None:
        abort(404)
    day = cov.today()
    period = request.args.get("period", "").strip() or cov.current_period(day)
    if not cov.valid_period(period):
        abort(400, _("The period is a month (2027-01) or a quarter (2027-Q1)."))
    return scope, period, day


def figure_titles() -> dict:
    return {"planned": _("Planned"), "done": _("Done"), "open": _("Still open"), "overdue": _("Overdue"),
            "unassigned": _("No auditor"), "unplanned": _("Unplanned reports"), "technicians": _("Technicians"),
            "audited12": _("Audited in 12 months"), "never": _("Never audited"), "handedback": _("Handed back"),
            "visits": _("Visits this year")}


def level_titles() -> dict:
    return {"region": _("Region"), "province": _("Province"), "outlet": _("Outlet"), "technician": _("Technician")}


@bp.get("/")
@roles_required(*ROLES)
def index():
    scope, period, day = _inputs()
    if scope.technician is not None:
        abort(404)  # a technician is a list, not a scope of the table
    data = cov.coverage(scope, period, day)
    return render_template("audits/coverage.html", data=data, scope=scope, period=period, day=day,
                           figures=cov.FIGURES, titles=figure_titles(), levels=level_titles(), lang=user_lang(),
                           list_url=url_for("audit_coverage.listing"), query=lambda **params: urlencode(params))


@bp.get("/list")
@roles_required(*ROLES)
def listing():
    scope, period, day = _inputs()
    what = request.args.get("what", "")
    if what not in LIST_KINDS:
        abort(404)
    auditor_id = int_arg("auditor", None, 1)
    n = int_arg("n", 0, 0, cov.BUCKETS)
    if what == "handedback" and auditor_id is None:
        abort(404)
    kind = LIST_KINDS[what]
    year = cov.period_days(period)[0].year
    if kind == "visits":
        query = cov.visit_list(scope, period, day, what, auditor_id)
    elif kind == "reports":
        query = cov.unplanned_list(scope, period)
    elif kind == "technicians":
        query = cov.technician_list(scope, day, what)
    else:
        query = cov.year_list(scope, year, n)
    if kind in ("visits", "year"):
        # a trainer who is also a technician never finds their own planned visits in a list
        query = query.where(cov.not_about(kind, current_user.id))
    page = rows_page(query, count(query))
    return render_template("audits/coverage_list.html", page=page, kind=kind, what=what, n=n, year=year,
                           auditor_id=auditor_id, scope=scope, period=period, day=day, titles=figure_titles(),
                           args={k: v for k, v in request.args.items() if k != "page"})


EXPORT_COLUMNS = ("code", "unit", "planned", "done", "open", "overdue", "no auditor", "unplanned reports",
                  "technicians", "audited in 12 months", "audited in 12 months %", "never audited")


@bp.get("/export.csv")
@roles_required(*ROLES)
def export():
    scope, period, day = _inputs()
    if scope.technician is not None:
        abort(404)
    data = cov.coverage(scope, period, day, with_extras=False)

    def rows():
        for row in data.rows:
            f = row.figures
            yield [row.code, row.name or _("No outlet"), f["planned"], f["done"], f["open"], f["overdue"],
                   f["unassigned"], f["unplanned"], f["technicians"], f["audited12"], row.share12, f["never"]]

    name = "-".join(["audit-coverage", period, *(str(v) for v in scope.params().values())])
    return csv_response(columns(*EXPORT_COLUMNS), list(rows()), f"{name}.csv")
