"""Issue 14: facts rendered at load (cases, lessons, questions), norm tags stored (lessons,
questions, audit items) and traced (`flask content trace`, /content/trace), review state on cases
and lessons (case page, /content/review, the trainer home)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import event, select

from portal.assessment.models import Question
from portal.audits.models import AuditTemplate
from portal.content.cli import load_content
from portal.extensions import db
from portal.kb.models import Case
from portal.kb.services import create_case
from portal.learning.models import Lesson
from portal.records import content as records_content

from .conftest import login
from .paging import walk

FACTS = """facts:
  - key: ac-vacuum-target
    title: {zh: 抽真空目标真空度, en: Evacuation target}
    value: 60
    unit: Pa
    equivalents: [{value: 450, unit: micron}]
    applies_to: [air-conditioner]
    cue: {zh: [抽真空], en: [evacuat]}
    source: {zh: 厂家维修手册, en: Maker's service manual}
code_tables:
  - key: gree-split
    maker: gree
    products: [air-conditioner]
    title: {zh: 格力式代码表, en: Gree-style code table}
    how_to_tell: {zh: 看铭牌, en: Read the rating plate}
    source: {zh: 手册, en: Manual}
codes:
norms:
  - key: time-answer-call
    kind: time-standard
    title: {zh: 来电 10 秒内接听, en: Answer a call within 10 s}
    source: {zh: 服务规范, en: Service norms}
  - key: red-no-extra-charge
    kind: red-line
    title: {zh: 不乱收费, en: No charge beyond the price list}
    source: {zh: 服务规范, en: Service norms}
  - key: time-arrive
    kind: time-standard
    title: {zh: 准时上门, en: Arrive on time}
    source: {zh: 服务规范, en: Service norms}
"""

CASE = """---
title: {title}
lang: {lang}
key: vacuum-case
product: air-conditioner
{extra}---
## Fix
Evacuate to {{{{fact:{key}}}}} before charging.
"""

COURSE = """title: {zh: 测试课程, en: Test course}
kind: onboarding
days:
  - title: {zh: 第一天, en: Day one}
    lessons: [vacuum]
"""

LESSON = """---
title: {title}
norms: [time-answer-call]
{extra}---
Pull the vacuum down to {{{{fact:{key}}}}}.
"""

BANK = """questions:
  - id: vacuum-target
    type: single
    norms: [{norm}]
    text: {{zh: "目标真空度是多少？{{{{fact:{key}}}}}", en: "What is the target? {{{{fact:{key}}}}}"}}
    choices:
      - {{zh: "{{{{fact:{key}}}}}", en: "{{{{fact:{key}}}}}", correct: true}}
      - {{zh: 500 Pa, en: 500 Pa}}
"""

TEMPLATE = """slug: norm-visit
title: {{zh: 测试暗访表, en: Test visit form}}
grades:
  - {{code: pass, min: 60, title: {{zh: 合格, en: Pass}}}}
  - {{code: fail, min: 0, title: {{zh: 不合格, en: Fail}}}}
sections:
  - id: call
    title: {{zh: 接听, en: The call}}
    items:
      - {{id: answered, type: yesno, weight: 3, norms: [{norm}], text: {{zh: 10 秒内接听？, en: "Answered within 10 s?"}}}}
"""


def _tree(tmp_path, key="ac-vacuum-target", norm="time-answer-call", facts=FACTS, extra=""):
    content = tmp_path / "content"
    (content / "kb").mkdir(parents=True, exist_ok=True)
    (content / "facts.yaml").write_text(facts, encoding="utf-8")
    for lang, title in (("en", "Vacuum"), ("zh", "抽真空")):
        (content / "kb" / f"vacuum-case-{lang}.md").write_text(
            CASE.format(title=title, lang=lang, key=key, extra=extra), encoding="utf-8")
    lessons = content / "courses" / "test-course" / "lessons"
    lessons.mkdir(parents=True, exist_ok=True)
    (lessons.parent / "course.yaml").write_text(COURSE, encoding="utf-8")
    for lang in ("en", "zh"):
        (lessons / f"vacuum.{lang}.md").write_text(LESSON.format(title="Vacuum", key=key, extra=extra),
                                                  encoding="utf-8")
    banks = tmp_path / "quizzes" / "service"
    banks.mkdir(parents=True, exist_ok=True)
    (banks / "bank.yaml").write_text(BANK.format(key=key, norm=norm), encoding="utf-8")
    (content / "audits").mkdir(exist_ok=True)
    (content / "audits" / "norm-visit.yaml").write_text(TEMPLATE.format(norm=norm), encoding="utf-8")
    return content


def _load(path):
    return load_content(path, echo=lambda _line: None)


def _question():
    db.session.expire_all()
    return db.session.scalar(select(Question).where(Question.ident == "vacuum-target"))


def test_references_render_in_each_language_and_follow_facts_yaml(app, tmp_path):
    content = _tree(tmp_path)
    report = _load(content)
    report.add(_load(tmp_path / "quizzes"))
    assert report.problems == [], [str(p) for p in report.problems]
    cases = {c.lang: c for c in db.session.scalars(select(Case))}
    assert "Evacuate to 60 Pa (450 microns) before charging." in cases["en"].body
    assert "60 Pa（450 微米汞柱）" in cases["zh"].body
    lesson = db.session.scalar(select(Lesson))
    assert "60 Pa (450 microns)" in lesson.body_en and "60 Pa（450 微米汞柱）" in lesson.body_zh
    assert lesson.norms == ["time-answer-call"]
    question = _question()
    assert question.text_en == "What is the target? 60 Pa (450 microns)"
    assert question.data_zh["choices"][0]["text"] == "60 Pa（450 微米汞柱）"
    assert question.norms == ["time-answer-call"]
    items = db.session.scalar(select(AuditTemplate.spec))["sections"][0]["items"]
    assert items[0]["norms"] == ["time-answer-call"]

    # The same files again: nothing changes. A changed fact: every file using it reloads.
    again = _load(content)
    again.add(_load(tmp_path / "quizzes"))
    assert (again.created, again.updated, again.problems) == (0, 0, [])
    (content / "facts.yaml").write_text(FACTS.replace("value: 60", "value: 70"), encoding="utf-8")
    changed = _load(content)
    changed.add(_load(tmp_path / "quizzes"))
    assert changed.problems == [] and changed.updated >= 4  # two cases, the course, the question
    db.session.expire_all()
    assert "70 Pa (450 microns)" in db.session.scalar(select(Case.body).where(Case.lang == "en"))
    assert "70 Pa" in db.session.scalar(select(Lesson.body_zh))
    assert _question().text_en == "What is the target? 70 Pa (450 microns)"


def test_an_unknown_fact_or_norm_refuses_the_file_with_its_line(app, tmp_path):
    content = _tree(tmp_path, key="no-such-fact", norm="no-such-norm")
    report = _load(content)
    report.add(_load(tmp_path / "quizzes"))
    problems = [str(p) for p in report.problems]
    case_file = content / "kb" / "vacuum-case-en.md"
    assert f"{case_file}:8: body: No fact no-such-fact in facts.yaml." in problems
    lesson_file = content / "courses" / "test-course" / "lessons" / "vacuum.en.md"
    assert f"{lesson_file}:5: body: No fact no-such-fact in facts.yaml." in problems
    bank = tmp_path / "quizzes" / "service" / "bank.yaml"
    assert any(p.startswith(f"{bank}:4: vacuum-target.norms: No norm no-such-norm") for p in problems)
    template = content / "audits" / "norm-visit.yaml"
    assert any(p.startswith(f"{template}:") and "answered.norms: No norm no-such-norm" in p for p in problems)
    assert db.session.scalar(select(Case.id)) is None and db.session.scalar(select(Lesson.id)) is None
    assert _question() is None and db.session.scalar(select(AuditTemplate.id)) is None


def test_a_broken_facts_file_is_reported_once_and_fails_only_the_files_that_need_it(app, tmp_path, runner):
    content = _tree(tmp_path, facts=FACTS.replace("unit: Pa", "unit: furlongs"))
    (content / "kb" / "plain-en.md").write_text(
        CASE.format(title="Plain", lang="en", key="x", extra="").replace("{{fact:x}}", "60 Pa")
        .replace("vacuum-case", "plain"), encoding="utf-8")
    result = runner.invoke(args=["content", "load", str(content)])
    assert result.exit_code == 1
    facts_file = content / "facts.yaml"
    assert f"{facts_file}:5: facts.unit:" in result.output
    assert "facts: 1 problem(s)" in result.output
    assert f"{content / 'kb' / 'vacuum-case-en.md'}:8: body: {facts_file} has 1 problem(s)" in result.output
    assert db.session.scalar(select(Case.slug)) == "plain-en"  # it needs no facts


def test_review_state_is_checked_stored_and_shown(app, tmp_path, users, client):
    content = _tree(tmp_path, extra="reviewed_by: 王工\nreviewed_on: 2026-05-04\n")
    assert _load(content).problems == []
    case = db.session.scalar(select(Case).where(Case.lang == "en"))
    assert (case.reviewed_by, case.reviewed_on) == ("王工", date(2026, 5, 4))
    lesson = db.session.scalar(select(Lesson))
    assert (lesson.reviewed_by, lesson.reviewed_on) == ("王工", date(2026, 5, 4))
    login(client, "tech")
    page = client.get(f"/cases/{case.slug}?lang=en").get_data(as_text=True)
    assert "Technical content checked by 王工 on" in page
    zh = client.get(f"/cases/{case.slug}?lang=zh_CN").get_data(as_text=True)
    assert "技术内容由 王工 于" in zh

    future = (date.today() + timedelta(days=3)).isoformat()
    for extra, field in (("reviewed_by: 王工\n", "reviewed_on"), ("reviewed_on: 2026-05-04\n", "reviewed_by"),
                         (f"reviewed_by: 王工\nreviewed_on: {future}\n", "reviewed_on"),
                         ("reviewed_by: ''\nreviewed_on: 2026-05-04\n", "reviewed_by"),
                         ("reviewed_by: 王工\nreviewed_on: last spring\n", "reviewed_on")):
        other = _tree(tmp_path / field / str(len(extra)), extra=extra)
        problems = [str(p) for p in _load(other / "kb").problems]
        assert any(f"vacuum-case-en.md:" in p and f": {field}: " in p for p in problems), (extra, problems)


def test_a_case_never_reviewed_says_so(app, tmp_path, users, client):
    assert _load(_tree(tmp_path) / "kb").problems == []
    slug = db.session.scalar(select(Case.slug).where(Case.lang == "en"))
    login(client, "tech")
    assert "Technical content not yet reviewed" in client.get(f"/cases/{slug}?lang=en").get_data(as_text=True)


def _count_queries(function):
    statements = []

    def count(*_args, **_kwargs):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        function()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_trace_reads_the_database_in_file_order_and_marks_gaps(app, tmp_path, runner, monkeypatch):
    content = _tree(tmp_path)
    _load(content)
    _load(tmp_path / "quizzes")
    monkeypatch.setattr(records_content, "default_content_root", lambda: content)
    with app.test_request_context():
        groups = records_content.trace(records_content.facts_for_root(content))
    assert [(kind, [n.key for n in norms]) for kind, norms in groups] == [
        ("time-standard", ["time-answer-call", "time-arrive"]), ("red-line", ["red-no-extra-charge"])]
    call = groups[0][1][0]
    assert call.lessons[0][:2] == ("test-course", "vacuum")
    assert call.questions == ["service/vacuum-target"] and call.audit_items == ["norm-visit/call/answered"]
    assert call.missing == [] and groups[1][1][0].missing == ["lessons", "questions", "audit_items"]

    result = runner.invoke(args=["content", "trace"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("Time standards") < out.index("time-answer-call") < out.index("time-arrive") \
        < out.index("Integrity red lines")
    assert "lessons: test-course/vacuum" in out and "questions: service/vacuum-target" in out
    assert "audit items: norm-visit/call/answered" in out
    assert "MISSING: lessons, questions, and audit items" in out
    only = runner.invoke(args=["content", "trace", "--missing"]).output
    assert "time-arrive" in only and "red-no-extra-charge" in only and "time-answer-call" not in only

    # What is loaded, not the files: a question dropped from the database leaves the trace.
    db.session.execute(Question.__table__.update().values(active=False))
    db.session.commit()
    assert "time-answer-call — Answer a call within 10 s  MISSING: questions" in \
        runner.invoke(args=["content", "trace", "--missing"]).output

    # Constant queries: as many norms as you like.
    many = FACTS + "".join(f"  - {{key: extra-{n}, kind: kpi, title: {{zh: 指标{n}, en: KPI {n}}}, "
                           f"source: {{zh: 规范, en: Norms}}}}\n" for n in range(40))
    (content / "facts.yaml").write_text(many, encoding="utf-8")
    facts = records_content.facts_for_root(content)
    with app.test_request_context():
        assert _count_queries(lambda: records_content.trace(facts)) == 3


def test_trace_cli_speaks_the_shell_language(app, tmp_path, runner, monkeypatch):
    content = _tree(tmp_path)
    _load(content)
    monkeypatch.setattr(records_content, "default_content_root", lambda: content)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    out = runner.invoke(args=["content", "trace"]).output
    assert "来电 10 秒内接听" in out and "时效标准" in out


def test_trace_and_review_pages_are_for_trainers_and_admins(app, users, tmp_path, monkeypatch):
    content = _tree(tmp_path)
    _load(content)
    monkeypatch.setattr(records_content, "default_content_root", lambda: content)
    for path in ("/content/trace", "/content/review"):
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
        for username, status in (("trainer", 200), ("admin", 200), ("tech", 403), ("auditor", 403)):
            client = app.test_client()
            login(client, username)
            assert client.get(path).status_code == status, (path, username)
    client = app.test_client()
    login(client, "trainer")
    page = client.get("/content/trace?lang=en").get_data(as_text=True)
    assert 'data-norm="time-arrive" data-missing' in page and "Answer a call within 10 s" in page
    zh = client.get("/content/trace?lang=zh_CN").get_data(as_text=True)
    assert "来电 10 秒内接听" in zh and "服务规范追踪" in zh
    home = client.get("/trainer?lang=en").get_data(as_text=True)
    assert 'href="/content/trace"' in home and 'href="/content/review"' in home  # and the figures' lists


def test_review_list_oldest_first_paged_with_counts(app, users, monkeypatch):
    today = date.today()
    with app.test_request_context():
        for n in range(120):
            case = create_case({"title": f"Case {n}", "lang": "en", "product": "air-conditioner",
                                "body": "Body."}, slug=f"case-{n:03d}-en", content_hash="x")
            # 40 never reviewed, 50 reviewed 13–62 months ago, 30 reviewed within the year
            if n >= 40:
                months = 13 + (n - 40) if n < 90 else 1
                case.reviewed_by, case.reviewed_on = "王工", today - timedelta(days=31 * months)
        db.session.commit()
        counts = records_content.review_counts(today)
    assert counts == {"never": 40, "stale": 50}
    monkeypatch.setattr(records_content, "REVIEW_PAGE", 25)
    client = app.test_client()
    login(client, "trainer")
    home = client.get("/trainer?lang=en").get_data(as_text=True)
    assert re.search(r'data-count="never">40<', home) and re.search(r'data-count="stale">50<', home)
    assert 'href="/content/review?state=never"' in home and 'href="/content/review?state=stale"' in home
    pages, urls = walk(client, "/content/review?lang=en", re.compile(r'data-review="case:(case-\d+)-en"'), 25)
    shown = [slug for page in pages for slug in page]
    assert len(pages) == 4 and len(shown) == 90 == len(set(shown))
    assert set(shown[:40]) == {f"case-{n:03d}" for n in range(40)}  # never reviewed first
    assert shown[40:] == [f"case-{n:03d}" for n in range(89, 39, -1)]  # then the oldest review
    first = client.get("/content/review?lang=en").get_data(as_text=True)
    assert 'data-count="case-never">40<' in first and 'data-count="case-stale">50<' in first
    assert "<span data-count>90</span>" in first
    never, _urls = walk(client, "/content/review?state=never", re.compile(r'data-review="case:(case-\d+)-en"'), 25)
    assert [slug for page in never for slug in page] == shown[:40]
    stale, urls = walk(client, "/content/review?state=stale", re.compile(r'data-review="case:(case-\d+)-en"'), 25)
    assert [slug for page in stale for slug in page] == shown[40:] and "state=stale" in urls[-1]
    zh = client.get("/content/review?lang=zh_CN").get_data(as_text=True)
    assert "待审核内容" in zh and "从未审核" in zh
