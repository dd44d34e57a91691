"""Question types (grading, redaction) and the GIFT reader/writer: plain functions, no app."""

from __future__ import annotations

import pytest

from portal.assessment import gift, qtypes

# --- grading -------------------------------------------------------------------------------


def test_single_choice_with_partial_credit():
    data = {"choices": [{"text": "A", "fraction": 1}, {"text": "B", "fraction": 0.5}, {"text": "C", "fraction": 0}]}
    single = qtypes.get("single")
    assert single.validate(data) == []
    assert [single.grade(data, r) for r in (0, 1, 2, "0", 7, None, "x")] == [1, 0.5, 0, 1, 0, 0, 0]
    assert single.public(data) == {"choices": ["A", "B", "C"]}


def test_multiple_choice_partial_credit_and_penalties():
    data = {"choices": [{"text": "A", "fraction": 0.5}, {"text": "B", "fraction": 0.5},
                        {"text": "C", "fraction": -0.5}, {"text": "D", "fraction": 0}]}
    multi = qtypes.get("multiple")
    assert multi.validate(data) == []
    assert multi.grade(data, [0, 1]) == 1
    assert multi.grade(data, [0]) == 0.5
    assert multi.grade(data, [0, 2]) == 0  # a wrong choice with a negative weight
    assert multi.grade(data, [2]) == 0  # never below zero
    assert multi.grade(data, [0, 1, 3]) == 1  # no penalty configured for a 0-weight choice
    assert multi.grade({**data, "penalty": 0.25}, [0, 1, 3]) == 0.75
    assert multi.grade(data, [0, 0, 0]) == 0.5  # the same choice counts once
    assert multi.grade(data, "0") == 0
    assert multi.validate({"choices": [{"text": "A", "fraction": 0.5}, {"text": "B", "fraction": 0}]})


def test_true_false_short_answer_and_numerical():
    assert qtypes.get("truefalse").grade({"answer": True}, True) == 1
    assert qtypes.get("truefalse").grade({"answer": True}, "false") == 0
    short = {"answers": [{"text": "R32", "fraction": 1}, {"text": "二氟甲烷", "fraction": 1},
                         {"text": "R-32 refrigerant", "fraction": 0.5}]}
    grade = qtypes.get("short").grade
    assert grade(short, " r32 ") == 1 and grade(short, "Ｒ３２") == 1  # case, spaces, full width
    assert grade(short, "r-32 Refrigerant") == 0.5 and grade(short, "R22") == 0 and grade(short, "") == 0
    numeric = {"answers": [{"value": 5, "tolerance": 0.5, "fraction": 1}, {"value": 5, "tolerance": 2, "fraction": 0.5}]}
    ngrade = qtypes.get("numerical").grade
    assert [ngrade(numeric, x) for x in (5, "5.5", "４.６", 6.9, 7.2, "abc", float("nan"))] == [1, 1, 1, 0.5, 0, 0, 0]


def test_matching_and_ordering_partial_credit_without_leaking_the_key():
    pairs = {"pairs": [{"left": "E1", "right": "high pressure"}, {"left": "E5", "right": "overcurrent"},
                       {"left": "H6", "right": "indoor fan"}]}
    match = qtypes.get("matching")
    assert match.grade(pairs, {0: "high pressure", 1: "overcurrent", 2: "indoor fan"}) == 1
    assert match.grade(pairs, {"0": "High Pressure", 1: "indoor fan"}) == pytest.approx(1 / 3)
    assert match.public(pairs)["right"] == ["high pressure", "indoor fan", "overcurrent"]
    steps = ["greet", "understand the fault", "inspect", "confirm the plan", "repair", "test", "summary"]
    order = qtypes.get("ordering")
    ids = [qtypes.item_id(s) for s in steps]
    assert order.grade({"items": steps}, ids) == 1
    swapped = ids[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert order.grade({"items": steps}, swapped) == pytest.approx(5 / 7)
    assert order.grade({"items": steps, "all_or_nothing": True}, swapped) == 0
    assert order.grade({"items": steps}, ids[:-1]) == 0 and order.grade({"items": steps}, ids[:-1] + ids[:1]) == 0
    public = order.public({"items": steps})["items"]
    assert sorted(i["text"] for i in public) == sorted(steps)
    assert [i["id"] for i in public] == sorted(ids)  # shown in an order unrelated to the answer


# --- GIFT ----------------------------------------------------------------------------------

SAMPLE = r"""// A comment line, ignored
$CATEGORY: onboarding/day-3

::Seven steps::[markdown]What comes **first** in the seven-step method? {
  =Greet the customer #Right: greet first.
  ~Inspect the product #Not yet.
  ~%50%Understand the fault #Close.
  #### The order is greet, understand, inspect, confirm, repair, test, summarise.
}

The refrigerant R32 is mildly flammable.{T}

Which answers are integrity red lines? {
  ~%50%Accepting a meal
  ~%50%Accepting a gift
  ~%-100%Wearing shoe covers
}

::KPI::First-time-fix target in percent? {#90:0}

Dispatch in the city within how many minutes? {#25..35}

R410A runs at about {#=1.6:0.1 =%50%1.6:0.3} times the pressure of R22.

Name the refrigerant in the 2026 series: {=R32 =R-32 =%50%difluoromethane}

Match the code to its meaning. {
  =E1 -> high pressure
  =E5 -> overcurrent
  =H6 -> indoor fan
}

The customer signs the {=service record ~receipt ~invoice} before you leave.

Describe a difficult visit. {}

This is just a description, with no answer block.

Escapes: 50\% of 1\:2 is \{not\} \= \~ \# here? {=yes ~no}
"""


def test_gift_parses_every_documented_form():
    result = gift.parse(SAMPLE)
    assert result.errors == []
    types = [q.type for q in result.questions]
    assert types == ["single", "truefalse", "multiple", "numerical", "numerical", "numerical", "short",
                     "matching", "single", "single"]
    first = result.questions[0]
    assert (first.title, first.format, first.category) == ("Seven steps", "markdown", "onboarding/day-3")
    assert first.data["choices"][2]["fraction"] == 0.5 and first.data["choices"][0]["feedback"] == "Right: greet first."
    assert first.feedback.startswith("The order is greet")
    assert first.line == 4
    assert result.questions[1].data == {"answer": True}
    assert [c["fraction"] for c in result.questions[2].data["choices"]] == [0.5, 0.5, -1.0]
    assert result.questions[3].data["answers"][0]["value"] == 90
    rng = result.questions[4].data["answers"][0]
    assert (rng["value"], rng["tolerance"]) == (30, 5)
    assert [a["fraction"] for a in result.questions[5].data["answers"]] == [1, 0.5]
    assert "_____" in result.questions[5].text and result.questions[5].text.endswith("the pressure of R22.")
    assert [a["text"] for a in result.questions[6].data["answers"]] == ["R32", "R-32", "difluoromethane"]
    assert result.questions[7].data["pairs"][2] == {"left": "H6", "right": "indoor fan"}
    assert result.questions[8].text == "The customer signs the _____ before you leave."
    assert result.questions[9].text == "Escapes: 50\\% of 1:2 is {not} = ~ # here?"
    assert [(line, reason.split(" ")[0]) for line, reason in result.skipped] == [(35, "essay"), (37, "no")]
    assert result.counts() == {"single": 3, "truefalse": 1, "multiple": 1, "numerical": 3, "short": 1,
                               "matching": 1}


def test_malformed_gift_is_reported_with_its_line():
    result = gift.parse("Good one {=a ~b}\n\nBroken {=a ~b\n\nNo right answer {~a ~b}\n\nBad number {#abc}\n")
    assert len(result.questions) == 1
    assert [line for line, _problem in result.errors] == [3, 5, 7]
    assert "closing }" in result.errors[0][1]


def test_gift_export_imports_back_to_the_same_questions():
    first = gift.parse(SAMPLE)
    text = gift.write(first.questions, category="onboarding/day-3")
    second = gift.parse(text)
    assert second.errors == [] and second.skipped == []

    def shape(q):
        return (q.type, q.text, q.title, q.format, q.category, q.feedback, q.data)

    assert [shape(q) for q in second.questions] == [shape(q) for q in first.questions]


# --- Moodle XML ------------------------------------------------------------------------------

MOODLE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category">
    <category><text>$course$/top/Onboarding</text></category>
  </question>
  <question type="multichoice">
    <name><text>First step</text></name>
    <questiontext format="html"><text><![CDATA[<p>What comes <b>first</b>?</p>]]></text></questiontext>
    <generalfeedback format="html"><text>Greet first.</text></generalfeedback>
    <single>true</single>
    <answer fraction="100"><text>Greet the customer</text><feedback><text>Right.</text></feedback></answer>
    <answer fraction="0"><text>Inspect the product</text></answer>
  </question>
  <question type="multichoice">
    <name><text>Red lines</text></name>
    <questiontext format="html"><text>Which are red lines?</text></questiontext>
    <single>false</single>
    <answer fraction="50"><text>A meal</text></answer>
    <answer fraction="50"><text>A gift</text></answer>
    <answer fraction="-100"><text>Shoe covers</text></answer>
  </question>
  <question type="truefalse">
    <name><text>R32</text></name>
    <questiontext format="plain_text"><text>R32 is mildly flammable.</text></questiontext>
    <answer fraction="100"><text>true</text></answer>
    <answer fraction="0"><text>false</text></answer>
  </question>
  <question type="shortanswer">
    <name><text>Refrigerant</text></name>
    <questiontext format="html"><text>Which refrigerant?</text></questiontext>
    <answer fraction="100"><text>R32</text></answer>
    <answer fraction="50"><text>difluoromethane</text></answer>
  </question>
  <question type="numerical">
    <name><text>FTF</text></name>
    <questiontext format="html"><text>First-time-fix target (%)?</text></questiontext>
    <answer fraction="100"><text>90</text><tolerance>0</tolerance></answer>
  </question>
  <question type="matching">
    <name><text>Codes</text></name>
    <questiontext format="html"><text>Match.</text></questiontext>
    <subquestion><text>E1</text><answer><text>high pressure</text></answer></subquestion>
    <subquestion><text>E5</text><answer><text>overcurrent</text></answer></subquestion>
  </question>
  <question type="essay">
    <name><text>Essay</text></name>
    <questiontext format="html"><text>Describe.</text></questiontext>
  </question>
  <question type="multichoice">
    <name><text>Broken</text></name>
    <questiontext format="html"><text>No right answer</text></questiontext>
    <single>true</single>
    <answer fraction="0"><text>a</text></answer>
    <answer fraction="0"><text>b</text></answer>
  </question>
</quiz>
"""


def test_moodle_xml_parses_the_supported_types_and_reports_the_rest():
    from portal.assessment import moodlexml

    result = moodlexml.parse(MOODLE_XML)
    assert [q.type for q in result.questions] == ["single", "multiple", "truefalse", "short", "numerical",
                                                  "matching"]
    first = result.questions[0]
    assert (first.title, first.format, first.line, first.category) == ("First step", "html", 6,
                                                                      "$course$/top/Onboarding")
    assert "<b>first</b>" in first.text and first.feedback == "Greet first."
    assert [c["fraction"] for c in result.questions[1].data["choices"]] == [0.5, 0.5, -1.0]
    assert result.questions[2].data == {"answer": True}
    assert result.questions[5].data["pairs"][1] == {"left": "E5", "right": "overcurrent"}
    assert result.skipped == [(45, "essay questions are not supported")]
    assert [line for line, _p in result.errors] == [49]


def test_moodle_xml_refuses_doctypes_and_reports_bad_xml():
    from portal.assessment import moodlexml

    evil = '<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x "y">]><quiz>&x;</quiz>'
    assert moodlexml.parse(evil).fatal.startswith("a DOCTYPE")  # the whole file refused, with one reason
    broken = moodlexml.parse("<quiz>\n<question type='truefalse'>\n</quiz>")
    assert "line 3" in broken.fatal and not broken.questions
