"""Retention: what ``flask daily`` removes once it has served its purpose (each domain decides
what; this is how). Rows go in batches, each committed on its own, so a network-size table is
never read whole and a long run never holds one long transaction; files go after the rows that
named them are committed (a file already missing is not an error)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, inspect, select

from .dbtypes import utcnow
from .extensions import db


def days_ago(days: int, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=days)


def delete_in_batches(model, *where, batch: int, returning: Iterable = ()) -> Iterator[list]:
    """Delete the rows of ``model`` that match ``where``, ``batch`` at a time, committing each
    batch. Yields, after each commit, the rows the batch removed (the primary key, then the
    ``returning`` columns). The conditions are checked again by the DELETE itself, so a row that
    stopped matching since it was picked stays."""
    key = inspect(model).primary_key[0]
    while True:
        ids = db.session.scalars(select(key).where(*where).order_by(key).limit(batch)).all()
        if not ids:
            return
        removed = db.session.execute(
            delete(model).where(key.in_(ids), *where).returning(key, *returning)
            .execution_options(synchronize_session=False)).all()
        db.session.commit()
        if not removed:  # every picked row changed meanwhile: the next run sees them again
            return
        yield removed


def remove_files(folder: Path, names: Iterable[str]) -> int:
    """Remove these files of ``folder``; returns how many were there."""
    removed = 0
    for name in names:
        if not name or Path(name).name != name:  # only a plain file name of that folder
            continue
        path = folder / name
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed
