"""The eligibility board at network size: one kept row per (technician, tier)
(``EligibilityStatus``) instead of every technician × tier decided on each request.

How the kept rows stay equal to the live decision (``rules.eligibility``):

* **Marked stale in the same transaction as the change.** A listener on every flush of the
  ORM session (``connect``, called by ``create_app``) looks at what the flush writes. A change
  to a row that belongs to one technician (an attempt, a sign-off, lesson progress, an audit or
  its amendment, a certificate or its log, a contribution, the user or their roles) marks that
  technician's rows stale; a change to what every decision reads (a tier, an assignment, a
  course, module, lesson or task, a quiz, an outlet or province) marks every row stale. The
  mark is ``UPDATE … SET stale = true, version = version + 1`` on the flush's own connection, so
  it commits or rolls back with the change. The lower modules import nothing from here.
* **Dates.** Certificates expire, time at the tier below accrues, audits leave the window and
  a new quarterly course becomes current, with no change to mark anything. Each row keeps the
  first day its decision can change so (``recheck_on``, from ``eligibility.changes_on``) and is
  stale from that day: the condition is in ``is_stale``, so nothing has to run at midnight, and
  a day passing makes stale only the rows whose day has come, not the whole board.
* **Refreshed where it is needed, in batches.** A page refreshes the stale rows of the
  technicians it shows and, within ``REQUEST_BUDGET``, other stale rows before it filters on
  the kept figures; ``flask daily`` refreshes every stale row. A refresh decides its rows tier
  by tier with the facts of all their technicians gathered at once (``rules.standings``), so
  a change that marks every row (a tier's rules, a content load) costs a few queries per
  ``BATCH`` rows, not a dozen per row. The page says how many figures still await a
  refresh and as of when the figures were decided.
* **No lost mark.** A refresh reads the row's version before deciding and writes its result
  only ``WHERE version`` is still that one: a change committed meanwhile leaves the row stale.
  Missing rows are first inserted stale (and committed), so a change made while the first
  decision is under way has a row to mark.

Audit results from outside providers (``rules.AUDIT_PROVIDERS``) are not seen by the listener:
such a provider must call ``mark_users`` itself when its results change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, bindparam, event, exists, func, inspect, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from ..assessment.models import Attempt, Quiz
from ..audits.models import Audit, AuditAmendment
from ..auth.models import Outlet, Province, User, UserRole
from ..auth.services import in_place, technicians_query
from ..dbtypes import utcnow
from ..extensions import db
from ..kb.models import Contribution
from ..learning.models import Assignment, Course, CourseModule, Lesson, LessonProgress, PracticalTask, SignOff
from .models import Certificate, CertificateEvent, EligibilityStatus, Tier
from .rules import standings

REQUEST_BUDGET = 300  # stale rows a page may refresh besides its own before filtering and counting
BATCH = 1000  # rows refreshed per transaction by ``refresh_all`` (decided together: see ``_refresh_rows``)

# Whose rows a change concerns: the attribute naming the technician.
ONE_USER = {Attempt: "user_id", SignOff: "user_id", LessonProgress: "user_id", Audit: "technician_id",
            Certificate: "user_id", Contribution: "author_id", User: "id", UserRole: "user_id"}
# Changes every decision may read.
EVERYONE = (Tier, Assignment, Course, CourseModule, Lesson, PracticalTask, Quiz, Outlet, Province)

T = EligibilityStatus


# --- marking ----------------------------------------------------------------------------------


def _owner(session: Session, obj) -> int | None:
    attr = ONE_USER.get(type(obj))
    if attr is not None:
        return getattr(obj, attr)
    if isinstance(obj, AuditAmendment):
        audit = obj.audit if obj.audit is not None else session.get(Audit, obj.audit_id)
        return audit.technician_id if audit is not None else None
    if isinstance(obj, CertificateEvent):
        cert = obj.certificate
        return cert.user_id if cert is not None else None
    return None


def affected(session: Session) -> tuple[set[int], bool]:
    """(technicians whose rows this flush may change, whether it may change everyone's)."""
    users: set[int] = set()
    changed = [o for o in session.dirty if session.is_modified(o, include_collections=False)]
    for obj in [*session.new, *changed, *session.deleted]:
        if isinstance(obj, Attempt) and obj.status == "open":
            continue  # decisions read graded attempts only; an exam-taker's saves change an open one
        if isinstance(obj, EVERYONE):
            return users, True
        owner = _owner(session, obj)
        if owner is not None:
            users.add(owner)
    return users, False


_SCHEMA_SEEN: set[str] = set()  # databases known to have the table (a database never loses it)


def _has_table(connection) -> bool:
    """False on a database not yet upgraded to the table (a migration using the ORM, say):
    there is nothing to mark there. Looked up until found, then remembered."""
    key = connection.engine.url.render_as_string(hide_password=True)
    if key not in _SCHEMA_SEEN and inspect(connection).has_table(T.__tablename__):
        _SCHEMA_SEEN.add(key)
    return key in _SCHEMA_SEEN


def _mark(connection, users: Iterable[int] | None) -> None:
    if not _has_table(connection):
        return
    stmt = update(T.__table__).values(stale=True, version=T.__table__.c.version + 1)
    if users is not None:
        users = sorted(set(users))
        if not users:
            return
        stmt = stmt.where(T.__table__.c.user_id.in_(users))
    connection.execute(stmt)


def _after_flush(session: Session, _context) -> None:
    users, everyone = affected(session)
    if everyone:
        _mark(session.connection(), None)
    elif users:
        _mark(session.connection(), users)
    new_technicians = {o.user_id for o in session.new if isinstance(o, UserRole) and o.role == "technician"}
    new_tiers = {o.id for o in session.new if isinstance(o, Tier)}
    if (new_technicians or new_tiers) and _has_table(session.connection()):
        # Their rows exist from the start (stale), so the board's filters and counts see them.
        _insert_pairs(session.connection(), _technicians_select(list(new_technicians) or None), new_tiers or None)


def mark_users(user_ids: Iterable[int]) -> None:
    """Mark these technicians' rows stale in the current transaction (for changes made by
    statements the flush listener does not see)."""
    _mark(db.session.connection(), user_ids)


def mark_everyone() -> None:
    _mark(db.session.connection(), None)


def connect() -> None:
    """Listen to every flush (once per process; ``create_app`` calls this)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


# --- refreshing -------------------------------------------------------------------------------


def is_stale(today: date):
    """The SQL condition of a row that must be decided again: marked by a change, never decided,
    or its recheck day has come (the date alone may have changed it). A row decided for a later
    day than ``today`` is not trusted either."""
    return or_(T.stale.is_(True), T.computed_on.is_(None), and_(T.recheck_on.is_not(None), T.recheck_on <= today),
               T.computed_on > today)  # (no NULL comparison left bare: ``~is_stale`` must be false or true)


def _technicians_select(user_ids: list[int] | None):
    people = technicians_query().with_only_columns(User.id)
    return people if user_ids is None else people.where(User.id.in_(user_ids))


def _insert_pairs(connection, people, tier_ids: Iterable[int] | None) -> None:
    """Insert a stale row for each (technician of ``people``, tier) that has none; ``tier_ids``
    None: every active tier."""
    people_sq = people.subquery()
    tiers = Tier.active.is_(True) if tier_ids is None else Tier.id.in_(list(tier_ids))
    pairs = (select(people_sq.c.id, Tier.id, literal(True), literal(0)).select_from(people_sq).join(Tier, tiers)
             .where(~exists().where(T.user_id == people_sq.c.id, T.tier_id == Tier.id)))
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(insert(T.__table__).from_select(["user_id", "tier_id", "stale", "version"], pairs)
                       .on_conflict_do_nothing())


def _insert_missing(user_ids: list[int] | None, tier_ids: list[int]) -> None:
    """Insert a stale row for every (technician, tier) that has none (``user_ids`` None: every
    active technician), and commit, so that later changes have a row to mark. New technicians
    and tiers get theirs when they are made (``_after_flush``); this fills in the rest (rows
    from before this table, a technician who was reactivated)."""
    if not tier_ids or (user_ids is not None and not user_ids):
        return
    _insert_pairs(db.session.connection(), _technicians_select(user_ids), tier_ids)
    db.session.commit()


def _refresh_rows(rows: list[tuple[int, int, int]], today: date) -> int:
    """Decide the given (user_id, tier_id, version) rows and write each result if the row's
    version is unchanged. The facts are gathered tier by tier for all the rows' technicians at
    once (``rules.standings``: a few queries per batch, not a dozen per row). Returns how many
    were written."""
    if not rows:
        return 0
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_({r[0] for r in rows})).options(
        selectinload(User.outlet).selectinload(Outlet.province), selectinload(User.role_rows)))}
    tiers = {t.id: t for t in db.session.scalars(select(Tier).where(Tier.id.in_({r[1] for r in rows})))}
    decided: dict[tuple[int, int], dict] = {}
    for tier in tiers.values():
        ids = [r[0] for r in rows if r[1] == tier.id and r[0] in users]
        held = set(db.session.scalars(select(Certificate.user_id).where(
            Certificate.user_id.in_(ids), Certificate.tier_id == tier.id, Certificate.status != "revoked")))
        found = standings([users[i] for i in ids if i not in held], tier, today)
        for uid in ids:
            if uid in held:  # held: not eligible, nothing unmet, and time does not change that
                decided[(uid, tier.id)] = {"held": True, "eligible": False, "unmet": 0, "recheck_on": None}
            else:
                one = found[uid]
                decided[(uid, tier.id)] = {"held": False, "eligible": one.eligible, "unmet": one.unmet,
                                           "recheck_on": one.recheck_on}
    now, table = utcnow(), T.__table__
    params = [{"u": user_id, "t": tier_id, "v": version, **decided[(user_id, tier_id)]}
              for user_id, tier_id, version in rows if (user_id, tier_id) in decided]
    written = 0
    if params:  # one statement sent for the lot (executemany), each row written only at its version
        written = db.session.connection().execute(
            update(table).where(table.c.user_id == bindparam("u"), table.c.tier_id == bindparam("t"),
                                table.c.version == bindparam("v"))
            .values(held=bindparam("held"), eligible=bindparam("eligible"), unmet=bindparam("unmet"),
                    recheck_on=bindparam("recheck_on"), stale=False, computed_on=today, computed_at=now),
            params).rowcount
    db.session.commit()
    return written


def _stale_rows(today: date, tier_ids: list[int], user_ids: list[int] | None = None,
                limit: int | None = None) -> list[tuple[int, int, int]]:
    query = select(T.user_id, T.tier_id, T.version).where(is_stale(today), T.tier_id.in_(tier_ids))
    if user_ids is not None:
        query = query.where(T.user_id.in_(user_ids or [-1]))
    query = query.where(T.user_id.in_(technicians_query().with_only_columns(User.id)))
    if limit is not None:
        query = query.order_by(T.user_id, T.tier_id).limit(limit)
    return [tuple(r) for r in db.session.execute(query)]


def refresh_users(user_ids: list[int], tiers: list[Tier], today: date) -> int:
    """Make the rows of these technicians current (the page's own rows)."""
    tier_ids = [t.id for t in tiers]
    _insert_missing(user_ids, tier_ids)
    return _refresh_rows(_stale_rows(today, tier_ids, user_ids), today)


def refresh_some(tiers: list[Tier], today: date, limit: int = REQUEST_BUDGET) -> int:
    """Refresh up to ``limit`` stale rows of any technician (before a page filters on them);
    technicians without rows are left to ``refresh_all``; new ones get theirs when made."""
    return _refresh_rows(_stale_rows(today, [t.id for t in tiers], limit=limit), today)


def refresh_all(today: date, tiers: list[Tier] | None = None) -> int:
    """Every active technician's row for every active tier current (``flask daily``), in
    batches of ``BATCH`` rows, each its own transaction. Returns how many were refreshed."""
    tiers = tiers if tiers is not None else list(db.session.scalars(select(Tier).where(Tier.active)))
    tier_ids = [t.id for t in tiers]
    _insert_missing(None, tier_ids)
    total, seen = 0, set()
    while True:
        rows = [r for r in _stale_rows(today, tier_ids, limit=BATCH) if (r[0], r[1], r[2]) not in seen]
        if not rows:
            return total
        seen.update(rows)  # a row changed again meanwhile comes back with a new version
        total += _refresh_rows(rows, today)


# --- reading ----------------------------------------------------------------------------------


@dataclass
class Cell:
    tier: Tier
    held: Certificate | None
    eligible: bool
    unmet: int


@dataclass
class BoardPage:
    rows: list[tuple[User, list[Cell]]]
    total: int  # technicians matching the filters (every page)
    page: int
    pages: int
    per_page: int
    eligible_counts: dict[int, int]  # tier id → technicians of the filters eligible for it
    awaiting: int  # kept figures (whole network) not decided for today yet
    as_of: object  # when the oldest of those was decided (None: none awaits, or never decided)

    # The names of Flask-SQLAlchemy's Pagination, for the ``pager`` macro.
    has_prev = property(lambda self: self.page > 1)
    has_next = property(lambda self: self.page < self.pages)
    prev_num = property(lambda self: self.page - 1)
    next_num = property(lambda self: self.page + 1)


def technicians(region_id=None, province_id=None, outlet_id=None):
    """A select of the active technicians of a place (one row each: a user holds a role once)."""
    return in_place(technicians_query(), region_id, province_id, outlet_id)


def _eligible_for(people, tier_ids: list[int]):
    return people.where(exists().where(T.user_id == User.id, T.tier_id.in_(tier_ids), T.eligible.is_(True)))


def board_page(tiers: list[Tier], today: date, page: int = 1, per_page: int = 50, only_eligible: bool = False,
               region_id=None, province_id=None, outlet_id=None) -> BoardPage:
    """One page of the board, technicians by username, each against ``tiers``. With
    ``only_eligible``: those eligible (by the kept figures) for at least one of ``tiers``. The
    counts are SQL aggregates over the kept rows (the eligible ones through their index), every
    stale row of the network refreshed first when there are no more than ``REQUEST_BUDGET``."""
    tier_ids = [t.id for t in tiers] or [-1]
    # Before the counts and the filter read the kept figures: when few are stale (those whose
    # recheck day came today, those a change marked) they are all decided now, so the counts are
    # exact; after a change that marked many, they wait for ``flask daily`` (or the pages that
    # show them) and the page says how many.
    stale = _stale_rows(today, tier_ids, limit=REQUEST_BUDGET + 1)  # (reads no more than that)
    if len(stale) <= REQUEST_BUDGET:
        _refresh_rows(stale, today)
    people = technicians(region_id, province_id, outlet_id)
    if only_eligible:
        people = _eligible_for(people, tier_ids)
    total = db.session.scalar(people.with_only_columns(func.count(User.id))) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    user_ids = list(db.session.scalars(people.with_only_columns(User.id).order_by(User.username)
                                       .offset((page - 1) * per_page).limit(per_page)))
    refresh_users(user_ids, tiers, today)  # commits: the users are loaded after it
    found = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids or [-1])).options(
        selectinload(User.outlet), selectinload(User.role_rows)))}
    users = [found[i] for i in user_ids if i in found]
    kept = {(r.user_id, r.tier_id): r for r in db.session.scalars(
        select(T).where(T.user_id.in_(user_ids or [-1]), T.tier_id.in_(tier_ids)))}
    held = {(c.user_id, c.tier_id): c for c in db.session.scalars(select(Certificate).where(
        Certificate.user_id.in_(user_ids or [-1]), Certificate.tier_id.in_(tier_ids),
        Certificate.status != "revoked"))}
    rows = []
    for user in users:
        cells = []
        for tier in tiers:
            row = kept.get((user.id, tier.id))
            cells.append(Cell(tier, held.get((user.id, tier.id)), bool(row and row.eligible and not row.held),
                              row.unmet if row else 0))
        rows.append((user, cells))
    eligible = technicians(region_id, province_id, outlet_id).join(T, T.user_id == User.id).where(
        T.tier_id.in_(tier_ids), T.eligible.is_(True))
    counts = dict(db.session.execute(eligible.with_only_columns(T.tier_id, func.count()).group_by(T.tier_id)).all())
    return BoardPage(rows, total, page, pages, per_page, {t: counts.get(t, 0) for t in tier_ids if t > 0},
                     *freshness(today, tier_ids))


def freshness(today: date, tier_ids: list[int]) -> tuple[int, object]:
    """(kept figures of the network's technicians awaiting a refresh, when the oldest of those
    was decided — None when none awaits or none was ever decided): through the indexes on
    ``stale``, ``computed_on`` and ``recheck_on``. With none awaiting every figure is current."""
    awaiting, as_of = db.session.execute(select(func.count(), func.min(T.computed_at)).where(
        T.tier_id.in_(tier_ids), is_stale(today),
        T.user_id.in_(technicians_query().with_only_columns(User.id)))).one()  # (rows of those who left wait for nothing)
    return awaiting or 0, as_of


@dataclass
class Person:
    """A technician as the download shows them (no ORM object per row)."""

    username: str
    name: str
    outlet: object  # the Outlet, or None


EXPORT_BATCH = 500  # technicians read (and their stale rows refreshed) at a time by ``export_rows``


def export_rows(tiers: list[Tier], today: date, only_eligible: bool = False):
    """Every active technician by username with, per tier, (tier, certificate held or None,
    eligible, unmet) — the board's download. Read ``EXPORT_BATCH`` technicians at a time (by
    username, from the last one read), each batch's stale rows refreshed first, so the figures
    are current however many were stale, and memory and each step stay the size of a batch.
    With ``only_eligible``: those eligible for at least one of ``tiers``."""
    tier_ids = [t.id for t in tiers] or [-1]
    after = None
    while True:
        people = technicians().with_only_columns(User.id, User.username).order_by(User.username)
        if after is not None:
            people = people.where(User.username > after)
        batch = db.session.execute(people.limit(EXPORT_BATCH)).all()
        if not batch:
            return
        after = batch[-1][1]
        ids = [uid for uid, _name in batch]
        refresh_users(ids, tiers, today)
        found = {uid: Person(username, name, outlet_id) for uid, username, name, outlet_id in db.session.execute(
            select(User.id, User.username, User.name, User.outlet_id).where(User.id.in_(ids)))}
        outlets = {o.id: o for o in db.session.scalars(select(Outlet).where(
            Outlet.id.in_({p.outlet for p in found.values() if p.outlet is not None})))}
        for person in found.values():
            person.outlet = outlets.get(person.outlet)
        kept = {(uid, tid): (eligible, unmet) for uid, tid, eligible, unmet in db.session.execute(
            select(T.user_id, T.tier_id, T.eligible, T.unmet).where(T.user_id.in_(ids), T.tier_id.in_(tier_ids)))}
        held = {(c.user_id, c.tier_id): c for c in db.session.scalars(select(Certificate).where(
            Certificate.user_id.in_(ids), Certificate.tier_id.in_(tier_ids), Certificate.status != "revoked")
            .order_by(Certificate.id))}
        for uid in ids:
            if uid not in found:
                continue
            cells = []
            for tier in tiers:
                (eligible, unmet), cert = kept.get((uid, tier.id), (False, 0)), held.get((uid, tier.id))
                cells.append((tier, cert, bool(cert is None and eligible), unmet))
            if not only_eligible or any(eligible for _t, _c, eligible, _u in cells):
                yield found[uid], cells
        db.session.expunge_all()  # the batch is written out: keep the session the size of one
