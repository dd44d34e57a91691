"""The auditors' side of planned visits: their lists (open, overdue, done), handing a visit back
(re-assigned to another auditor of the region), a trainer giving a visit to an auditor.

Nobody learns of a visit planned for themselves: every list and look-up here leaves out the
visits whose technician is the reader, and no notification ever goes to the technician.
"Overdue" is counted from the portal's day (``services.local_day``), never the machine's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..auth.models import Outlet, Province, User, UserRole
from ..extensions import db
from ..inputs import check_text
from ..messages import both, msg
from ..notifications import notify, notify_many
from ..paging import count
from ..security import refuse_self
from . import assigning
from .models import AuditProgramme, AuditVisit, AuditVisitHandback
from .services import CERTIFICATES, local_day

STATES = ("open", "overdue", "done")  # an auditor's tabs
STATUSES = ("open", "overdue", "done", "cancelled", "unassigned")  # a trainer's filter
HOME_LIMIT = 5  # rows per group on the auditor's home page
MAX_REASON = 2000


class VisitError(ValueError):
    """A message for the user; nothing was changed. ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def today(now: datetime) -> date:
    """The portal's day (PORTAL_TIMEZONE) at ``now``."""
    return local_day(now)


def _loaded(query):
    return query.options(joinedload(AuditVisit.technician).lazyload(User.role_rows),
                         joinedload(AuditVisit.auditor).lazyload(User.role_rows),
                         joinedload(AuditVisit.draw))


def visible(user: User):
    """The visits a user may see: a trainer or admin every one, an auditor those they hold; never
    one planned for the reader themselves."""
    query = select(AuditVisit).where(AuditVisit.technician_id != user.id)
    if user.has_role("trainer", "admin"):
        return query
    return query.where(AuditVisit.auditor_id == user.id)


def in_state(query, state: str, day: date):
    """Narrow a select of visits to one tab, ordered as that tab lists them."""
    if state == "overdue":
        return query.where(AuditVisit.status == "open", AuditVisit.due_on < day) \
            .order_by(AuditVisit.due_on, AuditVisit.id)
    if state == "open":  # open and not yet late, the nearest due first
        return query.where(AuditVisit.status == "open", AuditVisit.due_on >= day) \
            .order_by(AuditVisit.due_on, AuditVisit.id)
    if state == "done":
        return query.where(AuditVisit.status == "done").order_by(AuditVisit.done_at.desc(), AuditVisit.id.desc())
    if state == "cancelled":
        return query.where(AuditVisit.status == "cancelled").order_by(AuditVisit.due_on.desc(), AuditVisit.id.desc())
    if state == "unassigned":
        return query.where(AuditVisit.status == "open", AuditVisit.auditor_id.is_(None)) \
            .order_by(AuditVisit.due_on, AuditVisit.id)
    return query.order_by(AuditVisit.due_on.desc(), AuditVisit.id.desc())


def mine(auditor: User, state: str, day: date):
    """An auditor's tab (index-backed: auditor, status, due date)."""
    return _loaded(in_state(visible(auditor).where(AuditVisit.auditor_id == auditor.id), state, day))


@dataclass
class HomeVisits:
    overdue: list
    due: list
    done: list
    counts: dict


def home(auditor: User, day: date) -> HomeVisits:
    """The auditor's home section: a few of each group and how many there are (counted by the
    database; the full lists are paged on /audits/visits/)."""
    from_db = {}
    lists = {}
    for state in STATES:
        query = in_state(visible(auditor).where(AuditVisit.auditor_id == auditor.id), state, day)
        from_db[state] = count_of(query)
        lists[state] = list(db.session.scalars(_loaded(query).limit(HOME_LIMIT)).unique()) if from_db[state] else []
    return HomeVisits(lists["overdue"], lists["open"], lists["done"], from_db)


def count_of(query) -> int:
    return count(query)


def managed(user: User, day: date, *, status: str = "", period: str = "", region_id: int | None = None,
            auditor_id: int | None = None):
    """A trainer's list, filtered (status includes "unassigned": open with nobody to go)."""
    query = visible(user)
    if period:
        query = query.where(AuditVisit.period == period)
    if region_id is not None:
        query = query.where(AuditVisit.outlet_id.in_(
            select(Outlet.id).join(Province, Province.id == Outlet.province_id).where(Province.region_id == region_id)))
    if auditor_id is not None:
        query = query.where(AuditVisit.auditor_id == auditor_id)
    return _loaded(in_state(query, status, day))


def get_visible(user: User, visit_id: int) -> AuditVisit | None:
    return db.session.scalar(visible(user).where(AuditVisit.id == visit_id))


def is_overdue(visit: AuditVisit, day: date) -> bool:
    return visit.status == "open" and visit.due_on < day


def handed_back_by(visit: AuditVisit) -> set[int]:
    return {row.auditor_id for row in visit.handbacks if row.auditor_id is not None}


def _where(visit: AuditVisit) -> dict:
    outlet = db.session.get(Outlet, visit.outlet_id) if visit.outlet_id else None
    return both(outlet.name_zh, outlet.name_en) if outlet else both("—", "—")


def _tell_auditor(visit: AuditVisit, auditor_id: int) -> None:
    notify(auditor_id, "audit-visit", f"audit-visit:{visit.id}:{auditor_id}",
           msg("audit.visit-assigned", name=visit.technician.display_name, outlet=_where(visit), day=visit.due_on),
           f"/audits/visits/{visit.id}")


def _tell_trainers(visit: AuditVisit) -> None:
    """Every active trainer but the visit's technician (who is never told)."""
    trainers = select(User.id).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == "trainer", User.active.is_(True), User.id != visit.technician_id)
    notify_many(trainers, "audit-visit", f"audit-visit-unassigned:{visit.id}:{len(visit.handbacks)}",
                msg("audit.visit-unassigned", name=visit.technician.display_name, outlet=_where(visit),
                    day=visit.due_on), f"/audits/visits/{visit.id}")


def _locked_open(visit_id: int) -> AuditVisit:
    """The visit, locked for this transaction while it is open: an UPDATE that matches only an
    open visit takes the row lock (PostgreSQL) or the write lock (SQLite, where FOR UPDATE does
    nothing), so a double hand-back, a hand-back and an assignment, or a report linking it at the
    same moment are taken in turn and each sees what the one before it did."""
    table = AuditVisit.__table__
    claimed = db.session.execute(table.update().where(table.c.id == visit_id, table.c.status == "open")
                                 .values(status=table.c.status)).rowcount
    visit = db.session.scalar(select(AuditVisit).where(AuditVisit.id == visit_id)
                                .execution_options(populate_existing=True))
    if not claimed or visit is None or visit.status != "open":
        db.session.rollback()
        raise VisitError(_("This visit is no longer open."))
    return visit


def hand_back(visit: AuditVisit, auditor: User, reason: str, now: datetime) -> AuditVisitHandback:
    """The holder gives an open visit back with a reason: it goes to the next auditor of the
    region (never one who handed it back, never its technician's outlet, never the technician),
    who is told through the bell; with nobody left it is unassigned and the trainers are told."""
    reason = (reason or "").strip()
    if not reason:
        raise VisitError(_("Say why you hand this visit back."), "reason")
    if len(reason) > MAX_REASON:
        raise VisitError(_("At most %(n)d characters.", n=MAX_REASON), "reason")
    refused = check_text(_("Reason"), reason, multiline=True)
    if refused:
        raise VisitError(refused, "reason")
    visit = _locked_open(visit.id)
    if visit.auditor_id != auditor.id:
        db.session.rollback()
        raise VisitError(_("Only the auditor who holds a visit hands it back."))
    try:
        row = AuditVisitHandback(visit_id=visit.id, auditor_id=auditor.id, reason=reason, at=now)
        db.session.add(row)
        db.session.flush()
        db.session.refresh(visit, ["handbacks"])
        chosen = assigning.reassign(visit, handed_back_by(visit) | {auditor.id})
        row.reassigned_to_id = chosen
        visit.assigned_at = now if chosen else None
        db.session.flush()
        if chosen is not None:
            _tell_auditor(visit, chosen)
        else:
            _tell_trainers(visit)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row


def assignable(visit: AuditVisit, by: User | None = None) -> list[User]:
    """Auditors a trainer (``by``, never given it themselves) may give this visit to: active, not
    from the technician's outlet (at the draw or now), not the technician, not one who handed it
    back, not the one holding it now. Those of the visit's region first, then the rest (by name)."""
    refused = handed_back_by(visit) | {visit.technician_id}
    if visit.auditor_id is not None:
        refused.add(visit.auditor_id)
    if by is not None:
        refused.add(by.id)
    query = select(User).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == "auditor", User.active.is_(True), User.id.not_in(refused))
    outlets = {o for o in (visit.outlet_id, visit.technician.outlet_id) if o is not None}
    if outlets:
        query = query.where((User.outlet_id.is_(None)) | (User.outlet_id.not_in(outlets)))
    people = list(db.session.scalars(query.options(joinedload(User.outlet).joinedload(Outlet.province))).unique())
    region = assigning.region_of(visit.outlet_id)

    def near(user: User) -> tuple:
        same = user.outlet is not None and user.outlet.province.region_id == region
        return (not same, user.display_name)
    return sorted(people, key=near)


def assign(visit: AuditVisit, trainer: User, auditor: User | None, now: datetime) -> AuditVisit:
    """A trainer gives an open visit (unassigned or held) to an auditor, under the draw's rules.
    A trainer who is the visit's technician cannot (nobody decides about themselves)."""
    if not trainer.has_role("trainer"):
        raise VisitError(_("Only trainers assign visits."))
    refuse_self(trainer, visit.technician_id, VisitError)
    if auditor is None:
        raise VisitError(_("Choose the auditor."), "auditor")
    visit = _locked_open(visit.id)
    if auditor.id not in {u.id for u in assignable(visit, trainer)}:
        db.session.rollback()
        raise VisitError(_("%(name)s cannot make this visit: an active auditor, not from the technician's outlet, "
                           "not the technician, and not one who handed it back or holds it.",
                           name=auditor.display_name), "auditor")
    try:
        visit.auditor_id, visit.assigned_at = auditor.id, now
        db.session.flush()
        _tell_auditor(visit, auditor.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return visit


def programme_of(visit: AuditVisit) -> AuditProgramme:
    return db.session.get(AuditProgramme, visit.programme_id)


def open_visit_for(auditor: User, visit_id: int) -> AuditVisit | None:
    """The auditor's own open visit (to pre-fill a new report), or None."""
    return db.session.scalar(visible(auditor).where(AuditVisit.id == visit_id, AuditVisit.auditor_id == auditor.id,
                                                    AuditVisit.status == "open"))


@dataclass
class Row:
    """A visit as a list shows it: with its outlet and programme, loaded for the whole page at once."""
    visit: AuditVisit
    outlet: Outlet | None
    programme: AuditProgramme | None
    overdue: bool


def rows(visits: list[AuditVisit], day: date) -> list[Row]:
    outlet_ids = {v.outlet_id for v in visits if v.outlet_id}
    programme_ids = {v.programme_id for v in visits}
    outlets = {o.id: o for o in db.session.scalars(select(Outlet).where(Outlet.id.in_(outlet_ids)))} \
        if outlet_ids else {}
    programmes = {p.id: p for p in db.session.scalars(select(AuditProgramme).where(
        AuditProgramme.id.in_(programme_ids)))} if programme_ids else {}
    return [Row(v, outlets.get(v.outlet_id), programmes.get(v.programme_id), is_overdue(v, day)) for v in visits]


@dataclass
class Tidied:
    cancelled: int = 0
    reassigned: int = 0
    unassigned: int = 0


def tidy_open(now: datetime) -> Tidied:
    """``flask daily``: open visits whose people changed since the draw. A technician no longer
    active (or no longer a technician, or suspended where the programme keeps the suspended out)
    is not visited: the visit is cancelled. An auditor no longer active or no longer an auditor
    holds nothing: the visit goes to the next auditor (told through the bell), or, with nobody
    left, stays unassigned and the trainers are told. One transaction per visit changed."""
    done = Tidied()
    is_technician = select(UserRole.user_id).where(UserRole.role == "technician")
    is_auditor = select(UserRole.user_id).where(UserRole.role == "auditor")
    suspended = set(CERTIFICATES["suspended_users"]()) if "suspended_users" in CERTIFICATES else set()
    leaving = select(AuditVisit.id, AuditVisit.programme_id, AuditVisit.technician_id).join(
        User, User.id == AuditVisit.technician_id).where(AuditVisit.status == "open")
    gone = set(db.session.scalars(leaving.with_only_columns(AuditVisit.id).where(
        (User.active.is_(False)) | (User.id.not_in(is_technician)))))
    if suspended:
        keeps_out = {p.id for p in db.session.scalars(select(AuditProgramme))
                     if ((p.spec or {}).get("blackout") or {}).get("suspended")}
        gone |= {vid for vid, pid, tid in db.session.execute(leaving.where(AuditVisit.technician_id.in_(suspended)))
                 if pid in keeps_out}
    for visit_id in sorted(gone):
        try:
            visit = _locked_open(visit_id)
        except VisitError:
            continue
        visit.status = "cancelled"
        db.session.commit()
        done.cancelled += 1
    orphaned = db.session.scalars(select(AuditVisit.id).join(User, User.id == AuditVisit.auditor_id).where(
        AuditVisit.status == "open", (User.active.is_(False)) | (User.id.not_in(is_auditor)))).all()
    for visit_id in orphaned:
        try:
            visit = _locked_open(visit_id)
        except VisitError:
            continue
        chosen = assigning.reassign(visit, handed_back_by(visit) | {visit.auditor_id})
        visit.assigned_at = now if chosen else None
        db.session.flush()
        if chosen is not None:
            _tell_auditor(visit, chosen)
            done.reassigned += 1
        else:
            _tell_trainers(visit)
            done.unassigned += 1
        db.session.commit()
    return done
