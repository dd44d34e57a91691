"""Grading a submitted quiz attempt from hand-made values: no app, no database."""

from __future__ import annotations

import pytest

from portal.assessment.grading import Answer, Graded, QuestionMark, fits, grade_answer, grade_attempt, to_original
from portal.assessment.qtypes import item_id

SINGLE = {"choices": [{"text": "R22", "fraction": 0}, {"text": "R32", "fraction": 1},
                      {"text": "R410A", "fraction": 0.5}]}
MULTIPLE = {"choices": [{"text": "Safety glasses", "fraction": 0.5}, {"text": "Sandals", "fraction": -0.5},
                        {"text": "Leather gloves", "fraction": 0.5}, {"text": "A tie", "fraction": 0}]}
SHORT_EN = {"answers": [{"text": "megohmmeter", "fraction": 1}, {"text": "insulation tester", "fraction": 0.5}]}
SHORT_ZH = {"answers": [{"text": "兆欧表", "fraction": 1}]}
NUMERICAL = {"answers": [{"value": 2468.5, "tolerance": 0.5, "fraction": 1},
                         {"value": 2468.5, "tolerance": 5, "fraction": 0.5}]}
MATCHING_EN = {"pairs": [{"left": "E1", "right": "High-pressure protection"}, {"left": "E5", "right": "Overcurrent"},
                         {"left": "F3", "right": "Low voltage"}]}
MATCHING_ZH = {"pairs": [{"left": "E1", "right": "高压保护"}, {"left": "E5", "right": "过流"},
                         {"left": "F3", "right": "低电压"}]}
STEPS = ["isolate", "test dead", "lock out", "repair", "restore"]
IDS = [item_id(s) for s in STEPS]


def answer(kind, data, response, order=None, answer_lang="en", attempt_lang="en", zh=None):
    return Answer(kind, {"en": data, "zh": zh if zh is not None else data}, response, answer_lang, attempt_lang,
                  order)


# --- one question -----------------------------------------------------------------------------


def test_a_shuffled_single_choice_is_graded_in_the_questions_own_order():
    order = [2, 0, 1]  # shown: R410A, R22, R32
    assert grade_answer(answer("single", SINGLE, 2, order)) == QuestionMark(1.0, "graded", "en", 1)
    assert grade_answer(answer("single", SINGLE, 0, order)).marks == 0.5  # partial credit
    assert grade_answer(answer("single", SINGLE, 1, order)).marks == 0.0
    assert grade_answer(answer("single", SINGLE, 7, order)) == QuestionMark(0.0, "graded", "en", None)


def test_multiple_answers_add_up_negative_ones_subtract_never_below_zero():
    assert grade_answer(answer("multiple", MULTIPLE, [0, 2])).marks == 1.0
    assert grade_answer(answer("multiple", MULTIPLE, [0])).marks == 0.5
    assert grade_answer(answer("multiple", MULTIPLE, [0, 1])).marks == 0.0
    assert grade_answer(answer("multiple", MULTIPLE, [1])).marks == 0.0
    assert grade_answer(answer("multiple", {**MULTIPLE, "penalty": 0.25}, [0, 2, 3])).marks == 0.75
    shuffled = grade_answer(answer("multiple", MULTIPLE, [0, 1], order=[2, 0, 3, 1]))
    assert shuffled.graded_response == [2, 0] and shuffled.marks == 1.0


def test_true_false():
    assert grade_answer(answer("truefalse", {"answer": False}, False)).marks == 1.0
    assert grade_answer(answer("truefalse", {"answer": False}, "true")).marks == 0.0


def test_a_typed_answer_counts_against_the_key_of_the_language_it_was_typed_in():
    typed_zh = answer("short", SHORT_EN, "兆欧表", answer_lang="zh", attempt_lang="en", zh=SHORT_ZH)
    assert grade_answer(typed_zh) == QuestionMark(1.0, "graded", "zh", "兆欧表")
    typed_en = answer("short", SHORT_EN, "兆欧表", answer_lang="en", attempt_lang="zh", zh=SHORT_ZH)
    assert grade_answer(typed_en).marks == 0.0
    assert grade_answer(answer("short", SHORT_EN, " MegOhmMeter ")).marks == 1.0  # case and spaces
    assert grade_answer(answer("short", SHORT_EN, "insulation tester")).marks == 0.5
    assert grade_answer(answer("short", SHORT_EN, "ohmmeter")).marks == 0.0


def test_numbers_within_a_tolerance():
    marks = [grade_answer(answer("numerical", NUMERICAL, x)).marks
             for x in ("2468.5", "2469", "2468,9", "２４６８.５", "2472", "2474", "twelve")]
    assert marks == [1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0]


def test_matching_earns_a_share_per_pair_in_the_language_it_was_shown():
    right_zh = {"0": "高压保护", "1": "过流", "2": "低电压"}
    shown_zh = answer("matching", MATCHING_EN, right_zh, answer_lang="zh", attempt_lang="en", zh=MATCHING_ZH)
    assert grade_answer(shown_zh).marks == 1.0
    one_of_three = {"0": "High-pressure protection", "1": "Low voltage", "2": "Overcurrent"}
    assert grade_answer(answer("matching", MATCHING_EN, one_of_three)).marks == pytest.approx(1 / 3)


def test_ordering_earns_the_share_in_place_or_all_or_nothing():
    swapped = [IDS[1], IDS[0], *IDS[2:]]
    assert grade_answer(answer("ordering", {"items": STEPS}, IDS)).marks == 1.0
    assert grade_answer(answer("ordering", {"items": STEPS}, swapped)).marks == pytest.approx(3 / 5)
    assert grade_answer(answer("ordering", {"items": STEPS, "all_or_nothing": True}, swapped)).marks == 0.0
    assert grade_answer(answer("ordering", {"items": STEPS}, IDS[:-1])).marks == 0.0


def test_a_blank_answer_and_a_vanished_question_earn_nothing():
    assert grade_answer(answer("single", SINGLE, None)) == QuestionMark(0.0, "blank")
    assert grade_answer(Answer(None, {}, 1, "en", "en")) == QuestionMark(0.0, "missing")


def test_an_option_order_that_does_not_fit_the_other_language_grades_in_the_attempts():
    two_choices = {"choices": [{"text": "对", "fraction": 1}, {"text": "错", "fraction": 0}]}
    mark = grade_answer(answer("single", SINGLE, 2, order=[2, 0, 1], answer_lang="zh", attempt_lang="en",
                               zh=two_choices))
    assert mark.key_lang == "en" and mark.marks == 1.0
    assert fits(SINGLE, [2, 0, 1]) and not fits(two_choices, [2, 0, 1]) and fits(two_choices, None)


def test_to_original_maps_shown_positions_back():
    assert to_original([2, 0, 1], "0", "single") == 2
    assert to_original([2, 0, 1], [0, 2, 9], "multiple") == [2, 1]  # out of range dropped
    assert to_original([2, 0, 1], "x", "single") is None
    assert to_original(None, 1, "single") == 1 and to_original([1, 0], "text", "short") == "text"


# --- a whole attempt --------------------------------------------------------------------------


PARTIAL = [
    answer("single", SINGLE, 1),  # 1
    answer("multiple", MULTIPLE, [0]),  # 0.5
    answer("truefalse", {"answer": False}, True),  # 0
    answer("short", SHORT_EN, "兆欧表", answer_lang="zh", zh=SHORT_ZH),  # 1
    answer("numerical", NUMERICAL, "2468.9"),  # 1
    answer("matching", MATCHING_EN, {"0": "High-pressure protection", "1": "Low voltage", "2": "Overcurrent"}),
    answer("ordering", {"items": STEPS}, [IDS[1], IDS[0], *IDS[2:]]),  # 0.6
]


def test_the_percent_is_the_share_of_marks_over_every_drawn_question_rounded_to_two_places():
    graded = grade_attempt(PARTIAL, 60)
    assert graded.marks == pytest.approx([1.0, 0.5, 0.0, 1.0, 1.0, 1 / 3, 0.6])
    assert graded.out_of == 7 and graded.total == pytest.approx(4.4333, abs=1e-4)
    assert graded.percent == 63.33 and graded.passed
    assert not grade_attempt(PARTIAL, 80).passed
    assert [q.status for q in graded.questions] == ["graded"] * 7


def test_the_pass_mark_is_reached_at_equality():
    half = [answer("truefalse", {"answer": True}, True), answer("truefalse", {"answer": True}, False)]
    assert grade_attempt(half, 50).passed and not grade_attempt(half, 50.01).passed
    assert grade_attempt(half, "50").percent == 50.0  # a pass mark read from settings as text


def test_blank_and_vanished_questions_count_in_the_denominator():
    graded = grade_attempt([answer("truefalse", {"answer": True}, True), answer("single", SINGLE, None),
                            Answer(None, {}, 0, "en", "en")], 60)
    assert graded.marks == [1.0, 0.0, 0.0] and graded.percent == 33.33 and not graded.passed
    assert [q.status for q in graded.questions] == ["graded", "blank", "missing"]


def test_all_right_is_100_and_nothing_drawn_is_0():
    right = [answer("single", SINGLE, 1), answer("multiple", MULTIPLE, [0, 2]), answer("ordering", {"items": STEPS}, IDS)]
    assert grade_attempt(right, 100) == Graded(grade_attempt(right, 100).questions, 3.0, 3, 100.0, True)
    empty = grade_attempt([], 60)
    assert empty.percent == 0.0 and not empty.passed and empty.marks == []
    assert grade_attempt([], 0).passed
