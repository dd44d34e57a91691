"""Planned visits, the auditors' side: the home section and lists (overdue by the portal's day),
handing a visit back (re-assigned, never to the same auditor, the technician's outlet or the
technician; nobody left: unassigned and the trainers told), a trainer assigning, the new-report
page pre-filled, submission linking the report to its visit (once, even when two race), and the
technician never learning of a visit planned for them."""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from portal.audits import assigning, coverage
from portal.audits import services as audits
from portal.audits import visit_services as vs
from portal.audits.loader import current_template, load_templates
from portal.audits.models import Audit, AuditDraw, AuditProgramme, AuditVisit, AuditVisitHandback
from portal.auth.models import Outlet, Province, Region
from portal.extensions import db
from portal.notifications import Notification

from .conftest import ROOT_DIR, csrf_from, login, png_bytes
from .test_audit_draw import spec as full_spec

FORM = "home-service-visit"
TITLE_EN = "Zebra programme"  # shows where the programme is named; never on a technician's page


def _now() -> datetime:
    return datetime.now(timezone.utc)


def portal_today() -> date:
    return audits.local_day(_now())  # never date.today(): after 16:00 UTC it is the portal's yesterday


@pytest.fixture
def crew(app, make_user, network, courses):
    """Technician at Guangzhou; auditors at Foshan (two) and Guangzhou (the technician's own
    outlet, so never theirs); an auditor of another region; a trainer."""
    assert not load_templates(ROOT_DIR / "content" / "audits").problems
    north = Region(code="NORTH", name_zh="华北", name_en="North")
    beijing = Province(code="BJ", name_zh="北京", name_en="Beijing", region=north)
    db.session.add_all([north, beijing, Outlet(code="BJ-01", name_zh="北京网点", name_en="Beijing One", city="北京",
                                                province=beijing)])
    db.session.commit()
    people = {
        "tech": make_user("tech", "technician", outlet="GD-GZ-01", name="陈强"),
        "aud1": make_user("aud1", "auditor", outlet="GD-FS-01", name="Auditor One"),
        "aud2": make_user("aud2", "auditor", outlet="GD-FS-01", name="Auditor Two"),
        "own": make_user("own", "auditor", outlet="GD-GZ-01", name="Same Outlet"),
        "far": make_user("far", "auditor", outlet="BJ-01", name="Far Away"),
        "trainer": make_user("trainer", "trainer", name="李敏"),
    }
    for key in ("aud1", "aud2", "own", "far", "trainer"):
        people[key].locale = "en"  # their pages read in English here; the technician's stay in Chinese
    programme = AuditProgramme(slug="hsv-monthly", template_slug=FORM, title_zh="斑马计划", title_en=TITLE_EN,
                               spec={}, content_hash="x" * 64)
    db.session.add(programme)
    db.session.flush()
    draw = AuditDraw(programme_id=programme.id, period="2026-12", seed="ab" * 8, spec={}, due_on=portal_today())
    db.session.add(draw)
    db.session.commit()
    people["programme"], people["draw"] = programme, draw
    return people


def plan(crew, technician, auditor, due_on: date, status: str = "open", draw=None) -> AuditVisit:
    """A visit as the draw would have made it."""
    technician = crew[technician] if isinstance(technician, str) else technician
    draw = draw or crew["draw"]
    visit = AuditVisit(draw_id=draw.id, programme_id=draw.programme_id, period=draw.period,
                       technician_id=technician.id, outlet_id=technician.outlet_id,
                       auditor_id=crew[auditor].id if auditor else None, due_on=due_on, status=status,
                       reasons=["rate"], assigned_at=_now() if auditor else None,
                       done_at=_now() if status == "done" else None)
    db.session.add(visit)
    db.session.commit()
    return visit


def other_draw(crew, period: str) -> AuditDraw:
    draw = AuditDraw(programme_id=crew["programme"].id, period=period, seed="cd" * 8, spec={}, due_on=portal_today())
    db.session.add(draw)
    db.session.commit()
    return draw


def signed_in(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def draft(auditor, technician, work_order: str) -> Audit:
    form = current_template(FORM)
    audit = audits.start(auditor, technician, form, _now() - timedelta(hours=2), work_order, "air-conditioner",
                         "广州", _now())
    for item, value in audits.model_answers(form.spec).items():
        audits.save_answer(audit, item, value)
    audits.add_photo(audit, "evidence-photos", png_bytes())
    return audit


def notes_of(user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)))


# --- the auditor's lists -------------------------------------------------------------------------


def test_home_lists_overdue_due_and_done_first_on_the_page(app, crew):
    today = portal_today()
    late = plan(crew, "tech", "aud1", today - timedelta(days=1))
    due = plan(crew, "tech", "aud1", today, draw=other_draw(crew, "2027-01"))  # due today: not overdue yet
    done = plan(crew, "tech", "aud1", today - timedelta(days=9), status="done", draw=other_draw(crew, "2026-11"))
    plan(crew, "tech", "aud2", today - timedelta(days=3), draw=other_draw(crew, "2026-10"))  # someone else's
    page = signed_in(app, "aud1").get("/auditor").get_data(as_text=True)
    assert page.index('data-section="planned-visits"') < page.index('data-section="audits"')
    section = page[page.index('data-section="planned-visits"'):page.index('data-section="audits"')]
    cards = dict(re.findall(r'data-visit="(\d+)"([^>]*)>', section))
    assert set(cards) == {str(late.id), str(due.id), str(done.id)}
    assert "data-overdue" in cards[str(late.id)] and "data-overdue" not in cards[str(due.id)]
    assert section.index(f'data-visit="{late.id}"') < section.index(f'data-visit="{due.id}"') \
        < section.index(f'data-visit="{done.id}"')
    assert f'/audits/new?visit={late.id}' in section and f'/audits/new?visit={due.id}' in section
    assert f'/audits/new?visit={done.id}' not in section
    assert "陈强" in section and "广州" in section and TITLE_EN in section


def test_overdue_counts_from_the_portals_day_not_the_machines(app, crew, monkeypatch):
    """17:00 UTC on 6 December is already 7 December in Shanghai: a visit due on the 6th is late."""
    from portal.audits import visit_services, visit_views

    evening = datetime(2026, 12, 6, 17, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(visit_services, "now_utc", lambda: evening)
    monkeypatch.setattr(visit_views, "now", lambda: evening)
    late = plan(crew, "tech", "aud1", date(2026, 12, 6))
    due = plan(crew, "tech", "aud1", date(2026, 12, 7), draw=other_draw(crew, "2027-01"))
    client = signed_in(app, "aud1")
    home = client.get("/auditor").get_data(as_text=True)
    assert re.search(rf'data-visit="{late.id}" data-overdue', home)
    assert not re.search(rf'data-visit="{due.id}" data-overdue', home)
    overdue = client.get("/audits/visits/?tab=overdue").get_data(as_text=True)
    assert re.findall(r'data-visit="(\d+)"', overdue) == [str(late.id)]
    body = client.get("/api/v1/audit-visits").get_json()
    assert [(v["id"], v["overdue"]) for v in body["results"]] == [(late.id, True), (due.id, False)]


def test_auditor_tabs_are_paged_and_hold_only_their_own(app, crew):
    app.config["PAGE_SIZE"] = 2
    today = portal_today()
    periods = ["2026-0%d" % n for n in range(1, 6)]
    for period in periods:
        plan(crew, "tech", "aud1", today - timedelta(days=2), draw=other_draw(crew, period))
    plan(crew, "tech", "aud1", today + timedelta(days=5))
    client = signed_in(app, "aud1")
    overdue = client.get("/audits/visits/?tab=overdue").get_data(as_text=True)
    assert len(re.findall(r'<li class="card overdue" data-visit=', overdue)) == 2
    assert "Page 1 of 3" in overdue
    last = client.get("/audits/visits/?tab=overdue&page=3").get_data(as_text=True)
    assert len(re.findall(r'data-visit="\d+"', last)) == 1
    due = client.get("/audits/visits/").get_data(as_text=True)
    assert len(re.findall(r'data-visit="\d+"', due)) == 1 and "data-overdue" not in due
    assert signed_in(app, "aud2").get("/audits/visits/?tab=overdue").get_data(as_text=True).count("data-visit=") == 0


def test_an_auditor_sees_only_their_own_visit_and_a_trainer_any(app, crew):
    visit = plan(crew, "tech", "aud1", portal_today())
    assert signed_in(app, "aud2").get(f"/audits/visits/{visit.id}").status_code == 404
    assert signed_in(app, "aud1").get(f"/audits/visits/{visit.id}").status_code == 200
    page = signed_in(app, "trainer").get(f"/audits/visits/{visit.id}").get_data(as_text=True)
    assert "Auditor One" in page and 'data-form="assign"' in page


def test_trainer_list_filters_status_unassigned_period_region_auditor(app, crew, make_user):
    today = portal_today()
    held = plan(crew, "tech", "aud1", today)
    nobody = plan(crew, "tech", None, today - timedelta(days=1), draw=other_draw(crew, "2027-01"))
    north_tech = db.session.scalar(select(Outlet).where(Outlet.code == "BJ-01"))
    bj = make_user("bjtech", "technician", outlet="BJ-01", name="北京技师")
    assert bj.outlet_id == north_tech.id
    north = plan(crew, bj, "far", today)
    client = signed_in(app, "trainer")

    def ids(query: str) -> set[int]:
        page = client.get("/audits/visits/" + query)
        assert page.status_code == 200
        return {int(n) for n in re.findall(r'data-visit="(\d+)"', page.get_data(as_text=True))}

    assert ids("?period=") == {held.id, nobody.id, north.id}  # empty: every period
    assert ids("?period=&status=unassigned") == {nobody.id}
    assert ids("?period=&status=overdue") == {nobody.id}
    assert ids("?period=2027-01") == {nobody.id}
    south = db.session.scalar(select(Region.id).where(Region.code == "SOUTH"))
    assert ids(f"?period=&region={south}") == {held.id, nobody.id}
    assert ids(f"?period=&auditor={crew['far'].id}") == {north.id}
    assert ids("?period=bad") == {held.id, nobody.id, north.id}  # refused with a message, not a 500
    # by default the current month only: the page's work is one period's, whatever the history
    this_month = f"{today.year}-{today.month:02d}"
    current = plan(crew, "tech", "aud2", today, draw=other_draw(crew, this_month)) \
        if this_month != crew["draw"].period else held
    assert ids("") == {v.id for v in (held, nobody, north, current)
                       if db.session.get(AuditDraw, v.draw_id).period == this_month}
    assert current.id in ids("")


# --- handing back and assigning ------------------------------------------------------------------


def _post(client, url, page, **data):
    return client.post(url, data={"csrf_token": csrf_from(page), **data})


def test_hand_back_needs_a_reason_and_keeps_what_was_typed(app, crew):
    visit = plan(crew, "tech", "aud1", portal_today())
    client = signed_in(app, "aud1")
    url = f"/audits/visits/{visit.id}"
    empty = _post(client, url + "/hand-back", client.get(url).get_data(as_text=True), reason="   ")
    assert empty.status_code == 400 and "Say why you hand this visit back." in empty.get_data(as_text=True)
    typed = "Known to the technician, " * 90  # over 2,000 characters
    long = _post(client, url + "/hand-back", client.get(url).get_data(as_text=True), reason=typed)
    assert long.status_code == 400 and typed.strip() in long.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AuditVisitHandback)) == 0
    db.session.expire_all()
    assert db.session.get(AuditVisit, visit.id).auditor_id == crew["aud1"].id


def test_hand_back_goes_to_another_auditor_of_the_region_then_to_nobody(app, crew):
    visit = plan(crew, "tech", "aud1", portal_today())
    one = signed_in(app, "aud1")
    url = f"/audits/visits/{visit.id}"
    done = _post(one, url + "/hand-back", one.get(url).get_data(as_text=True), reason="He knows me")
    assert done.status_code == 302
    db.session.expire_all()
    visit = db.session.get(AuditVisit, visit.id)
    # a2: same region, not the technician's outlet; never a1 again, never "own" (Guangzhou), not "far"
    assert visit.auditor_id == crew["aud2"].id and visit.status == "open"
    assert [(h.auditor_id, h.reason, h.reassigned_to_id) for h in visit.handbacks] == \
        [(crew["aud1"].id, "He knows me", crew["aud2"].id)]
    told = notes_of(crew["aud2"])
    assert [(n.msg_id, n.link) for n in told] == [("audit.visit-assigned", url)]
    assert one.get(url).status_code == 404  # no longer theirs
    two = signed_in(app, "aud2")
    assert _post(two, url + "/hand-back", two.get(url).get_data(as_text=True), reason="Too far").status_code == 302
    db.session.expire_all()
    visit = db.session.get(AuditVisit, visit.id)
    # a1 handed it back, "own" is the technician's outlet: the network-wide fallback is empty
    assert visit.auditor_id is None and visit.status == "open"
    assert [n.msg_id for n in notes_of(crew["trainer"])] == ["audit.visit-unassigned"]
    assert notes_of(crew["tech"]) == [] and notes_of(crew["own"]) == [] and notes_of(crew["aud1"]) == []


def test_a_trainer_assigns_under_the_same_rules(app, crew, make_user):
    visit = plan(crew, "tech", None, portal_today())
    db.session.add(AuditVisitHandback(visit_id=visit.id, auditor_id=crew["aud1"].id, reason="ill"))
    db.session.commit()
    client = signed_in(app, "trainer")
    url = f"/audits/visits/{visit.id}"
    page = client.get(url).get_data(as_text=True)
    choices = set(re.findall(r'<option value="(\d+)"', page))
    assert choices == {str(crew["aud2"].id), str(crew["far"].id)}  # not own outlet, not a1 (handed back)
    for refused in ("own", "aud1"):
        answer = _post(client, url + "/assign", client.get(url).get_data(as_text=True), auditor=crew[refused].id)
        assert answer.status_code == 400 and "cannot make this visit" in answer.get_data(as_text=True)
    assert _post(client, url + "/assign", page, auditor=crew["far"].id).status_code == 302
    db.session.expire_all()
    assert db.session.get(AuditVisit, visit.id).auditor_id == crew["far"].id
    assert [n.msg_id for n in notes_of(crew["far"])] == ["audit.visit-assigned"]
    assert notes_of(crew["tech"]) == []


def test_nobody_assigns_or_sees_a_visit_planned_for_themselves(app, crew, make_user):
    both = make_user("both", "trainer", "technician", "auditor", outlet="GD-FS-01", name="Trainer Tech")
    both.locale = "en"
    db.session.commit()
    visit = plan(crew, both, None, portal_today())
    client = signed_in(app, "both")
    assert client.get(f"/audits/visits/{visit.id}").status_code == 404
    page = client.get("/audits/visits/").get_data(as_text=True)
    assert f'data-visit="{visit.id}"' not in page
    answer = client.post(f"/audits/visits/{visit.id}/assign",
                         data={"csrf_token": csrf_from(client.get("/account/password").get_data(as_text=True)),
                               "auditor": crew["aud1"].id})
    assert answer.status_code == 404
    other = signed_in(app, "trainer")
    page = other.get(f"/audits/visits/{visit.id}").get_data(as_text=True)
    assert f'<option value="{both.id}"' not in page  # never the technician themself
    assert _post(other, f"/audits/visits/{visit.id}/assign", page, auditor=both.id).status_code == 400
    held = plan(crew, "tech", None, portal_today(), draw=other_draw(crew, "2027-01"))
    held.auditor_id = both.id
    db.session.commit()
    mine = client.get("/audits/visits/?tab=open").get_data(as_text=True)  # a trainer who audits: own tabs
    assert re.findall(r'data-visit="(\d+)"', mine) == [str(held.id)] and 'data-tab="overdue"' in mine


# --- filing ---------------------------------------------------------------------------------------


def test_new_report_is_prefilled_from_the_auditors_own_visit(app, crew):
    visit = plan(crew, "tech", "aud1", portal_today())
    page = signed_in(app, "aud1").get(f"/audits/new?visit={visit.id}").get_data(as_text=True)
    assert f'data-planned-visit="{visit.id}"' in page
    assert re.search(r'<option selected value="tech">|<option value="tech" selected>', page)
    assert re.search(rf'<option selected value="{FORM}">|<option value="{FORM}" selected>', page)
    assert 'value="广州"' in page
    other = signed_in(app, "aud2").get(f"/audits/new?visit={visit.id}").get_data(as_text=True)
    assert "data-planned-visit" not in other and 'selected value="tech"' not in other


def test_submitting_links_the_report_and_marks_the_visit_done(app, crew):
    visit = plan(crew, "tech", "aud1", portal_today())
    gone = draft(crew["aud1"], crew["tech"], "WO-1")
    audits.delete_draft(gone, crew["aud1"])
    assert db.session.get(AuditVisit, visit.id).status == "open"  # a deleted draft leaves it open
    other = draft(crew["aud2"], crew["tech"], "WO-2")  # not the holder: an unplanned report
    with app.test_request_context():
        audits.submit(other, _now())
    report = draft(crew["aud1"], crew["tech"], "WO-3")
    assert db.session.get(AuditVisit, visit.id).status == "open"  # a draft does not make it
    moment = _now()
    with app.test_request_context():
        audits.submit(report, moment)
    db.session.expire_all()
    visit = db.session.get(AuditVisit, visit.id)
    assert (visit.status, visit.audit_id) == ("done", report.id) and visit.done_at is not None
    linked = set(db.session.scalars(select(AuditVisit.audit_id).where(AuditVisit.audit_id.is_not(None))))
    assert linked == {report.id} and other.id not in linked  # the unplanned report counts as not linked
    assert notes_of(crew["tech"])[0].msg_id == "audit.acknowledge"  # told of the report, after it


def test_a_report_through_the_page_with_the_visit_links_it(app, crew):
    visit = plan(crew, "tech", "aud1", portal_today())
    client = signed_in(app, "aud1")
    url = f"/audits/new?visit={visit.id}"
    when = (_now() - timedelta(hours=1)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    answer = client.post(url, data={"csrf_token": csrf_from(client.get(url).get_data(as_text=True)),
                                    "technician": "tech", "template": FORM, "visited_at": when,
                                    "work_order": "WO-9", "product": "air-conditioner", "city": "广州"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    report = db.session.scalar(select(Audit).where(Audit.work_order == "WO-9"))
    for item, value in audits.model_answers(report.template.spec).items():
        audits.save_answer(report, item, value)
    audits.add_photo(report, "evidence-photos", png_bytes())
    with app.test_request_context():
        audits.submit(report, _now())
    db.session.expire_all()
    assert db.session.get(AuditVisit, visit.id).audit_id == report.id


def test_two_reports_racing_for_one_visit_link_it_once(app, crew, monkeypatch):
    visit = plan(crew, "tech", "aud1", portal_today())
    first, second = draft(crew["aud1"], crew["tech"], "WO-A"), draft(crew["aud1"], crew["tech"], "WO-B")
    seen = audits.visit_candidates(second)  # both submits read the visit as open before either writes
    assert seen == [visit.id]
    monkeypatch.setattr(audits, "visit_candidates", lambda audit: list(seen))
    with app.test_request_context():
        audits.submit(first, _now())
        audits.submit(second, _now())  # its conditional UPDATE finds the visit done: kept, unplanned
    db.session.expire_all()
    assert db.session.get(AuditVisit, visit.id).audit_id == first.id
    assert db.session.get(Audit, second.id).status == "submitted"
    assert db.session.scalar(select(func.count()).select_from(AuditVisit).where(
        AuditVisit.audit_id.in_([first.id, second.id]))) == 1


def submit_at_once(app, ids: list[int]) -> list[Exception]:
    """Submit these drafts at the same moment, each in its thread and transaction; the errors."""
    start, errors = threading.Barrier(len(ids)), []

    def submit(audit_id: int) -> None:
        with app.app_context(), app.test_request_context():
            try:
                report = db.session.get(Audit, audit_id)
                start.wait(timeout=10)
                audits.submit(report, _now())
            except Exception as problem:  # reported to the caller, not lost in the thread
                errors.append(problem)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit, args=(n,)) for n in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_two_threads_submitting_for_one_visit_link_it_once(app, crew):
    """Two real transactions at once (on SQLite the second writer waits for the first): one
    report links, the other is kept unplanned."""
    visit = plan(crew, "tech", "aud1", portal_today())
    ids = [draft(crew["aud1"], crew["tech"], f"WO-T{n}").id for n in range(2)]
    db.session.commit()
    assert submit_at_once(app, ids) == []
    db.session.expire_all()
    assert db.session.get(AuditVisit, visit.id).audit_id in ids
    assert {db.session.get(Audit, n).status for n in ids} == {"submitted"}
    assert db.session.scalar(select(func.count()).select_from(AuditVisit).where(AuditVisit.audit_id.in_(ids))) == 1


# --- the technician is never told ----------------------------------------------------------------


def test_the_technician_sees_nothing_of_a_visit_planned_for_them(app, crew):
    visit = plan(crew, "tech", "aud1", portal_today() - timedelta(days=1))
    one = signed_in(app, "aud1")
    url = f"/audits/visits/{visit.id}"
    assert _post(one, url + "/hand-back", one.get(url).get_data(as_text=True), reason="ill").status_code == 302
    client = signed_in(app, "tech")
    for path in ("/technician", "/technicians/tech", "/notifications/", "/audits/", "/api/v1/technicians/tech/record",
                 "/api/v1/me"):
        answer = client.get(path, follow_redirects=True)
        assert answer.status_code == 200, path
        text = answer.get_data(as_text=True)
        for trace in (TITLE_EN, "斑马计划", "/audits/visits", "data-visit", "Auditor One", "Auditor Two",
                      "planned visit", "计划暗访", "hsv-monthly"):
            assert trace.lower() not in text.lower(), (path, trace)
    assert client.get("/audits/visits/").status_code == 403
    assert client.get(url).status_code == 403
    assert client.get("/api/v1/audit-visits").status_code == 403
    assert notes_of(crew["tech"]) == []


# --- the API --------------------------------------------------------------------------------------


def test_api_lists_my_visits_paged_with_their_fields(app, crew):
    today = portal_today()
    late = plan(crew, "tech", "aud1", today - timedelta(days=1))
    soon = plan(crew, "tech", "aud1", today + timedelta(days=3), draw=other_draw(crew, "2027-01"))
    done = plan(crew, "tech", "aud1", today - timedelta(days=5), status="done", draw=other_draw(crew, "2026-11"))
    plan(crew, "tech", "aud2", today, draw=other_draw(crew, "2026-10"))
    client = signed_in(app, "aud1")
    body = client.get("/api/v1/audit-visits?auditor=me").get_json()
    assert (body["total"], body["page"], body["limit"]) == (2, 1, 20)
    assert [v["id"] for v in body["results"]] == [late.id, soon.id]
    first = body["results"][0]
    assert set(first) == {"id", "period", "due_on", "overdue", "status", "technician", "outlet", "form", "audit",
                          "links"}
    assert first["overdue"] is True and body["results"][1]["overdue"] is False
    assert first["technician"] == {"id": crew["tech"].id, "name": "陈强"}
    assert first["outlet"] == {"code": "GD-GZ-01", "name": {"zh": "广州天河网点", "en": "Guangzhou Tianhe"},
                               "city": "广州"}
    assert first["form"] == FORM and first["due_on"] == (today - timedelta(days=1)).isoformat()
    assert first["links"]["start"].endswith(f"/audits/new?visit={late.id}")
    assert [v["id"] for v in client.get("/api/v1/audit-visits?status=done").get_json()["results"]] == [done.id]
    paged = client.get("/api/v1/audit-visits?status=all&limit=2&page=2").get_json()
    assert paged["total"] == 3 and len(paged["results"]) == 1
    for bad in ("status=late", "status=", "limit=0", "page=x", "auditor=bob", "auditor="):
        assert client.get("/api/v1/audit-visits?" + bad).status_code == 400, bad


def test_api_another_auditors_visits_are_for_trainers_only(app, crew):
    visit = plan(crew, "tech", "aud2", portal_today())
    other = f"/api/v1/audit-visits?auditor={crew['aud2'].id}"
    answer = signed_in(app, "aud1").get(other)
    assert answer.status_code == 403 and answer.get_json()["status"] == 403
    body = signed_in(app, "trainer").get(other).get_json()
    assert [v["id"] for v in body["results"]] == [visit.id]
    assert signed_in(app, "trainer").get("/api/v1/audit-visits").get_json()["total"] == 0


# --- review findings: dates, moves, self-decisions ---------------------------------------------


def test_a_report_of_a_visit_made_before_its_period_began_makes_no_planned_visit(app, crew):
    visit = plan(crew, "tech", "aud1", portal_today(), draw=other_draw(crew, "2099-01"))
    report = draft(crew["aud1"], crew["tech"], "WO-OLD")  # visited today, long before 2099
    with app.test_request_context():
        audits.submit(report, _now())
    db.session.expire_all()
    assert db.session.get(AuditVisit, visit.id).status == "open"
    assert db.session.get(Audit, report.id).status == "submitted"  # kept, as an unplanned report


def test_a_technician_who_moved_is_never_given_an_auditor_of_their_new_outlet(app, crew):
    """Drawn at Guangzhou, moved to Foshan since: the Foshan auditors are now their colleagues
    (and the Guangzhou one still is one), so when the holder hands it back nobody of the region
    may take it."""
    visit = plan(crew, "tech", "far", portal_today())
    crew["tech"].outlet_id = crew["aud1"].outlet_id
    db.session.commit()
    with app.test_request_context():
        row = vs.hand_back(visit, crew["far"], "moved away", _now())
        assert row.reassigned_to_id is None
        assert [u.username for u in vs.assignable(db.session.get(AuditVisit, visit.id), crew["trainer"])] == []
    assert db.session.get(AuditVisit, visit.id).auditor_id is None
    page = signed_in(app, "trainer").get(f"/audits/visits/{visit.id}").get_data(as_text=True)
    assert "data-nobody" in page and 'data-action="assign"' not in page  # says so instead of an empty list


def test_a_trainer_who_also_audits_never_gives_a_visit_to_themselves(app, crew):
    trainer = crew["trainer"]
    trainer.outlet_id = crew["far"].outlet_id
    db.session.add(audits.UserRole(user_id=trainer.id, role="auditor"))
    db.session.commit()
    visit = plan(crew, "tech", "aud1", portal_today())
    client = signed_in(app, "trainer")
    url = f"/audits/visits/{visit.id}"
    page = client.get(url).get_data(as_text=True)
    assert f'value="{trainer.id}"' not in page and f'value="{crew["far"].id}"' in page
    refused = _post(client, url + "/assign", page, auditor=str(trainer.id))
    assert refused.status_code == 400
    assert db.session.get(AuditVisit, visit.id).auditor_id == crew["aud1"].id


def test_a_trainer_who_is_also_a_technician_never_finds_their_own_visit(app, crew):
    trainer = crew["trainer"]
    trainer.outlet_id = crew["tech"].outlet_id
    db.session.add(audits.UserRole(user_id=trainer.id, role="technician"))
    db.session.commit()
    mine = plan(crew, trainer, "aud1", portal_today())
    theirs = plan(crew, "tech", "aud2", portal_today())
    draw = crew["draw"]
    draw.spec = crew["programme"].spec = full_spec(slug="hsv-monthly")  # the draw page shows its rules
    db.session.commit()
    client = signed_in(app, "trainer")
    page = client.get(f"/audits/programmes/hsv-monthly/draws/{draw.period}").get_data(as_text=True)
    table = page.split("data-visits", 1)[1].split("</table>", 1)[0]
    assert crew["tech"].display_name in table and trainer.display_name not in table
    for what in ("planned", "open"):
        listed = client.get(f"/audits/coverage/list?what={what}&period={draw.period}").get_data(as_text=True)
        assert f'data-visit="{theirs.id}"' in listed and f'data-visit="{mine.id}"' not in listed, what
    year = client.get(f"/audits/coverage/list?what=visits&n=1&period={draw.period}").get_data(as_text=True)
    assert f'data-technician="{crew["tech"].id}"' in year and f'data-technician="{trainer.id}"' not in year
    assert client.get(f"/audits/visits/{mine.id}").status_code == 404 and theirs.id
    assert client.post("/audits/programmes/hsv-monthly/draw",
                       data={"csrf_token": csrf_from(page)}).status_code == 403


def test_two_reports_on_one_technician_submitted_at_once_are_both_kept_and_counted(app, crew):
    """Each submit recounts the technician's kept coverage facts; two at once used to collide on
    PostgreSQL (the second insert hit the first's key and its report stayed a draft)."""
    ids = [draft(crew["aud1"], crew["tech"], f"WO-K{n}").id for n in range(2)]
    db.session.commit()
    assert submit_at_once(app, ids) == []
    db.session.expire_all()
    assert {db.session.get(Audit, n).status for n in ids} == {"submitted"}
    assert coverage.kept_last_visits() == coverage.live_last_visits()
    assert coverage.kept_visit_years() == coverage.live_visit_years()


def test_daily_cancels_visits_of_technicians_gone_and_moves_those_of_auditors_gone(app, crew):
    """A technician deactivated after the draw is not visited (cancelled: out of the coverage
    figures); an auditor deactivated holds nothing (the next auditor gets it and is told; with
    nobody left the trainers are told)."""
    leaver = plan(crew, "tech", "aud1", portal_today())
    other_tech = crew["own"]  # an auditor at Guangzhou who is also drawn as a technician below
    db.session.add(audits.UserRole(user_id=other_tech.id, role="technician"))
    db.session.commit()
    orphan = plan(crew, other_tech, "far", portal_today())
    crew["tech"].active = False
    crew["far"].active = False
    db.session.commit()
    tidied = vs.tidy_open(_now())
    db.session.expire_all()
    assert (tidied.cancelled, tidied.reassigned, tidied.unassigned) == (1, 1, 0)
    assert db.session.get(AuditVisit, leaver.id).status == "cancelled"
    moved = db.session.get(AuditVisit, orphan.id)
    assert moved.status == "open" and moved.auditor_id in (crew["aud1"].id, crew["aud2"].id)
    assert any(n.link == f"/audits/visits/{orphan.id}" for n in notes_of(db.session.get(type(crew["aud1"]), moved.auditor_id)))
    assert coverage.kept_visit_years() == coverage.live_visit_years()  # the cancelled one no longer counts
    again = vs.tidy_open(_now())
    assert (again.cancelled, again.reassigned, again.unassigned) == (0, 0, 0)


def test_a_hand_back_reads_only_the_regions_auditors_and_the_network_wide(app, crew):
    """Re-assigning one visit reads the auditors of its region and those with no outlet (and their
    loads), not the whole network's."""
    region = assigning.region_of(crew["tech"].outlet_id)
    pool = assigning.load_pool(region_id=region, one_region=True)
    members = {c.id for group in pool.by_region.values() for c in group}
    assert set(pool.by_region) <= {region, assigning.NETWORK}
    assert {crew["aud1"].id, crew["aud2"].id, crew["own"].id} <= members and crew["far"].id not in members
    assert set(pool.load) <= members
