"""The trainer dashboard: each figure equals the length of the list it links to; who may see
it; the technician list and its exports."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.certification import services as certs
from portal.certification.loader import load_tiers
from portal.auth.services import find_user
from portal.extensions import db

from .conftest import ROOT_DIR, login, pass_quiz
from .paging import walk


@pytest.fixture
def network_data(app, users, make_user, quizzes, network):
    """Technicians in two regions, certificates at two tiers (one expiring), quiz results."""
    from portal.auth.models import Outlet, Province, Region

    north = Region(code="NORTH", name_zh="华北大区", name_en="North Region")
    bj = Province(code="BJ", name_zh="北京", name_en="Beijing", region=north)
    db.session.add_all([north, bj, Outlet(code="BJ-01", name_zh="北京网点", name_en="Beijing outlet", city="北京",
                                          province=bj)])
    db.session.commit()
    people = [users["technician"]] + [make_user(f"south{n}", "technician", outlet="GD-FS-01") for n in range(3)] \
        + [make_user(f"north{n}", "technician", outlet="BJ-01") for n in range(2)]
    with app.test_request_context():
        assert not load_tiers(ROOT_DIR / "content" / "certification").problems
        first, second = certs.tier_by_code("certified"), certs.tier_by_code("senior")
        today = date.today()
        certs.issue(people[0], first, today - timedelta(days=340), force=True, note="x")  # expires within 30 days
        certs.issue(people[1], first, today - timedelta(days=10), force=True, note="x")
        certs.issue(people[1], second, today - timedelta(days=10), force=True, note="x")
        revoked = certs.issue(people[2], first, today - timedelta(days=10), force=True, note="x")
        certs.revoke(revoked, "left", by=users["trainer"])
        certs.issue(people[4], first, today - timedelta(days=300), force=True, note="x")  # within 90
    pass_quiz(people[0], "onboarding-final")
    return people


def _figures(html: str, section: str) -> list[tuple[int, str]]:
    part = html[html.index(f'data-section="{section}"'):]
    part = part[:part.index("</section>")]
    return [(int(n), href.replace("&amp;", "&")) for href, n in re.findall(r'<a data-figure href="([^"]+)">(\d+)</a>', part)]


def _list_length(client, href: str) -> int:
    page = client.get(href).get_data(as_text=True)
    if "/technicians/" in href:
        return int(re.search(r"<span data-count>(\d+)</span>", page).group(1))
    if "/certificates/" in href:
        return page.count("<tr data-row=")
    if "/quizzes/" in href:
        body = page[page.index("data-results"):]
        return body[:body.index("</table>")].count('<th scope="row">')
    if href.startswith("/dashboard/overdue"):
        assert int(re.search(r"<span data-count>(\d+)</span>", page).group(1)) == page.count("<tr data-overdue>")
        return page.count("<tr data-overdue>")
    if href.startswith("/audits/"):
        return int(re.search(r"<span data-count>(\d+)</span>", page).group(1))
    if href.startswith("/cases/reports/gaps"):
        return page.count("<tr data-gap>")
    if href.startswith("/cases/review"):
        return page.count("<li data-pending>")
    if href.startswith("/content/review"):
        return int(re.search(r"<span data-count>(\d+)</span>", page).group(1))
    if href.startswith("/learning/courses"):
        return page.count('<li class="card">')
    if href.startswith("/learning/assignments/") and href.endswith("#overdue"):
        part = page[page.index('data-section="overdue"'):]
        return part[:part.index("</section>")].count("<li>")
    raise AssertionError(href)


@pytest.mark.parametrize("level", ["region", "province", "outlet"])
def test_every_coverage_figure_equals_the_list_it_links_to(app, network_data, level):
    client = app.test_client()
    login(client, "trainer")
    html = client.get(f"/dashboard/?by={level}").get_data(as_text=True)
    figures = _figures(html, "coverage")
    assert figures and any(n > 0 for n, _href in figures)
    for number, href in figures:
        assert _list_length(client, href) == number, href


FIGURE = re.compile(r'<a data-figure href="([^"]+)">(?:<span[^>]*>)?(\d+)')


def test_every_trainer_home_and_dashboard_figure_follows_to_a_list_of_that_length(app, network_data, users,
                                                                                   make_user):
    """A Master whose first-tier certificate is suspended still counts as certified at the first
    tier (a higher valid tier counts at every tier below it); "suspended or lapsed" links to exactly
    those certificates, "overdue" to exactly those technicians and courses."""
    from portal.records.dashboard import holders
    from portal.learning.models import Assignment, Course

    today = date.today()
    master = make_user("master1", "technician", outlet="GD-GZ-01", name="大师")
    with app.test_request_context():
        tiers = [certs.tier_by_code(code) for code in ("certified", "senior", "master")]
        first = certs.issue(master, tiers[0], today - timedelta(days=200), force=True, note="x")
        certs.issue(master, tiers[1], today - timedelta(days=100), force=True, note="x")
        certs.issue(master, tiers[2], today - timedelta(days=5), force=True, note="x")  # after the grace period
        certs.suspend(first, "complaint under review", by=users["trainer"])
        quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
        db.session.add(Assignment(course_id=quarterly.id, scope="all", due_date=today - timedelta(days=45)))
        db.session.commit()
        report = certs.sweep(today)  # those certified before the course's grace period ended lapse
    assert report.lapsed >= 2
    for tier in tiers:
        assert master.id in holders(tier.id, today, {master.id}), tier.code
    client = app.test_client()
    login(client, "trainer")
    listed = client.get(f"/technicians/?tier={tiers[0].id}").get_data(as_text=True)
    assert "大师" in listed

    home = client.get("/trainer").get_data(as_text=True)
    figures = [(href.replace("&amp;", "&"), int(n)) for href, n in FIGURE.findall(home)]
    hrefs = [h for h, _n in figures]
    assert "/certificates/?status=suspended,lapsed" in hrefs and "/dashboard/overdue" in hrefs
    attention = dict(figures)["/certificates/?status=suspended,lapsed"]
    assert attention == report.lapsed + 1  # the lapsed ones and the Master's suspended first tier
    assert dict(figures)["/dashboard/overdue"] == 7  # every active technician, none has done the course
    for level in ("region", "province", "outlet"):
        page = client.get(f"/dashboard/?by={level}").get_data(as_text=True)
        figures += [(href.replace("&amp;", "&"), int(n)) for href, n in FIGURE.findall(page)]
    assert any("#overdue" in h for h, _n in figures)
    for href, number in figures:
        assert _list_length(client, href) == number, href


def test_known_figures_and_quiz_rates(app, network_data, network):
    client = app.test_client()
    login(client, "trainer")
    html = client.get("/dashboard/?by=region").get_data(as_text=True)
    south = html[html.index("South Region") if "South Region" in html else html.index("华南大区"):]
    south_figures = [int(n) for n in re.findall(r'<a data-figure href="[^"]+">(\d+)</a>', south)[:7]]
    # 4 technicians; tier 1 held by 2 (the revoked one does not count); tier 2 by 1; tier 3 none;
    # one certificate expiring within 30, 60 and 90 days.
    assert south_figures == [4, 2, 1, 0, 1, 1, 1]
    for number, href in _figures(html, "quizzes"):
        assert _list_length(client, href) == number


def test_only_trainers_and_admins_see_the_dashboard_and_the_list(app, users):
    for username, status in (("trainer", 200), ("admin", 200), ("tech", 403), ("auditor", 403)):
        client = app.test_client()
        login(client, username)
        assert client.get("/dashboard/").status_code == status, username
        assert client.get("/technicians/").status_code == status, username


def test_the_technician_list_exports_csv_with_a_bom_and_xlsx_with_the_same_rows(app, network_data):
    from openpyxl import load_workbook

    client = app.test_client()
    login(client, "trainer")
    raw = client.get("/technicians/?format=csv").get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["用户名", "姓名", "网点代码"]  # the Chinese interface
    assert any(r[0] == "tech" and r[1] == "陈强" for r in rows[1:])  # Chinese intact
    book = load_workbook(io.BytesIO(client.get("/technicians/?format=xlsx").get_data()))
    sheet_rows = [[("" if v is None else str(v)) for v in row] for row in book.active.iter_rows(values_only=True)]
    assert sheet_rows == rows


def test_trainer_tables_export_to_xlsx_with_the_same_rows_as_csv(app, network_data):
    from openpyxl import load_workbook

    client = app.test_client()
    login(client, "trainer")
    from portal.learning import services as learning
    from portal.learning.models import Course

    onboarding = db.session.scalar(select(Course).where(Course.slug == "onboarding"))
    cohort = learning.create_cohort("Export cohort", onboarding, date.today() - timedelta(days=3),
                                    [find_user("trainer")],
                                    network_data[:2], None)
    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    assignment = learning.create_assignment(quarterly, "all", date.today() - timedelta(days=1), None)
    for path in (f"/learning/cohorts/{cohort.id}?x=1", f"/learning/assignments/{assignment.id}?x=1",
                 "/cases/reports/gaps?days=30", "/cases/reports/feedback?x=1", "/learning/targeted?x=1",
                 "/certificates/eligibility?x=1",
                 "/certificates/?status=active", "/quizzes/onboarding-final/report?x=1",
                 "/quizzes/onboarding-final/report?items=1", "/audits/reports?export=pareto",
                 "/audits/reports?export=monthly", "/audits/reports?export=red-lines"):
        csv_format, xlsx_format = ("items-csv", "items-xlsx") if "items=1" in path else ("csv", "xlsx")
        raw = client.get(f"{path}&format={csv_format}").get_data()
        assert raw.startswith("\ufeff".encode()), path
        rows = [[_same(v) for v in row] for row in csv.reader(io.StringIO(raw.decode("utf-8-sig")))]
        book = load_workbook(io.BytesIO(client.get(f"{path}&format={xlsx_format}").get_data()))
        sheet = [[_same(v) for v in row] for row in book.active.iter_rows(values_only=True)]
        assert sheet == rows, path
        assert len(rows) >= 1


def _same(value) -> str:
    """A cell as text, numbers written the same way whichever file they came from."""
    if value is None:
        return ""
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def test_audit_figures_equal_the_lists_they_link_to(app, network_data, users, courses):
    from datetime import datetime, timezone

    from portal.audits import services as audits
    from portal.audits.loader import current_template, load_templates

    assert not load_templates(ROOT_DIR / "content" / "audits").problems
    form = current_template("home-service-visit")
    now = datetime.now(timezone.utc)
    with app.test_request_context():
        for n, (days_ago, red) in enumerate(((5, False), (20, True), (200, False))):
            visited = now - timedelta(days=days_ago)
            audit = audits.start(users["auditor"], network_data[n], form, visited, f"WO-{n}", "air-conditioner",
                                 "广州", visited + timedelta(hours=1))
            answers = audits.model_answers(form.spec)
            if red:
                answers["accepted-gift"] = "yes"
            for item, value in answers.items():
                audits.save_answer(audit, item, value, "tea" if item == "accepted-gift" and red else None)
            audits.submit(audit, visited + timedelta(hours=1))
    client = app.test_client()
    login(client, "trainer")
    html = client.get("/dashboard/").get_data(as_text=True)
    part = html[html.index('data-section="audits"'):]
    figures = re.findall(r'<a data-figure href="([^"]+)"><span class="stat">(\d+)</span>', part[:part.index("</section>")])
    assert [int(n) for _h, n in figures] == [2, 1]  # the 200-day-old report is outside the 90 days
    for href, number in figures:
        listed = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
        assert int(re.search(r"<span data-count>(\d+)</span>", listed).group(1)) == int(number)
        assert listed.count("data-audit-row=") == int(number)
    # The count is labelled in the reader's language.
    assert "<span data-count>2</span> audit reports ·" in client.get(figures[0][0].replace("&amp;", "&") + "&lang=en").get_data(as_text=True)
    assert "<span data-count>2</span> 份暗访报告 ·" in client.get(figures[0][0].replace("&amp;", "&") + "&lang=zh_CN").get_data(
        as_text=True)


def test_knowledge_base_figures_equal_the_lists_they_link_to(app, users, kb_data):
    from portal.kb import gaps
    from portal.kb.search_service import mark_opened

    for norm, results, opened in (("e9 fault", 0, False), ("no heat", 3, False), ("e1", 4, True), ("e9 fault", 0, False)):
        entry = gaps.log_search(norm, norm, "zh", results, users["technician"].id)
        db.session.commit()
        if opened:
            mark_opened(entry.id, users["technician"])
    client = app.test_client()
    login(client, "trainer")
    html = client.get("/dashboard/").get_data(as_text=True)
    part = html[html.index('data-section="knowledge"'):]
    figures = re.findall(r'<a data-figure href="([^"]+)"><span class="stat">(\d+)</span>', part[:part.index("</section>")])
    assert [int(n) for _h, n in figures] == [2, 1]  # two queries that found nothing useful; one contribution
    gaps = client.get(figures[0][0].replace("&amp;", "&")).get_data(as_text=True)
    assert gaps.count("<tr data-gap>") == 2
    queue = client.get(figures[1][0]).get_data(as_text=True)
    assert queue.count("<li data-pending>") == 1


def test_a_chinese_interface_export_has_chinese_headers_and_place_names(app, network_data):
    """Headers in the reader's language; each code (outlet, province, region) next to its name."""
    from openpyxl import load_workbook

    from portal.auth.models import Outlet

    client = app.test_client()
    login(client, "trainer")
    outlet = db.session.scalar(select(Outlet).where(Outlet.code == "GD-GZ-01"))
    province, region = outlet.province, outlet.province.region
    raw = client.get("/technicians/?format=csv&lang=zh_CN").get_data()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:9] == ["用户名", "姓名", "网点代码", "网点", "省份代码", "省份", "大区代码", "大区", "入职日期"]
    tech = next(r for r in rows[1:] if r[0] == "tech")
    assert tech[2:8] == ["GD-GZ-01", outlet.name_zh, province.code, province.name_zh, region.code, region.name_zh]
    assert "是" in tech[9:]  # holds a tier: yes in Chinese
    sheet = [list(r) for r in load_workbook(io.BytesIO(
        client.get("/technicians/?format=xlsx&lang=zh_CN").get_data())).active.iter_rows(values_only=True)]
    assert sheet[0][:4] == ["用户名", "姓名", "网点代码", "网点"]
    english = list(csv.reader(io.StringIO(client.get("/technicians/?format=csv&lang=en").get_data().decode("utf-8-sig"))))
    assert english[0][:4] == ["username", "name", "outlet", "outlet_name"]
    assert next(r for r in english[1:] if r[0] == "tech")[3] == outlet.name_en
    register = list(csv.DictReader(io.StringIO(client.get("/certificates/?format=csv&lang=zh_CN").get_data()
                                               .decode("utf-8-sig"))))
    line = next(r for r in register if r["用户名"] == "tech")
    assert (line["大区代码"], line["大区"], line["状态"]) == (region.code, region.name_zh, "有效")


def test_exports_keep_numbers_numeric_and_make_formulas_inert(app):
    """A negative number stays a number in CSV and XLSX; "=cmd" never runs: a leading apostrophe
    in CSV, a text cell (not a formula, nothing added) in XLSX."""
    from openpyxl import load_workbook

    from portal.csvexport import table_response

    rows = [["=cmd|' /C calc'!A0", -3, -0.25, "-12", "+5", "@SUM(A1)", "-x", "plain"]]
    with app.test_request_context():
        text = table_response(list("abcdefgh"), rows, "t", "csv").get_data().decode("utf-8-sig")
        book = load_workbook(io.BytesIO(table_response(list("abcdefgh"), rows, "t", "xlsx").get_data()))
    line = list(csv.reader(io.StringIO(text)))[1]
    assert line == ["'=cmd|' /C calc'!A0", "-3", "-0.25", "-12", "+5", "'@SUM(A1)", "'-x", "plain"]
    cells = list(book.active.iter_rows(min_row=2))[0]
    assert cells[0].value == "=cmd|' /C calc'!A0" and cells[0].data_type == "s"
    assert (cells[1].value, cells[1].data_type) == (-3, "n")
    assert (cells[2].value, cells[2].data_type) == (-0.25, "n")
    assert cells[5].value == "@SUM(A1)" and all(c.data_type in ("s", "n") for c in cells)


def test_a_formula_typed_into_a_name_is_inert_in_both_downloads(app, network_data):
    from openpyxl import load_workbook

    network_data[1].name = '=HYPERLINK("http://x.example","click")'
    db.session.commit()
    client = app.test_client()
    login(client, "trainer")
    rows = list(csv.reader(io.StringIO(client.get("/technicians/?format=csv").get_data().decode("utf-8-sig"))))
    assert ["'" + network_data[1].name] == [r[1] for r in rows if r[0] == network_data[1].username]
    sheet = load_workbook(io.BytesIO(client.get("/technicians/?format=xlsx").get_data())).active
    cell = next(row[1] for row in sheet.iter_rows(min_row=2) if row[0].value == network_data[1].username)
    assert cell.value == network_data[1].name and cell.data_type == "s"


@pytest.mark.parametrize("level", ["region", "province", "outlet"])
def test_the_grouped_coverage_equals_the_place_by_place_one(app, network_data, level):
    """coverage() (grouped queries) gives the same rows as coverage_live (place by place)."""
    from portal.records.dashboard import coverage, coverage_live

    for today in (date.today(), date.today() + timedelta(days=45), date.today() + timedelta(days=400)):
        shown = lambda rows: [(r.name, r.filters, r.technicians, [(t.id, n, p) for t, n, p in r.tiers],  # noqa: E731
                               r.expiring) for r in rows]
        with app.test_request_context():
            assert shown(coverage(level, today)) == shown(coverage_live(level, today))


# --- network scale: kept/grouped figures equal the live ones, the by-outlet coverage a page at a
# time, the technician list sorted across pages -------------------------------------------------


def test_quiz_rates_and_audit_figures_equal_the_live_ones_after_random_changes(app, network_data, users, courses):
    """quiz_rates (the results kept at grading, one grouped query) and audit_summary (one
    aggregate) equal their live references (every attempt graded again / every report loaded)
    after a random sequence of gradings, quiz (de)activations, audit drafts and submissions; and
    the dashboard's quiz and audit figures are the lengths of the lists they link to."""
    import random
    from datetime import datetime, timezone

    from portal.assessment import attempts as engine
    from portal.assessment import services as quiz_svc
    from portal.assessment.attempts import AttemptError
    from portal.audits import services as audits
    from portal.audits.loader import current_template, load_templates
    from portal.records.dashboard import audit_summary, audit_summary_live, quiz_rates, quiz_rates_live

    assert not load_templates(ROOT_DIR / "content" / "audits").problems
    form = current_template("home-service-visit")
    rng = random.Random(1306)
    quizzes_ = [quiz_svc.quiz_by_slug(slug) for slug in ("onboarding-final", "2026-q3-r32-inverter-splits",
                                                          "2026-q4-heat-pump-water-heaters")]
    people = network_data
    now = datetime.now(timezone.utc)
    when = now - timedelta(days=300)
    shown = lambda rates: [(q.id, took, passed) for q, took, passed in rates]  # noqa: E731
    graded = 0
    for step in range(40):
        move = rng.random()
        when += timedelta(days=rng.randint(1, 6))
        if move < 0.55:
            quiz = rng.choice(quizzes_)
            try:
                engine.take(rng.choice(people), quiz, min(when, now), right=rng.choice([None, 0, 3, 6, 9]),
                            seed=rng.randrange(10**6))
                graded += 1
            except AttemptError:
                pass  # out of attempts, or cooling down: nothing changes
        elif move < 0.65:
            quiz = rng.choice(quizzes_)
            quiz.active = not quiz.active
            db.session.commit()
        else:
            visited = now - timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 23))
            with app.test_request_context():
                audit = audits.start(users["auditor"], rng.choice(people), form, visited, f"WO-{step}",
                                     "air-conditioner", "广州", visited + timedelta(hours=1))
                answers = audits.model_answers(form.spec)
                red = rng.random() < 0.3
                if red:
                    answers["accepted-gift"] = "yes"
                for item, value in answers.items():
                    audits.save_answer(audit, item, value, "tea" if item == "accepted-gift" and red else None)
                if rng.random() < 0.8:  # the rest stay drafts, which count nowhere
                    audits.submit(audit, visited + timedelta(hours=1))
        with app.test_request_context():
            assert shown(quiz_rates()) == shown(quiz_rates_live()), step
            assert audit_summary(date.today()) == audit_summary_live(date.today()), step
    for quiz in quizzes_:
        quiz.active = True
    db.session.commit()
    with app.test_request_context():
        rates, summary = quiz_rates(), audit_summary(date.today())
        assert shown(rates) == shown(quiz_rates_live()) and audit_summary_live(date.today()) == summary
    assert graded > 10 and len(rates) >= 2 and any(0 < passed < took for _q, took, passed in rates)
    assert summary["count"] > 3 and summary["red_lines"] > 0 and summary["average"] is not None

    client = app.test_client()
    login(client, "trainer")
    body = client.get("/dashboard/").get_data(as_text=True)
    quiz_figures = _figures(body, "quizzes")
    assert sorted(n for n, _href in quiz_figures) == sorted(took for _q, took, _p in rates)
    for number, href in quiz_figures:
        assert _list_length(client, href) == number, href
    part = body[body.index('data-section="audits"'):]
    figures = re.findall(r'<a data-figure href="([^"]+)"><span class="stat">(\d+)</span>', part[:part.index("</section>")])
    assert [int(n) for _h, n in figures] == [summary["count"], summary["red_lines"]]
    app.config["PAGE_SIZE"] = 2  # the audit list a page at a time: the figure is its length, not a page's
    for href, number in figures:
        listed = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
        assert int(re.search(r"<span data-count>(\d+)</span>", listed).group(1)) == int(number)
        pages, _urls = walk(client, html.unescape(href), re.compile(r'data-audit-row="(\d+)"'), 2)
        shown_rows = [row for page in pages for row in page]
        assert len(shown_rows) == len(set(shown_rows)) == int(number), href


@pytest.fixture
def many_outlets(app, network_data, make_user):
    """Seven more outlets in two provinces, each with one or two technicians (one certified)."""
    from portal.auth.models import Outlet, Province

    north_bj = db.session.scalar(select(Province).where(Province.code == "BJ"))
    south_gd = db.session.scalar(select(Province).where(Province.code == "GD"))
    for n in range(7):
        province = north_bj if n % 2 else south_gd
        db.session.add(Outlet(code=f"{province.code}-X{n:02d}", name_zh=f"网点{n}", name_en=f"Outlet {n}",
                              city="某市", province=province))
    db.session.add(Outlet(code="GD-EMPTY", name_zh="空网点", name_en="Empty outlet", city="某市", province=south_gd))
    db.session.commit()
    with app.test_request_context():
        first = certs.tier_by_code("certified")
        for n in range(7):
            code = f"{'BJ' if n % 2 else 'GD'}-X{n:02d}"
            for k in range(1 + n % 2):
                user = make_user(f"x{n}k{k}", "technician", outlet=code, name=f"x {n} {k}")
                if k == 0 and n % 3 == 0:
                    certs.issue(user, first, date.today() - timedelta(days=20), force=True, note="x")
    return north_bj, south_gd


COVERAGE_ROW = re.compile(r'<tr><th scope="row">([^<]+)</th>')


def test_the_by_outlet_coverage_is_paged_in_sql_and_every_page_equals_the_live_figures(app, many_outlets):
    """10 outlets with technicians (an outlet without any is no line) over pages of 3: walked by
    "Next", the pages are the live by-outlet coverage in order, none twice; each figure on each
    page is the length of the list it links to; a region's or province's outlets alone when
    filtered."""
    from portal.auth.models import Region
    from portal.records.dashboard import coverage, coverage_live, coverage_outlets

    north_bj, south_gd = many_outlets
    app.config["PAGE_SIZE"] = 3
    today = date.today()
    with app.test_request_context():
        live = coverage_live("outlet", today)
        pages = [coverage_outlets(today, per_page=3)]
        with app.test_request_context("/?page=2"):
            pages.append(coverage_outlets(today, per_page=3))
        as_tuples = lambda rows: [(r.name, r.filters, r.technicians, [(t.id, n, p) for t, n, p in r.tiers],  # noqa: E731
                                   r.expiring) for r in rows]
        assert as_tuples(coverage("outlet", today)) == as_tuples(live)
        assert as_tuples(pages[0].items) == as_tuples(live[:3]) and as_tuples(pages[1].items) == as_tuples(live[3:6])
        assert pages[0].total == len(live) == 10
        for region_id, province_id in ((None, north_bj.id), (south_gd.region_id, None), (north_bj.region_id, south_gd.id)):
            assert as_tuples(coverage("outlet", today, region_id, province_id)) == \
                as_tuples(coverage_live("outlet", today, region_id, province_id))
        assert as_tuples(coverage("province", today, north_bj.region_id)) == \
            as_tuples(coverage_live("province", today, north_bj.region_id))
        codes = [r.name.split()[0] for r in live]  # the outlet's code, then its name (in the reader's language)
        bj_codes = [r.name.split()[0] for r in coverage_live("outlet", today, province_id=north_bj.id)]
        north = db.session.get(Region, north_bj.region_id)
    client = app.test_client()
    login(client, "trainer")
    rows, urls = walk(client, "/dashboard/?by=outlet", COVERAGE_ROW, 3)
    assert [html.unescape(n).split()[0] for page in rows for n in page] == codes and len(urls) == 4
    for url in urls:
        for number, href in _figures(client.get(url).get_data(as_text=True), "coverage"):
            assert _list_length(client, href) == number, href
    rows, _urls = walk(client, f"/dashboard/?by=outlet&province={north_bj.id}", COVERAGE_ROW, 3)
    assert [html.unescape(n).split()[0] for page in rows for n in page] == bj_codes and len(bj_codes) == 4
    # the region view's names lead to its provinces, a province's to its outlets
    by_region = client.get("/dashboard/?by=region").get_data(as_text=True)
    assert f'/dashboard/?by=province&amp;region={north.id}' in by_region
    by_province = client.get(f"/dashboard/?by=province&region={north.id}").get_data(as_text=True)
    table = by_province.split('data-section="coverage"')[1].split("</table>")[0].split("</thead>")[1]
    assert f'/dashboard/?by=outlet&amp;province={north_bj.id}' in table
    assert COVERAGE_ROW.findall(table) == [] and "广东" not in table and "Guangdong" not in table


TECH_ROW = re.compile(r'<tr><th scope="row"><a href="/technicians/([^"]+)">')


def test_the_technician_list_sorts_in_sql_across_every_page(app, many_outlets):
    """Sorting by a column orders the whole list (every page follows the one before), not the
    rows of one page: by outlet, by name (reversed) and by a tier (holders first); the filters and
    the sort survive the pager."""
    from portal.auth.models import User
    from portal.auth.services import active_technicians
    from portal.records.dashboard import holders

    app.config["PAGE_SIZE"] = 4
    with app.test_request_context():
        people = active_technicians()
        first = certs.tier_by_code("certified")
        held = holders(first.id, date.today(), {u.id for u in people})
        outlet = {u.id: (u.outlet.code if u.outlet else "~") for u in people}
        expected = {
            "sort=outlet": [u.username for u in sorted(people, key=lambda u: (outlet[u.id], u.username))],
            "sort=name&desc=1": [u.username for u in sorted(people, key=lambda u: (u.display_name, u.username),
                                                            reverse=True)],
            f"sort=tier-{first.id}": [u.username for u in sorted(people, key=lambda u: (u.id not in held, u.username))],
        }
        south = db.session.scalar(select(User).where(User.username == "south0")).outlet.province.region_id
        in_south = [u.username for u in active_technicians(region_id=south)]
    assert len(people) > 12 and 0 < len(held) < len(people)
    client = app.test_client()
    login(client, "trainer")
    for query, usernames in expected.items():
        pages, urls = walk(client, f"/technicians/?{query}", TECH_ROW, 4)
        assert [u for page in pages for u in page] == usernames, query
        assert len(urls) > 2 and all(query.split("&")[0] in url for url in urls[1:]), urls
        assert usernames != sorted(usernames)  # not the default order by username
    # a filter and a sort together, across pages
    pages, urls = walk(client, f"/technicians/?region={south}&sort=outlet&desc=1", TECH_ROW, 4)
    with app.test_request_context():
        want = sorted(in_south, key=lambda name: (outlet[find_user(name).id], name), reverse=True)
    assert [u for page in pages for u in page] == want and all(f"region={south}" in url for url in urls)
    header = client.get("/technicians/?sort=outlet").get_data(as_text=True)
    assert 'aria-sort="ascending"' in header and "sort=outlet&amp;desc=1" in header


def test_the_overdue_list_reads_its_due_dates_in_the_page_query(app, network_data, make_user, courses, monkeypatch):
    """Each overdue row's own due date (later for a late joiner) comes with the page's rows: the
    same dates as the live rule, and a page costs the same number of statements whether it has
    two rows or ten (no query per row for the due date or the outlet)."""
    from sqlalchemy import event

    from portal.learning import members
    from portal.learning.models import Assignment, Course
    from portal.learning.services import due_for
    from portal.records import dashboard

    today = date.today()
    quarterly = db.session.scalar(select(Course).where(Course.kind == "quarterly").order_by(Course.slug))
    db.session.add(Assignment(course_id=quarterly.id, scope="all", due_date=today - timedelta(days=45)))
    db.session.commit()
    make_user("newer", "technician", outlet="BJ-01", start_date=today - timedelta(days=50))
    with app.test_request_context():
        rows = members.OverdueList(today, with_due=True)[0:100]
        assert [(a.id, u.id) for a, u, _due in rows] == [(a.id, u.id) for a, u in members.OverdueList(today)]
        assert all(due == due_for(a, u) for a, u, due in rows) and len(rows) >= 7
    statements = []
    counter = lambda *args: statements.append(1)  # noqa: E731
    client = app.test_client()
    login(client, "trainer")
    sizes = {}
    for per_page in (2, 10):
        monkeypatch.setattr(dashboard, "OVERDUE_PAGE", per_page)
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            statements.clear()
            page = client.get("/dashboard/overdue").get_data(as_text=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert page.count("<tr data-overdue>") == min(per_page, len(rows))
        sizes[per_page] = len(statements)
    assert sizes[2] == sizes[10], sizes
