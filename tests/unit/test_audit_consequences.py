"""What a scored audit report causes, decided from hand-made values: no app, no database."""

from __future__ import annotations

from datetime import date

from portal.audits.consequences import Consequence, Said, both, called_for, consequences
from portal.audits.scoring import Scored
from portal.messages import MESSAGES
from portal.messages import both as messages_both

TODAY = date(2026, 11, 20)


def item(iid, zh, en, **extra):
    return {"id": iid, "type": "yesno", "weight": 1, "red_line": False, "text": {"zh": zh, "en": en}, **extra}


RULES = {"red_line": {"suspend_certificate": True, "notify_trainers": True},
         "weak_section": {"below": 70, "due_days": 14},
         "good_practice": {"grades": ["excellent"], "story": "story"}}
SPEC = {
    "rules": RULES,
    "sections": [
        {"id": "arrival", "title": {"zh": "准时", "en": "Arrival"},
         "trains": "lesson:onboarding/d02-arrival-and-repair-times", "items": [item("on-time", "准时到达？", "On time?")]},
        {"id": "integrity", "title": {"zh": "诚信", "en": "Integrity"}, "trains": "lesson:onboarding/d04-integrity",
         "items": [item("gift", "收了礼品？", "Accepted a gift?", red_line=True),
                   item("forbidden", "说了禁语？", "", red_line=True)]},
        {"id": "manner", "title": {"zh": "用语", "en": "Manner"}, "trains": "module:onboarding/5", "below": 80,
         "items": [item("polite", "礼貌", "Polite")]},
        {"id": "outcome", "title": {"zh": "结果", "en": "Outcome"}, "items": [item("fixed", "修好？", "Fixed?")]},
    ],
}
ALL_GOOD = {"arrival": 100.0, "integrity": 100.0, "manner": 100.0, "outcome": 100.0}


def scored(result="excellent", red=(), sections=None, score=100.0):
    return Scored(score, "fail" if red else result, bool(red), {**ALL_GOOD, **(sections or {})}, list(red), list(red))


def decide(outcome, spec=SPEC, responses=None, certificates=("C-1", "C-2"), in_force=(), today=TODAY):
    return consequences(7, spec, outcome, responses or {}, "Li Lei", list(certificates), set(in_force), today)


def kinds(decided):
    return [(c.kind, c.key) for c in decided]


# --- the red line -----------------------------------------------------------------------------


def test_a_red_line_suspends_each_active_certificate_then_alerts_the_trainers():
    decided = decide(scored(red=["gift"], sections={"integrity": 50.0}))
    assert kinds(decided)[:3] == [("suspend", "C-1"), ("suspend", "C-2"), ("notify", "")]
    reason = Said("audit.red-line", {"n": 7, "items": [{"zh": "收了礼品？", "en": "Accepted a gift?"}]})
    assert all(c.reason == reason for c in decided[:3])
    assert decided[2].notice == Said("audit.red-line-of", {"name": "Li Lei", "n": 7, "items": reason.params["items"]})


def test_the_red_line_reason_names_every_breached_item_in_both_languages():
    decided = decide(scored(red=["gift", "forbidden"]))
    assert decided[0].reason.params["items"] == [{"zh": "收了礼品？", "en": "Accepted a gift?"},
                                                 {"zh": "说了禁语？", "en": "说了禁语？"}]  # a missing side: the other


def test_a_red_line_with_no_certificate_still_alerts_the_trainers():
    assert kinds(decide(scored(red=["gift"]), certificates=())) == [("notify", "")]


def test_the_red_line_rule_says_what_it_does():
    only_alert = {**SPEC, "rules": {"red_line": {"notify_trainers": True}}}
    assert kinds(decide(scored(red=["gift"]), only_alert)) == [("notify", "")]
    only_suspend = {**SPEC, "rules": {"red_line": {"suspend_certificate": True}}}
    assert kinds(decide(scored(red=["gift"]), only_suspend)) == [("suspend", "C-1"), ("suspend", "C-2")]
    no_rule = {**SPEC, "rules": {}}
    assert decide(scored(red=["gift"]), no_rule) == []


def test_no_red_line_no_suspension_and_no_alert():
    assert decide(scored(result="good", score=80.0)) == []


def test_what_the_report_already_causes_is_not_caused_again():
    outcome = scored(red=["gift"])
    assert kinds(decide(outcome, in_force={("suspend", "C-1"), ("notify", "")})) == [("suspend", "C-2")]
    assert decide(outcome, in_force={("suspend", "C-1"), ("suspend", "C-2"), ("notify", "")}) == []


# --- weak sections ----------------------------------------------------------------------------


def test_a_section_below_the_threshold_assigns_its_lesson_due_in_due_days():
    decided = decide(scored(result="good", score=80.0, sections={"arrival": 40.0}))
    assert decided == [Consequence("assign", "arrival", Said("audit.weak-section", {
        "n": 7, "section": {"zh": "准时", "en": "Arrival"}, "score": 40.0, "threshold": 70.0}),
        trains="lesson:onboarding/d02-arrival-and-repair-times", due=date(2026, 12, 4))]


def test_a_section_at_its_threshold_is_not_weak_and_its_own_threshold_wins():
    assert decide(scored(result="good", sections={"arrival": 70.0})) == []
    decided = decide(scored(result="good", sections={"manner": 75.0}))  # below manner's own 80
    assert kinds(decided) == [("assign", "manner")] and decided[0].reason.params["threshold"] == 80.0
    assert decided[0].trains == "module:onboarding/5"


def test_a_section_without_a_score_or_without_a_lesson_assigns_nothing():
    assert decide(scored(result="good", sections={"arrival": None})) == []
    assert decide(scored(result="good", sections={"outcome": 0.0})) == []  # no trains


def test_due_days_default_to_fourteen():
    spec = {**SPEC, "rules": {"weak_section": {"below": 70}}}
    assert decide(scored(sections={"arrival": 0.0}), spec)[0].due == date(2026, 12, 4)
    spec = {**SPEC, "rules": {"weak_section": {"below": 70, "due_days": 3}}}
    assert decide(scored(sections={"arrival": 0.0}), spec)[0].due == date(2026, 11, 23)


def test_weak_sections_in_form_order_and_each_once():
    outcome = scored(result="needs-improvement", sections={"arrival": 10.0, "manner": 10.0})
    assert kinds(decide(outcome)) == [("assign", "arrival"), ("assign", "manner")]
    assert kinds(decide(outcome, in_force={("assign", "arrival")})) == [("assign", "manner")]


def test_no_weak_section_rule_no_lessons():
    assert decide(scored(sections={"arrival": 0.0}), {**SPEC, "rules": {}}) == []


# --- good practice ----------------------------------------------------------------------------


def test_an_excellent_visit_with_a_story_proposes_it_once():
    story = "  fixed the neighbour's heater  "
    assert decide(scored(), responses={"story": story}) == [Consequence("good_practice", story=story.strip())]
    assert decide(scored(), responses={"story": story}, in_force={("good_practice", "")}) == []


def test_no_story_a_lower_grade_or_a_red_line_proposes_nothing():
    assert decide(scored(), responses={"story": "   "}) == []
    assert decide(scored(), responses={}) == []
    assert decide(scored(result="good"), responses={"story": "kind"}) == []
    red = decide(scored(result="excellent", red=["gift"]), responses={"story": "kind"})
    assert "good_practice" not in [c.kind for c in red]


# --- all together -----------------------------------------------------------------------------


def test_everything_in_order_suspensions_alert_lessons():
    outcome = scored(red=["gift"], sections={"integrity": 0.0, "arrival": 50.0})
    assert kinds(decide(outcome, responses={"story": "x"})) == [
        ("suspend", "C-1"), ("suspend", "C-2"), ("notify", ""), ("assign", "arrival"), ("assign", "integrity")]


def test_whatever_is_decided_is_called_for_and_the_messages_exist():
    outcome = scored(red=["gift"], sections={"integrity": 0.0, "manner": 75.0})
    decided = decide(outcome)
    assert decided
    for one in decided:
        assert called_for(SPEC, outcome.red_line_failed, outcome.section_scores, one.kind, one.key)
        for said in (one.reason, one.notice):
            assert said is None or said.id in MESSAGES


def test_called_for_after_an_amendment():
    assert not called_for(SPEC, False, ALL_GOOD, "suspend", "C-1")
    assert not called_for(SPEC, False, ALL_GOOD, "notify")
    assert called_for(SPEC, True, ALL_GOOD, "notify")
    assert not called_for({**SPEC, "rules": {}}, True, ALL_GOOD, "suspend", "C-1")
    assert called_for(SPEC, False, {**ALL_GOOD, "arrival": 69.9}, "assign", "arrival")
    assert not called_for(SPEC, False, {**ALL_GOOD, "arrival": 70.0}, "assign", "arrival")
    assert called_for(SPEC, False, {**ALL_GOOD, "manner": 79.0}, "assign", "manner")
    assert not called_for(SPEC, False, {**ALL_GOOD, "arrival": None}, "assign", "arrival")
    assert not called_for(SPEC, False, {**ALL_GOOD, "arrival": 0.0}, "assign", "no-such-section")
    assert called_for(SPEC, False, ALL_GOOD, "good_practice")


def test_both_is_the_messages_both():
    for zh, en in (("准时", "Arrival"), ("", "Arrival"), ("准时", ""), ("", "")):
        assert both(zh, en) == messages_both(zh, en)
