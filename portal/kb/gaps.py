"""Search gaps: searches that found nothing, or found something nobody opened.

The figure (how many distinct queries were gaps in the last 30 days) and the report (per query:
searches, no results, nothing opened, an example, the last time) read the kept per-day rows of
``kb_search_gap_day`` — at most (days × distinct queries) rows — instead of grouping the whole
search log. A row is written in the same transaction as its search log row by one
INSERT … ON CONFLICT DO UPDATE (concurrent searches add up, none is lost), and its ``unopened``
is lowered when a search is flipped to opened (only the request that flips it lowers it).

The day of a search is its ``created_at`` date in UTC. "The last N days" is every UTC day from
the date of (now − N days) to today: it starts at midnight UTC of that date, so it reaches up to
a day further back than the rolling ``created_at >= now − N days``. The figure and the report
use the same window, so the figure equals the number of lines of the 30-day report. The live
functions (``live_figure``, ``live_rows``) compute the same from the log with that window; the
tests hold the kept rows to them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import bindparam, case, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from .models import SearchGapDay, SearchLog

FIGURE_DAYS = 30
REPORT_LIMIT = 200


def since_day(days: int, now: datetime | None = None) -> date:
    """The first UTC day of the last ``days`` days."""
    return ((now or utcnow()) - timedelta(days=days)).astimezone(timezone.utc).date()


def day_of(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).date()


def _insert(model):
    """The dialect's INSERT (with ON CONFLICT DO UPDATE: PostgreSQL, SQLite ≥ 3.24)."""
    return (postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite).insert(model)


# --- kept: written by the events ----------------------------------------------------------------


def log_search(query: str, norm: str, lang: str, results: int, user_id: int | None = None,
               created_at: datetime | None = None) -> SearchLog:
    """Add one search to the log and to its day's kept counts (the caller commits)."""
    created_at = created_at or utcnow()
    entry = SearchLog(query=query, norm=norm, lang=lang, results=results, user_id=user_id,
                      created_at=created_at)
    db.session.add(entry)
    insert = _insert(SearchGapDay).values(
        day=day_of(created_at), norm=norm, searches=1, no_results=1 if results == 0 else 0,
        unopened=1 if results > 0 else 0, example=query, last_at=created_at)
    db.session.execute(insert.on_conflict_do_update(
        index_elements=["day", "norm"],
        set_={"searches": SearchGapDay.searches + 1,
              "no_results": SearchGapDay.no_results + insert.excluded.no_results,
              "unopened": SearchGapDay.unopened + insert.excluded.unopened,
              "example": case((insert.excluded.example > SearchGapDay.example, insert.excluded.example),
                              else_=SearchGapDay.example),
              "last_at": case((insert.excluded.last_at > SearchGapDay.last_at, insert.excluded.last_at),
                              else_=SearchGapDay.last_at)}))
    return entry


def flip_opened(entry: SearchLog) -> bool:
    """Mark the search opened; lower its day's unopened count when this call is the one that
    flipped it (a conditional UPDATE, so two concurrent opens lower it once). The caller commits."""
    flipped = db.session.execute(
        update(SearchLog).where(SearchLog.id == entry.id, SearchLog.opened.is_(False))
        .values(opened=True).execution_options(synchronize_session=False)).rowcount == 1
    if flipped and entry.results > 0:
        db.session.execute(
            update(SearchGapDay).where(SearchGapDay.day == day_of(entry.created_at),
                                       SearchGapDay.norm == entry.norm)
            .values(unopened=SearchGapDay.unopened - 1).execution_options(synchronize_session=False))
    return flipped


# --- read: the figure and the report ------------------------------------------------------------


def figure(days: int = FIGURE_DAYS) -> int:
    """Distinct queries that were a gap at least once in the last ``days`` days."""
    # Counted over a GROUP BY (a hash aggregate on PostgreSQL: 5 ms on 10,800 day rows, where
    # count(DISTINCT) sorts them: 8 ms).
    norms = (select(SearchGapDay.norm)
             .where(SearchGapDay.day >= since_day(days),
                    (SearchGapDay.no_results > 0) | (SearchGapDay.unopened > 0))
             .group_by(SearchGapDay.norm).subquery())
    return db.session.scalar(select(func.count()).select_from(norms)) or 0


def rows(days: int, limit: int | None = REPORT_LIMIT) -> list:
    """The report's lines: (norm, searches, no_results, unopened, example, last), most gaps first."""
    searches = func.sum(SearchGapDay.searches)
    no_results = func.sum(SearchGapDay.no_results)
    unopened = func.sum(SearchGapDay.unopened)
    stmt = (select(SearchGapDay.norm, searches.label("searches"), no_results.label("no_results"),
                   unopened.label("unopened"), func.max(SearchGapDay.example).label("example"),
                   func.max(SearchGapDay.last_at).label("last"))
            .where(SearchGapDay.day >= since_day(days))
            .group_by(SearchGapDay.norm)
            .having((no_results + unopened) > 0)
            .order_by((no_results + unopened).desc(), searches.desc(), SearchGapDay.norm))
    return db.session.execute(stmt if limit is None else stmt.limit(limit)).all()


# --- live: the same from the search log (the reference the tests hold the kept rows to) ---------


def _live_since(days: int) -> datetime:
    return datetime.combine(since_day(days), time(0), timezone.utc)


def live_figure(days: int = FIGURE_DAYS) -> int:
    return db.session.scalar(select(func.count(func.distinct(SearchLog.norm))).where(
        SearchLog.created_at >= _live_since(days),
        (SearchLog.results == 0) | SearchLog.opened.is_(False))) or 0


def live_rows(days: int, limit: int | None = REPORT_LIMIT) -> list:
    no_results = func.sum(case((SearchLog.results == 0, 1), else_=0))
    unopened = func.sum(case(((SearchLog.results > 0) & SearchLog.opened.is_(False), 1), else_=0))
    stmt = (select(SearchLog.norm, func.count().label("searches"), no_results.label("no_results"),
                   unopened.label("unopened"), func.max(SearchLog.query).label("example"),
                   func.max(SearchLog.created_at).label("last"))
            .where(SearchLog.created_at >= _live_since(days))
            .group_by(SearchLog.norm)
            .having((no_results + unopened) > 0)
            .order_by((no_results + unopened).desc(), func.count().desc(), SearchLog.norm))
    return db.session.execute(stmt if limit is None else stmt.limit(limit)).all()


# --- fill: the kept rows from the log (the migration; ``rebuild``) -------------------------------


def fill_sql(dialect: str, since: bool = False) -> str:
    """INSERT…SELECT of every day's rows from the search log (the kept table must be empty), or,
    with ``since``, of the days from the bound parameter ``:since`` (a UTC midnight) on."""
    day = "(created_at AT TIME ZONE 'UTC')::date" if dialect == "postgresql" else "date(created_at)"
    return f"""
INSERT INTO kb_search_gap_day (day, norm, searches, no_results, unopened, example, last_at)
SELECT {day}, norm, count(*),
       sum(CASE WHEN results = 0 THEN 1 ELSE 0 END),
       sum(CASE WHEN results > 0 AND NOT opened THEN 1 ELSE 0 END),
       max(query), max(created_at)
FROM kb_search_log
{"WHERE created_at >= :since" if since else ""}
GROUP BY {day}, norm"""


def rebuild() -> None:
    """Recompute the kept rows of the days the search log holds, from the UTC day of its oldest
    row on (the caller commits). The days before, whose raw rows ``flask daily`` removed after
    ``SEARCH_LOG_DAYS`` (whole days: kb/retention.py), keep their counts."""
    oldest = db.session.scalar(select(func.min(SearchLog.created_at)))
    if oldest is None:
        return
    since = datetime.combine(day_of(oldest), time(0), timezone.utc)
    db.session.execute(delete(SearchGapDay).where(SearchGapDay.day >= since.date())
                       .execution_options(synchronize_session=False))
    fill = text(fill_sql(db.session.get_bind().dialect.name, since=True)).bindparams(
        bindparam("since", since, type_=UTCDateTime()))
    db.session.execute(fill)
