"""What the knowledge base lets go of (run by ``flask daily``; how: portal/retention.py).

* The index change log (``kb_index_change``): the rows every host has applied. Hosts report
  their place (``kb_index_host``, kb/indexing.py); a host not heard from for ``KB_HOST_DAYS``
  days is forgotten and holds nothing back (it rebuilds its index when it returns, if the log
  moved past it). The row the slowest host stands at stays, and so does the last row (the ids go
  on from it) and every row of the last day (a host building its index reports only when done).
* The search log (``kb_search_log``): rows from before the first UTC day of the last
  ``SEARCH_LOG_DAYS`` days. The gap figure and report read the kept daily counts
  (``kb_search_gap_day``, kb/gaps.py), which stay; opening a result flips a search of the same
  page view, long inside the period.
* Photos of rejected contributions: ``REJECTED_PHOTO_DAYS`` after the rejection, the row and the
  file (a photo that belongs to a case is never one of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, func, select

from ..dbtypes import utcnow
from ..extensions import db
from ..retention import days_ago, delete_in_batches, remove_files
from .gaps import since_day
from .models import Contribution, IndexChange, IndexHost, Photo, SearchLog
from .photos import photo_folder

# Rows younger than this stay whatever the hosts say: a host building a new index reports its
# place only when the build is done.
CHANGE_LOG_GRACE = timedelta(days=1)


@dataclass
class ChangeLogPrune:
    removed: int = 0
    forgotten: int = 0  # hosts not heard from for KB_HOST_DAYS days
    hosts: int = 0  # hosts holding the log back


def keep_change_log_from(now: datetime) -> int | None:
    """The first change-log id to keep (the rows before it go), or None when the log is empty."""
    latest = db.session.scalar(select(func.max(IndexChange.id)))
    if latest is None:
        return None
    slowest = db.session.scalar(select(func.min(IndexHost.applied)))
    recent = db.session.scalar(select(func.min(IndexChange.id)).where(IndexChange.created_at >= now - CHANGE_LOG_GRACE))
    return min(x for x in (latest, slowest, recent) if x is not None)


def prune_change_log(now: datetime | None = None) -> ChangeLogPrune:
    now = now or utcnow()
    report = ChangeLogPrune()
    report.forgotten = db.session.execute(
        delete(IndexHost).where(IndexHost.seen_at < days_ago(current_app.config["KB_HOST_DAYS"], now))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    report.hosts = db.session.scalar(select(func.count()).select_from(IndexHost)) or 0
    keep_from = keep_change_log_from(now)
    if keep_from is not None:
        for removed in delete_in_batches(IndexChange, IndexChange.id < keep_from,
                                         batch=current_app.config["RETENTION_BATCH"]):
            report.removed += len(removed)
    return report


def search_log_cutoff(now: datetime | None = None) -> datetime:
    """Midnight UTC of the first day kept: whole days go, so every day the log still holds is
    complete (``gaps.rebuild`` recounts those and keeps the days before as they are)."""
    return datetime.combine(since_day(current_app.config["SEARCH_LOG_DAYS"], now), time(0), timezone.utc)


def prune_search_log(now: datetime | None = None) -> int:
    cutoff = search_log_cutoff(now)
    return sum(len(removed) for removed in delete_in_batches(
        SearchLog, SearchLog.created_at < cutoff, batch=current_app.config["RETENTION_BATCH"]))


def prune_rejected_photos(now: datetime | None = None) -> tuple[int, int]:
    """(photos removed, files of them that were still there)."""
    rejected_before = days_ago(current_app.config["REJECTED_PHOTO_DAYS"], now)
    rejected = select(Contribution.id).where(Contribution.status == "rejected",
                                             Contribution.reviewed_at < rejected_before)
    rows = files = 0
    folder = photo_folder()
    for removed in delete_in_batches(Photo, Photo.contribution_id.in_(rejected), Photo.case_id.is_(None),
                                     batch=current_app.config["RETENTION_BATCH"], returning=(Photo.name,)):
        rows += len(removed)
        files += remove_files(folder, (name for _id, name in removed))
    return rows, files
