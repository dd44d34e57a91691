"""Audit coverage (issue 16): every figure of the page equals a recount from the raw rows, its
link lists exactly the rows counted, the drill-down narrows the scope, the CSV matches the page,
overdue follows the portal's day, and the kept "last audited" fact equals the reports."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, insert, select, text, update

from portal.audits import coverage as cov
from portal.audits.models import Audit, AuditDraw, AuditProgramme, AuditTemplate, AuditVisit, AuditVisitHandback
from portal.auth.models import Outlet, Province, Region, User, UserRole
from portal.extensions import db

from .conftest import login

PER_OUTLET = 9  # technicians per outlet: 2 regions × 2 provinces × 3 outlets × 9 = 216, plus 4 with no outlet
FIGURE_RE = re.compile(r'data-figure="(\w+)" href="([^"]+)">(\d+)</a>')
ROW_ID_RE = re.compile(r'data-(?:visit|audit|technician)="(\d+)"')


@pytest.fixture
def built(app, users):
    """A network of hundreds of technicians, some audited lately, some long ago, some never;
    the period's visits in every status (overdue by the portal's day, unassigned, handed back),
    reports linked to done visits, unplanned reports, drafts that count for nothing."""
    app.config["PAGE_SIZE"] = 1000
    rng = random.Random(16)
    day = cov.today()
    period = cov.current_period(day)
    year = day.year
    start, _end = cov.period_days(period)
    in_period = cov.local_midnight(start) + timedelta(hours=10)
    outlets = {}
    for r in ("EAST", "WEST"):
        region = Region(code=r, name_zh=r, name_en=r)
        for p in (1, 2):
            province = Province(code=f"{r}-P{p}", name_zh=f"{r}{p}", name_en=f"{r} {p}", region=region)
            for o in (1, 2, 3):
                outlet = Outlet(code=f"{r}-P{p}-O{o}", name_zh=f"网点{r}{p}{o}", name_en=f"Outlet {r}{p}{o}",
                                province=province)
                db.session.add(outlet)
    db.session.commit()
    outlets = {o.id: (o.province_id, o.province.region_id, o.code) for o in db.session.scalars(select(Outlet))
               if o.code.startswith(("EAST", "WEST"))}
    everywhere = {o.id: (o.province_id, o.province.region_id, o.code) for o in db.session.scalars(select(Outlet))}
    people, roles = [], []
    next_id = 1000
    techs = {}
    for outlet_id in [*sorted(outlets), None]:
        for i in range(PER_OUTLET if outlet_id else 4):
            next_id += 1
            active = not (i == 0 and outlet_id is not None and outlet_id % 3 == 0)  # a few inactive
            people.append({"id": next_id, "username": f"t{next_id}", "name": f"T {next_id}", "password_hash": "x",
                           "active": active, "outlet_id": outlet_id, "auth_version": 1})
            roles.append({"user_id": next_id, "role": "technician"})
            techs[next_id] = (outlet_id, active)
    auditors = []
    for i, outlet_id in enumerate([sorted(outlets)[0], sorted(outlets)[-1], None, None]):
        next_id += 1
        people.append({"id": next_id, "username": f"a{next_id}", "name": f"A {next_id}", "password_hash": "x",
                       "active": True, "outlet_id": outlet_id, "auth_version": 1})
        roles.append({"user_id": next_id, "role": "auditor"})
        auditors.append(next_id)
    db.session.execute(insert(User), people)
    db.session.execute(insert(UserRole), roles)
    template = AuditTemplate(slug="home-visit", version=1, title_zh="上门", title_en="Home visit", spec={},
                             content_hash="x")
    programme = AuditProgramme(slug="home-visit-monthly", template_slug="home-visit", title_zh="月", title_en="M",
                               spec={}, content_hash="x")
    db.session.add_all([template, programme])
    db.session.flush()
    draw = AuditDraw(programme_id=programme.id, period=period, seed="ab", spec={}, due_on=day)
    old_draw = AuditDraw(programme_id=programme.id, period=f"{year - 1}-12", seed="cd",
                         spec={}, due_on=day)
    db.session.add_all([draw, old_draw])
    db.session.flush()
    audits, visits, handbacks = [], [], []
    audit_id, visit_id = 0, 0

    def report(tech, when, status="submitted"):
        nonlocal audit_id
        audit_id += 1
        audits.append({"id": audit_id, "template_id": template.id, "auditor_id": rng.choice(auditors),
                       "technician_id": tech, "visited_at": when, "work_order": f"W{audit_id}", "product": "ac",
                       "city": "x", "status": status, "responses": {}, "comments": {}, "section_scores": {},
                       "failed_items": [], "submitted_at": when if status == "submitted" else None})
        return audit_id

    now = datetime.now(timezone.utc)
    for n, (tech, (outlet_id, _active)) in enumerate(sorted(techs.items())):
        kind = n % 7
        if kind in (0, 1):
            report(tech, now - timedelta(days=rng.randint(1, 300)))  # audited lately
        elif kind == 2:
            report(tech, now - timedelta(days=rng.randint(400, 700)))  # audited long ago
        elif kind == 3:
            report(tech, now - timedelta(days=3), status="draft")  # a draft counts for nothing
        if n % 3 == 0:  # a planned visit this period, in every status
            visit_id += 1
            status = ("open", "open", "done", "cancelled", "open")[n % 5]
            auditor = None if n % 11 == 0 else rng.choice(auditors)
            due = day + timedelta(days=(-1, 0, 3)[(n // 3) % 3])
            linked = report(tech, in_period) if status == "done" else None
            visits.append({"id": visit_id, "draw_id": draw.id, "programme_id": programme.id, "period": period,
                           "technician_id": tech, "outlet_id": outlet_id, "auditor_id": auditor, "due_on": due,
                           "status": status, "reasons": [], "audit_id": linked})
            if n % 4 == 0 and auditor is not None:
                handbacks.append({"visit_id": visit_id, "auditor_id": [a for a in auditors if a != auditor][0],
                                  "reason": "known to the technician", "reassigned_to_id": auditor})
        if n % 13 == 5:
            report(tech, in_period + timedelta(hours=1))  # an unplanned report this period
        if n % 17 == 2:  # a visit of another period: never counted in this one
            visit_id += 1
            visits.append({"id": visit_id, "draw_id": old_draw.id, "programme_id": programme.id,
                           "period": old_draw.period, "technician_id": tech, "outlet_id": outlet_id,
                           "auditor_id": auditors[0], "due_on": day - timedelta(days=40), "status": "open",
                           "reasons": [], "audit_id": None})
    db.session.execute(insert(Audit), audits)
    db.session.execute(insert(AuditVisit), visits)
    db.session.execute(insert(AuditVisitHandback), handbacks)
    if db.engine.dialect.name == "postgresql":  # ids were given: the sequences follow them
        for table in ("user", "audit", "audit_visit"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                    f"(SELECT max(id) FROM \"{table}\"))"))
    cov.rebuild_kept()
    db.session.commit()
    techs = {u.id: (u.outlet_id, u.active) for u in db.session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == "technician"))}
    assert any(v["status"] == "open" and v["due_on"] < day for v in visits)
    assert any(v["status"] == "open" and v["due_on"] == day for v in visits)
    return {"day": day, "period": period, "year": year, "outlets": everywhere,
            "regions": {r.code: r.id for r in db.session.scalars(select(Region))},
            "provinces": {p.code: p.id for p in db.session.scalars(select(Province))}, "techs": techs, "visits": visits,
            "audits": audits, "handbacks": handbacks, "auditors": auditors,
            "codes": {code: oid for oid, (_p, _r, code) in outlets.items()}}


# --- the reference: the same figures recounted from the raw rows, in Python ----------------------


def _place_ok(b, outlet_id, q) -> bool:
    if q.get("outlet") == "none":
        return outlet_id is None
    if outlet_id is None:
        return not any(k in q for k in ("outlet", "province", "region"))
    province_id, region_id, code = b["outlets"][outlet_id]
    if "outlet" in q:
        return code == q["outlet"]
    if "province" in q:
        return province_id == b["provinces"][q["province"]]
    if "region" in q:
        return region_id == b["regions"][q["region"]]
    return True


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def expected_ids(b, what: str, q: dict) -> set[int]:
    day, period = b["day"], b["period"]
    start, end = cov.period_days(period)
    tech_ok = (lambda t: int(q["technician"]) == t) if "technician" in q else (lambda t: True)
    linked = {v["audit_id"] for v in b["visits"] if v["audit_id"]}
    if what in cov.VISIT_FIGURES or what == "handedback":
        def counted(v):
            return {"planned": v["status"] != "cancelled", "done": v["status"] == "done", "open": v["status"] == "open",
                    "overdue": v["status"] == "open" and v["due_on"] < day,
                    "unassigned": v["status"] != "cancelled" and v["auditor_id"] is None}.get(what, True)
        handed = {h["visit_id"] for h in b["handbacks"] if str(h["auditor_id"]) == q.get("auditor")}
        return {v["id"] for v in b["visits"] if v["period"] == period and _place_ok(b, v["outlet_id"], q)
                and tech_ok(v["technician_id"]) and counted(v)
                and ("auditor" not in q or (v["id"] in handed if what == "handedback"
                                            else str(v["auditor_id"]) == q["auditor"]))}
    if what == "unplanned":
        return {a["id"] for a in b["audits"] if a["status"] == "submitted" and a["id"] not in linked
                and start <= cov.local_day(_as_utc(a["visited_at"])) < end
                and _place_ok(b, b["techs"][a["technician_id"]][0], q) and tech_ok(a["technician_id"])}
    people = {t for t, (outlet_id, active) in b["techs"].items() if active and _place_ok(b, outlet_id, q) and tech_ok(t)}
    last = {}
    for a in b["audits"]:
        if a["status"] == "submitted":
            last[a["technician_id"]] = max(last.get(a["technician_id"], a["visited_at"]), a["visited_at"])
    if what == "technicians":
        return people
    if what == "audited12":
        return {t for t in people if t in last and cov.local_day(_as_utc(last[t])) >= day - timedelta(days=365)}
    if what == "never":
        return {t for t in people if t not in last}
    assert what == "visits"
    year = b["year"]
    counts = {t: 0 for t in people}
    for v in b["visits"]:
        if v["period"].startswith(f"{year}-") and v["status"] != "cancelled" and v["technician_id"] in counts:
            counts[v["technician_id"]] += 1
    for a in b["audits"]:
        if (a["status"] == "submitted" and a["id"] not in linked and a["technician_id"] in counts
                and cov.local_day(_as_utc(a["visited_at"])).year == year):
            counts[a["technician_id"]] += 1
    n = int(q["n"])
    return {t for t, c in counts.items() if (c >= 6 if n >= 6 else c == n)}


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url.replace("&amp;", "&")).query).items()}


def _check_page(client, b, params: dict, follow=True) -> list[tuple[str, dict, int]]:
    """Every figure on the page equals the recount; following its link lists exactly those rows."""
    response = client.get("/audits/coverage/", query_string=params)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    figures = FIGURE_RE.findall(html)
    assert figures
    seen = {}
    for what, url, n in figures:
        q = _query(url)
        assert q["what"] == what and q["period"] == b["period"]
        want = expected_ids(b, what, q)
        assert int(n) == len(want), (what, q, n, len(want))
        if follow and url not in seen:
            listing = client.get(url.replace("&amp;", "&")).get_data(as_text=True)
            assert f"<span data-count>{len(want)}</span>" in listing, (what, q)
            assert {int(i) for i in ROW_ID_RE.findall(listing)} == want, (what, q)
            seen[url] = True
    return [(what, _query(url), int(n)) for what, url, n in figures]


def test_every_figure_is_its_recount_and_its_list_at_every_level(app, client, built):
    login(client, "trainer")
    b = built
    network = _check_page(client, b, {})
    kinds = {what for what, _q, _n in network}
    assert kinds == set(cov.FIGURES) | {"visits", "handedback"}  # all figures, distribution, workload
    totals = {what: n for what, q, n in network if set(q) == {"what", "period"}}
    assert totals["overdue"] > 0 and totals["unassigned"] > 0 and totals["unplanned"] > 0
    assert 0 < totals["audited12"] < totals["technicians"] and totals["never"] > 0
    # drill down: the rows of the network are regions (and the technicians with no outlet)
    rows = {q.get("region") or q.get("outlet") for what, q, n in network if what == "planned" and len(q) == 3}
    assert rows == {"EAST", "WEST", "SOUTH", "none"}
    region = _check_page(client, b, {"region": "EAST"})
    assert {q["province"] for what, q, n in region if what == "done" and "province" in q} == {"EAST-P1", "EAST-P2"}
    province = _check_page(client, b, {"province": "WEST-P2"})
    assert {q["outlet"] for what, q, n in province if what == "open" and "outlet" in q} == {
        "WEST-P2-O1", "WEST-P2-O2", "WEST-P2-O3"}
    outlet = _check_page(client, b, {"outlet": "EAST-P1-O2"}, follow=False)
    assert {q["technician"] for what, q, n in outlet if what == "technicians" and "technician" in q}
    _check_page(client, b, {"outlet": "none"}, follow=False)
    # a child's figures add up to its parent's row
    east = {what: n for what, q, n in network if q.get("region") == "EAST" and len(q) == 3}
    east_total = {what: n for what, q, n in region if set(q) == {"what", "period", "region"}}
    for what in cov.FIGURES:
        assert east[what] == east_total[what], what


def test_a_period_of_its_own_and_bad_inputs(app, client, built):
    login(client, "trainer")
    b = built
    other = f"{b['year'] - 1}-12"
    html = client.get("/audits/coverage/", query_string={"period": other}).get_data(as_text=True)
    figures = {what: int(n) for what, url, n in FIGURE_RE.findall(html) if set(_query(url)) == {"what", "period"}}
    assert figures["open"] == sum(1 for v in b["visits"] if v["period"] == other)
    assert client.get("/audits/coverage/?period=2027-13").status_code == 400
    assert client.get("/audits/coverage/?region=NOWHERE").status_code == 404
    assert client.get("/audits/coverage/list?what=everything").status_code == 404


def test_the_export_matches_the_page_in_the_readers_language(app, client, built):
    login(client, "trainer")
    data = cov.coverage(cov.scope_from({"region": "WEST"}), built["period"], built["day"], with_extras=False)
    raw = client.get("/audits/coverage/export.csv?region=WEST&lang=en").get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["code", "unit", "planned"]
    assert [r[0] for r in rows[1:]] == [row.code for row in data.rows] == ["WEST-P1", "WEST-P2"]
    for line, row in zip(rows[1:], data.rows):
        f = row.figures
        assert [int(x) for x in line[2:]] == [f["planned"], f["done"], f["open"], f["overdue"], f["unassigned"],
                                              f["unplanned"], f["technicians"], f["audited12"], row.share12, f["never"]]
    zh = client.get("/audits/coverage/export.csv?region=WEST&lang=zh_CN").get_data().decode("utf-8-sig")
    assert zh.splitlines()[0].startswith("代码,单位,计划,已完成,未完成,已逾期")


def test_overdue_is_counted_from_the_portals_day_not_the_machines(app, built, monkeypatch):
    # 17:00 UTC on the last day of a month is already the next month's first day in Shanghai
    moment = datetime(2027, 1, 31, 17, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(cov, "utcnow", lambda: moment)
    assert cov.today() == date(2027, 2, 1)
    programme_id = db.session.scalar(select(AuditProgramme.id))
    draw = AuditDraw(programme_id=programme_id, period="2027-01", seed="ef", spec={}, due_on=date(2027, 1, 29))
    db.session.add(draw)
    db.session.flush()
    db.session.execute(insert(AuditVisit), [{
        "draw_id": draw.id, "programme_id": programme_id,
        "period": "2027-01", "technician_id": t, "outlet_id": None, "auditor_id": None, "due_on": due,
        "status": "open", "reasons": [], "audit_id": None}
        for t, due in zip((1001, 1002, 1003), (date(2027, 1, 31), date(2027, 1, 31), date(2027, 2, 1)))])
    db.session.commit()
    data = cov.coverage(cov.Scope(), "2027-01")
    assert data.total.figures["open"] == 3
    assert data.total.figures["overdue"] == 2  # due 31 January: overdue on the portal's 1 February


def test_the_kept_facts_equal_the_raw_rows_through_every_change(app, built):
    assert cov.kept_last_visits() == cov.live_last_visits()
    assert cov.kept_visit_years() == cov.live_visit_years()
    never = sorted(t for t in built["techs"] if t not in cov.live_last_visits())[:2]
    template_id = db.session.scalar(select(AuditTemplate.id))
    when = datetime.now(timezone.utc) - timedelta(days=2)
    audit = Audit(template_id=template_id, auditor_id=built["auditors"][0], technician_id=never[0], visited_at=when,
                  work_order="K1", product="ac", city="x", status="draft")
    db.session.add(audit)
    db.session.commit()
    assert never[0] not in cov.kept_last_visits()  # a draft is not an audit
    audit.status, audit.submitted_at = "submitted", when
    db.session.commit()
    assert cov.kept_last_visits() == cov.live_last_visits() and never[0] in cov.kept_last_visits()
    audit.technician_id = never[1]  # a report moved to another technician (corrected)
    db.session.commit()
    assert cov.kept_last_visits() == cov.live_last_visits()
    assert never[0] not in cov.kept_last_visits() and never[1] in cov.kept_last_visits()
    db.session.delete(audit)
    db.session.commit()
    assert cov.kept_last_visits() == cov.live_last_visits() and never[1] not in cov.kept_last_visits()
    assert cov.kept_visit_years() == cov.live_visit_years()
    # visits: planned in bulk, cancelled, linked to a report, cancelled in bulk, deleted
    programme_id = db.session.scalar(select(AuditProgramme.id))
    draw = AuditDraw(programme_id=programme_id, period="2027-02", seed="ff", spec={}, due_on=date(2027, 2, 26))
    db.session.add(draw)
    db.session.flush()
    db.session.execute(insert(AuditVisit), [
        {"draw_id": draw.id, "programme_id": programme_id, "period": "2027-02", "technician_id": t,
         "outlet_id": None, "auditor_id": None, "due_on": date(2027, 2, 26), "status": "open", "reasons": [],
         "audit_id": None} for t in never])
    db.session.commit()
    assert cov.kept_visit_years() == cov.live_visit_years()
    assert cov.kept_visit_years()[(never[0], 2027)] == 1
    unplanned = db.session.scalar(select(Audit).where(Audit.status == "submitted", Audit.technician_id.not_in(
        select(AuditVisit.technician_id).where(AuditVisit.audit_id.is_not(None)))).order_by(Audit.id))
    visit = AuditVisit(draw_id=draw.id, programme_id=programme_id, period="2027-02",
                       technician_id=unplanned.technician_id, due_on=date(2027, 2, 26), status="open")
    db.session.add(visit)
    db.session.commit()
    assert cov.kept_visit_years() == cov.live_visit_years()
    visit.status, visit.audit_id = "done", unplanned.id  # the report is no longer unplanned
    db.session.commit()
    assert cov.kept_visit_years() == cov.live_visit_years()
    db.session.execute(update(AuditVisit).where(AuditVisit.technician_id == never[1]).values(status="cancelled"))
    db.session.commit()
    assert cov.kept_visit_years() == cov.live_visit_years() and (never[1], 2027) not in cov.kept_visit_years()
    first = db.session.scalar(select(AuditVisit.id).where(AuditVisit.technician_id == never[0],
                                                          AuditVisit.period == "2027-02"))
    db.session.execute(update(AuditVisit).where(AuditVisit.id == first).values(auditor_id=built["auditors"][0]))
    db.session.execute(update(AuditVisit), [{"id": first, "status": "cancelled"}])  # by primary key
    db.session.commit()
    assert cov.kept_visit_years() == cov.live_visit_years() and (never[0], 2027) not in cov.kept_visit_years()
    db.session.delete(visit)
    db.session.commit()
    assert cov.kept_visit_years() == cov.live_visit_years()
    # rebuilt from the raw rows after a copy behind the portal's back: the same rows
    db.session.execute(insert(cov.AuditLastVisit.__table__), [{"technician_id": never[0], "visited_at": when}])
    db.session.execute(delete(cov.AuditVisitYear.__table__))
    assert cov.rebuild_kept() == len(cov.live_last_visits())
    assert cov.kept_last_visits() == cov.live_last_visits()
    assert cov.kept_visit_years() == cov.live_visit_years()


def test_only_trainers_and_admins_see_coverage(app, users):
    for who, allowed in (("technician", False), ("auditor", False), ("trainer", True), ("admin", True)):
        client = app.test_client()
        login(client, users[who].username)
        for path in ("/audits/coverage/", "/audits/coverage/list?what=never", "/audits/coverage/export.csv"):
            assert (client.get(path).status_code == 200) is allowed, (who, path)
