"""The audit programme's shared rows under real concurrency: a live gunicorn with several workers,
on SQLite and on PostgreSQL. Trainers saving one programme at once from the version they opened:
exactly one save is acknowledged and it is the one kept, the others are told and change nothing.
An auditor handing one visit back from several tabs at once: one hand-back, one re-assignment."""

from __future__ import annotations

import os
import threading
from datetime import date
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from portal.audits.loader import load_templates
from portal.audits.models import AuditDraw, AuditProgramme, AuditVisit, AuditVisitHandback
from portal.audits.programme import load_programmes
from portal.auth.models import Outlet, Province, Region
from portal.auth.services import create_user
from portal.extensions import db
from portal.learning.loader import load_courses

from .conftest import BACKENDS, PASSWORD, ROOT_DIR, csrf_from, make_app
from .test_production import Browser, _free_port, serve

TABS = 4


class FormFields(HTMLParser):
    """The values a browser would post from the page's form carrying the attribute ``marker``
    (inputs, checked boxes, selected options, textareas)."""

    def __init__(self, marker: str):
        super().__init__()
        self.marker, self.inside, self.values = marker, False, {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = self.marker in a
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[a["name"]] = a.get("value", "y")
            else:
                self.values[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def fields(html: str, marker: str) -> dict:
    parser = FormFields(marker)
    parser.feed(html)
    assert parser.values, f"no form with {marker}"
    return parser.values


@pytest.fixture(params=BACKENDS)
def served(request, tmp_path):
    if request.param == "sqlite":
        uri = "sqlite:///" + str(tmp_path / "live.sqlite3")
    else:
        uri = request.getfixturevalue("postgres").new_database()
    app = make_app(tmp_path, uri)
    with app.app_context():
        db.create_all()
        south = Region(code="SOUTH", name_zh="华南", name_en="South")
        guangdong = Province(code="GD", name_zh="广东", name_en="Guangdong", region=south)
        db.session.add_all([Outlet(code=code, name_zh=code, name_en=code, city="广州", province=guangdong)
                            for code in ("GZ-1", "GZ-2", "GZ-3")])
        db.session.commit()
        assert not load_courses(ROOT_DIR / "content" / "courses").problems  # the lessons the form's rules assign
        assert not load_templates(ROOT_DIR / "content" / "audits").problems
        assert not load_programmes(ROOT_DIR / "content" / "audits" / "programmes").problems
        for n in range(TABS):
            create_user(f"trainer{n}", ["trainer"], PASSWORD, name=f"Trainer {n}").locale = "en"
        holder = create_user("aud1", ["auditor"], PASSWORD, name="Auditor One", outlet_code="GZ-1")
        holder.locale = "en"
        for n in range(2, 5):
            create_user(f"aud{n}", ["auditor"], PASSWORD, name=f"Auditor {n}", outlet_code="GZ-2")
        tech = create_user("tech", ["technician"], PASSWORD, name="Tech", outlet_code="GZ-3",
                           start_date=date(2025, 1, 6))
        db.session.commit()
        programme = db.session.scalar(select(AuditProgramme))
        draw = AuditDraw(programme_id=programme.id, period="2026-12", seed="ab" * 8, spec=programme.spec,
                         due_on=date(2026, 12, 31))
        db.session.add(draw)
        db.session.flush()
        db.session.add(AuditVisit(draw_id=draw.id, programme_id=programme.id, period="2026-12", technician_id=tech.id,
                                  outlet_id=tech.outlet_id, auditor_id=holder.id, due_on=date(2026, 12, 31),
                                  reasons=[]))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
    env.update({"PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "LANG": "C.UTF-8",
                "DATABASE_URL": uri, "SECRET_KEY": "live-test-secret"})
    with serve(env, _free_port()) as base:
        yield base, app


def at_once(jobs) -> list:
    """Run the callables at the same moment, each in its thread; their results in order."""
    start, results = threading.Barrier(len(jobs)), [None] * len(jobs)

    def run(n, job):
        start.wait()
        results[n] = job()

    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_trainers_saving_one_programme_at_once_keep_exactly_the_acknowledged_save(served):
    base, app = served
    url = "/audits/programmes/home-service-visit/edit"
    posts = []
    for n in range(TABS):
        browser = Browser(base)
        assert browser.login(f"trainer{n}", PASSWORD) == 302
        status, _headers, page = browser.request(url)
        assert status == 200
        data = fields(page, "data-programme-form")
        data.update({"rate": f"{11 + n}%", "count": ""})  # each saves its own rate over the same version
        posts.append((browser, data))
    answers = at_once([lambda b=b, d=d: b.request(url, d) for b, d in posts])
    saved = [n for n, (status, _h, _b) in enumerate(answers) if status == 302]
    assert len(saved) == 1, [a[0] for a in answers]
    for n, (status, _headers, body) in enumerate(answers):
        if n not in saved:
            assert status == 200 and "Somebody else saved this programme" in body
    with app.app_context():
        row = db.session.scalar(select(AuditProgramme))
        assert row.spec["sampling"]["rate"] == pytest.approx((11 + saved[0]) / 100)
        assert row.source == "form"
        db.session.remove()


def test_one_visit_handed_back_from_several_tabs_is_handed_back_once(served):
    base, app = served
    with app.app_context():
        visit_id = db.session.scalar(select(AuditVisit.id))
        db.session.remove()
    url = f"/audits/visits/{visit_id}"
    posts = []
    for n in range(TABS):
        browser = Browser(base)
        assert browser.login("aud1", PASSWORD) == 302
        status, _headers, page = browser.request(url)
        assert status == 200
        posts.append((browser, {"csrf_token": csrf_from(page), "reason": f"I know this technician ({n})"}))
    answers = at_once([lambda b=b, d=d: b.request(url + "/hand-back", d) for b, d in posts])
    acknowledged = [n for n, (status, _h, _b) in enumerate(answers) if status == 302]
    assert len(acknowledged) == 1, [a[0] for a in answers]
    assert all(status in (400, 404) for n, (status, _h, _b) in enumerate(answers) if n not in acknowledged)
    with app.app_context():
        rows = db.session.scalars(select(AuditVisitHandback)).all()
        assert [row.reason for row in rows] == [f"I know this technician ({acknowledged[0]})"]
        visit = db.session.get(AuditVisit, visit_id)
        assert visit.auditor_id == rows[0].reassigned_to_id is not None and visit.status == "open"
        assert db.session.scalar(select(func.count()).select_from(AuditVisitHandback)) == 1
        db.session.remove()
