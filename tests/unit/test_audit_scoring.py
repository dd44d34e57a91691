"""Scoring an audit report from hand-made values: no app, no database."""

from __future__ import annotations

import pytest

from portal.audits.scoring import (
    ANSWER_NEEDED,
    COMMENT_NEEDED,
    PHOTO_NEEDED,
    grade_for,
    missing,
    red_line_items,
    score_report,
)
from portal.audits.services import missing_answers

GRADES = [{"code": "excellent", "min": 90}, {"code": "good", "min": 75},
          {"code": "needs-improvement", "min": 60}, {"code": "fail", "min": 0}]


def item(iid, kind="yesno", weight=1, red_line=False, evidence="none", **extra):
    return {"id": iid, "type": kind, "weight": weight, "red_line": red_line, "evidence": evidence,
            "na": not red_line, "text": {"zh": iid, "en": iid}, **extra}


SPEC = {
    "grades": GRADES,
    "sections": [
        {"id": "arrival", "title": {"zh": "准时", "en": "Arrival"}, "items": [
            item("on-time", weight=3),
            item("called", "choice", weight=2, options=[{"id": "before", "score": 1}, {"id": "late", "score": 0.5},
                                                        {"id": "none", "score": 0}]),
            item("arrival-time", "time", weight=0),
            item("minutes-late", "number", weight=1, target={"min": 0, "max": 0}),
        ]},
        {"id": "integrity", "title": {"zh": "诚信", "en": "Integrity"}, "items": [
            item("gift", weight=2, red_line=True, evidence="comment", pass_when="no"),
        ]},
        {"id": "manner", "title": {"zh": "用语", "en": "Manner"}, "items": [
            item("polite", "rating", weight=2),
            item("forbidden", weight=2, red_line=True, evidence="comment", pass_when="no"),
        ]},
        {"id": "outcome", "title": {"zh": "结果", "en": "Outcome"}, "items": [
            item("fixed", weight=3, evidence="photo"),
            item("story", "text", weight=0),
        ]},
    ],
}
PERFECT = {"on-time": "yes", "called": "before", "arrival-time": "09:55", "minutes-late": 0, "gift": "no",
           "polite": 5, "forbidden": "no", "fixed": "yes"}


def test_a_perfect_report_scores_100_in_every_section():
    scored = score_report(SPEC, PERFECT)
    assert scored.score == 100 and scored.result == "excellent"
    assert not scored.red_line_failed and scored.failed_items == [] and scored.red_line_items == []
    assert scored.section_scores == {"arrival": 100, "integrity": 100, "manner": 100, "outcome": 100}


def test_weights_and_partial_credit_make_the_score():
    # weights: on-time 3 (0), called 2 (0.5), minutes 1, gift 2, polite 2, forbidden 2, fixed 3 → 15
    scored = score_report(SPEC, {**PERFECT, "on-time": "no", "called": "late"})
    assert scored.score == round(100 * (15 - 3 - 1) / 15, 1) == 73.3
    assert scored.section_scores["arrival"] == round(100 * 2 / 6, 1)
    assert scored.result == "needs-improvement"
    assert scored.failed_items == ["on-time"]  # "late" scores 0.5: not under half


def test_not_applicable_leaves_the_denominator():
    scored = score_report(SPEC, {**PERFECT, "on-time": "na", "called": "late"})
    assert scored.score == round(100 * (15 - 3 - 1) / (15 - 3), 1) == 91.7
    assert scored.result == "excellent"
    assert scored.section_scores["arrival"] == round(100 * 2 / 3, 1)


def test_unanswered_and_unweighted_items_do_not_count():
    answers = {k: v for k, v in PERFECT.items() if k not in ("on-time", "arrival-time")}
    assert score_report(SPEC, answers).score == 100
    assert score_report(SPEC, {**PERFECT, "story": "anything"}).score == 100


def test_a_section_with_nothing_that_counts_has_no_score():
    scored = score_report(SPEC, {**PERFECT, "fixed": "na"})
    assert scored.section_scores["outcome"] is None and scored.score == 100


def test_nothing_scored_gives_no_score_and_the_lowest_grade():
    scored = score_report(SPEC, {})
    assert scored.score is None and scored.result == "fail" and not scored.red_line_failed
    assert set(scored.section_scores.values()) == {None}


def test_a_red_line_failure_fails_the_report_whatever_the_score():
    scored = score_report(SPEC, {**PERFECT, "gift": "yes"})
    assert scored.score == round(100 * 13 / 15, 1) > 75
    assert scored.result == "fail" and scored.red_line_failed
    assert scored.red_line_items == ["gift"] and scored.failed_items == ["gift"]
    assert scored.section_scores["integrity"] == 0


def test_a_rating_at_or_below_its_red_line_fails_the_report():
    spec = {"grades": GRADES, "sections": [{"id": "s", "items": [
        item("care", "rating", weight=1, red_line=True, red_line_at=2), item("ok", weight=9)]}]}
    assert score_report(spec, {"care": 2, "ok": "yes"}).result == "fail"
    passed = score_report(spec, {"care": 3, "ok": "yes"})
    assert passed.result == "excellent" and not passed.red_line_failed and passed.score == 95


def test_a_red_line_option_of_a_choice_fails_the_report():
    spec = {"grades": GRADES, "sections": [{"id": "s", "items": [
        item("pay", "choice", weight=1, options=[{"id": "invoice", "score": 1},
                                                 {"id": "cash", "score": 0, "red_line": True}])]}]}
    scored = score_report(spec, {"pay": "cash"})
    assert scored.red_line_failed and scored.red_line_items == ["pay"] and scored.result == "fail"


@pytest.mark.parametrize("score, grade", [(100, "excellent"), (90, "excellent"), (89.9, "good"), (75, "good"),
                                          (74.9, "needs-improvement"), (60, "needs-improvement"),
                                          (59.9, "fail"), (0, "fail"), (None, "fail")])
def test_grade_bands_take_their_lower_bound(score, grade):
    assert grade_for(SPEC, score) == grade


def test_red_line_items_are_the_failed_items_that_breach_a_red_line():
    responses = {**PERFECT, "gift": "yes", "forbidden": "yes", "on-time": "no"}
    assert red_line_items(SPEC, ["on-time", "gift", "forbidden"], responses) == ["gift", "forbidden"]
    assert red_line_items(SPEC, [], responses) == []


def test_submission_needs_every_counted_answer_and_evidence_for_failures():
    assert missing_answers(SPEC, PERFECT, {}, set()) == {}
    missing = missing_answers(SPEC, {k: v for k, v in PERFECT.items() if k != "on-time"}, {}, set())
    assert list(missing) == ["on-time"]
    assert "arrival-time" not in missing_answers(SPEC, {}, {}, set())  # weight 0, no red line
    failed = {**PERFECT, "gift": "yes", "fixed": "no"}
    assert set(missing_answers(SPEC, failed, {}, set())) == {"gift", "fixed"}
    assert missing_answers(SPEC, failed, {"gift": "a box of tea"}, {"fixed"}) == {}
    assert set(missing_answers(SPEC, failed, {"gift": "   "}, set())) == {"gift", "fixed"}  # blank is no comment


def test_what_is_missing_is_said_as_message_ids():
    failed = {**PERFECT, "gift": "yes", "fixed": "no"}
    del failed["polite"]
    assert missing(SPEC, failed, {}, set()) == {"gift": COMMENT_NEEDED, "polite": ANSWER_NEEDED, "fixed": PHOTO_NEEDED}
    assert missing(SPEC, failed, {"gift": "tea"}, {"fixed"}) == {"polite": ANSWER_NEEDED}
    assert missing(SPEC, {**PERFECT, "on-time": "na"}, {}, set()) == {}  # not applicable is an answer
    assert missing_answers(SPEC, failed, {}, set())["polite"] == ANSWER_NEEDED  # untranslated outside an app


def test_an_office_section_is_recorded_but_never_the_technicians_failure():
    # the loader refuses weight in an office section; scoring leaves it out even so
    office = {"id": "office", "about": "office", "title": {"zh": "客服", "en": "Office"}, "items": [
        item("hotline-seconds", "number", weight=1, target={"min": 0, "max": 10}),
        item("callback", weight=1),
    ]}
    answers = {**PERFECT, "hotline-seconds": 45, "callback": "no"}
    scored = score_report({**SPEC, "sections": SPEC["sections"] + [office]}, answers)
    assert scored.failed_items == [] and scored.score == 100 and scored.section_scores["office"] is None
    mine = {**office, "about": "technician"}  # the same items as the technician's would fail
    scored = score_report({**SPEC, "sections": SPEC["sections"] + [mine]}, answers)
    assert scored.failed_items == ["hotline-seconds", "callback"] and scored.score < 100
