"""The question bank in the browser: browse and search, preview without the key, create and edit
every type (validated by the type's rules, typed values kept), versions (an old attempt shows and
is graded on its version), `content load` keeps a browser edit and reports the conflict, export,
regrade after a key is corrected (exactly the affected attempts change; kept figures = live)."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from sqlalchemy import func, select

from portal.assessment import attempts as engine
from portal.assessment import services as svc
from portal.assessment.bank import load_banks
from portal.assessment.editing import regrade_question, save_question
from portal.assessment import grading
from portal.assessment.models import Attempt, BankLog, Question, QuestionVersion
from portal.extensions import db

from .conftest import get_csrf
from .test_assessment_pages import (EXPLANATIONS, ORDER, PAIRS, QUESTIONS, SHORT_KEY, _random_response, _same,  # noqa: F401
                                    analysed, bank, people, questions_by_type, signed_in, without_tokens)

WHEN = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


def _single() -> Question:
    return questions_by_type()["single"]


def _form(question: Question, **changes) -> dict:
    """The editor's fields for a single-choice question, as the page would post them."""
    spec = {q["id"]: q for q in QUESTIONS}["single-q"]
    fields = {"difficulty": "2", "tags": "", "text_zh": spec["text"]["zh"], "text_en": spec["text"]["en"],
              "explanation_zh": spec["explanation"]["zh"], "explanation_en": spec["explanation"]["en"]}
    for n, choice in enumerate(spec["choices"], start=1):
        fields[f"choice-{n}-zh"], fields[f"choice-{n}-en"] = choice["zh"], choice["en"]
        if choice.get("correct"):
            fields[f"choice-{n}-correct"] = "1"
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}



def _post(client, url: str, data: dict):
    return client.post(url, data={"csrf_token": get_csrf(client, "/assessment/bank/"), **data})


# --- browse, search, preview -------------------------------------------------------------------


def test_trainers_browse_and_search_the_bank_and_technicians_cannot(app, bank, people):
    client = signed_in(app, "trainer")
    html = client.get("/assessment/bank/").get_data(as_text=True)
    assert len(re.findall(r'<tr data-question="\d+"', html)) == 7
    for query, expected in (("type=matching", {"matching-q"}), ("q=兆欧表", set()), ("q=insulation", {"short-q"}),
                            ("q=绝缘电阻", {"short-q"}), ("difficulty=3", set()), ("facility=unseen", None)):
        html = client.get(f"/assessment/bank/?{query}").get_data(as_text=True)
        found = set(re.findall(r'<span class="muted">([a-z-]+-q)</span>', html))
        if expected is None:
            assert len(found) == 7, query
        else:
            assert found == expected, query
    single = _single()
    single.tags = ["lesson:onboarding/d03-seven-step-method"]
    db.session.commit()
    html = client.get("/assessment/bank/?tag=lesson:onboarding/d03-seven-step-method").get_data(as_text=True)
    assert set(re.findall(r'<span class="muted">([a-z-]+-q)</span>', html)) == {"single-q"}
    app.config["PAGE_SIZE"] = 3
    pages = [client.get(f"/assessment/bank/?page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    assert [len(re.findall(r'<tr data-question=', p)) for p in pages] == [3, 3, 1]
    tech = signed_in(app, "tech")
    for url in ("/assessment/bank/", f"/assessment/bank/{single.id}", f"/assessment/bank/{single.id}/preview",
                f"/assessment/bank/{single.id}/edit", "/assessment/bank/new", "/assessment/bank/export"):
        assert tech.get(url).status_code == 403, url
    assert _post(tech, f"/assessment/bank/{single.id}/regrade", {}).status_code == 403


def test_the_preview_shows_both_languages_as_the_quiz_page_does_and_never_the_key(app, bank, people):
    client = signed_in(app, "trainer")
    secrets = ["fraction", "correct", *SHORT_KEY, *[t for pair in EXPLANATIONS.values() for t in pair], "2468"]
    for q in questions_by_type().values():
        html = client.get(f"/assessment/bank/{q.id}/preview").get_data(as_text=True)
        visible = without_tokens(html)
        for secret in secrets:
            assert secret.lower() not in visible.lower(), (q.type, secret)
        assert q.text_zh in html and q.text_en in html
        assert 'data-preview="zh"' in html and 'data-preview="en"' in html
        assert 'data-type="%s"' % q.type in html  # the attempt page's own partial
    # The trainer's page has the key panel (separately)
    short = questions_by_type()["short"]
    assert SHORT_KEY[0] in client.get(f"/assessment/bank/{short.id}").get_data(as_text=True)


# --- editing, versions, content load ------------------------------------------------------------


def test_an_edit_makes_a_version_and_an_old_attempt_shows_and_keeps_its_graded_version(app, bank, people):
    quiz = bank["pages-answers"]
    attempt = engine.take(people["technician"], quiz, WHEN, seed=3, lang="en")  # every answer right
    assert attempt.score == 100
    single = _single()
    assert single.version == 1
    client = signed_in(app, "trainer")
    changed = _form(single, **{"text_en": "Which refrigerant is A2L (edited)?", "choice-1-correct": None,
                               "choice-2-correct": "1"})
    response = _post(client, f"/assessment/bank/{single.id}/edit", changed)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.expire_all()
    single = _single()
    assert single.version == 2 and single.edited_in_browser_at is not None and single.source == "browser"
    assert [v.number for v in db.session.scalars(select(QuestionVersion).where(
        QuestionVersion.question_id == single.id))] == [1, 2]
    assert db.session.scalar(select(BankLog.msg_id).where(BankLog.question_id == single.id)) == "bank.question-edited"
    # The old attempt: its review still shows version 1 (text and key), its score stands.
    own = signed_in(app, "tech")
    html = own.get(f"/quizzes/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "Which refrigerant is mildly flammable (A2L)?" in html and "(edited)" not in html
    lines = {line.type: line for line in svc.review(db.session.get(Attempt, attempt.id), "en")}
    assert lines["single"].correct == ["R32"] and lines["single"].score == 1.0
    assert db.session.get(Attempt, attempt.id).score == 100
    trainer_view = client.get(f"/quizzes/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "(edited)" not in trainer_view
    # A new attempt draws version 2.
    other = engine.start(people["other"], quiz, "en", WHEN, seed=4)
    version = next(i["version"] for i in other.items if i["question"] == single.id)
    assert db.session.get(QuestionVersion, version).number == 2


def test_bad_input_is_refused_with_the_types_reason_and_keeps_what_was_typed(app, bank, people):
    single = _single()
    client = signed_in(app, "trainer")
    response = _post(client, f"/assessment/bank/{single.id}/edit",
                     _form(single, **{"choice-1-correct": None, "text_en": "Typed but not saved"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "data-problem" in html and "Typed but not saved" in html
    response = _post(client, f"/assessment/bank/{single.id}/edit", _form(single, **{"choice-2-fraction": "half"}))
    assert response.status_code == 422 and "choice 2 fraction must be a number" in response.get_data(as_text=True)
    assert 'value="half"' in response.get_data(as_text=True)
    response = _post(client, f"/assessment/bank/{single.id}/edit", _form(single, text_zh=""))
    assert response.status_code == 422 and "zh and en" in response.get_data(as_text=True)
    db.session.expire_all()
    assert _single().version == 1 and _single().edited_in_browser_at is None
    assert db.session.scalar(select(func.count()).select_from(QuestionVersion)) == 7
    # a new question with a taken id: refused, nothing written
    response = _post(client, "/assessment/bank/new", {**_form(single), "type": "single", "category": "pages/all",
                                                     "id": "single-q"})
    assert response.status_code == 422 and "already" in response.get_data(as_text=True)


NEW = {
    "single": {"choice-1-zh": "甲", "choice-1-en": "A", "choice-1-correct": "1", "choice-2-zh": "乙",
               "choice-2-en": "B", "choice-2-fraction": "50"},
    "multiple": {"choice-1-zh": "甲", "choice-1-en": "A", "choice-1-correct": "1", "choice-2-zh": "乙",
                 "choice-2-en": "B", "choice-2-correct": "1", "choice-3-zh": "丙", "choice-3-en": "C",
                 "choice-3-fraction": "-100", "penalty": "25"},
    "truefalse": {"answer": "false"},
    "short": {"answer-1-zh": "兆欧表", "answer-1-en": "megohmmeter", "answer-2-zh": "摇表", "answer-2-en": "megger",
              "answer-2-fraction": "50"},
    "numerical": {"value-1-value": "12", "value-1-tolerance": "0.5", "value-2-value": "13", "value-2-fraction": "50"},
    "matching": {f"pair-{n}-{side}_{l}": f"{side}{n}{l}" for n in (1, 2, 3) for side in ("left", "right")
                 for l in ("zh", "en")},
    "ordering": {f"item-{n}-{l}": f"step {n} {l}" for n in (1, 2, 3) for l in ("zh", "en")},
}


def test_every_type_is_created_in_the_browser_and_grades_as_a_file_would(app, bank, people):
    client = signed_in(app, "trainer")
    for kind, fields in NEW.items():
        data = {"type": kind, "category": "web/new", "id": f"web-{kind}", "difficulty": "1", "tags": "web x:y",
                "text_zh": f"{kind} 题", "text_en": f"{kind} question", **fields}
        response = _post(client, "/assessment/bank/new", data)
        assert response.status_code == 302, (kind, response.get_data(as_text=True)[:800])
    made = {q.type: q for q in db.session.scalars(select(Question).where(Question.ident.like("web-%")))}
    assert set(made) == set(NEW)
    assert made["single"].data_en["choices"] == [{"text": "A", "fraction": 1.0}, {"text": "B", "fraction": 0.5}]
    assert made["multiple"].data_zh["penalty"] == 0.25 and made["multiple"].data_zh["choices"][2]["fraction"] == -1
    assert made["truefalse"].data_en == {"answer": False}
    assert {a["text"] for a in made["short"].data_zh["answers"]} == {"兆欧表", "摇表", "megohmmeter", "megger"}
    assert made["numerical"].data_en["answers"][1] == {"value": 13.0, "tolerance": 0.0, "fraction": 0.5}
    assert made["matching"].data_zh["pairs"][0] == {"left": "left1zh", "right": "right1zh"}
    assert made["ordering"].data_en["items"] == ["step 1 en", "step 2 en", "step 3 en"]
    assert all(q.tags == ["web", "x:y"] and q.version == 1 and q.edited_in_browser_at for q in made.values())
    # Each opens in the editor with what was saved (the round trip through question_spec)
    html = client.get(f"/assessment/bank/{made['short'].id}/edit").get_data(as_text=True)
    assert 'value="megger"' in html and 'value="50"' in html
    # a type's own rule: a matching question needs two pairs
    response = _post(client, "/assessment/bank/new", {"type": "matching", "category": "web/new", "id": "web-bad",
                                                      "text_zh": "配对", "text_en": "Match",
                                                      "pair-1-left_zh": "a", "pair-1-left_en": "a",
                                                      "pair-1-right_zh": "b", "pair-1-right_en": "b"})
    assert response.status_code == 422 and "two pairs" in response.get_data(as_text=True)
    assert 'value="配对"' in response.get_data(as_text=True) or "配对" in response.get_data(as_text=True)


def test_a_browser_edit_survives_content_load_which_reports_the_conflict(app, bank, people, tmp_path):
    single = _single()
    client = signed_in(app, "trainer")
    assert _post(client, f"/assessment/bank/{single.id}/edit",
                 _form(single, text_en="Edited in the browser")).status_code == 302
    root = tmp_path / "quizzes"
    path = root / "pages" / "all" / "bank.yaml"
    # the file unchanged: loaded as unchanged, no conflict
    report = load_banks(root)
    assert not report.problems and not report.warnings
    # the file changes the question: the browser's version stays, the conflict names file and line
    changed = [dict(q) for q in QUESTIONS]
    changed[0] = {**changed[0], "text": {"zh": "文件改了", "en": "Changed in the file"}}
    changed[1] = {**changed[1], "text": {"zh": "多选改了", "en": "Multiple changed in the file"}}
    path.write_text(yaml.safe_dump({"questions": changed}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    report = load_banks(root)
    assert not report.problems
    assert len(report.warnings) == 1 and re.match(rf"{re.escape(str(path))}:2: single-q: edited in the browser",
                                                  report.warnings[0]), report.warnings
    db.session.expire_all()
    assert _single().text_en == "Edited in the browser" and _single().version == 2
    multiple = questions_by_type()["multiple"]
    assert multiple.text_en == "Multiple changed in the file" and multiple.version == 2  # a file edit: a version too


def test_the_export_downloads_yaml_and_gift(app, bank, people):
    client = signed_in(app, "trainer")
    response = client.get("/assessment/bank/export?category=pages/all&format=yaml")
    assert response.status_code == 200
    data = yaml.safe_load(response.get_data(as_text=True))
    assert data["category"] == "pages/all" and len(data["questions"]) == 7
    assert client.get("/assessment/bank/export?format=yaml").mimetype == "application/zip"
    gift = client.get("/assessment/bank/export?category=pages/all&format=gift&lang=en").get_data(as_text=True)
    assert "megohmmeter" in gift
    assert client.get("/assessment/bank/export?category=no/such").status_code == 404


# --- regrade ------------------------------------------------------------------------------------


def _kept_equals_live(quiz) -> None:
    attempts = svc.graded_attempts(quiz)
    svc.refresh_discrimination()
    _same(svc.item_analysis_kept(quiz, "en"), svc.item_analysis(attempts, "en"))
    _same(svc.item_analysis_kept(quiz, "en"), svc.item_analysis_sql(quiz, "en"))
    live = svc.results(attempts)
    kept = [svc.result_line(row) for row in db.session.execute(svc.results_query(quiz))]
    assert [(l.user.username, l.attempts, l.best, l.passed, l.last) for l in kept] == \
        [(l.user.username, l.attempts, l.best, l.passed, l.last) for l in live]
    summary = svc.result_summary(quiz)
    assert summary.mean == round(sum(a.score or 0 for a in attempts) / len(attempts), 1)


def test_a_regrade_changes_exactly_the_affected_attempts_and_keeps_the_figures(app, bank, make_user, people):
    analysed = bank["pages-analysis"]
    rng = random.Random(7)
    when = WHEN
    takers = [make_user(f"regrade{n}", "technician", outlet="GD-GZ-01") for n in range(5)]
    for _step in range(14):
        user = rng.choice(takers)
        when += timedelta(hours=1)
        attempt = engine.start(user, analysed, rng.choice(["en", "zh"]), when, seed=rng.randrange(10**6))
        for view in engine.shown(attempt):
            response = _random_response(rng, view)
            if response is not None:
                engine.save_answer(attempt, view.index, response, when)
        engine.submit(attempt, when)
    other_quiz = engine.take(people["other"], bank["pages-answers"], when, seed=9, lang="en")
    single = _single()
    before = {a.id: (a.score, a.passed, list(a.scores)) for a in db.session.scalars(select(Attempt))}
    # The key is corrected: R410A (the second choice) is the right one, not R32.
    spec = {q["id"]: q for q in QUESTIONS}["single-q"]
    fixed = {**spec, "choices": [{**c, "correct": c["en"] == "R410A"} for c in spec["choices"]]}
    trainer = people["trainer"]
    saved, problem, key_changed = save_question(fixed, None, trainer, Path("."), question=single)
    assert problem is None and key_changed and saved.version == 2
    # Expected, graded independently: each attempt's single-choice item on the new key.
    new_data = saved.data_en
    expected = {}
    for attempt in db.session.scalars(select(Attempt).where(Attempt.status != "open")):
        scores = list(attempt.scores)
        for index, item in enumerate(attempt.items):
            if item["question"] == single.id:
                response = (attempt.answers or {}).get(str(index))
                scores[index] = 0.0 if response is None else grading.grade_answer(grading.Answer(
                    "single", {"en": new_data, "zh": saved.data_zh}, response, attempt.answer_lang(index),
                    attempt.lang, item.get("order"))).marks
        expected[attempt.id] = (round(100 * sum(scores) / len(scores), 2), scores)
    outcome = regrade_question(single, trainer, batch=4)  # several batches
    db.session.expire_all()
    after = {a.id: (a.score, a.passed, list(a.scores)) for a in db.session.scalars(select(Attempt))}
    changed = {aid for aid in before if before[aid] != after[aid]}
    assert changed and changed == {aid for aid in before if before[aid][2] != expected[aid][1]}
    assert len(changed) < len(before)  # some drew it and left it blank, or chose a wrong answer either way
    assert set(outcome.changed) == {aid for aid in changed if before[aid][:2] != after[aid][:2]}
    assert {aid: (after[aid][0], after[aid][2]) for aid in after} == expected
    assert outcome.attempts == db.session.scalar(select(func.count()).select_from(Attempt).where(
        Attempt.status != "open"))  # every quiz: the other quiz drew it too
    assert other_quiz.id in expected
    # every regraded attempt now names version 2 of the question, and the review shows it
    version2 = db.session.scalar(select(QuestionVersion.id).where(QuestionVersion.question_id == single.id,
                                                                   QuestionVersion.number == 2))
    assert all(i.get("version") == version2 for a in db.session.scalars(select(Attempt)) for i in a.items
               if i["question"] == single.id)
    logged = db.session.scalars(select(BankLog).where(BankLog.msg_id == "bank.regraded")).all()
    assert {l.attempt_id for l in logged} == set(outcome.changed) and all(l.actor_id == trainer.id for l in logged)
    _kept_equals_live(analysed)
    _kept_equals_live(bank["pages-answers"])
    # regrading again changes nothing
    assert regrade_question(single, trainer).changed == []


def test_a_trainer_does_not_regrade_their_own_attempt(app, bank, people, make_user):
    both = make_user("both", "technician", "trainer", outlet="GD-GZ-01")
    mine = engine.take(both, bank["pages-answers"], WHEN, seed=2, lang="en")
    theirs = engine.take(people["technician"], bank["pages-answers"], WHEN, seed=2, lang="en")
    single = _single()
    spec = {q["id"]: q for q in QUESTIONS}["single-q"]
    fixed = {**spec, "choices": [{**c, "correct": c["en"] == "R410A"} for c in spec["choices"]]}
    save_question(fixed, None, both, Path("."), question=single)
    outcome = regrade_question(single, both)
    db.session.expire_all()
    assert outcome.own_skipped == 1 and outcome.changed == [theirs.id]
    assert db.session.get(Attempt, mine.id).score == 100
