"""Audit coverage for the trainers: per region, province, outlet or technician of a scope, how
many planned visits of a period are done, open, overdue or without an auditor, how many reports
were filed without a plan, and how much of the network was audited in the last twelve months.

Every figure is a grouped COUNT over the scope's children (a region page aggregates its
provinces), and every figure has a list (``list_query``) whose rows are exactly the ones counted:
the same conditions build both. "Audited in the last 12 months" and "never audited" need each
technician's latest submitted report, the distribution of visits per technician their count in a
year: both are kept per technician (``audit_last_visit``, ``audit_visit_year``) and recounted for
the technicians a change touches — a report submitted, moved, taken back or deleted, a visit
planned, cancelled, moved, linked to a report or deleted — by the mapper events below, and by
``_bulk`` for ORM insert / update / delete statements that bypass the flush. ``rebuild_kept``
makes them again from the raw rows (after copies behind the portal's back); ``live_*`` are the
references the tests compare them with.

Time: the portal's day (``local_day``, Asia/Shanghai) decides what is overdue and where the
twelve months start; a period (2027-01 or 2027-Q1) runs from its first local midnight to the next
period's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, delete, event, exists, func, insert, inspect, literal, or_, select
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from ..auth.models import Outlet, Province, Region, User, UserRole
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from .models import Audit, AuditVisit, AuditVisitHandback
from .services import local_day


class AuditLastVisit(db.Model):
    """A technician's latest submitted report (its visit time): kept, never typed in."""

    __tablename__ = "audit_last_visit"

    technician_id: Mapped[int] = mapped_column(db.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- the kept facts -----------------------------------------------------------------------------


class AuditVisitYear(db.Model):
    """A technician's visits in a calendar year: planned visits not cancelled (the year of their
    period) plus submitted reports that made no planned visit done (the local year of the visit).
    Kept, never typed in; a technician with none that year has no row."""

    __tablename__ = "audit_visit_year"

    technician_id: Mapped[int] = mapped_column(db.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    visits: Mapped[int] = mapped_column()


LAST = AuditLastVisit.__table__
YEARS = AuditVisitYear.__table__
AUDIT = Audit.__table__
VISIT = AuditVisit.__table__
USERS = User.__table__
CHUNK = 500


def _year_rows(connection, ids: list[int]) -> list[dict]:
    """The kept per-year counts of these technicians, recounted from the visits and reports."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    counts: dict[tuple[int, int], int] = {}
    for tid, period in connection.execute(select(VISIT.c.technician_id, VISIT.c.period).where(
            VISIT.c.technician_id.in_(ids), VISIT.c.status != "cancelled")):
        key = (tid, int(period[:4]))
        counts[key] = counts.get(key, 0) + 1
    linked = exists().where(VISIT.c.audit_id == AUDIT.c.id)
    for tid, visited_at in connection.execute(select(AUDIT.c.technician_id, AUDIT.c.visited_at).where(
            AUDIT.c.technician_id.in_(ids), AUDIT.c.status == "submitted", ~linked)):
        key = (tid, visited_at.astimezone(zone).year)
        counts[key] = counts.get(key, 0) + 1
    return [{"technician_id": t, "year": y, "visits": n} for (t, y), n in sorted(counts.items())]


def _refresh(connection, technician_ids) -> None:
    """Recount both kept facts of these technicians (in the caller's transaction)."""
    everyone = sorted({i for i in technician_ids if i is not None})
    for at in range(0, len(everyone), CHUNK):
        ids = everyone[at:at + CHUNK]
        # Two transactions recounting one technician at once (two reports submitted together, a
        # report during a draw) are taken in turn: each locks the technicians' user rows first,
        # in id order (PostgreSQL; SQLite has one writer at a time). Without it the second's
        # delete misses the row the first inserts and its insert fails on the key.
        connection.execute(select(USERS.c.id).where(USERS.c.id.in_(ids)).order_by(USERS.c.id)
                           .with_for_update(key_share=True))
        connection.execute(delete(LAST).where(LAST.c.technician_id.in_(ids)))
        connection.execute(insert(LAST).from_select(
            ["technician_id", "visited_at"],
            select(AUDIT.c.technician_id, func.max(AUDIT.c.visited_at))
            .where(AUDIT.c.status == "submitted", AUDIT.c.technician_id.in_(ids)).group_by(AUDIT.c.technician_id)))
        connection.execute(delete(YEARS).where(YEARS.c.technician_id.in_(ids)))
        rows = _year_rows(connection, ids)
        if rows:
            connection.execute(insert(YEARS), rows)


def _old(state, name) -> list:
    return list(state.attrs[name].history.deleted or ())


def _technicians_of_audits(connection, audit_ids) -> list[int]:
    ids = [i for i in audit_ids if i is not None]
    if not ids:
        return []
    return list(connection.execute(select(AUDIT.c.technician_id).where(AUDIT.c.id.in_(ids))).scalars())


def _deleted(_mapper, connection, row) -> None:
    if isinstance(row, Audit):
        _refresh(connection, [row.technician_id])
    else:  # the report it linked counts as unplanned again
        _refresh(connection, [row.technician_id, *_technicians_of_audits(connection, [row.audit_id])])


def _audit_changed(_mapper, connection, audit) -> None:
    state = inspect(audit)
    if state.attrs.status.history.has_changes() or state.attrs.technician_id.history.has_changes() \
            or state.attrs.visited_at.history.has_changes():
        if audit.status == "submitted" or "submitted" in _old(state, "status"):
            _refresh(connection, [audit.technician_id, *_old(state, "technician_id")])


def _visit_changed(_mapper, connection, visit) -> None:
    state = inspect(visit)
    if not any(state.attrs[n].history.has_changes()
                               for n in ("status", "period", "technician_id", "audit_id")):
        return
    audits = [visit.audit_id, *_old(state, "audit_id")]
    _refresh(connection, [visit.technician_id, *_old(state, "technician_id"),
                          *_technicians_of_audits(connection, audits)])


def _inserted(_mapper, connection, row) -> None:
    if isinstance(row, Audit):
        if row.status == "submitted":
            _refresh(connection, [row.technician_id])
    else:
        _refresh(connection, [row.technician_id, *_technicians_of_audits(connection, [row.audit_id])])


RELEVANT = {"status", "period", "technician_id", "audit_id", "visited_at"}


def _bulk(state) -> object | None:
    """ORM statements that bypass the flush (``session.execute(insert(AuditVisit), rows)``, an
    ``update(Audit).where(...)``): the technicians they touch are recounted after them — those
    named in the rows inserted, those the WHERE of an update or delete selects (before it runs)."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    mapper = state.bind_mapper
    if mapper is None or mapper.class_ not in (Audit, AuditVisit):
        return None
    model = mapper.class_
    ids: set = set()
    audit_ids: set = set()
    if state.is_insert:
        params = state.parameters
        for row in (params if isinstance(params, list) else [params] if params else []):
            ids.add(row.get("technician_id"))
            audit_ids.add(row.get("audit_id"))
    else:
        values = getattr(state.statement, "_values", None) or {}
        names = {getattr(column, "key", column) for column in values}
        if state.is_update and names and not names & RELEVANT:
            return None  # e.g. a visit given to another auditor: nothing counted changes
        params = state.parameters if isinstance(state.parameters, list) else []
        where = state.statement.whereclause
        if params and all("id" in row for row in params):  # bulk update by primary key
            picked = select(model.technician_id).where(model.id.in_([row["id"] for row in params]))
            ids.update(row.get("technician_id") for row in params)
        else:
            picked = select(model.technician_id) if where is None else select(model.technician_id).where(where)
        ids.update(state.session.execute(picked).scalars())
        for column, value in values.items():
            if getattr(column, "key", column) == "technician_id" and hasattr(value, "value"):
                ids.add(value.value)
    result = state.invoke_statement()
    connection = state.session.connection()
    _refresh(connection, [*ids, *_technicians_of_audits(connection, audit_ids)])
    return result


def _keep_old(_target, value, _old, _initiator):
    return value


# A report or visit moved to another technician (or a report taken back to draft, a visit linked
# to another report) refreshes the one it left too: the old value is loaded when it is set, so the
# flush's history knows it.
for _attribute in (Audit.technician_id, Audit.status, AuditVisit.technician_id, AuditVisit.audit_id):
    if not event.contains(_attribute, "set", _keep_old):
        event.listen(_attribute, "set", _keep_old, active_history=True, retval=True)

for _model in (Audit, AuditVisit):
    for _name, _listener in (("after_insert", _inserted),
                             ("after_update", _audit_changed if _model is Audit else _visit_changed),
                             ("after_delete", _deleted)):
        if not event.contains(_model, _name, _listener):
            event.listen(_model, _name, _listener)
if not event.contains(Session, "do_orm_execute", _bulk):
    event.listen(Session, "do_orm_execute", _bulk)


def rebuild_kept() -> int:
    """Make both kept tables again from the reports and visits (after rows were copied in behind
    the portal's back); returns the technicians with a last audit. The caller commits."""
    db.session.execute(delete(LAST))
    db.session.execute(insert(LAST).from_select(
        ["technician_id", "visited_at"],
        select(AUDIT.c.technician_id, func.max(AUDIT.c.visited_at))
        .where(AUDIT.c.status == "submitted").group_by(AUDIT.c.technician_id)))
    db.session.execute(delete(YEARS))
    connection = db.session.connection()
    people = sorted(set(connection.execute(select(VISIT.c.technician_id).distinct()).scalars())
                    | set(connection.execute(select(AUDIT.c.technician_id).where(AUDIT.c.status == "submitted")
                                             .distinct()).scalars()))
    for at in range(0, len(people), CHUNK):
        rows = _year_rows(connection, people[at:at + CHUNK])
        if rows:
            connection.execute(insert(YEARS), rows)
    return db.session.scalar(select(func.count()).select_from(LAST)) or 0


rebuild_last_visits = rebuild_kept  # the name the first version had


def live_last_visits() -> dict[int, datetime]:
    """The reference: each technician's latest submitted report, read from the reports."""
    return dict(db.session.execute(select(Audit.technician_id, func.max(Audit.visited_at))
                                   .where(Audit.status == "submitted").group_by(Audit.technician_id)).all())


def kept_last_visits() -> dict[int, datetime]:
    return dict(db.session.execute(select(AuditLastVisit.technician_id, AuditLastVisit.visited_at)).all())


def live_visit_years() -> dict[tuple[int, int], int]:
    """The reference: visits per (technician, year) recounted in Python from every visit and report."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    linked = set(db.session.scalars(select(AuditVisit.audit_id).where(AuditVisit.audit_id.is_not(None))))
    counts: dict[tuple[int, int], int] = {}
    for tid, period, status in db.session.execute(select(AuditVisit.technician_id, AuditVisit.period,
                                                         AuditVisit.status)):
        if status != "cancelled":
            counts[(tid, int(period[:4]))] = counts.get((tid, int(period[:4])), 0) + 1
    for aid, tid, visited_at, status in db.session.execute(select(Audit.id, Audit.technician_id, Audit.visited_at,
                                                                  Audit.status)):
        if status == "submitted" and aid not in linked:
            key = (tid, visited_at.astimezone(zone).year)
            counts[key] = counts.get(key, 0) + 1
    return counts


def kept_visit_years() -> dict[tuple[int, int], int]:
    return {(t, y): n for t, y, n in db.session.execute(
        select(AuditVisitYear.technician_id, AuditVisitYear.year, AuditVisitYear.visits))}


# --- periods and days ---------------------------------------------------------------------------

PERIOD_RE = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")
BUCKETS = 6  # the distribution's last bucket: 6 or more visits


def today() -> date:
    """The portal's day (never the machine's date)."""
    return local_day(utcnow())


def current_period(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def valid_period(text: str | None) -> bool:
    return bool(text and PERIOD_RE.match(text))


def period_days(period: str) -> tuple[date, date]:
    """First day and the day after the last of a month (2027-01) or quarter (2027-Q1)."""
    year, month, quarter = PERIOD_RE.match(period).groups()
    year = int(year)
    first = int(month) if month else 3 * (int(quarter) - 1) + 1
    months = 1 if month else 3
    end_month = first + months
    end = date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return date(year, first, 1), end


def local_midnight(day: date) -> datetime:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def twelve_months_from(day: date) -> datetime:
    """Where "audited in the last 12 months" starts: local midnight 365 days before the day."""
    return local_midnight(day - timedelta(days=365))


# --- scope --------------------------------------------------------------------------------------

CHILD = {"network": "region", "region": "province", "province": "outlet", "outlet": "technician"}


@dataclass
class Scope:
    """Where the page looks: the network, a region, a province, an outlet, or the technicians
    with no outlet (``no_outlet``); ``technician`` narrows a list to one technician."""
    region: Region | None = None
    province: Province | None = None
    outlet: Outlet | None = None
    no_outlet: bool = False
    technician: User | None = None

    @property
    def level(self) -> str:
        if self.outlet is not None or self.no_outlet:
            return "outlet"
        if self.province is not None:
            return "province"
        return "region" if self.region is not None else "network"

    @property
    def child(self) -> str:
        return CHILD[self.level]

    def params(self) -> dict:
        """The query-string of this scope (the most specific code says it all)."""
        out = {}
        if self.no_outlet:
            out["outlet"] = "none"
        elif self.outlet is not None:
            out["outlet"] = self.outlet.code
        elif self.province is not None:
            out["province"] = self.province.code
        elif self.region is not None:
            out["region"] = self.region.code
        if self.technician is not None:
            out["technician"] = self.technician.id
        return out

    def crumbs(self) -> list[tuple[str, dict]]:
        """(name, params) from the network down to this scope."""
        out = []
        if self.region is not None:
            out.append((self.region.name, {"region": self.region.code}))
        if self.province is not None:
            out.append((self.province.name, {"province": self.province.code}))
        if self.outlet is not None:
            out.append((self.outlet.name, {"outlet": self.outlet.code}))
        return out


def scope_from(args) -> Scope | None:
    """The scope of the query string (region= / province= / outlet= codes, outlet=none,
    technician=id); None when a code names nothing. The most specific code wins and its parents
    follow from it."""
    scope = Scope()
    outlet, province, region = (args.get(k, "").strip() for k in ("outlet", "province", "region"))
    if outlet == "none":
        scope.no_outlet = True
    elif outlet:
        scope.outlet = db.session.scalar(select(Outlet).where(Outlet.code == outlet))
        if scope.outlet is None:
            return None
        scope.province = scope.outlet.province
        scope.region = scope.province.region
    elif province:
        scope.province = db.session.scalar(select(Province).where(Province.code == province))
        if scope.province is None:
            return None
        scope.region = scope.province.region
    elif region:
        scope.region = db.session.scalar(select(Region).where(Region.code == region))
        if scope.region is None:
            return None
    technician = args.get("technician", "").strip()
    if technician:
        if not technician.isdigit() or len(technician) > 18:
            return None
        scope.technician = db.session.get(User, int(technician))
        if scope.technician is None:
            return None
    return scope


def _place_where(scope: Scope, outlet_col, person_col) -> list:
    """Conditions keeping the rows of the scope: ``outlet_col`` the row's outlet, ``person_col``
    the technician (Outlet and Province joined on ``outlet_col`` when the scope needs them)."""
    where = []
    if scope.no_outlet:
        where.append(outlet_col.is_(None))
    elif scope.outlet is not None:
        where.append(outlet_col == scope.outlet.id)
    elif scope.province is not None:
        where.append(Outlet.province_id == scope.province.id)
    elif scope.region is not None:
        where.append(Province.region_id == scope.region.id)
    if scope.technician is not None:
        where.append(person_col == scope.technician.id)
    return where


def _joined(query, outlet_col, scope: Scope, always: bool = False):
    """Join Outlet / Province on the row's outlet when the scope or the grouping needs them
    (``always``: a list shows the outlet)."""
    if always or scope.level in ("network", "region", "province"):
        return (query.outerjoin(Outlet, Outlet.id == outlet_col)
                .outerjoin(Province, Province.id == Outlet.province_id))
    return query


def _key(scope: Scope, outlet_col, person_col):
    """The child unit a row belongs to."""
    return {"region": Province.region_id, "province": Outlet.province_id, "outlet": outlet_col,
            "technician": person_col}[scope.child]


# --- what each figure counts --------------------------------------------------------------------

VISIT_FIGURES = ("planned", "done", "open", "overdue", "unassigned")
TECHNICIAN_FIGURES = ("technicians", "audited12", "never")
FIGURES = VISIT_FIGURES + ("unplanned",) + TECHNICIAN_FIGURES
WHATS = FIGURES + ("visits", "handedback")


def visit_condition(what: str, day: date):
    V = AuditVisit
    return {"planned": V.status != "cancelled", "done": V.status == "done", "open": V.status == "open",
            "overdue": and_(V.status == "open", V.due_on < day),
            "unassigned": and_(V.status != "cancelled", V.auditor_id.is_(None))}[what]


def _unlinked():
    return ~exists().where(AuditVisit.audit_id == Audit.id)


def _technicians_base():
    return (select(User.id).join(UserRole, and_(UserRole.user_id == User.id, UserRole.role == "technician"))
            .where(User.active))


def technician_condition(what: str, day: date):
    cutoff = twelve_months_from(day)
    return {"technicians": literal(True), "audited12": AuditLastVisit.visited_at >= cutoff,
            "never": AuditLastVisit.technician_id.is_(None)}[what]


@dataclass
class Row:
    key: int | None
    code: str
    name: str
    params: dict  # the scope of this row, for its links
    figures: dict = field(default_factory=dict)

    @property
    def share12(self) -> int:
        n = self.figures.get("technicians", 0)
        return round(100 * self.figures.get("audited12", 0) / n) if n else 0


@dataclass
class Coverage:
    scope: Scope
    period: str
    day: date
    rows: list[Row]
    total: Row
    distribution: list[tuple[str, int, int]]  # (label, n for the link, technicians)
    auditors: list[dict]


def _sum(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def visit_figures(scope: Scope, period: str, day: date) -> dict:
    V = AuditVisit
    key = _key(scope, V.outlet_id, V.technician_id).label("k")
    query = _joined(select(key, *(_sum(visit_condition(w, day)).label(w) for w in VISIT_FIGURES))
                    .select_from(V), V.outlet_id, scope)
    query = query.where(V.period == period, *_place_where(scope, V.outlet_id, V.technician_id)).group_by(key)
    return {row.k: {w: int(getattr(row, w)) for w in VISIT_FIGURES} for row in db.session.execute(query)}


def unplanned_query(scope: Scope, period: str, always: bool = False):
    """The submitted reports visited in the period that made no planned visit done (the
    technician's current outlet places them)."""
    start, end = period_days(period)
    query = _joined(select(Audit.id).select_from(Audit).join(User, User.id == Audit.technician_id),
                    User.outlet_id, scope, always)
    return query.where(Audit.status == "submitted", Audit.visited_at >= local_midnight(start),
                       Audit.visited_at < local_midnight(end), _unlinked(),
                       *_place_where(scope, User.outlet_id, User.id))


def unplanned_figures(scope: Scope, period: str) -> dict:
    key = _key(scope, User.outlet_id, User.id).label("k")
    query = unplanned_query(scope, period).with_only_columns(key, func.count().label("n")).group_by(key)
    return {row.k: int(row.n) for row in db.session.execute(query)}


def scope_technicians(scope: Scope, always: bool = False):
    """Active technicians of the scope, with their kept last visit joined."""
    query = _joined(_technicians_base().outerjoin(AuditLastVisit, AuditLastVisit.technician_id == User.id),
                    User.outlet_id, scope, always)
    return query.where(*_place_where(scope, User.outlet_id, User.id))


def technician_figures(scope: Scope, day: date, year: int) -> dict:
    """Per child: technicians, audited in 12 months, never audited, and how many had 0, 1, …, 6+
    visits in ``year`` ("b0".."b6"), in one pass over the scope's technicians."""
    key = _key(scope, User.outlet_id, User.id).label("k")
    query, n = visits_of_year_query(scope, year)
    bucket = case((n >= BUCKETS, BUCKETS), else_=n)
    query = query.with_only_columns(
        key, *(_sum(technician_condition(w, day)).label(w) for w in TECHNICIAN_FIGURES),
        *(_sum(bucket == i).label(f"b{i}") for i in range(BUCKETS + 1))).group_by(key)
    names = [*TECHNICIAN_FIGURES, *(f"b{i}" for i in range(BUCKETS + 1))]
    return {row.k: {w: int(getattr(row, w)) for w in names} for row in db.session.execute(query)}


def visits_of_year_query(scope: Scope, year: int, always: bool = False):
    """Active technicians of the scope with their kept visit count this year (0 when none)."""
    n = func.coalesce(AuditVisitYear.visits, 0)
    query = scope_technicians(scope, always).outerjoin(
        AuditVisitYear, and_(AuditVisitYear.technician_id == User.id, AuditVisitYear.year == year))
    return query, n


def auditor_workload(scope: Scope, period: str, day: date) -> list[dict]:
    """Per auditor holding visits of the scope in the period: open, overdue, done, and the visits
    of the scope and period they handed back."""
    V = AuditVisit
    query = _joined(select(V.auditor_id, _sum(visit_condition("open", day)), _sum(visit_condition("overdue", day)),
                           _sum(visit_condition("done", day))).select_from(V), V.outlet_id, scope)
    query = query.where(V.period == period, V.auditor_id.is_not(None),
                        *_place_where(scope, V.outlet_id, V.technician_id)).group_by(V.auditor_id)
    table = {a: {"open": int(o), "overdue": int(od), "done": int(d), "handedback": 0}
             for a, o, od, d in db.session.execute(query)}
    H = AuditVisitHandback
    handed = _joined(select(H.auditor_id, func.count()).select_from(H).join(V, V.id == H.visit_id),
                     V.outlet_id, scope)
    handed = handed.where(V.period == period, H.auditor_id.is_not(None),
                          *_place_where(scope, V.outlet_id, V.technician_id)).group_by(H.auditor_id)
    for auditor_id, n in db.session.execute(handed):
        table.setdefault(auditor_id, {"open": 0, "overdue": 0, "done": 0, "handedback": 0})["handedback"] = int(n)
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(list(table) or [-1])))}
    out = [{"auditor": people[a], **figures} for a, figures in table.items() if a in people]
    return sorted(out, key=lambda r: (-r["open"], r["auditor"].display_name))


def _children(scope: Scope, keys: set) -> list[Row]:
    """The scope's child units (all of them, plus any a figure names), by code."""
    child = scope.child
    if child == "region":
        units = db.session.scalars(select(Region).order_by(Region.code)).all()
        rows = [Row(u.id, u.code, u.name, {"region": u.code}) for u in units]
    elif child == "province":
        units = db.session.scalars(select(Province).where(or_(Province.region_id == scope.region.id,
                                                              Province.id.in_(keys or {-1})))
                                   .order_by(Province.code)).all()
        rows = [Row(u.id, u.code, u.name, {"province": u.code}) for u in units]
    elif child == "outlet":
        units = db.session.scalars(select(Outlet).where(or_(Outlet.province_id == scope.province.id,
                                                            Outlet.id.in_(keys or {-1})))
                                   .order_by(Outlet.code)).all()
        rows = [Row(u.id, u.code, u.name, {"outlet": u.code}) for u in units]
    else:
        people = db.session.scalars(select(User).where(User.id.in_(keys or {-1})).order_by(User.username)).all()
        base = {"outlet": "none"} if scope.no_outlet else {"outlet": scope.outlet.code}
        rows = [Row(u.id, u.username, u.display_name, {**base, "technician": u.id}) for u in people]
    if child == "region" and None in keys:
        rows.append(Row(None, "", "", {"outlet": "none"}))  # technicians with no outlet
    return rows


def coverage(scope: Scope, period: str, day: date | None = None, with_extras: bool = True) -> Coverage:
    day = day or today()
    visits = visit_figures(scope, period, day)
    unplanned = unplanned_figures(scope, period)
    year = period_days(period)[0].year
    people = technician_figures(scope, day, year)
    rows = _children(scope, set(visits) | set(unplanned) | set(people))
    total = Row(None, "", "", scope.params(), {f: 0 for f in FIGURES})
    for row in rows:
        row.figures = {**{w: 0 for w in FIGURES}, **visits.get(row.key, {}), "unplanned": unplanned.get(row.key, 0),
                       **people.get(row.key, {})}
        for f in FIGURES:
            total.figures[f] += row.figures[f]
    buckets = [sum(p.get(f"b{i}", 0) for p in people.values()) for i in range(BUCKETS + 1)]
    distribution = [(f"{i}+" if i == BUCKETS else str(i), i, buckets[i]) for i in range(BUCKETS + 1)]
    return Coverage(scope, period, day, rows, total, distribution if with_extras else [],
                    auditor_workload(scope, period, day) if with_extras else [])


# --- the lists behind the figures ---------------------------------------------------------------


def visit_list(scope: Scope, period: str, day: date, what: str, auditor_id: int | None = None):
    """A select of (visit, technician, outlet, auditor) rows, oldest due first."""
    V = AuditVisit
    Tech, Aud = aliased(User), aliased(User)
    query = _joined(select(V, Tech, Outlet, Aud).select_from(V), V.outlet_id, scope, always=True)
    query = (query.join(Tech, Tech.id == V.technician_id).outerjoin(Aud, Aud.id == V.auditor_id)
             .where(V.period == period, *_place_where(scope, V.outlet_id, V.technician_id)))
    if what == "handedback":
        H = AuditVisitHandback
        query = query.join(H, H.visit_id == V.id).where(H.auditor_id == auditor_id)
    else:
        query = query.where(visit_condition(what, day))
        if auditor_id is not None:
            query = query.where(V.auditor_id == auditor_id)
    return query.order_by(V.due_on, V.id)


def not_about(kind: str, viewer_id: int):
    """The condition leaving the viewer's own rows out of a list of visits or of visit counts."""
    return AuditVisit.technician_id != viewer_id if kind == "visits" else User.id != viewer_id


def unplanned_list(scope: Scope, period: str):
    Aud = aliased(User)
    base = unplanned_query(scope, period, always=True)
    query = base.with_only_columns(Audit, User, Outlet, Aud).join(Aud, Aud.id == Audit.auditor_id)
    return query.order_by(Audit.visited_at, Audit.id)


def technician_list(scope: Scope, day: date, what: str):
    query = scope_technicians(scope, always=True).with_only_columns(User, Outlet, AuditLastVisit.visited_at)
    if what != "technicians":
        query = query.where(technician_condition(what, day))
    return query.order_by(User.username, User.id)


def year_list(scope: Scope, year: int, n: int):
    query, count = visits_of_year_query(scope, year, always=True)
    query = query.with_only_columns(User, Outlet, AuditLastVisit.visited_at, count.label("n"))
    query = query.where(count >= BUCKETS if n >= BUCKETS else count == n)
    return query.order_by(User.username, User.id)
