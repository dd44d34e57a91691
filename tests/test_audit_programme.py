"""Audit programmes as data (issue 16): the YAML file and the trainers' form, both checked by
programme.validate_spec (every bad value named with its file line or its form field), the loader
(idempotent; a programme changed in the portal kept and a different file reported as a conflict),
the pages (list, rules in words in both languages, the form's round trip, a broken form keeping
what was typed, two trainers' concurrent edits) and who may use them."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from portal.audits.models import AuditDraw, AuditProgramme, AuditTemplate
from portal.audits.programme import digest, load_programmes, parse_programme, validate_spec
from portal.content.loader import plan
from portal.extensions import db

from .conftest import ROOT_DIR, csrf_from, login

SHIPPED = ROOT_DIR / "content" / "audits" / "programmes"

GOOD = {"slug": "visits", "form": "home-service-visit", "title": {"zh": "暗访计划", "en": "Visit programme"},
        "period": "monthly", "sampling": {"rate": "10%"}, "per_technician_per_year": {"min": 2, "max": 6}}


@pytest.fixture
def form_row(app):
    """The audit form the programmes name (a bare row: its items do not matter here)."""
    db.session.add(AuditTemplate(slug="home-service-visit", title_zh="上门服务暗访评估表",
                                 title_en="Home-service visit", spec={}, content_hash="x"))
    db.session.commit()


@pytest.fixture
def english(users):
    for user in users.values():
        user.locale = "en"
    db.session.commit()
    return users


def write(folder: Path, name: str, text_or_data) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    text = text_or_data if isinstance(text_or_data, str) else yaml.safe_dump(text_or_data, allow_unicode=True,
                                                                             sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def programme(slug: str) -> AuditProgramme | None:
    db.session.expire_all()
    return db.session.scalar(select(AuditProgramme).where(AuditProgramme.slug == slug))


# --- the file --------------------------------------------------------------------------------


def test_the_shipped_programme_loads_once_as_the_norms_say(app, form_row):
    report = load_programmes(SHIPPED)
    assert (report.created, report.problems, report.warnings) == (1, [], [])
    row = programme("home-service-visit")
    assert row.source == "file" and row.active and row.template_slug == "home-service-visit"
    assert row.spec == {
        "slug": "home-service-visit", "form": "home-service-visit",
        "title": {"zh": "上门服务暗访计划（每月抽查）", "en": "Home-service mystery visits (monthly spot-check)"},
        "period": "monthly", "sampling": {"rate": 0.1, "count": None}, "overrides": [],
        "per_year": {"min": 2, "max": 6},
        "weights": {"red_line": {"weight": 3.0, "days": 180},
                    "low_ftf": {"weight": 2.0, "below": 0.7, "min_answers": 5, "days": 90},
                    "new_certificate": {"weight": 1.5, "days": 60}},
        "blackout": {"onboarding_working_days": 10, "suspended": True}, "due": {"working_days": None}}
    assert row.content_hash == digest(row.spec, True)
    # loading again changes nothing
    again = load_programmes(SHIPPED)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_the_content_tools_route_programme_files_to_their_loader_only(app):
    names = lambda p: [(loader.name, where.name) for loader, where in plan(p)]  # noqa: E731
    assert ("audit programmes", "programmes") in names(ROOT_DIR / "content")
    assert names(ROOT_DIR / "content" / "audits")[-2:] == [("audits", "audits"), ("audit programmes", "programmes")]
    assert names(SHIPPED) == [("audit programmes", "programmes")]
    assert names(SHIPPED / "home-service-visit.yaml") == [("audit programmes", "home-service-visit.yaml")]
    assert names(ROOT_DIR / "content" / "audits" / "home-service-visit.yaml") == [("audits", "home-service-visit.yaml")]
    from portal.content.check import check
    assert check(SHIPPED / "home-service-visit.yaml") == []


BAD = """\
slug: Bad Slug
form: no-such-form
title: {zh: 只有中文}
active: maybe
period: weekly
sampling: {rate: 150%, count: 3}
overrides:
  - {region: SOUTH, rate: 0}
  - {province: NOPE, count: 2}
  - {outlet: GD-GZ-01, count: -1}
  - {region: SOUTH, count: 1}
  - {region: SOUTH, province: GD, rate: 10%}
  - {outlet: GD-FS-01, rate: 15%, count: 2}
per_technician_per_year: {min: 7, max: 3}
weights:
  red_line: {weight: 0, days: 180}
  low_ftf: {weight: 2, below: 1.5, min_answers: 0, days: 90}
  new_certificate: {weight: 1.5, days: -5}
  loyalty: 2
blackout: {onboarding_working_days: ten, suspended: sometimes}
due: {working_days: 0}
blackouts: {}
"""


def test_every_bad_value_is_reported_with_its_line_and_field(app, users, form_row, tmp_path):
    path = write(tmp_path / "programmes", "bad", BAD)
    _spec, _active, problems = parse_programme(path)
    found = {(line, field) for line, field, _message in problems}
    expected = {
        (1, "slug"), (2, "form"), (3, "title"), (4, "active"), (5, "period"), (6, "sampling"),
        (8, "overrides[1].rate"),        # a rate must be above 0
        (9, "overrides[2].province"),    # no such province
        (10, "overrides[3].count"),      # a count is 0 or more
        (11, "overrides[4].region"),     # SOUTH has a rule already
        (12, "overrides[5]"),            # two scopes
        (13, "overrides[6]"),            # rate and count
        (14, "per_technician_per_year.min"),
        (16, "weights.red_line.weight"), (17, "weights.low_ftf.below"), (17, "weights.low_ftf.min_answers"),
        (18, "weights.new_certificate.days"), (19, "weights.loyalty"),
        (20, "blackout.onboarding_working_days"), (20, "blackout.suspended"),
        (21, "due.working_days"), (22, "blackouts"),
    }
    assert found == expected, sorted(found ^ expected)
    messages = {field: message for _line, field, message in problems}
    assert messages["overrides[2].province"] == "No province with the code NOPE."
    assert messages["form"].startswith("No audit form no-such-form is loaded")
    assert messages["per_technician_per_year.min"] == "min (7) must not exceed max (3)."
    assert messages["sampling"].startswith("Give exactly one of rate")
    # the loader reports them as FILE:LINE: FIELD: message and stores nothing
    report = load_programmes(path.parent)
    assert report.created == 0 and str(report.problems[0]).startswith(f"{path}:1: slug: ")
    assert programme("bad-slug") is None and programme("bad") is None


def test_rates_counts_and_yaml_problems(app, users, form_row, tmp_path):
    def problems(**changes):
        return {f: m for _k, f, m in validate_spec({**GOOD, **changes})[1]}

    assert problems() == {}
    for rate in (0.1, "10%", "12.5 %", 1, "0.25"):
        spec, found = validate_spec({**GOOD, "sampling": {"rate": rate}})
        assert not found and 0 < spec["sampling"]["rate"] <= 1
    for rate in (0, 10, "110%", "-5%", "ten", True):
        assert "sampling.rate" in problems(sampling={"rate": rate}), rate
    assert validate_spec({**GOOD, "sampling": {"count": 0}})[0]["sampling"] == {"rate": None, "count": 0}
    for count in (-1, 1.5, "3", True):
        assert "sampling.count" in problems(sampling={"count": count}), count
    assert "sampling" in problems(sampling={})
    assert "per_technician_per_year.max" in problems(per_technician_per_year={"min": 0, "max": 0})
    assert "per_technician_per_year.max" in problems(per_technician_per_year={"min": 1})
    assert "period" not in problems(period="quarterly")
    # leaving weights, blackout and due out: no extra weight, the norms' blackout, the period's end
    spec = validate_spec(GOOD)[0]
    assert {k: v["weight"] for k, v in spec["weights"].items()} == {"red_line": 1.0, "low_ftf": 1.0,
                                                                     "new_certificate": 1.0}
    assert spec["blackout"] == {"onboarding_working_days": 10, "suspended": True}
    assert spec["due"] == {"working_days": None}
    # a file that is no YAML: the line of the fault
    path = write(tmp_path / "programmes", "broken", "slug: x\nsampling: {rate: 10%\nperiod: monthly\n")
    (line, field, message), = parse_programme(path)[2]
    assert field == "file" and message.startswith("Not valid YAML") and line >= 2


def test_override_codes_need_the_network_and_say_so_when_it_is_not_loaded(app, form_row):
    data = {**GOOD, "overrides": [{"region": "SOUTH", "rate": "20%"}]}
    (keys, field, message), = validate_spec(data)[1]
    assert (keys, field) == (("overrides", 0, "region"), "overrides[1].region")
    assert message.startswith("No region, province or outlet is in the portal yet: load the service network first")


def test_overrides_name_real_places(app, users, form_row):
    spec, problems = validate_spec({**GOOD, "overrides": [{"region": "SOUTH", "rate": "20%"},
                                                          {"province": "GD", "count": 4},
                                                          {"outlet": "GD-GZ-01", "rate": 0.5}]})
    assert not problems
    assert spec["overrides"] == [{"scope": "region", "code": "SOUTH", "rate": 0.2, "count": None},
                                 {"scope": "province", "code": "GD", "rate": None, "count": 4},
                                 {"scope": "outlet", "code": "GD-GZ-01", "rate": 0.5, "count": None}]


# --- the pages -------------------------------------------------------------------------------


def editor_data(client, url: str, **changes) -> dict:
    """The form as the page shows it (every field's value), with ``changes``."""
    html = client.get(url).get_data(as_text=True)
    data = {"csrf_token": csrf_from(html)}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        data.setdefault(name, value.replace("&#34;", '"').replace("&amp;", "&"))
    for name in re.findall(r'<input[^>]*checked[^>]*name="([^"]+)"|<input[^>]*name="([^"]+)"[^>]*checked', html):
        data[name[0] or name[1]] = "y"
    for name in ("suspended", "active"):
        if not re.search(rf'<input[^>]*(checked[^>]*name="{name}"|name="{name}"[^>]*checked)', html):
            data.pop(name, None)
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        data[name] = body.lstrip("\r\n").replace("&amp;", "&")
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', options)
        if chosen:
            data[name] = chosen.group(1) or chosen.group(2)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_programme_made_in_the_form_reads_back_and_its_file_loads_to_the_same(client, english, form_row, tmp_path):
    login(client, "trainer")
    data = editor_data(client, "/audits/programmes/new", slug="quarterly-visits", title_zh="季度暗访",
                       title_en="Quarterly visits", period="quarterly", rate="", count="3",
                       overrides="region SOUTH 15%\n\noutlet GD-GZ-01 2", per_year_min="1", per_year_max="4",
                       due_working_days="10")
    response = client.post("/audits/programmes/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert response.headers["Location"] == "/audits/programmes/quarterly-visits"
    row = programme("quarterly-visits")
    assert row.source == "form" and row.updated_by_id == english["trainer"].id
    assert row.spec["sampling"] == {"rate": None, "count": 3} and row.spec["period"] == "quarterly"
    assert row.spec["overrides"] == [{"scope": "region", "code": "SOUTH", "rate": 0.15, "count": None},
                                     {"scope": "outlet", "code": "GD-GZ-01", "rate": None, "count": 2}]
    assert row.spec["weights"]["red_line"] == {"weight": 3.0, "days": 180}  # the form's defaults
    assert row.spec["due"] == {"working_days": 10}
    # the same name again: refused beside the name, nothing overwritten
    again = client.post("/audits/programmes/new", data={**data, "csrf_token": csrf_from(
        client.get("/audits/programmes/new").get_data(as_text=True)), "count": "9"})
    assert again.status_code == 200 and "A programme with this name exists already." in again.get_data(as_text=True)
    assert programme("quarterly-visits").spec["sampling"]["count"] == 3
    # the trainers' audit list links to the programmes
    assert 'href="/audits/programmes/"' in client.get("/audits/").get_data(as_text=True)
    # the rules in words, in English and in Chinese
    page = client.get("/audits/programmes/quarterly-visits").get_data(as_text=True)
    assert "3 technicians per region each quarter" in page
    assert "at least 1 and at most 4 visits per technician a year" in page
    assert "Region SOUTH (South Region): 15% of its eligible technicians each quarter" in page
    assert "Due 10 working days after the draw." in page and "Never in their first 10 working days." in page
    zh = client.get("/audits/programmes/quarterly-visits?lang=zh_CN").get_data(as_text=True)
    assert "每季度每个大区抽 3 名技师" in zh and "每名技师每年至少 1 次、至多 4 次暗访" in zh
    # the edit page shows what was saved
    shown = editor_data(client, "/audits/programmes/quarterly-visits/edit")
    assert (shown["count"], shown["overrides"], shown["per_year_max"], shown["period"]) == (
        "3", "region SOUTH 15%\noutlet GD-GZ-01 2", "4", "quarterly")
    # its text, as the page shows it, is a file that loads back to the very same programme
    text = re.search(r"<pre[^>]*data-file-text>(.*?)</pre>", page, re.S).group(1)
    text = text.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")
    path = write(tmp_path / "programmes", "quarterly-visits", text)
    spec, active, problems = parse_programme(path)
    assert not problems and digest(spec, active) == row.content_hash


def test_a_broken_form_keeps_what_was_typed_and_names_each_field(client, english, form_row):
    login(client, "trainer")
    data = editor_data(client, "/audits/programmes/new", slug="Bad Name", title_zh="", title_en="Typed title",
                       rate="150%", count="", per_year_min="7", per_year_max="3", red_line_weight="abc",
                       low_ftf_below="2", overrides="region SOUTH 15%\nnonsense\nprovince NOPE 2\noutlet GD-GZ-01 x")
    response = client.post("/audits/programmes/new", data=data)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert programme("bad-name") is None and db.session.scalar(select(AuditProgramme.id)) is None

    def error_of(field_id: str) -> str:
        match = re.search(rf'<p class="error" id="{field_id}-error">(.*?)</p>', html, re.S)
        return match.group(1) if match else ""

    assert "Lower-case letters" in error_of("slug")
    assert "both languages" in error_of("title_zh")
    assert "A share above 0 and at most 1" in error_of("rate")
    assert "min (7) must not exceed max (3)." in error_of("per_year_min")
    assert "Not a valid float value" in error_of("red_line_weight")
    assert "A share above 0 and at most 1" in error_of("low_ftf_below")
    overrides = error_of("overrides")
    assert "Line 2: write" in overrides and "Line 3: No province with the code NOPE." in overrides
    assert "Line 4: x is neither a rate" in overrides
    # what was typed is still there
    assert 'value="Bad Name"' in html and 'value="Typed title"' in html and 'value="150%"' in html
    assert 'value="abc"' in html and "nonsense\nprovince NOPE 2" in html


@pytest.fixture
def loaded(app, english, form_row):
    assert not load_programmes(SHIPPED).problems
    return programme("home-service-visit")


def test_two_trainers_editing_at_once_the_second_is_told(client, app, loaded, make_user):
    make_user("trainer2", "trainer").locale = "en"
    db.session.commit()
    other = app.test_client()
    login(client, "trainer")
    login(other, "trainer2")
    url = "/audits/programmes/home-service-visit/edit"
    mine, theirs = editor_data(client, url, rate="20%"), editor_data(other, url, rate="5%")
    assert client.post(url, data=mine).status_code == 302
    response = other.post(url, data=theirs)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Somebody else saved this programme after you opened it" in html and 'value="5%"' in html
    row = programme("home-service-visit")
    assert row.spec["sampling"]["rate"] == 0.2
    # opened again, their save goes through
    assert other.post(url, data=editor_data(other, url, rate="5%")).status_code == 302
    assert programme("home-service-visit").spec["sampling"]["rate"] == 0.05


def test_a_programme_changed_in_the_portal_survives_content_load(client, app, loaded, runner, tmp_path):
    login(client, "trainer")
    url = "/audits/programmes/home-service-visit/edit"
    assert client.post(url, data=editor_data(client, url, rate="15%")).status_code == 302
    assert programme("home-service-visit").source == "form"
    # the shipped file says 10%: a conflict, reported, the portal's 15% kept
    report = load_programmes(SHIPPED)
    assert not report.problems and report.unchanged == 1 and len(report.warnings) == 1
    path = SHIPPED / "home-service-visit.yaml"
    assert report.warnings[0].startswith(f"{path}:1: programme home-service-visit was changed in the portal on ")
    assert "by 李敏" in report.warnings[0]
    assert programme("home-service-visit").spec["sampling"]["rate"] == 0.15
    result = runner.invoke(args=["content", "load", str(path)])
    assert result.exit_code == 0 and "was changed in the portal" in result.output
    assert programme("home-service-visit").spec["sampling"]["rate"] == 0.15
    # the portal's text put in the file: the file owns the programme again, and its changes load
    from portal.audits.programme import file_text
    copy = write(tmp_path / "programmes", "home-service-visit", file_text(programme("home-service-visit")))
    report = load_programmes(copy)
    assert not report.warnings and programme("home-service-visit").source == "file"
    write(tmp_path / "programmes", "home-service-visit", file_text(programme("home-service-visit"))
          .replace("rate: 15%", "rate: 12%"))
    report = load_programmes(copy)
    assert report.updated == 1 and programme("home-service-visit").spec["sampling"]["rate"] == 0.12


def test_the_list_and_the_draws_of_a_programme(client, loaded):
    db.session.add_all([AuditDraw(programme_id=loaded.id, period=p, seed="ab", spec=loaded.spec,
                                  drawn_at=datetime(2027, m, 1, 1, tzinfo=timezone.utc), due_on=datetime(2027, m, 28).date(),
                                  eligible=120, drawn=12, unassigned=1) for m, p in ((1, "2027-01"), (2, "2027-02"))])
    db.session.commit()
    login(client, "trainer")
    html = client.get("/audits/programmes/").get_data(as_text=True)
    row = re.search(r'<tr data-programme="home-service-visit">(.*?)</tr>', html, re.S).group(1)
    assert "Home-service mystery visits" in row and "10%" in row and "2027-02" in row and "Active" in row
    page = client.get("/audits/programmes/home-service-visit").get_data(as_text=True)
    assert '<a href="/audits/programmes/home-service-visit/draws/2027-02">' in page
    assert page.index("2027-02") < page.index("2027-01")
    assert "120 eligible, 12 drawn, 1 without an auditor" in page
    assert "10% of eligible technicians per region each month" in page


def test_who_may_read_and_edit_programmes(client, app, loaded, make_user):
    make_user("lead", "trainer", "technician", outlet="GD-GZ-01").locale = "en"
    db.session.commit()
    for username, reads, edits in (("tech", 403, 403), ("auditor", 403, 403), ("trainer", 200, 200),
                                   ("admin", 200, 200), ("lead", 200, 403)):
        browser = app.test_client()
        login(browser, username)
        for url in ("/audits/programmes/", "/audits/programmes/home-service-visit"):
            assert browser.get(url).status_code == reads, (username, url)
        for url in ("/audits/programmes/new", "/audits/programmes/home-service-visit/edit"):
            assert browser.get(url).status_code == edits, (username, url)
    assert app.test_client().get("/audits/programmes/").status_code == 302  # anonymous: sign in
    browser = app.test_client()
    login(browser, "lead")
    assert "data-action=\"edit-programme\"" not in browser.get("/audits/programmes/home-service-visit").get_data(as_text=True)
    # a post without a CSRF token changes nothing
    login(client, "trainer")
    data = editor_data(client, "/audits/programmes/home-service-visit/edit", rate="50%")
    data.pop("csrf_token")
    assert client.post("/audits/programmes/home-service-visit/edit", data=data).status_code == 400
    assert programme("home-service-visit").spec["sampling"]["rate"] == 0.1


def test_the_documented_example_is_a_valid_programme(app, users, form_row):
    from portal.auth.models import Region
    db.session.add(Region(code="EAST", name_zh="华东大区", name_en="East Region"))
    db.session.commit()
    text = (ROOT_DIR / "content" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Audit programmes (`audits/programmes/`)"):]
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    spec, problems = validate_spec(example)
    assert problems == [] and len(spec["overrides"]) == 3 and spec["due"] == {"working_days": 10}


def test_a_file_can_switch_a_programme_off(app, users, form_row, tmp_path):
    folder = tmp_path / "programmes"
    write(folder, "visits", GOOD)
    assert load_programmes(folder).created == 1 and programme("visits").active
    write(folder, "visits", {**GOOD, "active": False})
    report = load_programmes(folder)
    assert report.updated == 1 and programme("visits").active is False
    assert programme("visits").content_hash == digest(programme("visits").spec, False)
