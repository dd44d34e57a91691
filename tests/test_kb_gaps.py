"""The kept search gaps (kb_search_gap_day) equal the live computation from the search log."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta, timezone

from flask_migrate import upgrade
from sqlalchemy import inspect, select

from portal.dbtypes import utcnow
from portal.extensions import db
from portal.kb import gaps
from portal.kb.models import SearchGapDay, SearchLog
from portal.kb.search_service import mark_opened

from .conftest import login
from .test_migrations import _fresh_app

# Queries typed differently share a normalised query ("E1" and "e1").
QUERIES = [("E1", "e1"), ("e1", "e1"), ("no heat", "no heat"), ("No Heat", "no heat"), ("变频板", "变频板"),
           ("plasma ionizer", "plasma ionizer"), ("E9 fault", "e9 fault"), ("drain", "drain")]


def _kept_rows():
    return [tuple(r) for r in db.session.execute(
        select(SearchGapDay.day, SearchGapDay.norm, SearchGapDay.searches, SearchGapDay.no_results,
               SearchGapDay.unopened, SearchGapDay.example, SearchGapDay.last_at)
        .order_by(SearchGapDay.day, SearchGapDay.norm))]


def _random_history(rng, users, steps=160):
    now = utcnow()
    people = [users["technician"], users["trainer"], None]
    for _ in range(steps):
        if rng.random() < 0.3:
            ids = db.session.scalars(select(SearchLog.id)).all()
            if ids:
                entry = db.session.get(SearchLog, rng.choice(ids))
                who = entry.user_id and db.session.get(type(users["technician"]), entry.user_id)
                if rng.random() < 0.2:  # someone else: not marked
                    who = users["trainer"] if entry.user_id != users["trainer"].id else users["technician"]
                mark_opened(entry.id, who or None)
            continue
        query, norm = rng.choice(QUERIES)
        # Around the 1-, 7-, 30- and 90-day boundaries, and today.
        back = rng.choice([0, 0.5, 1, 6.9, 7, 7.1, 29.5, 30, 30.2, 31, 89.9, 90, 91, 200])
        when = now - timedelta(days=back, seconds=rng.randrange(3 * 3600))
        user = rng.choice(people)
        gaps.log_search(query, norm, "zh", rng.choice([0, 0, 1, 4]), user.id if user else None, created_at=when)
        db.session.commit()


def test_kept_gaps_equal_the_live_computation_after_random_searches_and_opens(app, users):
    rng = random.Random(13)
    for _round in range(3):
        _random_history(rng, users)
        assert gaps.figure() == gaps.live_figure() > 0
        for days in (1, 7, 30, 90, 365):
            assert [tuple(r) for r in gaps.rows(days, None)] == [tuple(r) for r in gaps.live_rows(days, None)]
            assert [tuple(r) for r in gaps.rows(days, 3)] == [tuple(r) for r in gaps.live_rows(days, 3)]
        assert gaps.figure(30) == len(gaps.rows(30, None))
        kept = _kept_rows()  # the rows kept by the events are the rows a refill from the log gives
        gaps.rebuild()
        db.session.commit()
        assert _kept_rows() == kept


def test_the_figure_equals_the_lines_of_the_report_and_its_export(app, client, users):
    rng = random.Random(7)
    _random_history(rng, users, steps=80)
    figure = gaps.figure(30)
    assert figure > 0
    login(client, "trainer")
    home = client.get("/dashboard/").get_data(as_text=True)
    assert f'<span class="stat">{figure}</span>' in home
    page = client.get("/cases/reports/gaps?days=30").get_data(as_text=True)
    assert page.count("<tr data-gap>") == figure
    exported = list(csv.reader(io.StringIO(client.get("/cases/reports/gaps?days=30&format=csv")
                                           .get_data(as_text=True).lstrip("\ufeff"))))
    live = gaps.live_rows(30)
    assert [line[:5] for line in exported[1:]] == [
        [r.norm, str(r.searches), str(r.no_results), str(r.unopened), r.example] for r in live]
    assert [line[5] for line in exported[1:]] == [r.last.isoformat() for r in live]


def test_an_open_lowers_its_days_unopened_count_once(app, users):
    tech = users["technician"]
    then = datetime(2026, 1, 2, 23, 59, tzinfo=timezone.utc)
    first = gaps.log_search("E1", "e1", "zh", 3, tech.id, created_at=then)
    gaps.log_search("e1", "e1", "zh", 0, tech.id, created_at=then + timedelta(minutes=2))  # the next UTC day
    gaps.log_search("E1", "e1", "zh", 2, tech.id, created_at=then - timedelta(hours=1))
    db.session.commit()
    mark_opened(first.id, tech)
    mark_opened(first.id, tech)
    rows = {r[0].isoformat(): r[2:] for r in _kept_rows()}
    assert rows == {"2026-01-02": (2, 0, 1, "E1", then), "2026-01-03": (1, 1, 0, "e1", then + timedelta(minutes=2))}


def test_the_migration_fills_the_kept_rows_from_the_log(backend, tmp_path, request):
    app = _fresh_app(backend, tmp_path, request)
    with app.app_context():
        upgrade(revision="d9e2a7c4b168")
        assert "kb_search_gap_day" not in inspect(db.engine).get_table_names()
        rng = random.Random(5)
        now = utcnow()
        for n in range(120):
            query, norm = rng.choice(QUERIES)
            results = rng.choice([0, 2])
            db.session.add(SearchLog(query=query, norm=norm, lang="zh", results=results,
                                     opened=bool(results and n % 3),
                                     created_at=now - timedelta(days=rng.choice([0, 3, 29.9, 30, 31, 100]),
                                                                seconds=rng.randrange(86400))))
        db.session.commit()
        upgrade(revision="e1a4c7d92b35")
        assert _kept_rows()
        assert gaps.figure() == gaps.live_figure() > 0
        for days in (1, 30, 90, 365):
            assert [tuple(r) for r in gaps.rows(days, None)] == [tuple(r) for r in gaps.live_rows(days, None)]
        db.session.remove()
        db.engine.dispose()


def test_gaps_rebuild_keeps_rows_written_without_the_app(app, runner, users):
    """A bulk load writes the search log directly: ``flask search gaps-rebuild`` keeps its gaps."""
    now = utcnow()
    for n, (query, norm) in enumerate(QUERIES * 3):
        db.session.add(SearchLog(query=query, norm=norm, lang="zh", results=n % 3, opened=n % 4 == 1,
                                 created_at=now - timedelta(days=n * 2.5)))
    db.session.commit()
    assert gaps.figure() == 0 < gaps.live_figure()
    result = runner.invoke(args=["search", "gaps-rebuild"])
    assert result.exit_code == 0, result.output
    assert gaps.figure() == gaps.live_figure()
    assert [tuple(r) for r in gaps.rows(90, None)] == [tuple(r) for r in gaps.live_rows(90, None)]
