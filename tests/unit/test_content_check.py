"""The content check (portal/content/check.py) on a small tree: clean gives nothing; each planted
conflict is reported at its FILE:LINE with its kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.content.check import (check, code_sentence_findings, number_difference, quantities, quantity_findings,
                                  sentences, trace)
from portal.content.facts import load_facts
from tests.content_tree import build, line_of, plant

E4_EN = "content/kb/ac-code-gree-e4-discharge-temp-en.md"
E4_ZH = "content/kb/ac-code-gree-e4-discharge-temp-zh.md"
PRV_EN = "content/kb/wh-prv-setting-en.md"
LESSON_EN = "content/courses/c1/lessons/basics.en.md"
LESSON_ZH = "content/courses/c1/lessons/basics.zh.md"
BANK = "quizzes/courses/c1.yaml"
QUIZ = "quizzes/c1.quiz.yaml"
AUDIT = "content/audits/visit.yaml"
FACTS = "content/facts.yaml"


@pytest.fixture
def tree(tmp_path) -> Path:
    build(tmp_path)
    return tmp_path


def found(tree: Path, path: Path | None = None) -> set[tuple[str, int, str]]:
    return {(str(Path(f.path).relative_to(tree)), f.line, f.kind) for f in check(path or tree / "content")}


def messages(tree: Path) -> list[str]:
    return [f.message for f in check(tree / "content")]


def test_a_clean_tree_has_no_findings(tree):
    assert check(tree / "content") == []
    assert check(tree) == []  # the repository root: its content/ and quizzes/


# 1. the facts file
def test_a_broken_facts_file_is_a_finding(tree):
    plant(tree, FACTS, "    unit: MPa\n", "    unit: bars\n")
    assert found(tree) == {(FACTS, line_of(tree, FACTS, "unit: bars"), "facts")}  # references not doubted


# 2. references
def test_an_unknown_fact_reference_is_a_finding(tree):
    plant(tree, PRV_EN, "{{fact:wh-prv-setting}}", "{{fact:wh-prv-pressure}}")
    plant(tree, LESSON_EN, "Evacuate to 60 Pa,", "Evacuate to {{table:gree}},")
    got = found(tree)
    assert (PRV_EN, line_of(tree, PRV_EN, "wh-prv-pressure"), "reference") in got
    assert (LESSON_EN, line_of(tree, LESSON_EN, "{{table:gree}}"), "reference") in got


# 3. quantities
def test_vacuum_in_microns_that_is_not_the_fact_is_reported(tree):
    plant(tree, LESSON_EN, "Evacuate to 60 Pa,", "Evacuate to 500 microns,")
    line = line_of(tree, LESSON_EN, "500 microns")
    assert (LESSON_EN, line, "quantity") in found(tree)
    assert any("ac-vacuum-target" in m and "500 microns" in m for m in messages(tree))


def test_pressure_reducing_valve_at_06_mpa_is_reported(tree):
    plant(tree, PRV_EN, "Check the pressure-reducing valve and replace it if needed.",
          "Set the pressure-reducing valve to 0.6 MPa.")
    assert (PRV_EN, line_of(tree, PRV_EN, "0.6 MPa"), "quantity") in found(tree)


def test_chinese_quantities_are_read_too(tree):
    plant(tree, E4_ZH, "2. 抽真空到 60 Pa（450 微米汞柱）", "2. 抽真空到 500 微米汞柱")
    assert (E4_ZH, line_of(tree, E4_ZH, "500 微米汞柱"), "quantity") in found(tree)


def test_a_range_is_reported_when_either_end_is_outside(tree):
    plant(tree, LESSON_EN, "Evacuate to 60 Pa,", "Evacuate to 60–70 Pa,")
    assert (LESSON_EN, line_of(tree, LESSON_EN, "60–70 Pa"), "quantity") in found(tree)


@pytest.fixture
def facts(tree):
    return load_facts(tree / FACTS)


def test_only_the_number_nearest_the_cue_is_judged(facts):
    sentence = "Pressure-test with nitrogen at 4.0 MPa for 24 hours, then evacuate to 60 Pa."
    assert quantity_findings(sentence, "en", ("air-conditioner",), facts) == []
    (quantity, cued), = quantity_findings("Leak test at 4.0 MPa, then evacuate to 80 Pa.", "en",
                                          ("air-conditioner",), facts)
    assert (quantity.text, [f.key for f in cued]) == ("80 Pa", ["ac-vacuum-target"])
    # ... and only in the cue's clause: the nitrogen pressure is not the vacuum
    assert quantity_findings("Pressure-test with nitrogen (about 4.0 MPa, hold 24 hours), evacuate and charge.",
                             "en", ("air-conditioner",), facts) == []
    assert quantity_findings("氮气保压 4.0 MPa，再抽真空，按重量加注。", "zh", ("air-conditioner",), facts) == []


def test_a_fact_reference_is_always_right_and_other_products_are_left_alone(facts):
    assert quantity_findings("Evacuate to {{fact:ac-vacuum-target}}.", "en", ("air-conditioner",), facts) == []
    assert quantity_findings("Evacuate to 500 microns.", "en", ("water-heater",), facts) == []
    assert quantity_findings("Evacuate to 450 microns.", "en", ("air-conditioner",), facts) == []
    assert quantity_findings("抽真空至 60 Pa 以下", "zh", None, facts) == []


def test_quantities_and_sentences_are_read_in_both_languages():
    got = [(q.low, q.high, q.unit) for q in quantities("10-15 min, ≤ 24 h, 110–120 °C, 2MΩ, 5 to 10 minutes")]
    assert got == [(10, 15, "min"), (24, 24, "h"), (110, 120, "°C"), (2, 2, "MΩ"), (5, 10, "min")]
    assert [(q.low, q.unit) for q in quantities("保持 15 分钟，−7 °C，95%，KFR-35GW，the 1990s")] == \
        [(15, "min"), (-7, "°C"), (95, "%")]
    assert sentences("1. Evacuate to 60 Pa. Then hold; ok | cell |\n- 下一句。再一句") == \
        ["Evacuate to 60 Pa.", "Then hold;", "ok", "cell", "下一句", "再一句"]


# statements
def test_a_loose_discharge_sensor_that_reads_high_is_reported(tree):
    plant(tree, E4_EN, "that is not clamped reads low", "that is not clamped reads high")
    assert (E4_EN, line_of(tree, E4_EN, "reads high"), "statement") in found(tree)
    plant(tree, E4_ZH, "读数偏低", "读数偏高")
    assert (E4_ZH, line_of(tree, E4_ZH, "读数偏高"), "statement") in found(tree)


def test_a_thermostat_test_reading_backwards_is_reported(tree):
    case = "content/kb/fridge-runs-non-stop-en.md"
    (tree / case).write_text("---\ntitle: Runs non-stop\nlang: en\nkey: fridge-runs-non-stop\n"
                             "product: refrigerator\n---\n## Diagnosis\n"
                             "A good thermostat is open when warm and closes as it cools.\n", encoding="utf-8")
    (tree / case.replace("-en.md", "-zh.md")).write_text(
        "---\ntitle: 不停机\nlang: zh\nkey: fridge-runs-non-stop\nproduct: refrigerator\n---\n## 诊断步骤\n"
        "温控器热时接通，冷却后断开。\n", encoding="utf-8")
    assert found(tree) == {(case, 8, "statement")}


def test_a_heat_pump_water_heater_with_an_outdoor_unit_is_reported(tree):
    plant(tree, PRV_EN, "The KF-RS is a monobloc: its compressor sits on top.",
          "The KF-RS outdoor unit holds the compressor.")
    assert (PRV_EN, line_of(tree, PRV_EN, "outdoor unit"), "statement") in found(tree)


# 4. error codes
def test_a_case_code_table_that_is_not_in_facts(tree):
    plant(tree, E4_EN, "code_table: gree-split", "code_table: gree-2019")
    assert (E4_EN, 6, "code") in found(tree)


def test_a_case_code_not_in_its_table(tree):
    plant(tree, E4_EN, "error_codes: [E4]", "error_codes: [E9]")
    assert (E4_EN, 7, "code") in found(tree)


def test_a_case_title_that_does_not_say_the_tables_meaning(tree):
    plant(tree, E4_EN, "code_table: gree-split", "code_table: midea-split")
    assert (E4_EN, 2, "code") in found(tree)


def test_a_code_whose_meaning_depends_on_the_table_needs_code_table(tree):
    plant(tree, E4_EN, "code_table: gree-split\n", "")
    assert (E4_EN, 6, "code") in found(tree)  # error_codes moved up a line


def test_a_lesson_giving_a_code_another_makers_meaning(tree):
    plant(tree, LESSON_EN, "Gree E4 means", "Midea E4 means")
    plant(tree, LESSON_ZH, "格力 E4 表示", "美的 E4 表示")
    got = found(tree)
    assert (LESSON_EN, line_of(tree, LESSON_EN, "Midea E4"), "code") in got
    assert (LESSON_ZH, line_of(tree, LESSON_ZH, "美的 E4"), "code") in got


def test_code_sentences_that_compare_tables_or_other_products_are_left_alone(facts):
    assert code_sentence_findings("A code appears (Gree-style E6 / Midea-style E4), the discharge is hot.",
                                  "en", facts) == []  # E4 goes with Midea, the name nearest it
    assert code_sentence_findings("Gree E4 is discharge protection, Midea E4 an outdoor sensor fault.",
                                  "en", facts) == []
    assert code_sentence_findings("Midea E4 means discharge protection.", "en", facts, ("water-heater",)) == []
    assert len(code_sentence_findings("Midea E4 means discharge protection.", "en", facts)) == 1


def test_a_code_of_another_product_needs_no_code_table(tree):
    plant(tree, PRV_EN, "models: [KF-RS-150/N1]", "error_codes: [E4]\nmodels: [KF-RS-150/N1]")
    plant(tree, "content/kb/wh-prv-setting-zh.md", "models: [KF-RS-150/N1]", "error_codes: [E4]\nmodels: [KF-RS-150/N1]")
    assert found(tree) == set()


# 5. links
@pytest.mark.parametrize("name, old, new, needle", [
    (E4_EN, "related: [wh-prv-setting]", "related: [wh-prv]", "related:"),
    (LESSON_EN, "cases: [ac-code-gree-e4-discharge-temp]", "cases: [ac-code-gree-e5]", "cases:"),
    (LESSON_EN, "(case:ac-code-gree-e4-discharge-temp)", "(case:no-such-case)", "no-such-case"),
    (LESSON_EN, "[the case](case:", "[next](lesson:advanced) and [the case](case:", "lesson:advanced"),
    (LESSON_EN, "[the case](case:", "[quiz](quiz:c2) [the case](case:", "quiz:c2"),
    (BANK, "tags: [lesson:c1/basics, case:", "tags: [lesson:c1/basic, case:", "lesson:c1/basic,"),
    (BANK, "case:ac-code-gree-e4-discharge-temp]", "case:ac-code-gree-e4]", "case:ac-code-gree-e4]"),
    (QUIZ, "categories: [courses/c1]", "categories: [courses/c2]", "categories"),
    (QUIZ, "tags: [lesson:c1/basics]", "tags: [case:wh-prv-setting]", "tags"),
    (AUDIT, "trains: lesson:c1/basics", "trains: lesson:c1/advanced", "trains"),
    (AUDIT, "trains: lesson:c1/basics", "trains: module:c1/2", "trains"),
    ("content/courses/c1/course.yaml", "quiz: c1", "quiz: c9", "quiz:"),
])
def test_a_link_pointing_at_nothing(tree, name, old, new, needle):
    plant(tree, name, old, new)
    assert (name, line_of(tree, name, needle), "link") in found(tree)


def test_a_module_by_position_or_slug_is_a_link(tree):
    plant(tree, AUDIT, "trains: lesson:c1/basics", "trains: module:c1/1")
    assert found(tree) == set()
    plant(tree, AUDIT, "trains: module:c1/1", "trains: module:c1/m1")
    assert found(tree) == set()


# 6. zh/en pairs
def test_a_pair_with_different_models(tree):
    plant(tree, E4_EN, "models: [KFR-35GW]", "models: [KFR-26GW]")
    assert (E4_EN, 8, "pair") in found(tree)


def test_a_pair_with_different_numbers_is_reported_at_the_section(tree):
    plant(tree, E4_ZH, "保持 15 分钟", "保持 20 分钟")
    assert found(tree) == {(E4_EN, line_of(tree, E4_EN, "## Fix"), "pair")}


def test_a_pair_with_different_sections(tree):
    plant(tree, E4_EN, "## Fix\n", "## Fix\n\n## Safety\nGloves on.\n")
    assert (E4_EN, line_of(tree, E4_EN, "## Fix"), "pair") in found(tree)


def test_question_fields_with_different_numbers(tree):
    plant(tree, BANK, "explanation: {zh: 抽真空到 60 Pa。", "explanation: {zh: 抽真空到 70 Pa。")
    got = found(tree)
    assert (BANK, line_of(tree, BANK, "explanation: {zh: 抽真空到 70 Pa"), "pair") in got


def test_numbers_written_out_in_words_count_as_said():
    assert number_difference("第二天上门", "Arrive on day 2") == ""
    assert number_difference("检查 3 次", "Check three times") == ""
    assert number_difference("100 万元", "1,000,000 yuan") == ""
    assert number_difference("温度每变化 1 °C，压力约变化 0.01 MPa", "0.01 MPa per °C") == ""
    assert number_difference("1. 抽真空 60 Pa", "1. Evacuate to 60 Pa") == ""
    assert number_difference("R32 机型（KFR-35GW/BP3DN1-R32）用 R32", "The KFR-35GW/BP3DN1-R32 uses it") == ""
    assert "only in en: 70" in number_difference("60 Pa", "70 Pa")
    assert "only in zh: 60" in number_difference("抽到 60Pa", "evacuate")
    assert number_difference("仍报故障", "E5 persists") == "only in en: E5"


# 7. question keys
def test_a_correct_choice_contradicting_a_fact(tree):
    plant(tree, BANK, "- {zh: 60 Pa, en: 60 Pa, correct: true}\n      - {zh: 500 微米汞柱, en: 500 microns}",
          "- {zh: 60 Pa, en: 60 Pa}\n      - {zh: 500 微米汞柱, en: 500 microns, correct: true}")
    assert (BANK, line_of(tree, BANK, "500 microns, correct"), "key") in found(tree)


def test_a_wrong_choice_or_a_false_statement_may_say_a_wrong_value(tree):
    assert check(tree / "content") == []  # the clean bank has both
    plant(tree, BANK, "    answer: false", "    answer: true")
    assert (BANK, line_of(tree, BANK, "evacuating to 500 microns"), "key") in found(tree)


def test_a_correct_choice_in_a_statements_wrong_words(tree):
    plant(tree, BANK, "- {zh: 60 Pa, en: 60 Pa, correct: true}",
          "- {zh: 60 Pa, en: 60 Pa, correct: true}\n      - {zh: 排气传感器读数偏高, en: the discharge sensor reads high,"
          " correct: true}")
    assert (BANK, line_of(tree, BANK, "reads high"), "key") in found(tree)


def test_a_numerical_answer_in_the_unit_its_question_asks(tree):
    plant(tree, BANK, "{value: 4, tolerance: 0", "{value: 8, tolerance: 0")
    assert (BANK, line_of(tree, BANK, "value: 8"), "key") in found(tree)


# 8. the norm trace
def test_trace_lists_lessons_questions_and_audit_items(tree):
    assert trace(tree / "content") == {"arrive-city": {"lessons": ["c1/basics"],
                                                       "questions": ["courses/c1/vacuum-target"],
                                                       "audit_items": ["visit/on-time"]}}


def test_a_norm_without_an_audit_item_is_reported_at_its_line(tree):
    plant(tree, AUDIT, "        norms: [arrive-city]\n", "")
    assert found(tree) == {(FACTS, line_of(tree, FACTS, "key: arrive-city"), "trace")}


def test_an_unknown_norm_tag(tree):
    plant(tree, LESSON_EN, "norms: [arrive-city]", "norms: [arrive-town]")
    assert (LESSON_EN, 4, "trace") in found(tree)


# PATH
def test_a_path_checks_only_what_is_under_it_against_the_whole_root(tree):
    plant(tree, LESSON_EN, "(case:ac-code-gree-e4-discharge-temp)", "(case:no-such-case)")
    plant(tree, PRV_EN, "Check the pressure-reducing valve", "Set the pressure-reducing valve to 0.6 MPa. Check it")
    assert {f[0] for f in found(tree)} == {LESSON_EN, PRV_EN}
    assert {f[0] for f in found(tree, tree / "content" / "kb")} == {PRV_EN}
    assert {f[0] for f in found(tree, tree / LESSON_EN)} == {LESSON_EN}
    assert found(tree, tree / E4_EN) == set()  # links resolved against the whole root
    assert found(tree, tree / "quizzes") == set()
