"""The audit programme's draw (portal/audits/draw.py): who is visited, by whom, reproducibly.

A network of 3,000 technicians in 300 outlets of 6 regions with 30 auditors is built once per
database (bulk inserts) for the draws that only need the network; the exclusions, weights and
``flask daily`` use a small network of their own."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, insert, select

from portal.audits import coverage
from portal.audits import draw as drawing
from portal.audits.models import (Audit, AuditDraw, AuditProgramme, AuditTemplate, AuditVisit)
from portal.auth.models import Outlet, Province, Region, User, UserRole
from portal.extensions import db
from portal.i18n import local_today
from portal.learning.models import Holiday
from portal.notifications.models import Notification

from .conftest import BACKENDS, make_app

TECHS, OUTLETS, REGIONS, AUDITORS = 3000, 300, 6, 30
OLD_START = date(2020, 1, 6)


def spec(**changes) -> dict:
    base = {"slug": "visits", "form": "home-service-visit", "title": {"zh": "抽查", "en": "Visits"},
            "period": "monthly", "sampling": {"rate": 0.10, "count": None}, "overrides": [],
            "per_year": {"min": 0, "max": 12},
            "weights": {"red_line": {"weight": 3.0, "days": 180},
                        "low_ftf": {"weight": 2.0, "below": 0.7, "min_answers": 5, "days": 90},
                        "new_certificate": {"weight": 1.5, "days": 60}},
            "blackout": {"onboarding_working_days": 10, "suspended": True},
            "due": {"working_days": None}}
    base.update(changes)
    return base


def programme(slug: str, **changes) -> AuditProgramme:
    row = AuditProgramme(slug=slug, template_slug="home-service-visit", title_zh=slug, title_en=slug,
                         spec=spec(slug=slug, **changes), content_hash="x" * 64, source="form")
    db.session.add(row)
    db.session.commit()
    return row


def wipe() -> None:
    for model in (Notification, AuditVisit, AuditDraw, AuditProgramme):
        db.session.execute(delete(model))
    db.session.commit()


def build_network() -> dict:
    """Regions R0…R5, two provinces each, 50 outlets a region, 10 technicians an outlet; 5 auditors
    a region at outlets of it; two network auditors without outlet, one of them also a technician."""
    db.session.execute(insert(Region), [{"id": r + 1, "code": f"R{r}", "name_zh": f"区{r}", "name_en": f"R{r}"}
                                        for r in range(REGIONS)])
    db.session.execute(insert(Province), [{"id": p + 1, "code": f"P{p}", "name_zh": f"省{p}", "name_en": f"P{p}",
                                           "region_id": p // 2 + 1} for p in range(REGIONS * 2)])
    db.session.execute(insert(Outlet), [{"id": o + 1, "code": f"O{o:03d}", "name_zh": f"点{o}", "name_en": f"O{o}",
                                         "city": "", "province_id": o // 25 + 1, "products": []}
                                        for o in range(OUTLETS)])
    now = datetime.now(timezone.utc)
    users, roles = [], []
    for t in range(TECHS):
        users.append({"id": t + 1, "username": f"t{t:04d}", "name": f"T{t}", "password_hash": "x", "active": True,
                      "outlet_id": t // 10 + 1, "start_date": OLD_START, "created_at": now, "auth_version": 1,
                      "must_change_password": False})
        roles.append({"user_id": t + 1, "role": "technician"})
    auditors = []
    for a in range(AUDITORS):  # auditor a of region a // 5, at the region's outlet (a % 5) * 10
        uid = TECHS + a + 1
        region = a // 5
        users.append({"id": uid, "username": f"a{a:02d}", "name": f"A{a}", "password_hash": "x", "active": True,
                      "outlet_id": region * 50 + (a % 5) * 10 + 1, "start_date": OLD_START, "created_at": now,
                      "auth_version": 1, "must_change_password": False})
        roles.append({"user_id": uid, "role": "auditor"})
        auditors.append(uid)
    both, network = TECHS + AUDITORS + 1, TECHS + AUDITORS + 2
    for uid, name in ((both, "both"), (network, "net")):
        users.append({"id": uid, "username": name, "name": name, "password_hash": "x", "active": True,
                      "outlet_id": None, "start_date": OLD_START, "created_at": now, "auth_version": 1,
                      "must_change_password": False})
        roles.append({"user_id": uid, "role": "auditor"})
    roles.append({"user_id": both, "role": "technician"})
    db.session.execute(insert(User), users)
    db.session.execute(insert(UserRole), roles)
    db.session.commit()
    return {"auditors": auditors, "both": both, "network": network}


@pytest.fixture(scope="module", params=BACKENDS)
def big(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("draw")
    if request.param == "sqlite":
        path = folder / "draw.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)
        uri = "sqlite:///" + str(path)
    else:
        uri = request.getfixturevalue("postgres").new_database()
    application = make_app(folder, uri)
    with application.app_context():
        if request.param == "postgresql":
            db.create_all()
        people = build_network()
        yield people
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def fresh(big):
    wipe()
    yield big
    db.session.rollback()
    wipe()


def first_day(period: str) -> date:
    return drawing.first_working_day(period, drawing.learning.calendar())


def region_of_user(uid: int) -> int:
    return (uid - 1) // 500  # technicians: 10 an outlet, 50 outlets a region


def test_pick_is_a_plain_function_of_inputs_and_seed():
    groups = [{"key": "b", "quota": 2, "candidates": [[5, 1.0, False], [3, 2.0, False], [9, 1.0, True]]},
              {"key": "a", "quota": 1, "candidates": [[i, 1.0, False] for i in range(10, 40)]}]
    first = drawing.pick(groups, "c0ffee")
    assert first == drawing.pick(list(reversed(groups)), "c0ffee")  # order of groups and candidates does not count
    shuffled = [{**g, "candidates": list(reversed(g["candidates"]))} for g in groups]
    assert first == drawing.pick(shuffled, "c0ffee")
    assert 9 in first["b"] and len(first["b"]) == 2 and len(first["a"]) == 1
    assert len({tuple(drawing.pick(groups, f"{s:x}")["a"]) for s in range(40)}) > 5  # the seed matters
    forced = [{"key": "f", "quota": 1, "candidates": [[1, 1.0, True], [2, 1.0, True], [3, 9.0, False]]}]
    assert drawing.pick(forced, "1")["f"] == [1, 2]  # forced ones are all drawn, even over the quota


def test_weights_raise_the_frequency_of_selection():
    heavy = set(range(0, 1000, 10))  # 100 of 1,000 with weight 3
    groups = [{"key": "g", "quota": 100, "candidates": [[i, 3.0 if i in heavy else 1.0, False] for i in range(1000)]}]
    hits = Counter()
    for s in range(60):
        hits.update(drawing.pick(groups, f"{s + 1:x}")["g"])
    heavy_rate = sum(hits[i] for i in heavy) / (60 * len(heavy))
    light_rate = sum(hits[i] for i in range(1000) if i not in heavy) / (60 * 900)
    assert heavy_rate > 2.2 * light_rate  # ≈ 2.7× with 10% drawn


def test_one_draw_on_the_network(fresh):
    people = fresh
    prog = programme("net-monthly")
    today = first_day("2027-03")
    row = drawing.draw(prog, "2027-03", seed="abc123", today=today)
    assert row.eligible == TECHS + 1 and row.excluded == {}
    groups = {g["key"]: g for g in row.candidates["groups"]}
    assert set(groups) == {f"default:R{r}" for r in range(REGIONS)} | {"default:-"}
    assert groups["default:R0"]["quota"] == 50 and groups["default:-"]["quota"] == 0  # round(0.1 × 500), round(0.1)
    visits = db.session.execute(select(AuditVisit.technician_id, AuditVisit.outlet_id, AuditVisit.auditor_id,
                                       AuditVisit.due_on, AuditVisit.status)
                                .where(AuditVisit.draw_id == row.id)).all()
    assert len(visits) == row.drawn == 300 and row.unassigned == 0
    auditor_outlet = dict(db.session.execute(select(User.id, User.outlet_id).where(User.id.in_(people["auditors"]))).all())
    loads = Counter()
    for tech, outlet, auditor, due, status in visits:
        assert auditor != tech and auditor_outlet[auditor] != outlet  # never self, never own outlet
        assert region_of_user(tech) == (auditor - TECHS - 1) // 5  # the technician's region's auditor
        assert due == drawing.last_working_day("2027-03", drawing.learning.calendar()) and status == "open"
        loads[auditor] += 1
    for region in range(REGIONS):  # balanced: loads of a region's auditors differ by at most one
        mine = [loads[a] for a in people["auditors"][region * 5:region * 5 + 5]]
        assert max(mine) - min(mine) <= 1, mine
    # each auditor hears once how many visits are theirs; no technician drawn hears anything
    told = db.session.execute(select(Notification.user_id, Notification.params)
                              .where(Notification.key.like(f"audit-draw:{row.id}:%"))).all()
    assert {uid: params["n"] for uid, params in told} == dict(loads)
    assert not db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id.in_([v[0] for v in visits])))

    # reproducible: the kept inputs and seed give the same technicians
    assert drawing.verify(row)
    again = drawing.pick(row.candidates["groups"], "abc123")
    assert sorted(i for ids in again.values() for i in ids) == sorted(v[0] for v in visits)
    tampered = db.session.scalar(select(AuditVisit).where(AuditVisit.draw_id == row.id))
    drawn = {v[0] for v in visits}
    tampered.technician_id = next(i for i in range(1, TECHS) if i not in drawn)
    db.session.commit()
    assert not drawing.verify(row)
    other = drawing.draw(programme("net-other"), "2027-03", seed="abc123", today=today)
    assert sorted(db.session.scalars(select(AuditVisit.technician_id).where(AuditVisit.draw_id == other.id))) \
        == sorted(v[0] for v in visits)  # same seed, same inputs: the same technicians
    row.seed = "abc124"
    assert not drawing.verify(row)

    # idempotent: a second draw of the period changes nothing and returns the first
    count = db.session.scalar(select(func.count()).select_from(AuditVisit))
    assert drawing.draw(prog, "2027-03", today=today).id == row.id
    assert db.session.scalar(select(func.count()).select_from(AuditVisit)) == count
    assert db.session.scalar(select(func.count()).select_from(AuditDraw)) == 2


def test_a_year_of_draws_keeps_each_technician_within_min_and_max(fresh):
    people = fresh
    prog = programme("net-year", per_year={"min": 2, "max": 3}, sampling={"rate": 0.15, "count": None})
    for month in range(1, 13):
        period = f"2027-{month:02d}"
        row = drawing.draw(prog, period, today=first_day(period))
        assert drawing.verify(row)
    per_tech = Counter(dict(db.session.execute(select(AuditVisit.technician_id, func.count())
                                               .group_by(AuditVisit.technician_id)).all()))
    techs = list(range(1, TECHS + 1)) + [people["both"]]
    assert min(per_tech[t] for t in techs) == 2 and max(per_tech[t] for t in techs) == 3
    maxed = db.session.scalar(select(AuditDraw.excluded).where(AuditDraw.period == "2027-12"))
    assert maxed.get("max_reached", 0) > 0
    december = db.session.scalars(select(AuditVisit.reasons).where(AuditVisit.period == "2027-12")).all()
    assert sum("forced_min" in reasons for reasons in december) > 0
    # the coverage page's kept visits per technician and year follow the draws' bulk inserts
    assert coverage.kept_visit_years() == coverage.live_visit_years() != {}
    both = db.session.scalars(select(AuditVisit.auditor_id).where(AuditVisit.technician_id == people["both"])).all()
    assert len(both) == 2 and all(a == people["network"] for a in both)  # no outlet: the other network auditor
    assert not db.session.scalar(select(func.count()).select_from(AuditVisit)
                                 .where(AuditVisit.technician_id == AuditVisit.auditor_id))


def test_the_yearly_minimum_is_in_proportion_to_the_part_of_the_year_covered():
    assert [drawing.year_minimum(2, "2027-05", first) for first in (1, 6, 7, 8, 12, 13)] == [2, 1, 1, 0, 0, 0]
    assert [drawing.year_minimum(2, "2027-Q2", first) for first in (1, 2, 3, 4)] == [2, 1, 1, 0]


def test_a_programme_started_late_in_the_year_does_not_force_everyone(fresh):
    """First drawn in November: the minimum of 2 a year becomes 0 (floor 2 × 2/12), so December's
    draw is the sample, not the whole network; the next year the whole minimum applies again."""
    prog = programme("late", per_year={"min": 2, "max": 6}, sampling={"rate": 0.10, "count": None})
    for period in ("2027-11", "2027-12"):
        row = drawing.draw(prog, period, today=first_day(period))
        assert row.drawn <= round(0.10 * (TECHS + 1)) + REGIONS, (period, row.drawn)
    january = drawing.draw(prog, "2028-01", today=first_day("2028-01"))
    assert january.drawn <= round(0.10 * (TECHS + 1)) + REGIONS  # 12 periods left: nobody must go yet
    november_2028 = drawing.plan(prog, prog.spec, "2028-11", first_day("2028-11"), drawing.learning.calendar())
    forced = {c[0] for g in november_2028.groups for c in g["candidates"] if c[2]}
    assert forced  # a year covered from January: those with no visit yet must go now
    newcomer = min(forced)  # joined in October 2028: free of the blackout in October, 3 periods → 0
    db.session.get(User, newcomer).start_date = date(2028, 10, 9)
    db.session.commit()
    try:
        again = drawing.plan(prog, prog.spec, "2028-11", first_day("2028-11"), drawing.learning.calendar())
        assert newcomer not in {c[0] for g in again.groups for c in g["candidates"] if c[2]}
        assert {c[0] for g in again.groups for c in g["candidates"] if c[2]} == forced - {newcomer}
    finally:
        db.session.get(User, newcomer).start_date = OLD_START
        db.session.commit()


# --- exclusions, weights, due dates, daily: a small network -----------------------------------


@pytest.fixture
def small(app, network, make_user):
    techs = [make_user(f"s{n:02d}", "technician", outlet="GD-GZ-01" if n % 2 else "GD-FS-01",
                       start_date=date(2025, 1, 6)) for n in range(20)]
    auditor = make_user("sau", "auditor")
    return {"techs": techs, "auditor": auditor}


def _form() -> AuditTemplate:
    row = AuditTemplate(slug="home-service-visit", version=1, title_zh="t", title_en="t", spec={}, content_hash="h")
    db.session.add(row)
    db.session.commit()
    return row


def _report(form, tech, auditor, when, red=False) -> Audit:
    row = Audit(template_id=form.id, auditor_id=auditor.id, technician_id=tech.id, visited_at=when,
                work_order=f"WO-{tech.id}-{when:%j%H}", product="air-conditioner", city="广州", status="submitted",
                red_line_failed=red, submitted_at=when)
    db.session.add(row)
    db.session.commit()
    return row


def test_every_exclusion_and_weight(app, small):
    from portal.certification.models import Certificate, Tier
    from portal.kb.models import Case, CaseFeedbackAnswer

    techs, auditor = small["techs"], small["auditor"]
    period = "2027-03"
    today = date(2027, 3, 15)
    moment = datetime(2027, 3, 1, 4, tzinfo=timezone.utc)
    # onboarding: started 5 working days ago; done: started 20 working days ago
    techs[0].start_date = date(2027, 3, 8)
    techs[1].start_date = date(2027, 2, 1)
    techs[2].active = False  # not a candidate at all
    tier = Tier(code="t1", level=1, title_zh="t", title_en="t", validity_months=12)
    db.session.add(tier)
    db.session.flush()
    db.session.add(Certificate(number="S1", tier_id=tier.id, user_id=techs[3].id, issued_on=date(2026, 1, 1),
                               valid_until=date(2028, 1, 1), status="suspended"))
    db.session.add(Certificate(number="N1", tier_id=tier.id, user_id=techs[4].id, issued_on=date(2027, 3, 1),
                               valid_until=date(2028, 3, 1), status="active"))
    db.session.add(Certificate(number="O1", tier_id=tier.id, user_id=techs[5].id, issued_on=date(2026, 6, 1),
                               valid_until=date(2027, 6, 1), status="active"))
    db.session.commit()
    form = _form()
    _report(form, techs[6], auditor, moment, red=True)  # red line within 180 days
    _report(form, techs[7], auditor, moment - timedelta(days=200), red=True)  # a red line too long ago (and in 2026: not this year's visit)
    for k in range(3):  # three reports this year, none from a visit: max 3 reached
        _report(form, techs[8], auditor, moment - timedelta(days=k + 1))
    case = Case(slug="c1-zh", key="c1", lang="zh", title="c", product="air-conditioner", body="b")
    db.session.add(case)
    db.session.flush()
    answers = [(techs[9], [False] * 4 + [True] * 2),  # 33% fixed, 6 answers: low
               (techs[10], [False] * 2 + [True] * 8),  # 80%: fine
               (techs[11], [False] * 4)]  # 4 answers: too few
    for tech, fixed in answers:
        for f in fixed:
            db.session.add(CaseFeedbackAnswer(case_id=case.id, user_id=tech.id, fixed=f, created_at=moment))
    db.session.commit()
    prog = programme("small", per_year={"min": 0, "max": 3}, sampling={"rate": 1.0, "count": None})
    row = drawing.draw(prog, period, today=today, seed="5eed")
    assert row.excluded == {"onboarding": 1, "suspended": 1, "max_reached": 1}
    candidates = {c[0]: c for g in row.candidates["groups"] for c in g["candidates"]}
    assert techs[0].id not in candidates and techs[1].id in candidates and techs[2].id not in candidates
    assert candidates[techs[6].id][1] == 3.0 and candidates[techs[7].id][1] == 1.0
    assert candidates[techs[9].id][1] == 2.0 and candidates[techs[10].id][1] == 1.0 and candidates[techs[11].id][1] == 1.0
    assert candidates[techs[4].id][1] == 1.5 and candidates[techs[5].id][1] == 1.0
    reasons = dict(db.session.execute(select(AuditVisit.technician_id, AuditVisit.reasons)
                                      .where(AuditVisit.draw_id == row.id)).all())
    assert reasons[techs[6].id] == ["red_line"] and reasons[techs[9].id] == ["low_ftf"]
    assert reasons[techs[4].id] == ["new_certificate"] and reasons[techs[10].id] == []
    assert row.eligible == row.drawn == 16 and all(v == 0 for v in [row.unassigned])


def test_overrides_group_and_raise_quotas(app, small):
    techs = small["techs"]
    prog = programme("overrides", sampling={"rate": 0.0, "count": None},
                     overrides=[{"scope": "region", "code": "SOUTH", "rate": 0.5, "count": None},
                                {"scope": "outlet", "code": "GD-GZ-01", "rate": None, "count": 1}],
                     per_year={"min": 12, "max": None})
    row = drawing.draw(prog, "2027-01", today=date(2027, 1, 4))
    groups = {g["key"]: g for g in row.candidates["groups"]}
    assert set(groups) == {"outlet:GD-GZ-01", "region:SOUTH"}
    # min 12 a year in January: everyone must be drawn in every period, so the quotas are raised
    assert groups["outlet:GD-GZ-01"]["quota"] == 10 and row.drawn == 20


def test_due_dates_and_bad_input(app, small):
    prog = programme("due", due={"working_days": 3})
    db.session.add(Holiday(day=date(2027, 1, 6), working=False, name="x"))
    db.session.commit()
    row = drawing.draw(prog, "2027-01", today=date(2027, 1, 4))
    assert row.due_on == date(2027, 1, 8)  # Tue 5, (Wed 6 off), Thu 7, Fri 8
    with pytest.raises(drawing.DrawError):
        drawing.draw(prog, "2027-Q1", today=date(2027, 1, 4))
    with pytest.raises(drawing.DrawError):
        drawing.draw(prog, "2027-02", seed="not hex", today=date(2027, 2, 1))
    assert db.session.scalar(select(func.count()).select_from(AuditDraw)) == 1
    quarterly = programme("quarterly", period="quarterly")
    assert drawing.draw(quarterly, "2027-Q2", today=date(2027, 4, 1)).due_on == date(2027, 6, 30)


def test_daily_draws_once_on_the_first_working_day(app, small, monkeypatch):
    from portal.records import daily

    programme("daily-prog")
    db.session.add(Holiday(day=date(2027, 3, 1), working=False, name="x"))  # Monday off: Tuesday is the first
    db.session.commit()
    runner = app.test_cli_runner()

    def run(day):
        monkeypatch.setattr(daily, "local_today", lambda: day)
        result = runner.invoke(args=["daily"])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
        return db.session.scalar(select(func.count()).select_from(AuditDraw))

    outputs = []
    assert run(date(2027, 3, 1)) == 0
    assert run(date(2027, 3, 2)) == 1
    assert "audit programme daily-prog, 2027-03 drawn: 2 visits" in outputs[-1]
    assert run(date(2027, 3, 3)) == 1  # once a period
    assert run(date(2027, 4, 5)) == 2  # April: 1st missed, the next run draws it


def test_cli_draws_prints_and_verifies(app, small):
    programme("cli-prog")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audits", "draw", "--period", "2027-05", "--seed", "ABC", "--verify"])
    assert result.exit_code == 0, result.output
    assert "cli-prog 2027-05" in result.output and "seed abc" in result.output and "verified" in result.output
    assert drawing.existing_draw(db.session.scalar(select(AuditProgramme).where(AuditProgramme.slug == "cli-prog")),
                                 "2027-05").seed_given  # a chosen seed is marked as chosen
    again = runner.invoke(args=["audits", "draw", "--period", "2027-05", "--programme", "cli-prog"])
    assert "already drawn" in again.output
    bad = runner.invoke(args=["audits", "draw", "--period", "2027-Q2"])
    assert bad.exit_code == 1 and "monthly" in bad.output
    assert runner.invoke(args=["audits", "draw", "--programme", "nope"]).exit_code != 0


def test_draw_page_for_trainers_only(app, small, make_user):
    from .conftest import get_csrf, login

    make_user("trainer", "trainer")
    prog = programme("page-prog", sampling={"rate": 0.5, "count": None})
    period = drawing.period_of(local_today(), "monthly")
    client = app.test_client()
    login(client, "trainer")
    page = client.get(f"/audits/programmes/page-prog/draws/{period}").get_data(as_text=True)
    assert 'data-draw="none"' in page and 'action="/audits/programmes/page-prog/draw"' in page
    token = get_csrf(client, f"/audits/programmes/page-prog/draws/{period}")
    response = client.post("/audits/programmes/page-prog/draw", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/draws/{period}")
    row = drawing.existing_draw(prog, period)
    assert row.drawn == 10 and row.drawn_by_id is not None
    client.post("/audits/programmes/page-prog/draw", data={"csrf_token": token})  # once a period
    assert db.session.scalar(select(func.count()).select_from(AuditVisit)) == 10
    page = client.get(f"/audits/programmes/page-prog/draws/{period}").get_data(as_text=True)
    assert page.count("data-visit>") == 10 and f"{row.seed}" in page and 'data-verified=""' in page
    assert not row.seed_given and "data-seed-given" not in page  # drawn by chance
    row.seed_given = True
    db.session.commit()
    assert "data-seed-given" in client.get(f"/audits/programmes/page-prog/draws/{period}").get_data(as_text=True)
    assert 'data-verified="yes"' in client.get(f"/audits/programmes/page-prog/draws/{period}?verify=1").get_data(as_text=True)
    programme_page = client.get("/audits/programmes/page-prog").get_data(as_text=True)
    assert f'href="/audits/programmes/page-prog/draws/{period}"' in programme_page and "data-current-draw" in programme_page
    assert client.get("/audits/programmes/nope/draws/2027-01").status_code == 404
    assert client.get("/audits/programmes/page-prog/draws/2027-13").status_code == 404
    tech = app.test_client()
    login(tech, small["techs"][0].username)
    assert tech.get(f"/audits/programmes/page-prog/draws/{period}").status_code == 403


def test_two_draws_at_once_make_one(app, small, monkeypatch):
    """The second of two draws started together finds no draw, then meets the first one's row at
    the unique (programme, period): it writes nothing and returns the first."""
    prog = programme("race")
    first = drawing.draw(prog, "2027-06", today=date(2027, 6, 1))
    visits = db.session.scalar(select(func.count()).select_from(AuditVisit))
    real = drawing.existing_draw
    calls = []

    def late(programme_, period):  # the check ran before the other draw committed
        calls.append(period)
        return None if len(calls) == 1 else real(programme_, period)

    monkeypatch.setattr(drawing, "existing_draw", late)
    assert drawing.draw(prog, "2027-06", today=date(2027, 6, 1)).id == first.id
    assert len(calls) == 2
    assert db.session.scalar(select(func.count()).select_from(AuditVisit)) == visits
    assert db.session.scalar(select(func.count()).select_from(AuditDraw)) == 1


def test_visits_nobody_can_take_are_told_to_the_trainers(app, small, make_user):
    """With no active auditor every visit is unassigned: the trainers hear it once, with the count
    and a link to those visits; a trainer who is also a technician drawn in it does not."""
    small["auditor"].active = False
    trainer = make_user("str", "trainer")
    drawn_trainer = make_user("strtech", "trainer", outlet="GD-GZ-01", start_date=date(2025, 1, 6))
    db.session.add(UserRole(user_id=drawn_trainer.id, role="technician"))
    db.session.commit()
    prog = programme("nobody", sampling={"rate": 1.0, "count": None})
    row = drawing.draw(prog, "2027-02", today=date(2027, 2, 1))
    assert row.drawn == row.unassigned == 21
    told = db.session.execute(select(Notification.user_id, Notification.params, Notification.link)
                              .where(Notification.key == f"audit-draw-unassigned:{row.id}")).all()
    assert [(uid, params["n"]) for uid, params, _link in told] == [(trainer.id, 21)]
    assert told[0][2] == "/audits/visits/?period=2027-02&status=unassigned"


def test_rebuild_coverage_recounts_the_kept_facts(app, small):
    """Rows copied in behind the portal's back (here: the kept tables emptied by hand) are made
    right again by ``flask audits rebuild-coverage``."""
    prog = programme("rebuild", sampling={"rate": 1.0, "count": None})
    drawing.draw(prog, "2027-03", today=date(2027, 3, 1))
    live = coverage.live_visit_years()
    assert live and coverage.kept_visit_years() == live
    db.session.execute(delete(coverage.YEARS))
    db.session.commit()
    assert coverage.kept_visit_years() != live
    result = app.test_cli_runner().invoke(args=["audits", "rebuild-coverage"])
    assert result.exit_code == 0 and "coverage facts recounted" in result.output, result.output
    db.session.expire_all()
    assert coverage.kept_visit_years() == live and coverage.kept_last_visits() == coverage.live_last_visits()
