"""Quiz pages over HTTP: taking a quiz (no answer key on the page), saving and resuming answers,
submitting, the server's deadline, who may see what, review modes, attempt limits and cooldown,
trainer reports with item analysis, the question upload page, and course completion.

Every test runs on its own small question bank (one question of each type) written to tmp_path,
so answers and scores are known exactly; the engine itself is tested in test_assessment_attempts.
"""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml
from werkzeug.datastructures import MultiDict
from babel.dates import format_datetime as babel_datetime
from sqlalchemy import event, func, select

from portal.assessment import attempts as engine
from portal.assessment.attempts import backfill_responses
from portal.assessment import services as svc
from portal.assessment.bank import load_banks, load_quizzes
from portal.assessment.models import Attempt, Question, QuestionCategory, Quiz
from portal.assessment.qtypes import fold, item_id
from portal.extensions import db

from .conftest import get_csrf, login, pass_quiz
from .paging import csv_rows, walk, xlsx_rows

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
TYPES = ("single", "multiple", "truefalse", "short", "numerical", "matching", "ordering")

# --- the bank: one question of each type ----------------------------------------------------------

ORDER = ["Isolate the power supply", "Discharge the capacitor", "Confirm zero voltage",
         "Replace the control board", "Run a test cycle"]
ORDER_ZH = ["断开电源", "给电容放电", "确认无电压", "更换控制板", "试运行"]
PAIRS = [("E1", "High-pressure protection"), ("E5", "Low voltage protection"), ("F3", "Coil sensor fault")]
PAIRS_ZH = [("E1", "高压保护"), ("E5", "低电压保护"), ("F3", "盘管传感器故障")]
EXPLANATIONS = {
    "single": ("Why single: R32 is rated A2L.", "单选说明：R32 属于 A2L。"),
    "multiple": ("Why multiple: glasses and gloves protect you.", "多选说明：护目镜和手套。"),
    "truefalse": ("Why truefalse: recover the charge first.", "判断说明：先回收制冷剂。"),
    "short": ("Why short: it applies a high test voltage.", "填空说明：它施加高测试电压。"),
    "numerical": ("Why numerical: read it off the nameplate.", "数值说明：看铭牌。"),
    "matching": ("Why matching: see the code table.", "配对说明：见代码表。"),
    "ordering": ("Why ordering: safety comes first.", "排序说明：安全第一。"),
}
SHORT_KEY = ("megohmmeter", "兆欧表")
NUMBER_KEY = 2468.5


def _q(kind, text_en, text_zh, **fields):
    en, zh = EXPLANATIONS[kind]
    return {"id": f"{kind}-q", "type": kind, "difficulty": 2, "text": {"zh": text_zh, "en": text_en},
            "explanation": {"zh": zh, "en": en}, **fields}


QUESTIONS = [
    _q("single", "Which refrigerant is mildly flammable (A2L)?", "哪种制冷剂属于微燃（A2L）？",
       choices=[{"zh": "R32", "en": "R32", "correct": True}, {"zh": "R410A", "en": "R410A"},
                {"zh": "R22", "en": "R22"}, {"zh": "R134a", "en": "R134a"}]),
    _q("multiple", "What do you wear when brazing?", "钎焊时要穿戴什么？",
       choices=[{"zh": "护目镜", "en": "Safety glasses", "correct": True},
                {"zh": "皮手套", "en": "Leather gloves", "correct": True},
                {"zh": "凉鞋", "en": "Sandals"}, {"zh": "长围巾", "en": "A loose scarf"}]),
    _q("truefalse", "You may braze a system that still holds its charge.", "系统带制冷剂时可以直接钎焊。",
       answer=False),
    _q("short", "Which instrument measures insulation resistance?", "用什么仪表测绝缘电阻？",
       answers=[{"zh": SHORT_KEY[1], "en": SHORT_KEY[0]}]),
    _q("numerical", "What design pressure in kPa does the demo unit's nameplate give?", "演示机铭牌上的设计压力是多少千帕？",
       answers=[{"value": NUMBER_KEY, "tolerance": 0.5}]),
    _q("matching", "Match each error code with its meaning.", "把故障代码和含义配对。",
       pairs=[{"left": {"zh": lz, "en": le}, "right": {"zh": rz, "en": re_}}
              for (le, re_), (lz, rz) in zip(PAIRS, PAIRS_ZH)]),
    _q("ordering", "Put the board replacement steps in order.", "把更换控制板的步骤排好顺序。",
       items=[{"zh": z, "en": e} for e, z in zip(ORDER, ORDER_ZH)]),
]

QUIZZES = {
    "pages-explanations": {"review": "explanations", "time_limit_minutes": 30, "pass_mark": 80},
    "pages-answers": {"review": "answers", "pass_mark": 80},
    "pages-score": {"review": "score", "pass_mark": 80},
    "pages-limited": {"review": "explanations", "pass_mark": 80, "attempts": 2, "cooldown_hours": 24},
    "pages-analysis": {"review": "explanations", "pass_mark": 60},
}

# Answers by question type, as a learner gives them on the page (texts, not indexes).
RIGHT = {
    "single": "R32",
    "multiple": ["Leather gloves", "Safety glasses"],
    "truefalse": "false",
    "short": "megohmmeter",
    "numerical": "2468.5",
    "matching": dict(PAIRS),
    "ordering": list(ORDER),
}
# Partly right, with what each earns: 1 + 0.5 + 0 + 1 + 1 + 1/3 + 3/5 = 4.4333… of 7 → 63.33 %.
PARTIAL = {
    "single": "R32",
    "multiple": ["Safety glasses"],
    "truefalse": "true",
    "short": "兆欧表",  # the Chinese answer is accepted in an English attempt
    "numerical": "2468.9",  # within the tolerance of 0.5
    "matching": {"E1": "High-pressure protection", "E5": "Coil sensor fault", "F3": "Low voltage protection"},
    "ordering": [ORDER[1], ORDER[0], *ORDER[2:]],
}
PARTIAL_EARNS = {"single": 1.0, "multiple": 0.5, "truefalse": 0.0, "short": 1.0, "numerical": 1.0,
                 "matching": 1 / 3, "ordering": 0.6}
# Right except the typed answers: the keys can then only come from the review.
TYPED_WRONG = {**RIGHT, "short": "ohmmeter", "numerical": "12"}


@pytest.fixture
def bank(app, tmp_path):
    """The small bank (category pages/all) and its quizzes, loaded as `content load` does."""
    root = tmp_path / "quizzes"
    (root / "pages" / "all").mkdir(parents=True)
    (root / "pages" / "all" / "bank.yaml").write_text(
        yaml.safe_dump({"questions": QUESTIONS}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for slug, settings in QUIZZES.items():
        spec = {"title": {"zh": f"测验 {slug}", "en": f"Quiz {slug}"}, "shuffle": True, **settings,
                "sections": [{"draw": len(QUESTIONS), "categories": ["pages/all"]}]}
        (root / f"{slug}.quiz.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    for report in (load_banks(root), load_quizzes(root)):
        assert not report.problems, [str(p) for p in report.problems]
    quizzes = {q.slug: q for q in db.session.scalars(select(Quiz))}
    assert set(quizzes) == set(QUIZZES)
    return quizzes


@pytest.fixture
def people(users, make_user):
    """The role users plus a second technician at the other outlet; everyone reads English."""
    people = dict(users)
    people["other"] = make_user("tech2", "technician", outlet="GD-FS-01", name="Li Lei")
    for user in people.values():
        user.locale = "en"
    db.session.commit()
    return people


def questions_by_type() -> dict[str, Question]:
    return {q.type: q for q in db.session.scalars(select(Question))}


# --- reading pages --------------------------------------------------------------------------------


class AttemptPage(HTMLParser):
    """The attempt page's questions as a browser sees them: controls, their labels, their order."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.questions: dict[int, dict] = {}
        self._q = None
        self._select = None
        self._capture = None  # (dict, key) collecting text until the element closes
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "fieldset" and "data-question" in a:
            self._q = {"index": int(a["data-question"]), "type": a["data-type"], "choices": [], "texts": {},
                       "hidden": {}, "selects": {}, "labels": {}, "items": []}
            self.questions[self._q["index"]] = self._q
        if self._q is None:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                choice = {"name": a["name"], "value": a["value"], "checked": "checked" in a, "label": ""}
                self._q["choices"].append(choice)
                self._capture = (choice, "label")
            elif kind == "hidden":
                self._q["hidden"][a["name"]] = a.get("value", "")
            else:
                self._q["texts"][a["name"]] = a.get("value", "")
        elif tag == "label" and "for" in a:
            self._q["labels"][a["for"]] = ""
            self._capture = (self._q["labels"], a["for"])
        elif tag == "select":
            self._select = []
            self._q["selects"][a["name"]] = self._select
        elif tag == "option" and self._select is not None:
            option = {"value": a.get("value"), "text": "", "selected": "selected" in a}
            self._select.append(option)
            self._capture = (option, "text")
        elif tag == "li" and "data-item" in a:
            self._q["items"].append({"id": a["data-item"], "text": ""})
        elif tag == "span" and a.get("class") == "order-text":
            self._capture = (self._q["items"][-1], "text")

    def handle_endtag(self, tag):
        if tag in ("label", "option", "span") and self._capture is not None:
            target, key = self._capture
            target[key] = target[key].strip()
            self._capture = None
        if tag == "option" and self._select:
            option = self._select[-1]
            if option["value"] is None:
                option["value"] = option["text"]
        if tag == "select":
            self._select = None
        if tag == "fieldset":
            self._q = None

    def handle_data(self, data):
        if self._capture is not None:
            target, key = self._capture
            target[key] += data

    def by_type(self) -> dict[str, dict]:
        return {q["type"]: q for q in self.questions.values()}


def fields_for(q: dict, answer) -> dict:
    """The form fields a browser sends for this answer to the shown question."""
    name, kind = f"q{q['index']}", q["type"]

    def value_of(label):
        return next(c["value"] for c in q["choices"] if c["label"] == label)

    if kind == "single":
        return {name: value_of(answer)}
    if kind == "multiple":
        return {name: [value_of(label) for label in answer], f"{name}.seen": "1"}
    if kind in ("truefalse", "short", "numerical"):
        return {name: answer}
    if kind == "matching":
        select_of = {left: field for field, left in q["labels"].items() if field in q["selects"]}
        return {select_of[left]: right for left, right in answer.items()}
    ids = {item["text"]: item["id"] for item in q["items"]}
    return {f"{name}.{ids[text]}": str(place) for place, text in enumerate(answer, start=1)}


def shown_answer(q: dict):
    """The answer the page shows as given (in the same shape as RIGHT), or None."""
    kind, name = q["type"], f"q{q['index']}"
    checked = [c for c in q["choices"] if c["checked"]]
    if kind == "single":
        return checked[0]["label"] if checked else None
    if kind == "multiple":
        return sorted(c["label"] for c in checked) or None
    if kind == "truefalse":
        return checked[0]["value"] if checked else None
    if kind in ("short", "numerical"):
        return q["texts"][name] or None
    if kind == "matching":
        chosen = {q["labels"][field]: next((o["value"] for o in options if o["selected"]), "")
                  for field, options in q["selects"].items()}
        return {left: right for left, right in chosen.items() if right} or None
    places = {item["id"]: next((o["value"] for o in q["selects"][f"{name}.{item['id']}"] if o["selected"]), "")
              for item in q["items"]}
    if not any(places.values()):
        return None
    # The page lists the items in the order given, each with its place selected.
    assert [places[item["id"]] for item in q["items"]] == [str(n) for n in range(1, len(q["items"]) + 1)]
    return [item["text"] for item in q["items"]]


def without_tokens(html: str) -> str:
    """The page minus CSRF token values and asset URLs (random text in which a number could hide)."""
    html = re.sub(r'name="csrf_token"[^>]*>', "", html)
    return re.sub(r'(?:src|href)="[^"]*"', "", html)


def path_of(response) -> str:
    return urlsplit(response.headers["Location"]).path


# --- driving the pages ----------------------------------------------------------------------------


def signed_in(app, username: str):
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def start(client, slug: str) -> int:
    token = get_csrf(client, f"/quizzes/{slug}")
    response = client.post(f"/quizzes/{slug}/start", data={"csrf_token": token})
    assert response.status_code == 302
    match = re.fullmatch(r"/quizzes/attempts/(\d+)", path_of(response))
    assert match, response.headers["Location"]
    return int(match.group(1))


def open_attempt(client, attempt_id: int) -> tuple[str, AttemptPage]:
    response = client.get(f"/quizzes/attempts/{attempt_id}")
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    return html, AttemptPage(html)


def save(client, attempt_id: int, page: AttemptPage, kind: str, answer):
    """What quiz.js does when an answer changes: post that one question's fields."""
    q = page.by_type()[kind]
    data = {"csrf_token": csrf_of(page, client, attempt_id), "index": str(q["index"]), **fields_for(q, answer)}
    return client.post(f"/quizzes/attempts/{attempt_id}/answer", data=data,
                       headers={"Accept": "application/json"})


def csrf_of(page: AttemptPage, client, attempt_id: int) -> str:
    if not hasattr(page, "token"):
        page.token = get_csrf(client, f"/quizzes/attempts/{attempt_id}")
    return page.token


def submit(client, attempt_id: int, page: AttemptPage | None = None, answers: dict | None = None):
    """Press Submit; without JavaScript the form carries every answer on the page."""
    data = {"csrf_token": get_csrf(client, f"/quizzes/attempts/{attempt_id}") if page is None
            else csrf_of(page, client, attempt_id)}
    for kind, answer in (answers or {}).items():
        data.update(fields_for(page.by_type()[kind], answer))
    return client.post(f"/quizzes/attempts/{attempt_id}/submit", data=data)


def take(client, slug: str, answers: dict) -> int:
    """Start, and submit every answer with the submit form; the attempt's id."""
    attempt_id = start(client, slug)
    _html, page = open_attempt(client, attempt_id)
    response = submit(client, attempt_id, page, answers)
    assert response.status_code == 302 and path_of(response) == f"/quizzes/attempts/{attempt_id}/result"
    return attempt_id


def fresh(attempt_id: int) -> Attempt:
    """The attempt as the database holds it now (requests run in their own sessions)."""
    db.session.expire_all()
    return db.session.get(Attempt, attempt_id)


def index_of(attempt: Attempt, kind: str) -> int:
    types = {q.id: q.type for q in db.session.scalars(select(Question))}
    return next(n for n, item in enumerate(attempt.items) if types[item["question"]] == kind)


def attempt_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Attempt))


# --- 1. the page never holds the key --------------------------------------------------------------


def test_the_attempt_page_and_its_replies_hold_no_answer_key(app, bank, people):
    """Before submission neither the page nor a save reply says what is right."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    html, page = open_attempt(client, attempt_id)
    assert sorted(q["type"] for q in page.questions.values()) == sorted(TYPES)

    secrets = ["fraction", "correct", *SHORT_KEY, *[t for pair in EXPLANATIONS.values() for t in pair]]
    visible = without_tokens(html)
    for secret in secrets:
        assert secret.lower() not in visible.lower(), secret
    assert "2468" not in visible

    shown = page.by_type()
    # Ordering items come sorted by their opaque ids, which is not the right order.
    assert sorted(ORDER, key=item_id) != ORDER
    assert [item["text"] for item in shown["ordering"]["items"]] == sorted(ORDER, key=item_id)
    assert [item["id"] for item in shown["ordering"]["items"]] == sorted(item_id(t) for t in ORDER)
    # Matching: every select offers the right-hand texts sorted, not in the key's order.
    rights = sorted((r for _l, r in PAIRS), key=fold)
    assert rights != [r for _l, r in PAIRS]
    for options in shown["matching"]["selects"].values():
        assert [o["text"] for o in options[1:]] == rights and options[0]["value"] == ""
    assert sorted(shown["matching"]["labels"][f] for f in shown["matching"]["selects"]) == ["E1", "E5", "F3"]
    assert sorted(c["label"] for c in shown["single"]["choices"]) == ["R134a", "R22", "R32", "R410A"]
    assert not any(c["checked"] for q in shown.values() for c in q["choices"])

    for kind in TYPES:
        reply = save(client, attempt_id, page, kind, RIGHT[kind])
        assert reply.status_code == 200 and set(reply.json) == {"ok", "answered", "total"}
        text = reply.get_data(as_text=True).lower()
        assert not any(secret.lower() in text for secret in secrets + ["2468"]), text


# --- 2. saving and resuming -----------------------------------------------------------------------


def test_each_answer_is_saved_on_the_server_and_counted(app, bank, people):
    """One post per question, as quiz.js sends it: ok, and the running count of answers."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    _html, page = open_attempt(client, attempt_id)
    for n, kind in enumerate(TYPES, start=1):
        reply = save(client, attempt_id, page, kind, RIGHT[kind])
        assert reply.status_code == 200 and reply.json == {"ok": True, "answered": n, "total": 7}, kind
    # Saving an answer again replaces it: still seven.
    assert save(client, attempt_id, page, "single", "R22").json == {"ok": True, "answered": 7, "total": 7}

    attempt = fresh(attempt_id)
    shown = page.by_type()
    answers = {kind: attempt.answers[str(shown[kind]["index"])] for kind in TYPES}
    r22 = next(c["value"] for c in shown["single"]["choices"] if c["label"] == "R22")
    assert answers["single"] == int(r22)
    assert answers["multiple"] == sorted(int(c["value"]) for c in shown["multiple"]["choices"]
                                         if c["label"] in RIGHT["multiple"])
    assert answers["truefalse"] is False
    assert answers["short"] == "megohmmeter" and answers["numerical"] == "2468.5"
    left_index = {shown["matching"]["labels"][f]: f.split(".")[1] for f in shown["matching"]["selects"]}
    assert answers["matching"] == {left_index[left]: right for left, right in PAIRS}
    assert answers["ordering"] == [item_id(t) for t in ORDER]
    assert attempt.status == "open" and attempt.score is None


def test_a_blank_answer_is_not_counted_and_an_unknown_question_is_refused(app, bank, people):
    """Clearing an answer lowers the count; an index outside the attempt is a 400."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    _html, page = open_attempt(client, attempt_id)
    assert save(client, attempt_id, page, "short", "megohmmeter").json["answered"] == 1
    assert save(client, attempt_id, page, "multiple", RIGHT["multiple"]).json["answered"] == 2
    assert save(client, attempt_id, page, "short", "   ").json == {"ok": True, "answered": 1, "total": 7}
    # Unticking every box of a multiple-choice question (only q<i>.seen arrives) clears it too.
    assert save(client, attempt_id, page, "multiple", []).json == {"ok": True, "answered": 0, "total": 7}
    token = csrf_of(page, client, attempt_id)
    for index in ("7", "-1", "x", ""):
        reply = client.post(f"/quizzes/attempts/{attempt_id}/answer", data={"csrf_token": token, "index": index})
        assert reply.status_code == 400 and reply.json["ok"] is False, index
    attempt = fresh(attempt_id)
    assert all(value in (None, []) for value in attempt.answers.values())


def _statements(app, request):
    """Run ``request()`` and return every SQL statement it sent, with its parameter values."""
    sent = []

    def note(conn, cursor, statement, parameters, context, executemany):
        values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters or ())
        sent.append((" ".join(statement.split()), values))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        reply = request()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return reply, sent


# the bank: questions, and the versions attempts draw (an item is read as the version it names)
QUESTION_TABLE = re.compile(r"\bassessment_question(_version)?\b(?!_)")


def test_a_save_reads_only_its_question_and_writes_only_the_attempts_row(app, bank, people):
    """At the start of an exam hundreds of pages save at once: a save locks the attempt's row,
    reads the one question answered (by its id: none of the attempt's others) and updates that
    row, whatever the attempt's length; opening the page reads all its questions in one
    statement (none per question). What it saves is what the whole-page reading would."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    _html, page = open_attempt(client, attempt_id)
    csrf_of(page, client, attempt_id)
    ids = [item["version"] for item in fresh(attempt_id).items]
    db.session.rollback()
    for n, kind in enumerate(TYPES, start=1):
        index = page.by_type()[kind]["index"]
        reply, sent = _statements(app, lambda: save(client, attempt_id, page, kind, RIGHT[kind]))
        assert reply.status_code == 200 and reply.json == {"ok": True, "answered": n, "total": 7}, kind
        read = [(s, v) for s, v in sent if QUESTION_TABLE.search(s)]
        assert len(read) == 1, read
        assert ids[index] in read[0][1] and not set(ids[:index] + ids[index + 1:]) & set(read[0][1]), (kind, read)
        writes = [s for s, _v in sent if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
        assert writes and all(s.startswith("UPDATE assessment_attempt SET") for s in writes), writes
        assert sum("answers" in s for s in writes) == 1, writes
        assert not any(QUESTION_TABLE.search(s) for s, _v in sent if "FOR UPDATE" in s)
        # Nothing else is read or written: an open attempt's answers complete no course and
        # decide no certificate, so neither kept figure is touched by a save.
        tables = {t for s, _v in sent for t in re.findall(r'(?:FROM|JOIN|UPDATE|INTO) "?(\w+)', s)}
        assert tables <= {"user", "user_role", "user_session", "assessment_attempt", "assessment_question",
                          "assessment_question_version"}, tables
    attempt = fresh(attempt_id)
    whole_page = engine.shown(attempt, "en")  # every question, as the page and a submit read them
    assert attempt.answers == {str(q.index): svc.response_from_form(
        MultiDict(fields_for(page.by_type()[q.type], RIGHT[q.type])), q) for q in whole_page}
    db.session.rollback()

    reply, sent = _statements(app, lambda: client.get(f"/quizzes/attempts/{attempt_id}"))
    assert reply.status_code == 200
    assert len([s for s, _v in sent if QUESTION_TABLE.search(s)]) == 1
    assert not any(s.split()[0] in ("INSERT", "UPDATE", "DELETE") for s, _v in sent)


def test_saved_answers_come_back_on_reload_and_on_another_device(app, bank, people):
    """Resume: the page shows the answers as given, on this phone and on another one."""
    phone = signed_in(app, "tech")
    attempt_id = start(phone, "pages-explanations")
    _html, page = open_attempt(phone, attempt_id)
    for kind in TYPES:
        assert save(phone, attempt_id, page, kind, RIGHT[kind]).status_code == 200

    html, reloaded = open_attempt(phone, attempt_id)
    assert {kind: shown_answer(q) for kind, q in reloaded.by_type().items()} == RIGHT
    assert re.search(r"<span data-answered>7</span>/7", html)

    tablet = signed_in(app, "tech")
    quiz_page = tablet.get("/quizzes/pages-explanations").get_data(as_text=True)
    assert "Continue the attempt" in quiz_page
    assert start(tablet, "pages-explanations") == attempt_id  # resumed, not a new attempt
    _html, elsewhere = open_attempt(tablet, attempt_id)
    assert {kind: shown_answer(q) for kind, q in elsewhere.by_type().items()} == RIGHT
    assert attempt_count() == 1

    # A change made on the tablet shows on the phone.
    assert save(tablet, attempt_id, elsewhere, "single", "R22").status_code == 200
    assert save(tablet, attempt_id, elsewhere, "ordering", PARTIAL["ordering"]).status_code == 200
    _html, again = open_attempt(phone, attempt_id)
    assert shown_answer(again.by_type()["single"]) == "R22"
    assert shown_answer(again.by_type()["ordering"]) == PARTIAL["ordering"]
    assert shown_answer(again.by_type()["short"]) == "megohmmeter"


# --- 3. submitting --------------------------------------------------------------------------------


def test_all_right_answers_score_100_and_a_double_submit_counts_once(app, bank, people):
    """Submit grades what was saved; a second submit returns the same result, one attempt."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    _html, page = open_attempt(client, attempt_id)
    for kind in TYPES:
        save(client, attempt_id, page, kind, RIGHT[kind])

    response = submit(client, attempt_id, page)
    result_path = f"/quizzes/attempts/{attempt_id}/result"
    assert response.status_code == 302 and path_of(response) == result_path
    attempt = fresh(attempt_id)
    assert (attempt.status, attempt.score, attempt.passed) == ("submitted", 100.0, True)
    assert attempt.scores == [1.0] * 7
    first_submitted = attempt.submitted_at

    result = client.get(result_path).get_data(as_text=True)
    assert 'data-result="passed"' in result and "<strong data-score>100.0%</strong>" in result

    again = submit(client, attempt_id, page)
    assert again.status_code == 302 and path_of(again) == result_path
    attempt = fresh(attempt_id)
    assert attempt.submitted_at == first_submitted and attempt.score == 100.0
    assert attempt_count() == 1
    quiz_page = client.get("/quizzes/pages-explanations").get_data(as_text=True)
    assert len(re.findall(r'href="/quizzes/attempts/\d+/result"', quiz_page)) == 1

    # The page is closed: answers are refused, and opening it shows the result.
    late = save(client, attempt_id, page, "single", "R22")
    assert late.status_code == 409 and late.json["closed"] is True
    assert path_of(client.get(f"/quizzes/attempts/{attempt_id}")) == result_path
    assert fresh(attempt_id).answers == attempt.answers


def test_without_javascript_the_submit_form_carries_and_grades_every_answer(app, bank, people):
    """All fields in the submit form are saved and graded; a blank field keeps what was saved."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    _html, page = open_attempt(client, attempt_id)
    assert save(client, attempt_id, page, "single", "R32").status_code == 200  # saved before, not in the form
    rest = {kind: answer for kind, answer in PARTIAL.items() if kind != "single"}

    response = submit(client, attempt_id, page, rest)
    assert response.status_code == 302
    attempt = fresh(attempt_id)
    earned = {kind: attempt.scores[index_of(attempt, kind)] for kind in TYPES}
    assert earned == pytest.approx(PARTIAL_EARNS)
    assert attempt.score == round(100 * sum(PARTIAL_EARNS.values()) / 7, 2) == 63.33
    assert attempt.passed is False and attempt.status == "submitted"

    result = client.get(path_of(response)).get_data(as_text=True)
    assert 'data-result="failed"' in result and "<strong data-score>63.3%</strong>" in result
    assert result.count('class="card review-item is-right"') == 3  # single, short, numerical
    assert result.count('class="card review-item is-partial"') == 3  # multiple, matching, ordering
    assert result.count('class="card review-item is-wrong"') == 1  # true/false


# --- 4. the server's deadline ---------------------------------------------------------------------


def expire(attempt_id: int) -> datetime:
    """Move the attempt's deadline into the past, as if the time had run out."""
    attempt = fresh(attempt_id)
    attempt.deadline = datetime.now(timezone.utc) - timedelta(minutes=1)
    db.session.commit()
    return attempt.deadline


def test_the_page_counts_down_to_the_servers_deadline(app, bank, people):
    """A timed quiz's page shows the time left until the deadline the server set."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    attempt = fresh(attempt_id)
    assert attempt.deadline == attempt.started_at + timedelta(minutes=30)
    html, _page = open_attempt(client, attempt_id)
    remaining = int(re.search(r'data-remaining="(\d+)"', html).group(1))
    assert 0 < remaining <= 30 * 60
    untimed = start(client, "pages-answers")
    assert "data-remaining" not in open_attempt(client, untimed)[0]


def test_an_answer_after_the_deadline_is_refused_and_the_attempt_closes(app, bank, people):
    """409 with closed=true; the attempt is timed out with the answers saved in time."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    _html, page = open_attempt(client, attempt_id)
    assert save(client, attempt_id, page, "single", "R32").status_code == 200
    deadline = expire(attempt_id)

    reply = save(client, attempt_id, page, "short", "megohmmeter")
    assert reply.status_code == 409
    assert reply.json["ok"] is False and reply.json["closed"] is True
    assert urlsplit(reply.json["result"]).path == f"/quizzes/attempts/{attempt_id}/result"

    attempt = fresh(attempt_id)
    assert attempt.status == "timed_out" and attempt.submitted_at == deadline
    assert list(attempt.answers) == [str(index_of(attempt, "single"))]
    assert attempt.scores == [1.0 if n == index_of(attempt, "single") else 0.0 for n in range(7)]
    assert attempt.score == round(100 / 7, 2) and attempt.passed is False

    response = client.get(f"/quizzes/attempts/{attempt_id}")
    assert response.status_code == 302 and path_of(response) == f"/quizzes/attempts/{attempt_id}/result"
    result = client.get(path_of(response)).get_data(as_text=True)
    assert "closed when the time ran out" in result


def test_opening_an_attempt_after_its_deadline_shows_the_result(app, bank, people):
    """The page itself closes an attempt whose time is up, and redirects to the result."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    _html, page = open_attempt(client, attempt_id)
    save(client, attempt_id, page, "short", "megohmmeter")
    expire(attempt_id)

    response = client.get(f"/quizzes/attempts/{attempt_id}")
    assert response.status_code == 302 and path_of(response) == f"/quizzes/attempts/{attempt_id}/result"
    attempt = fresh(attempt_id)
    assert attempt.status == "timed_out" and attempt.score == round(100 / 7, 2)
    assert attempt.scores[index_of(attempt, "short")] == 1.0


def test_a_late_submit_keeps_only_the_answers_saved_in_time(app, bank, people):
    """Answers that arrive with a submit after the deadline do not count."""
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-explanations")
    _html, page = open_attempt(client, attempt_id)
    save(client, attempt_id, page, "numerical", "2468.5")
    expire(attempt_id)

    response = submit(client, attempt_id, page, RIGHT)
    assert response.status_code == 302 and path_of(response) == f"/quizzes/attempts/{attempt_id}/result"
    attempt = fresh(attempt_id)
    assert attempt.status == "timed_out"
    assert list(attempt.answers) == [str(index_of(attempt, "numerical"))]
    assert attempt.score == round(100 / 7, 2)


# --- 5. whose attempt -----------------------------------------------------------------------------


def test_another_technician_cannot_see_or_touch_an_attempt(app, bank, people):
    """Someone else's attempt is 'not found': page, answers, submit and result."""
    owner = signed_in(app, "tech")
    attempt_id = start(owner, "pages-explanations")
    _html, page = open_attempt(owner, attempt_id)
    save(owner, attempt_id, page, "short", "megohmmeter")

    intruder = signed_in(app, "tech2")
    token = get_csrf(intruder, "/quizzes/pages-explanations")
    base = f"/quizzes/attempts/{attempt_id}"
    assert intruder.get(base).status_code == 404
    short = page.by_type()["short"]
    assert intruder.post(f"{base}/answer", data={"csrf_token": token, "index": str(short["index"]),
                                                 f"q{short['index']}": "hijacked"}).status_code == 404
    assert intruder.post(f"{base}/submit", data={"csrf_token": token}).status_code == 404
    assert intruder.get(f"{base}/result").status_code == 404
    attempt = fresh(attempt_id)
    assert attempt.status == "open" and attempt.answers == {str(short["index"]): "megohmmeter"}

    submit(owner, attempt_id, page)
    assert intruder.get(f"{base}/result").status_code == 404
    assert owner.get(f"{base}/result").status_code == 200


def test_a_trainer_sees_results_but_cannot_take_an_attempt(app, bank, people):
    """Trainers open a technician's result (not while it is open); the attempt page is 403."""
    owner = signed_in(app, "tech")
    attempt_id = start(owner, "pages-explanations")
    trainer = signed_in(app, "trainer")
    base = f"/quizzes/attempts/{attempt_id}"
    assert trainer.get(f"{base}/result").status_code == 404  # still open: nothing to see yet

    _html, page = open_attempt(owner, attempt_id)
    submit(owner, attempt_id, page, RIGHT)
    response = trainer.get(f"{base}/result")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "陈强" in html and "<strong data-score>100.0%</strong>" in html
    assert trainer.get(base).status_code == 403
    assert trainer.get("/quizzes/pages-explanations").status_code == 403


# --- 6. review modes ------------------------------------------------------------------------------


def test_review_mode_score_shows_the_score_and_no_questions(app, bank, people):
    """review: score — the technician sees the score only; the trainer still sees the questions."""
    client = signed_in(app, "tech")
    attempt_id = take(client, "pages-score", TYPED_WRONG)
    html = client.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "<strong data-score>71.4%</strong>" in html  # 5 of 7
    assert "This quiz shows the score only" in html
    assert "review-item" not in html and "Right answer" not in html
    for hidden in ["Which instrument measures insulation resistance?", "megohmmeter", "2468.5",
                   *[en for en, _zh in EXPLANATIONS.values()]]:
        assert hidden not in html, hidden

    trainer = signed_in(app, "trainer").get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert trainer.count('class="card review-item') == 7
    assert "Which instrument measures insulation resistance?" in trainer
    # a trainer going through someone else's attempt sees the key whatever the review mode (the
    # candidate never does: above)
    assert "megohmmeter" in trainer and "Why short" in trainer and "data-key-shown" in trainer


def test_review_mode_answers_shows_the_right_answers_without_explanations(app, bank, people):
    """review: answers — each question with the answer given and the right one."""
    client = signed_in(app, "tech")
    attempt_id = take(client, "pages-answers", TYPED_WRONG)
    html = client.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert html.count('class="card review-item') == 7 and html.count("<h3>Right answer</h3>") == 7
    assert html.count('class="card review-item is-wrong"') == 2
    assert "<li>ohmmeter</li>" in html and re.search(r"<li>(megohmmeter|兆欧表)</li>", html)
    assert "<li>12</li>" in html and "<li>2468.5</li>" in html
    assert "<li>F3 → Coil sensor fault</li>" in html
    assert "<li>1. Isolate the power supply</li>" in html
    assert not any(en in html for en, _zh in EXPLANATIONS.values())
    assert 'class="explanation"' not in html


def test_review_mode_explanations_shows_the_explanations(app, bank, people):
    """review: explanations — right answers and each question's explanation."""
    client = signed_in(app, "tech")
    attempt_id = take(client, "pages-explanations", TYPED_WRONG)
    html = client.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert html.count("<h3>Right answer</h3>") == 7 and "<li>2468.5</li>" in html
    for en, _zh in EXPLANATIONS.values():
        assert en in html, en
    assert html.count('class="explanation"') == 7


def test_the_right_answer_to_a_short_question_is_in_the_attempts_language(app, bank, people):
    """An English attempt's review gives the English accepted answer, a Chinese one the Chinese."""
    client = signed_in(app, "tech")
    attempt_id = take(client, "pages-answers", TYPED_WRONG)
    html = client.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    short = re.search(r"<li>ohmmeter</li></ul>\s*<h3>Right answer</h3>\s*<ul class=\"plain\"><li>([^<]*)</li>", html)
    assert short.group(1) == "megohmmeter"


# --- 7. attempts allowed and cooldown -------------------------------------------------------------


def age(attempt_id: int, hours: float) -> None:
    """Move an attempt back in time."""
    attempt = fresh(attempt_id)
    attempt.started_at -= timedelta(hours=hours)
    attempt.submitted_at -= timedelta(hours=hours)
    db.session.commit()


def local_short(moment: datetime) -> str:
    """A time as the English pages print it (short, in the portal's time zone)."""
    return babel_datetime(moment, "short", tzinfo=ZoneInfo("Asia/Shanghai"), locale="en")


def try_start(client, slug: str):
    token = get_csrf(client, f"/quizzes/{slug}")
    return client.post(f"/quizzes/{slug}/start", data={"csrf_token": token})


def test_cooldown_refuses_a_new_start_and_says_when(app, bank, people):
    """Within the cooldown there is no start button, and a start is refused with a message."""
    client = signed_in(app, "tech")
    first = take(client, "pages-limited", TYPED_WRONG)  # not passed
    again_from = fresh(first).submitted_at + timedelta(hours=24)

    page = client.get("/quizzes/pages-limited").get_data(as_text=True)
    assert f"You can try again from {local_short(again_from)}." in page
    assert 'data-action="start"' not in page and "1 of 2 used" in page
    result = client.get(f"/quizzes/attempts/{first}/result").get_data(as_text=True)
    assert f"You can try again from {local_short(again_from)}." in result

    refused = try_start(client, "pages-limited")
    assert refused.status_code == 302 and path_of(refused) == "/quizzes/pages-limited"
    shown = client.get(path_of(refused)).get_data(as_text=True)
    assert 'class="flash flash-error" role="alert">You can try again from ' in shown
    assert attempt_count() == 1

    age(first, 25)
    page = client.get("/quizzes/pages-limited").get_data(as_text=True)
    assert 'data-action="start">Try again</button>' in page and "You can try again from" not in page
    second = start(client, "pages-limited")
    assert second != first and fresh(second).number == 2


def test_the_refusal_names_the_same_time_as_the_page(app, bank, people):
    """The flash after a refused start gives the time as the quiz page does (local, readable)."""
    client = signed_in(app, "tech")
    first = take(client, "pages-limited", TYPED_WRONG)
    again_from = fresh(first).submitted_at + timedelta(hours=24)
    shown = client.get(path_of(try_start(client, "pages-limited"))).get_data(as_text=True)
    flash = re.search(r'class="flash flash-error" role="alert">([^<]*)</p>', shown).group(1)
    assert flash == f"You can try again from {local_short(again_from)}."


def test_all_attempts_used_refuses_a_start(app, bank, people):
    """After the allowed attempts a start is refused, and the page says so."""
    client = signed_in(app, "tech")
    first = take(client, "pages-limited", TYPED_WRONG)
    age(first, 25)
    second = take(client, "pages-limited", TYPED_WRONG)
    age(second, 25)

    page = client.get("/quizzes/pages-limited").get_data(as_text=True)
    assert "You have used all 2 attempts at this quiz." in page
    assert 'data-action="start"' not in page and "2 of 2 used" in page
    refused = try_start(client, "pages-limited")
    assert refused.status_code == 302
    shown = client.get(path_of(refused)).get_data(as_text=True)
    assert 'class="flash flash-error" role="alert">You have used all 2 attempts at this quiz.' in shown
    assert attempt_count() == 2


def test_after_the_last_attempt_the_pages_do_not_promise_another(app, bank, people):
    """Within the cooldown after the last allowed attempt, no page says 'try again from'."""
    client = signed_in(app, "tech")
    first = take(client, "pages-limited", TYPED_WRONG)
    age(first, 25)
    second = take(client, "pages-limited", TYPED_WRONG)  # the last one, just now

    page = client.get("/quizzes/pages-limited").get_data(as_text=True)
    assert "You have used all 2 attempts at this quiz." in page
    assert "You can try again from" not in page
    result = client.get(f"/quizzes/attempts/{second}/result").get_data(as_text=True)
    assert "You can try again from" not in result
    refused = try_start(client, "pages-limited")
    assert "You have used all 2 attempts" in client.get(path_of(refused)).get_data(as_text=True)


# --- 8. trainer reports ---------------------------------------------------------------------------


@pytest.fixture
def spread(bank, people, network, make_user):
    """Three technicians in three outlets (two regions) with one graded attempt each; a cohort
    holding two of them."""
    from portal.auth.models import Outlet, Province, Region
    from portal.learning.models import Course
    from portal.learning.services import create_cohort

    north = Region(code="NORTH", name_zh="华北大区", name_en="North Region")
    beijing = Province(code="BJ", name_zh="北京", name_en="Beijing", region=north)
    db.session.add_all([north, beijing, Outlet(code="BJ-CY-01", name_zh="北京朝阳网点", name_en="Beijing Chaoyang",
                                               city="北京", province=beijing)])
    db.session.commit()
    people["north"] = make_user("north", "technician", outlet="BJ-CY-01", name="Zhao Bei")
    course = Course(slug="pages-course", kind="quarterly", quiz="pages-explanations",
                    title_zh="测验课程", title_en="Quiz course")
    db.session.add(course)
    db.session.commit()
    cohort = create_cohort("Autumn cohort", course, date(2026, 11, 2), [people["trainer"]],
                           [people["technician"], people["north"]], people["trainer"])
    quiz = bank["pages-explanations"]
    for user, right in ((people["technician"], 7), (people["other"], 3), (people["north"], 5)):
        engine.take(user, quiz, T0, right=right, lang="en")
    return {"cohort": cohort, "south": network["region"], "north": north,
            "foshan": network["outlets"][1], "course": course}


def report_rows(html: str) -> list[tuple[str, str, str, str]]:
    """(name, outlet, attempts, best score) per line of the results table."""
    table = re.search(r"<table class=\"list\" data-results>(.*?)</table>", html, re.S).group(1)
    return re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td><td>(\d+)</td><td>([\d.]+)%</td>', table)


def test_report_filters_results_by_cohort_region_and_outlet(app, spread):
    """Results per technician, best first; each filter (and their combination) narrows them."""
    trainer = signed_in(app, "trainer")
    url = "/quizzes/pages-explanations/report"
    everyone = trainer.get(url).get_data(as_text=True)
    assert report_rows(everyone) == [("陈强", "GD-GZ-01", "1", "100.0"), ("Zhao Bei", "BJ-CY-01", "1", "71.4"),
                                     ("Li Lei", "GD-FS-01", "1", "42.9")]
    assert '<span class="stat">1</span> passed' in everyone  # pass mark 80
    assert '<span class="stat">71.4%</span> mean score' in everyone  # (100 + 42.86 + 71.43) / 3

    cases = {
        f"cohort={spread['cohort'].id}": ["陈强", "Zhao Bei"],
        f"region={spread['south'].id}": ["陈强", "Li Lei"],
        f"region={spread['north'].id}": ["Zhao Bei"],
        f"outlet={spread['foshan'].id}": ["Li Lei"],
        f"cohort={spread['cohort'].id}&region={spread['south'].id}": ["陈强"],
        f"cohort={spread['cohort'].id}&outlet={spread['foshan'].id}": [],
    }
    for query, names in cases.items():
        html = trainer.get(f"{url}?{query}").get_data(as_text=True)
        assert [row[0] for row in report_rows(html)] == names, query
        if not names:
            assert "Nobody matching these filters has taken this quiz yet." in html
    selected = trainer.get(f"{url}?cohort={spread['cohort'].id}").get_data(as_text=True)
    assert f'<option value="{spread["cohort"].id}" selected>Autumn cohort</option>' in selected


def test_report_csv_export_follows_the_filters(app, spread):
    """The CSV has one line per technician with the filters applied."""
    trainer = signed_in(app, "trainer")
    url = "/quizzes/pages-explanations/report"
    page = trainer.get(f"{url}?region={spread['south'].id}").get_data(as_text=True)
    assert f'href="{url}?format=csv&amp;cohort=&amp;region={spread["south"].id}&amp;outlet="' in page

    response = trainer.get(f"{url}?region={spread['south'].id}&format=csv&lang=en")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "pages-explanations-results.csv" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # so spreadsheet programs read the Chinese names as UTF-8
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [
        ["username", "name", "outlet", "outlet_name", "attempts", "best_score", "passed", "last_submitted"],
        ["tech", "陈强", "GD-GZ-01", "Guangzhou Tianhe", "1", "100.0", "yes", "2026-11-23T09:00+00:00"],
        ["tech2", "Li Lei", "GD-FS-01", "Foshan Shunde", "1", "42.86", "no", "2026-11-23T09:00+00:00"],
    ]
    cohort = list(csv.reader(io.StringIO(trainer.get(f"{url}?cohort={spread['cohort'].id}&format=csv")
                                         .get_data(as_text=True).lstrip("\ufeff"))))
    assert [row[0] for row in cohort[1:]] == ["tech", "north"]


def test_reports_are_for_trainers_only(app, spread):
    """Technicians get 403 on reports and the upload page."""
    client = signed_in(app, "tech")
    for url in ("/quizzes/reports", "/quizzes/pages-explanations/report",
                "/quizzes/pages-explanations/report?format=csv", "/quizzes/import"):
        assert client.get(url).status_code == 403, url
    listing = signed_in(app, "trainer").get("/quizzes/reports").get_data(as_text=True)
    assert re.search(r'href="/quizzes/pages-explanations/report">Quiz pages-explanations</a></th><td>3</td>',
                     listing)


# Item analysis on a known data set: eight graded attempts. Each holds S (single choice: score,
# option chosen as shown, option order shown), T (true/false, always right), H (short answer: score,
# what was typed), F (ordering: score, None when left blank) and, in three of them, N (numerical).
# The total is what those scores make; sorted, the bottom two are A1 and A3, the top two A8 and A2.
ANALYSIS = [
    # S  shown  order         T  H  typed          F     N
    (1, 0, None, 1, 0, "ohmmeter", None, (0, "12")),               # A1: 2.0 / 5 = 40   R32
    (0, 2, [3, 2, 1, 0], 1, 1, "Megohmmeter", 1.0, None),          # A2: 3.0 / 4 = 75   R410A
    (1, 0, None, 1, 0, None, 0.2, (0, "2400")),                    # A3: 2.2 / 5 = 44   R32
    (0, 2, None, 1, 0, "ohmmeter", 1.0, None),                     # A4: 2.0 / 4 = 50   R22
    (1, 0, None, 1, 0, None, 0.0, None),                           # A5: 2.0 / 4 = 50   R32
    (1, 0, None, 1, 0, "clamp meter", 0.2, None),                  # A6: 2.2 / 4 = 55   R32
    (0, 1, None, 1, 0, "OHMMETER", 0.8, None),                     # A7: 1.8 / 4 = 45   R410A
    (0, 2, [1, 2, 3, 0], 1, 0, "voltmeter", 1.0, (1, "2468.5")),   # A8: 3.0 / 5 = 60   R134a
]


@pytest.fixture
def analysed(bank, make_user, people):
    """The eight attempts above, stored as graded rows of the quiz pages-analysis."""
    quiz = bank["pages-analysis"]
    q = questions_by_type()
    for n, (s, s_shown, s_order, t, h, h_typed, f, numerical) in enumerate(ANALYSIS, start=1):
        user = make_user(f"analysed{n}", "technician", outlet="GD-GZ-01")
        items = [{"question": q["single"].id, "order": s_order}, {"question": q["truefalse"].id, "order": None},
                 {"question": q["short"].id, "order": None}, {"question": q["ordering"].id, "order": None}]
        answers = {"0": s_shown, "1": False, "2": h_typed, "3": None if f is None else [item_id(x) for x in ORDER]}
        scores = [float(s), float(t), float(h), float(f or 0)]
        if numerical:
            items.append({"question": q["numerical"].id, "order": None})
            answers["4"] = numerical[1]
            scores.append(float(numerical[0]))
        score = round(100 * sum(scores) / len(scores), 2)
        db.session.add(Attempt(quiz_id=quiz.id, user_id=user.id, number=1, lang="en", open_slot=None,
                               started_at=T0, submitted_at=T0 + timedelta(minutes=n), status="submitted",
                               items=items, answers={k: v for k, v in answers.items() if v is not None},
                               scores=scores, score=score, passed=score >= 60))
    db.session.commit()
    # Stored straight as graded rows, not through grading: their responses are kept the way an
    # upgrade fills them for attempts graded before responses were kept.
    assert backfill_responses() == 8 and backfill_responses() == 0
    assert [a.score for a in svc.graded_attempts(quiz)] == [40, 75, 44, 50, 50, 55, 45, 60]
    return quiz


def test_item_analysis_arithmetic_on_a_known_data_set(app, analysed):
    """Facility, discrimination (top 27 % − bottom 27 %), option counts and flags, exactly."""
    stats = {s.question.type: s for s in svc.item_analysis(svc.graded_attempts(analysed), "en")}
    # 8 attempts → groups of round(8 × 0.27) = 2: bottom A1 and A3 (40, 44), top A8 and A2 (60, 75).
    expected = {
        "single": (8, 0.5, -1.0, ["negative-discrimination"]),
        "truefalse": (8, 1.0, 0.0, ["too-easy"]),
        "short": (8, 0.125, 0.5, ["too-hard"]),
        "ordering": (8, 0.525, 0.9, []),
        "numerical": (3, 0.333, None, []),  # seen in three attempts: no discrimination
    }
    assert {k: (s.seen, s.facility, s.discrimination, s.flags) for k, s in stats.items()} == expected
    assert stats["single"].options == [("R32", 4), ("R410A", 2), ("R22", 1), ("R134a", 1)]
    assert stats["truefalse"].options == [("True", 0), ("False", 8)]
    assert stats["short"].options == [("ohmmeter", 3), ("megohmmeter", 1), ("clampmeter", 1), ("voltmeter", 1)]
    assert stats["short"].blank == 2 and stats["single"].blank == 0
    assert stats["ordering"].options == [("Answered", 7)] and stats["ordering"].blank == 1
    assert stats["numerical"].options == [("12", 1), ("2400", 1), ("2468.5", 1)]


def test_the_report_page_shows_the_item_analysis(app, analysed):
    """The same numbers on the trainer's page: flagged questions first, hardest first. The
    unfiltered page reads the figures kept at grading; its discrimination is the one ``flask daily``
    decides (until then none, and the page says so)."""
    before = signed_in(app, "trainer").get("/quizzes/pages-analysis/report").get_data(as_text=True)
    assert "has not been yet for this quiz" in before and "discrimination -1.00" not in before
    assert svc.refresh_discrimination() == 5
    html = signed_in(app, "trainer").get("/quizzes/pages-analysis/report").get_data(as_text=True)
    assert "Discrimination as decided" in html
    blocks = re.findall(r'<details class="card item-stats[^"]*" data-item="pages/all/([^"]+)">(.*?)</details>',
                        html, re.S)
    assert [ident for ident, _b in blocks] == ["short-q", "single-q", "truefalse-q", "numerical-q", "ordering-q"]
    found = {}
    for ident, block in blocks:
        meta = re.search(r"seen (\d+) · facility ([\d.]+) · discrimination (\S+?)</span>", block)
        found[ident] = (meta.groups(), re.findall(r'<span class="tag bad">([^<]+)</span>', block),
                        re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td></tr>", block),
                        re.search(r'<td class="muted">No answer</td><td>(\d+)</td>', block).group(1))
    assert found == {
        "short-q": (("8", "0.12", "0.50"), ["Very hard"],
                    [("ohmmeter", "3"), ("megohmmeter", "1"), ("clampmeter", "1"), ("voltmeter", "1")], "2"),
        "single-q": (("8", "0.50", "-1.00"), ["Negative discrimination"],
                     [("R32", "4"), ("R410A", "2"), ("R22", "1"), ("R134a", "1")], "0"),
        "truefalse-q": (("8", "1.00", "0.00"), ["Very easy"], [("True", "0"), ("False", "8")], "0"),
        "ordering-q": (("8", "%.2f" % 0.525, "0.90"), [], [("Answered", "7")], "1"),
        "numerical-q": (("3", "0.33", "–"), [], [("12", "1"), ("2400", "1"), ("2468.5", "1")], "0"),
    }
    assert '<span class="stat">8</span> technicians' in html and '<span class="stat">2</span> passed' in html
    assert '<span class="stat">52.4%</span> mean score' in html  # 419 / 8
    assert "· Short answer</p>" in html and "· truefalse</p>" not in html  # the type by its name
    zh = signed_in(app, "trainer").get("/quizzes/pages-analysis/report?lang=zh_CN").get_data(as_text=True)
    assert "· 判断题</p>" in zh and "· 简答题</p>" in zh


def test_discrimination_needs_four_attempts_and_flags_have_strict_bounds(app):
    """None below four attempts; at least one attempt per group; flags only beyond the bounds."""
    assert svc.discrimination([(10, 0), (50, 1), (90, 1)]) is None
    # Four attempts: groups of one (round(1.08)); the lowest total scored 1, the highest 0.
    assert svc.discrimination([(90, 0), (10, 1), (50, 1), (60, 0)]) == -1.0
    # Eleven attempts: groups of three (round(2.97)).
    pairs = [(total, 1.0 if total >= 50 else 0.0) for total in range(0, 110, 10)]
    assert svc.discrimination(pairs) == 1.0
    pairs[-1] = (100, 0.0)
    assert svc.discrimination(pairs) == round(2 / 3, 3)
    assert svc.flags_for(0.2, 0.0) == [] and svc.flags_for(0.95, None) == []
    assert svc.flags_for(0.199, -0.001) == ["negative-discrimination", "too-hard"]
    assert svc.flags_for(0.951, 0.3) == ["too-easy"]
    assert svc.flags_for(None, None) == []


# --- 9. uploading questions -----------------------------------------------------------------------

GIFT = """// Questions from Moodle
::Gas::Which refrigerant is rated A2L? {=R32 ~R410A ~R22}

::Story::Describe a repair you are proud of. {}

::Braze::You may braze a charged system. {F}
"""


def upload(client, content: bytes, category: str = "imported/gift-upload", atomic: bool = False, **extra):
    token = get_csrf(client, "/quizzes/import")
    data = {"csrf_token": token, "format": "gift", "category": "", "new_category": category,
            "file": (io.BytesIO(content), "questions.gift"), **extra}
    if atomic:
        data["atomic"] = "y"
    response = client.post("/quizzes/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def imported(path: str = "imported/gift-upload") -> list[Question]:
    db.session.expire_all()
    return list(db.session.scalars(select(Question).join(QuestionCategory).where(QuestionCategory.path == path)
                                   .order_by(Question.id)))


def test_a_gift_upload_imports_the_good_questions_and_lists_the_skipped_line(app, people):
    """Two good questions imported; the essay item is skipped with its line number."""
    trainer = signed_in(app, "trainer")
    html = upload(trainer, GIFT.encode("utf-8"))
    assert "Imported 2 questions into imported/gift-upload." in html
    assert "Imported 2 questions, skipped 1." in html
    assert "<li>line 4: essay questions are not supported</li>" in html
    assert "<li>single: 1</li>" in html and "<li>truefalse: 1</li>" in html
    assert [(q.type, q.text_en, q.source) for q in imported()] == [
        ("single", "Which refrigerant is rated A2L?", "gift"),
        ("truefalse", "You may braze a charged system.", "gift")]
    # The new category is offered in the form from now on.
    assert '<option value="imported/gift-upload">imported/gift-upload</option>' in trainer.get(
        "/quizzes/import").get_data(as_text=True)


def test_an_all_or_nothing_upload_with_a_skipped_item_imports_nothing(app, people):
    """With the box ticked, one unusable item means nothing is imported."""
    trainer = signed_in(app, "trainer")
    html = upload(trainer, GIFT.encode("utf-8"), atomic=True)
    assert "Nothing was imported: some items could not be, and you asked for all or nothing." in html
    assert "Imported 0 questions, skipped 1." in html
    assert "<li>line 4: essay questions are not supported</li>" in html
    assert imported() == []
    assert db.session.scalar(select(func.count()).select_from(Question)) == 0


def test_a_file_that_is_not_utf8_is_refused(app, people):
    """A GBK or Latin-1 file gives an error on the file field, and nothing is imported."""
    trainer = signed_in(app, "trainer")
    html = upload(trainer, "::Gas::哪种制冷剂? {=R32 ~R22}\n".encode("gbk"))
    assert "Nothing was imported: questions.gift: it is not UTF-8: line 1 reads as GBK/GB18030 Chinese" in html
    assert "data-import-outcome" not in html and "Imported" not in html
    assert db.session.scalar(select(func.count()).select_from(Question)) == 0


def test_a_bad_category_is_refused_and_kept_in_the_form(app, people):
    """A category that is not a lower-case path is an error; the typed text stays in the field."""
    trainer = signed_in(app, "trainer")
    html = upload(trainer, GIFT.encode("utf-8"), category="Onboarding Final!")
    assert "Choose a category, or name a new one like onboarding/final" in html
    assert re.search(r'<input[^>]*name="new_category"[^>]*value="Onboarding Final!"', html)
    assert "data-import-outcome" not in html
    assert db.session.scalar(select(func.count()).select_from(Question)) == 0
    assert db.session.scalar(select(func.count()).select_from(QuestionCategory)) == 0


# --- 10. course completion ------------------------------------------------------------------------


def test_a_course_asks_for_its_quiz_until_it_is_passed(app, bank, people):
    """The course page links to its quiz until a passing attempt, then says it is passed."""
    from portal.learning.models import Course

    db.session.add(Course(slug="pages-course", kind="quarterly", quiz="pages-explanations",
                          title_zh="测验课程", title_en="Quiz course"))
    db.session.commit()
    client = signed_in(app, "tech")

    def quiz_line():
        html = client.get("/learning/courses/pages-course").get_data(as_text=True)
        return re.search(r'<p class="course-quiz" data-course-quiz="(\w+)">(.*?)</p>', html, re.S).groups()

    state, text = quiz_line()
    assert state == "open" and "Take the quiz" in text and 'href="/quizzes/pages-explanations"' in text
    take(client, "pages-explanations", PARTIAL)  # 63 %: not passed
    state, text = quiz_line()
    assert state == "open" and "Take the quiz" in text and "Quiz passed" not in text

    pass_quiz(people["technician"], "pages-explanations")
    state, text = quiz_line()
    assert state == "passed" and "Quiz passed" in text and "100%" in text and "Take the quiz" not in text


# --- 11. the reader's language mid-attempt ---------------------------------------------------------


def set_locale(user, locale: str) -> None:
    """The technician switches the interface language (their account's setting)."""
    user.locale = {"zh": "zh_CN"}.get(locale, locale)
    db.session.commit()


def test_an_attempt_follows_the_interface_language_and_grades_each_answer_in_its_own(app, bank, people):
    """Started in English, the page shows the questions in Chinese once the interface is Chinese,
    with the answers given so far shown as the same answers; each answer is graded in the
    language its page showed (matching texts and ordering ids differ per language), and the
    review follows the reader's language too."""
    tech = people["technician"]
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-answers")
    _html, en_page = open_attempt(client, attempt_id)
    for kind in ("single", "matching"):
        assert save(client, attempt_id, en_page, kind, RIGHT[kind]).status_code == 200

    set_locale(tech, "zh")
    html, zh_page = open_attempt(client, attempt_id)
    assert "把故障代码和含义配对。" in html and "Match each error code with its meaning." not in html
    assert "哪种制冷剂属于微燃（A2L）？" in html and "用什么仪表测绝缘电阻？" in html
    zh = zh_page.by_type()
    assert shown_answer(zh["matching"]) == dict(PAIRS_ZH)  # the English answer, shown in Chinese
    assert shown_answer(zh["single"]) == "R32"
    assert [item["text"] for item in zh["ordering"]["items"]] != ORDER  # Chinese items
    assert {item["text"] for item in zh["ordering"]["items"]} == set(ORDER_ZH)

    zh_right = {"multiple": ["护目镜", "皮手套"], "truefalse": "false", "short": SHORT_KEY[1],
                "numerical": "2468.5", "ordering": list(ORDER_ZH)}
    for kind, answer in zh_right.items():
        reply = save(client, attempt_id, zh_page, kind, answer)
        assert reply.status_code == 200 and reply.json["ok"] is True, kind
    # A tab still showing the English page (opened before the switch) says which language it shows.
    matching = fields_for(en_page.by_type()["matching"], RIGHT["matching"])
    reply = client.post(f"/quizzes/attempts/{attempt_id}/answer", headers={"Accept": "application/json"},
                        data={"csrf_token": csrf_of(zh_page, client, attempt_id), "lang": "en",
                              "index": str(en_page.by_type()["matching"]["index"]), **matching})
    assert reply.status_code == 200

    # Submitting the Chinese page without JavaScript sends the shown answers back unchanged.
    response = submit(client, attempt_id, zh_page, {"matching": dict(PAIRS_ZH), "single": "R32"})
    assert response.status_code == 302
    attempt = fresh(attempt_id)
    assert attempt.lang == "en"
    assert attempt.answer_lang(index_of(attempt, "ordering")) == "zh"
    assert attempt.answer_lang(index_of(attempt, "matching")) == "en"
    assert attempt.scores == [1.0] * 7 and attempt.score == 100.0 and attempt.passed

    review = client.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "把故障代码和含义配对。" in review and "<li>E1 → 高压保护</li>" in review
    assert "<li>1. 断开电源</li>" in review and "Match each error code" not in review
    set_locale(tech, "en")
    review = client.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert "Match each error code with its meaning." in review
    assert "<li>E1 → High-pressure protection</li>" in review and "<li>1. Isolate the power supply</li>" in review
    assert "<li>兆欧表</li>" in review  # the typed answer as typed


def test_a_typed_answer_is_graded_against_the_key_of_the_language_it_was_typed_in(app, bank, people):
    """A question with an answer key in one language per language (as a GIFT import may give):
    the typed answer counts against the key of the page it was typed on."""
    question = questions_by_type()["short"]
    question.data_en = {"answers": [{"text": SHORT_KEY[0], "fraction": 1.0}]}
    question.data_zh = {"answers": [{"text": SHORT_KEY[1], "fraction": 1.0}]}
    db.session.commit()
    client = signed_in(app, "tech")
    attempt_id = start(client, "pages-answers")
    set_locale(people["technician"], "zh")
    _html, zh_page = open_attempt(client, attempt_id)
    assert save(client, attempt_id, zh_page, "short", SHORT_KEY[1]).status_code == 200
    submit(client, attempt_id, zh_page)
    attempt = fresh(attempt_id)
    assert attempt.scores[index_of(attempt, "short")] == 1.0
    review = client.get(f"/quizzes/attempts/{attempt_id}/result").get_data(as_text=True)
    assert re.search(r"<li>兆欧表</li></ul>\s*<h3>正确答案</h3>\s*<ul class=\"plain\"><li>兆欧表</li>", review)


# --- 12. nobody reviews their own score-only exam ------------------------------------------------


def test_a_trainer_who_took_a_score_only_quiz_sees_only_the_score_of_their_own_attempt(app, bank, people, make_user):
    """Trainer and technician in one person: their own score-only attempt shows the score, not the
    questions, on the result page; the item analysis leaves their attempts out. Another
    technician's attempt they may still go through question by question."""
    both = make_user("both", "technician", "trainer", outlet="GD-GZ-01", name="Wu Gang")
    both.locale = "en"
    db.session.commit()
    client = signed_in(app, "both")
    own = take(client, "pages-score", TYPED_WRONG)
    html = client.get(f"/quizzes/attempts/{own}/result").get_data(as_text=True)
    assert "<strong data-score>71.4%</strong>" in html and "This quiz shows the score only" in html
    assert "review-item" not in html and "Which instrument measures insulation resistance?" not in html

    report = client.get("/quizzes/pages-score/report").get_data(as_text=True)
    assert "Wu Gang" in report  # the score is in the results
    assert "data-own-left-out" in report and "Your own attempts are left out" in report
    assert 'class="card item-stats' not in report  # no per-question figures from their attempt
    assert "题目分析不含您本人的作答" in client.get("/quizzes/pages-score/report?lang=zh_CN").get_data(as_text=True)
    items = client.get("/quizzes/pages-score/report?format=items-csv").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(items)))) == 1  # the header only

    other = take(signed_in(app, "tech"), "pages-score", TYPED_WRONG)
    html = client.get(f"/quizzes/attempts/{other}/result").get_data(as_text=True)
    assert html.count('class="card review-item') == 7
    report = client.get("/quizzes/pages-score/report").get_data(as_text=True)
    assert report.count('class="card item-stats') == 7 and "seen 1" in report

    # Where technicians see their questions, so does the trainer who took it: nothing to hide.
    own_answers = take(client, "pages-answers", TYPED_WRONG)
    html = client.get(f"/quizzes/attempts/{own_answers}/result").get_data(as_text=True)
    assert html.count('class="card review-item') == 7
    assert "data-own-left-out" not in client.get("/quizzes/pages-answers/report").get_data(as_text=True)


# --- network scale: results a page at a time, the item analysis from the kept responses ----------

RESULT_ROW = re.compile(r'<tr><th scope="row">([^<]+)</th><td>GD-GZ-01</td>')


def test_the_results_come_a_page_at_a_time_and_the_download_has_every_page(app, analysed, network):
    app.config["PAGE_SIZE"] = 3
    client = signed_in(app, "trainer")
    outlet = network["outlets"][0].id
    pages, urls = walk(client, f"/quizzes/pages-analysis/report?outlet={outlet}", RESULT_ROW, 3)
    assert [len(p) for p in pages] == [3, 3, 2] and all(f"outlet={outlet}" in u for u in urls)
    listed = [n for p in pages for n in p]
    live = svc.results(svc.graded_attempts(analysed, outlet_id=outlet))
    assert listed == [line.user.username for line in live]  # best first, then by name, across pages
    assert RESULT_ROW.findall(client.get(f"/quizzes/pages-analysis/report?outlet={outlet}&page=4")
                              .get_data(as_text=True)) == []
    for fmt, read in (("csv", csv_rows), ("xlsx", xlsx_rows)):
        rows = read(client.get(f"/quizzes/pages-analysis/report?outlet={outlet}&format={fmt}&lang=en"))
        assert [r["username"] for r in rows] == listed
        assert [float(r["best_score"]) for r in rows] == [line.best for line in live]
    items = csv_rows(client.get(f"/quizzes/pages-analysis/report?outlet={outlet}&format=items-csv&lang=en"))
    assert len(items) == 5


def _same(kept, live) -> None:
    as_tuple = [(s.question.id, s.seen, s.facility, s.discrimination, s.options, s.blank, s.flags) for s in kept]
    assert as_tuple == [(s.question.id, s.seen, s.facility, s.discrimination, s.options, s.blank, s.flags)
                        for s in live]


def test_the_kept_item_analysis_equals_the_one_read_from_the_attempts(app, analysed, bank, people, make_user,
                                                                       network):
    """Responses kept at grading (through the real engine) and backfilled ones, aggregated by the
    database, give exactly the figures computed from every attempt's JSON."""
    when = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    for n in range(6):
        user = make_user(f"graded{n}", "technician", outlet="GD-FS-01" if n % 2 else "GD-GZ-01")
        if n % 3 == 0:
            engine.take(user, analysed, when, seed=n)  # every answer right
        else:
            engine.submit(engine.start(user, analysed, "en", when, seed=n), when)  # nothing answered
    quiz_attempts = svc.graded_attempts(analysed)
    assert len(quiz_attempts) == 14
    _same(svc.item_analysis_sql(analysed, "en"), svc.item_analysis(quiz_attempts, "en"))
    outlet = network["outlets"][1].id
    _same(svc.item_analysis_sql(analysed, "en", outlet_id=outlet),
          svc.item_analysis(svc.graded_attempts(analysed, outlet_id=outlet), "en"))
    summary = svc.result_summary(analysed)
    assert (summary.technicians, summary.attempts) == (14, 14)
    assert summary.mean == round(sum(a.score or 0 for a in quiz_attempts) / 14, 1)
    assert summary.passed == sum(1 for line in svc.results(quiz_attempts) if line.passed)
    assert svc.takers_by_quiz()[analysed.id] == 14


def _random_response(rng, view):
    """A random answer (or None: left blank) to a shown question, as the page would send it."""
    public = view.public
    if rng.random() < 0.15:
        return None
    if view.type == "single":
        return rng.randrange(len(public["choices"]))
    if view.type == "multiple":
        return sorted(rng.sample(range(len(public["choices"])), rng.randint(1, len(public["choices"]))))
    if view.type == "truefalse":
        return rng.choice([True, False])
    if view.type == "short":
        return rng.choice(["ohmmeter", "Ohmmeter ", "voltmeter", "megohmmeter"])
    if view.type == "numerical":
        return rng.choice(["12", "2400", "2468.5", "7"])
    if view.type == "matching":
        return {str(n): rng.choice(public["right"]) for n in range(len(public["left"]))}
    if view.type == "ordering":
        ids = [item["id"] for item in public["items"]]
        rng.shuffle(ids)
        return ids
    return None


def test_the_kept_figures_equal_the_live_ones_after_random_gradings(app, analysed, make_user, network):
    """Random attempts (several per technician, random answers, some timed out) graded through
    the engine on top of the backfilled ones: the kept per-question, per-option and per-technician
    figures (increments at grading) give exactly what is computed from every attempt. (Grading
    is final: there are no regrades.)"""
    rng = random.Random(13)
    when = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
    outlets = ["GD-GZ-01", "GD-FS-01"]
    people_ = [make_user(f"random{n}", "technician", outlet=outlets[n % 2]) for n in range(7)]
    for step in range(25):
        user = rng.choice(people_)
        when += timedelta(minutes=rng.randint(1, 90))
        attempt = engine.start(user, analysed, rng.choice(["en", "zh"]), when, seed=rng.randrange(10**6))
        for view in engine.shown(attempt):
            response = _random_response(rng, view)
            if response is not None:
                engine.save_answer(attempt, view.index, response, when)
        engine.submit(attempt, when)

    def check():
        attempts = svc.graded_attempts(analysed)
        assert svc.refresh_discrimination() > 0
        _same(svc.item_analysis_kept(analysed, "en"), svc.item_analysis(attempts, "en"))
        _same(svc.item_analysis_kept(analysed, "en"), svc.item_analysis_sql(analysed, "en"))
        live = svc.results(attempts)
        kept = [svc.result_line(row) for row in db.session.execute(svc.results_query(analysed))]
        assert [(l.user.username, l.attempts, l.best, l.passed, l.last) for l in kept] == \
            [(l.user.username, l.attempts, l.best, l.passed, l.last) for l in live]
        summary = svc.result_summary(analysed)
        assert (summary.technicians, summary.attempts) == (len(live), len(attempts))
        assert summary.passed == sum(1 for line in live if line.passed)
        assert summary.mean == round(sum(a.score or 0 for a in attempts) / len(attempts), 1)
        outlet = network["outlets"][1].id
        _same(svc.item_analysis_sql(analysed, "en", outlet_id=outlet),
              svc.item_analysis(svc.graded_attempts(analysed, outlet_id=outlet), "en"))
        return len(attempts)

    assert check() == 8 + 25
    # more gradings after a refresh: the counters keep adding up
    for n in range(6):
        engine.take(rng.choice(people_), analysed, when + timedelta(days=1, minutes=n), right=rng.randint(0, 5),
                    seed=n)
    assert check() == 8 + 25 + 6


def test_the_report_filtered_by_region_equals_the_live_computation(app, analysed, make_user, network):
    """The report filtered by a region (or an outlet): results, headline figures and item
    analysis, read by grouped queries over the kept per-technician results and responses joined
    to the technicians' places, equal what is computed from every graded attempt of the
    technicians there now, after random gradings and technicians moving between regions."""
    from portal.auth import services as accounts
    from portal.auth.models import Outlet, Province, Region

    north = Region(code="NORTH", name_zh="华北大区", name_en="North Region")
    beijing = Province(code="BJ", name_zh="北京", name_en="Beijing", region=north)
    db.session.add_all([north, beijing, Outlet(code="BJ-CY-01", name_zh="朝阳网点", name_en="Chaoyang", city="北京",
                                               province=beijing)])
    db.session.commit()
    places = {"region": [network["region"].id, north.id],
              "outlet": [o.id for o in db.session.scalars(select(Outlet).order_by(Outlet.code))]}
    codes = ["GD-GZ-01", "GD-FS-01", "BJ-CY-01", None]
    rng = random.Random(29)
    techs = [make_user(f"region{n}", "technician", outlet=codes[n % 4]) for n in range(8)]
    when = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)

    def check() -> dict:
        db.session.expire_all()
        counts = {}
        for kind, ids in places.items():
            for place in ids:
                attempts = svc.graded_attempts(analysed, **{f"{kind}_id": place})
                counts[(kind, place)] = len(attempts)
                live = svc.results(attempts)
                kept = [svc.result_line(row) for row in db.session.execute(
                    svc.results_query(analysed, **{f"{kind}_id": place}))]
                assert [(l.user.username, l.attempts, l.best, l.passed, l.last) for l in kept] == \
                    [(l.user.username, l.attempts, l.best, l.passed, l.last) for l in live], (kind, place)
                summary = svc.result_summary(analysed, **{f"{kind}_id": place})
                assert (summary.technicians, summary.attempts, summary.passed) == (
                    len(live), len(attempts), sum(1 for line in live if line.passed)), (kind, place)
                assert summary.mean == (round(sum(a.score or 0 for a in attempts) / len(attempts), 1)
                                        if attempts else None)
                _same(svc.item_analysis_sql(analysed, "en", **{f"{kind}_id": place}),
                      svc.item_analysis(attempts, "en"))
        return counts

    seen_in_both = False
    for step in range(36):
        tech = rng.choice(techs)
        if rng.random() < 0.25:  # moves to another outlet (another region, or none)
            accounts.update_user(tech, name=tech.name, roles=sorted(tech.roles), outlet_code=rng.choice(codes),
                                 start_date=tech.start_date, actor=None)
        else:
            when += timedelta(minutes=rng.randint(1, 90))
            attempt = engine.start(tech, analysed, rng.choice(["en", "zh"]), when, seed=rng.randrange(10**6))
            for view in engine.shown(attempt):
                response = _random_response(rng, view)
                if response is not None:
                    engine.save_answer(attempt, view.index, response, when)
            engine.submit(attempt, when)
        if step % 6 == 5:
            counts = check()
            seen_in_both |= all(counts[("region", r)] >= 4 for r in places["region"])
    assert seen_in_both  # both regions had enough attempts for a discrimination index

    # The page shows the same figures for the region.
    client = signed_in(app, "trainer")
    html = client.get(f"/quizzes/pages-analysis/report?region={north.id}").get_data(as_text=True)
    summary = svc.result_summary(analysed, region_id=north.id)
    assert f'<span class="stat">{summary.technicians}</span> technicians' in html
