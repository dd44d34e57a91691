"""A small, clean content tree (facts, cases, a course, a bank, a quiz, an audit form) for the
content check's tests; each test plants one conflict in it with :func:`plant`."""

from __future__ import annotations

from pathlib import Path

FACTS = """\
facts:
  - key: ac-vacuum-target
    title: {zh: 抽真空目标真空度, en: Evacuation target}
    value: 60
    unit: Pa
    equivalents: [{value: 450, unit: micron}]
    applies_to: [air-conditioner]
    cue: {zh: [抽真空], en: [evacuat]}
    source: {zh: 统一为 60 Pa（绝对压力）, en: Settled on 60 Pa absolute}
  - key: wh-prv-setting
    title: {zh: 减压阀设定压力, en: Pressure-reducing valve setting}
    value: 0.5
    unit: MPa
    applies_to: [water-heater]
    cue: {zh: [减压阀], en: [pressure-reducing valve]}
    source: {zh: 产品手册, en: Product manual}
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
  - key: midea-split
    maker: midea
    products: [air-conditioner]
    title: {zh: 美的式代码表, en: Midea-style code table}
    how_to_tell: {zh: 看铭牌, en: Read the nameplate}
    source: {zh: 说明, en: Note}
codes:
  - {table: gree-split, code: E4, meaning: {zh: 排气温度保护, en: discharge temperature protection},
     words: {zh: [排气], en: [discharge]}}
  - {table: midea-split, code: E4, meaning: {zh: 室外温度传感器故障, en: outdoor temperature sensor fault},
     words: {zh: [室外温度传感器], en: [outdoor temperature sensor, outdoor sensor]}}
norms:
  - key: arrive-city
    kind: time-standard
    title: {zh: 城市 4 小时上门, en: City arrival in 4 hours}
    fact: time-arrival-city
    source: {zh: 服务规范, en: Service norms}
statements:
  - key: loose-discharge-sensor-reads-low
    title: {zh: 没夹紧的排气传感器读数偏低, en: A discharge sensor off its pipe reads low}
    cue: {zh: [排气传感器], en: [discharge sensor]}
    wrong: {zh: [读数偏高, 偏高], en: [reads high]}
    applies_to: [air-conditioner]
    source: {zh: 传感器离开管子只感受到较冷的空气, en: Off the pipe it feels cooler air}
  - key: fridge-thermostat-contacts
    title: {zh: 温控器热时接通、冷时断开, en: A thermostat is closed when warm and open when cold}
    cue: {zh: [温控器], en: [thermostat]}
    wrong: {zh: [温度高时断开, 温度低时接通], en: [open when warm, closed when cold]}
    applies_to: [refrigerator]
    source: {zh: 机械温控器的工作原理, en: How a mechanical thermostat works}
  - key: kf-rs-is-monobloc
    title: {zh: KF-RS 是一体机, en: The KF-RS is a monobloc}
    cue: {zh: [KF-RS], en: [KF-RS]}
    wrong: {zh: [室外机], en: [outdoor unit]}
    applies_to: [water-heater]
    source: {zh: 产品手册, en: Product manual}
"""

CASE_E4 = {
    "zh": """\
---
title: 格力式代码 E4 排气温度过高
lang: zh
key: ac-code-gree-e4-discharge-temp
product: air-conditioner
code_table: gree-split
error_codes: [E4]
models: [KFR-35GW]
related: [wh-prv-setting]
---
## 故障现象
排气温度超过 110–120 °C 时显示 E4。

## 处理方法
1. 排气传感器没夹紧时读数偏低，要先夹紧。
2. 抽真空到 60 Pa（450 微米汞柱），保持 15 分钟。
""",
    "en": """\
---
title: Gree-style code E4 discharge temperature too high
lang: en
key: ac-code-gree-e4-discharge-temp
product: air-conditioner
code_table: gree-split
error_codes: [E4]
models: [KFR-35GW]
related: [wh-prv-setting]
---
## Symptoms
Shows E4 when the discharge pipe goes above 110–120 °C.

## Fix
1. A discharge sensor that is not clamped reads low: clamp it first.
2. Evacuate to 60 Pa (450 microns) and hold for 15 minutes.
""",
}

CASE_PRV = {
    "zh": """\
---
title: 热水器减压阀不起作用
lang: zh
key: wh-prv-setting
product: water-heater
models: [KF-RS-150/N1]
related: [ac-code-gree-e4-discharge-temp]
---
## 故障现象
安全阀频繁滴水，减压阀应设定为 {{fact:wh-prv-setting}}。

## 处理方法
检查减压阀，必要时更换。KF-RS 是一体机，压缩机装在机器顶部。
""",
    "en": """\
---
title: Water heater pressure-reducing valve not working
lang: en
key: wh-prv-setting
product: water-heater
models: [KF-RS-150/N1]
related: [ac-code-gree-e4-discharge-temp]
---
## Symptoms
The relief valve drips often; the pressure-reducing valve should be set to {{fact:wh-prv-setting}}.

## Fix
Check the pressure-reducing valve and replace it if needed. The KF-RS is a monobloc: its compressor sits on top.
""",
}

COURSE = """\
title: {zh: 课程, en: Course}
summary: {zh: 抽真空到 60 Pa。, en: Evacuate to 60 Pa.}
kind: quarterly
quarter: 2026-Q3
product: air-conditioner
quiz: c1
modules:
  - slug: m1
    title: {zh: 第一单元, en: Module one}
    lessons: [basics]
"""

LESSON = {
    "zh": """\
---
title: 基础
cases: [ac-code-gree-e4-discharge-temp]
norms: [arrive-city]
---
## 抽真空

抽真空到 60 Pa，见[案例](case:ac-code-gree-e4-discharge-temp)。格力 E4 表示排气温度保护。

## 上门

城市 4 小时内上门。
""",
    "en": """\
---
title: Basics
cases: [ac-code-gree-e4-discharge-temp]
norms: [arrive-city]
---
## Evacuation

Evacuate to 60 Pa, see [the case](case:ac-code-gree-e4-discharge-temp). Gree E4 means discharge temperature protection.

## Arrival

In a city, arrive within 4 hours.
""",
}

BANK = """\
category: courses/c1
questions:
  - id: vacuum-target
    type: single
    difficulty: 1
    tags: [lesson:c1/basics, case:ac-code-gree-e4-discharge-temp]
    norms: [arrive-city]
    text: {zh: "抽真空的目标是多少？", en: "What is the evacuation target?"}
    explanation: {zh: 抽真空到 60 Pa。, en: Evacuate to 60 Pa.}
    choices:
      - {zh: 60 Pa, en: 60 Pa, correct: true}
      - {zh: 500 微米汞柱, en: 500 microns}
  - id: vacuum-false
    type: truefalse
    difficulty: 1
    tags: [lesson:c1/basics]
    text: {zh: 判断：抽真空到 500 微米汞柱就够了。, en: "True or false: evacuating to 500 microns is enough."}
    answer: false
  - id: arrival-hours
    type: numerical
    difficulty: 1
    tags: [lesson:c1/basics]
    text: {zh: "城市客户要求在多少小时内上门？", en: "Within how many hours must you arrive in a city?"}
    answers:
      - {value: 4, tolerance: 0, fraction: 1}
"""

QUIZ = """\
title: {zh: 测验, en: Quiz}
time_limit_minutes: 30
pass_mark: 80
attempts: 0
cooldown_hours: 1
review: explanations
sections:
  - draw: 3
    categories: [courses/c1]
    tags: [lesson:c1/basics]
"""

AUDIT = """\
slug: visit
title: {zh: 暗访, en: Visit}
summary: {zh: 暗访, en: Visit}
grades:
  - {code: fail, min: 0, title: {zh: 不合格, en: Fail}}
sections:
  - id: timeliness
    title: {zh: 准时, en: Timeliness}
    trains: lesson:c1/basics
    items:
      - id: on-time
        type: yesno
        weight: 100
        norms: [arrive-city]
        text: {zh: "技师是否在 4 小时内上门？", en: "Did the technician arrive within 4 hours?"}
"""


def build(tmp_path: Path) -> Path:
    """Write the clean tree under tmp_path/content (quizzes beside it); return the content root."""
    root = tmp_path / "content"
    files = {
        "content/facts.yaml": FACTS,
        "content/courses/c1/course.yaml": COURSE,
        "content/audits/visit.yaml": AUDIT,
        "quizzes/courses/c1.yaml": BANK,
        "quizzes/c1.quiz.yaml": QUIZ,
    }
    for lang in ("zh", "en"):
        files[f"content/kb/ac-code-gree-e4-discharge-temp-{lang}.md"] = CASE_E4[lang]
        files[f"content/kb/wh-prv-setting-{lang}.md"] = CASE_PRV[lang]
        files[f"content/courses/c1/lessons/basics.{lang}.md"] = LESSON[lang]
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def plant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """Replace ``old`` (which must be there) with ``new`` in tmp_path/name; return the file."""
    path = tmp_path / name
    text = path.read_text(encoding="utf-8")
    assert old in text, (name, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(tmp_path: Path, name: str, needle: str) -> int:
    lines = (tmp_path / name).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if needle in line)
