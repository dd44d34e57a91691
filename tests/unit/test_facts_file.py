"""content/facts.yaml: loading with FILE:LINE problems, unit conversion, {{fact:KEY}} rendering."""

from pathlib import Path

import pytest

from portal.content.facts import FactsError, convert, load_facts, render_facts

GOOD = """\
facts:
  - key: ac-vacuum-target
    title: {zh: 抽真空目标, en: Evacuation target}
    value: 60
    unit: Pa
    equivalents: [{value: 450, unit: micron}]
    applies_to: [air-conditioner]
    cue: {zh: [抽真空], en: [evacuat]}
    source: {zh: 统一为 60 Pa, en: Settled on 60 Pa}
  - key: time-arrival-city
    title: {zh: 城市上门时限, en: City arrival}
    value: 4
    unit: h
    applies_to: all
    cue: {zh: [上门], en: [arriv]}
    source: {zh: 服务规范, en: Service norms}
code_tables:
  - key: gree-split
    maker: gree
    products: [air-conditioner]
    title: {zh: 格力式代码表, en: Gree-style code table}
    how_to_tell: {zh: 看铭牌, en: Read the nameplate}
    source: {zh: 说明, en: Note}
codes:
  - {table: gree-split, code: e4, meaning: {zh: 排气温度保护, en: discharge temperature protection},
     words: {zh: [排气], en: [discharge]}}
norms:
  - key: arrive-city
    kind: time-standard
    title: {zh: 城市 4 小时上门, en: City arrival in 4 hours}
    fact: time-arrival-city
    source: {zh: 服务规范, en: Service norms}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "facts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads_every_section(tmp_path):
    facts = load_facts(write(tmp_path, GOOD))
    assert facts.facts["ac-vacuum-target"].value == (60.0, 60.0)
    assert facts.facts["time-arrival-city"].applies_to[0] == "air-conditioner"
    assert facts.codes[("gree-split", "E4")].words["en"] == ["discharge"]
    assert facts.norms["arrive-city"].fact == "time-arrival-city"
    assert [c.table for c in facts.codes_named("e4")] == ["gree-split"]


def test_references_render_in_the_language_of_the_text(tmp_path):
    facts = load_facts(write(tmp_path, GOOD))
    en, unknown = render_facts("Pull down to {{fact:ac-vacuum-target}} within {{fact:time-arrival-city}}.", "en", facts)
    assert en == "Pull down to 60 Pa (450 microns) within 4 hours." and unknown == []
    zh, _ = render_facts("抽到 {{fact:ac-vacuum-target}}，{{ fact:time-arrival-city }}内上门。", "zh_CN", facts)
    assert zh == "抽到 60 Pa（450 微米汞柱），4 小时内上门。"
    table, _ = render_facts("{{table:gree-split}}", "en", facts)
    assert table == "Gree-style code table: Read the nameplate"
    left, unknown = render_facts("{{fact:no-such}}", "en", facts)
    assert left == "{{fact:no-such}}" and unknown == ["fact:no-such"]


@pytest.mark.parametrize("old, new, line, field", [
    ("    value: 60\n", "    value: sixty\n", 4, "facts.value"),
    ("    unit: Pa\n", "    unit: torr\n", 5, "facts.unit"),
    ("  - key: time-arrival-city\n", "  - key: ac-vacuum-target\n", 10, "facts.key"),
    ("  - {table: gree-split, code: e4", "  - {table: gree, code: e4", 25, "codes.table"),
    ("    kind: time-standard\n", "    kind: rule\n", 29, "norms.kind"),
    ("    fact: time-arrival-city\n", "    fact: time-arrival-town\n", 31, "norms.fact"),
    ("    cue: {zh: [抽真空], en: [evacuat]}\n", "    cue: {zh: [抽真空]}\n", 8, "facts.cue"),
])
def test_a_wrong_field_is_reported_with_its_line_and_nothing_loads(tmp_path, old, new, line, field):
    assert old in GOOD
    with pytest.raises(FactsError) as caught:
        load_facts(write(tmp_path, GOOD.replace(old, new, 1)))
    found = [(p.line, p.field) for p in caught.value.problems]
    assert (line, field) in found, found
    assert all(p.path.endswith("facts.yaml") for p in caught.value.problems)


def test_broken_yaml_names_the_line(tmp_path):
    with pytest.raises(FactsError) as caught:
        load_facts(write(tmp_path, GOOD.replace("    unit: Pa\n", "    unit: [Pa\n")))
    assert caught.value.problems[0].line >= 6


def test_units_convert_within_a_dimension_only():
    assert convert(500, "micron", "Pa") == pytest.approx(66.66, rel=1e-3)
    assert convert(0.5, "MPa", "bar") == pytest.approx(5)
    assert convert(2, "h", "min") == 120
    with pytest.raises(ValueError):
        convert(1, "Pa", "min")


STATEMENTS = """\
statements:
  - key: loose-discharge-sensor-reads-low
    title: {zh: 没夹紧的排气传感器读数偏低, en: A discharge sensor off its pipe reads low}
    cue: {zh: [排气传感器], en: [discharge sensor]}
    wrong: {zh: [偏高], en: [reads high]}
    applies_to: [air-conditioner]
    source: {zh: 离开管子只感受到较冷的空气, en: Off the pipe it feels cooler air}
"""


def test_statements_load_and_know_their_wrong_phrasings(tmp_path):
    facts = load_facts(write(tmp_path, GOOD + STATEMENTS))
    statement = facts.statements["loose-discharge-sensor-reads-low"]
    assert statement.applies_to == ("air-conditioner",)
    assert statement.contradicted_by("A loose Discharge Sensor READS HIGH.", "en") == "reads high"
    assert statement.contradicted_by("The discharge sensor reads low.", "en") is None
    assert statement.contradicted_by("Reads high, but no topic named.", "en") is None
    assert statement.contradicted_by("排气传感器没夹紧时读数偏高", "zh") == "偏高"


def test_a_statement_sentence_with_an_unless_word_is_right(tmp_path):
    text = GOOD + STATEMENTS.replace("    applies_to: [air-conditioner]\n",
                                     "    unless: {zh: [漂移], en: [drifted]}\n    applies_to: [air-conditioner]\n")
    statement = load_facts(write(tmp_path, text)).statements["loose-discharge-sensor-reads-low"]
    assert statement.contradicted_by("A drifted discharge sensor reads high.", "en") is None
    assert statement.contradicted_by("A loose discharge sensor reads high.", "en") == "reads high"
    with pytest.raises(FactsError) as caught:
        load_facts(write(tmp_path, text.replace("unless: {zh: [漂移], en: [drifted]}", "unless: [drifted]")))
    assert "statements.unless" in [p.field for p in caught.value.problems]


@pytest.mark.parametrize("old, new, field", [
    ("    wrong: {zh: [偏高], en: [reads high]}\n", "    wrong: {zh: [偏高]}\n", "statements.wrong"),
    ("    cue: {zh: [排气传感器], en: [discharge sensor]}\n", "    cue: {en: [discharge sensor]}\n", "statements.cue"),
    ("  - key: loose-discharge-sensor-reads-low\n", "  - key: ac-vacuum-target\n", "statements.key"),
    ("    applies_to: [air-conditioner]\n", "    applies_to: [boiler]\n", "statements.applies_to"),
])
def test_a_wrong_statement_is_reported(tmp_path, old, new, field):
    text = GOOD + STATEMENTS.replace(old, new, 1)
    with pytest.raises(FactsError) as caught:
        load_facts(write(tmp_path, text))
    assert field in [p.field for p in caught.value.problems]
