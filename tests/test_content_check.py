"""``flask content check [PATH] [--quizzes DIR]``: FILE:LINE: message per finding, a summary, exit 1
when there is any; the shipped content has none. The checks themselves: tests/unit/test_content_check.py."""

from __future__ import annotations

import shutil

import pytest

from portal.content.check import check
from tests.content_tree import build, line_of, plant

from .conftest import ROOT_DIR

LESSON_EN = "content/courses/c1/lessons/basics.en.md"


@pytest.fixture(params=["sqlite"])
def backend(request):
    """The content check reads files, never the database: one backend is enough (CI time)."""
    return request.param


def test_a_clean_tree_exits_0(runner, tmp_path):
    root = build(tmp_path)
    result = runner.invoke(args=["content", "check", str(root)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "No findings."


def test_findings_print_file_line_message_relative_to_the_current_folder(runner, tmp_path, monkeypatch):
    build(tmp_path)
    plant(tmp_path, LESSON_EN, "Evacuate to 60 Pa,", "Evacuate to 500 microns,")
    plant(tmp_path, LESSON_EN, "(case:ac-code-gree-e4-discharge-temp)", "(case:gone)")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=["content", "check", "content"])
    assert result.exit_code == 1
    line = line_of(tmp_path, LESSON_EN, "500 microns")
    lines = result.output.splitlines()
    assert any(text.startswith(f"{LESSON_EN}:{line}: “500 microns” contradicts fact ac-vacuum-target")
               for text in lines), lines
    assert f"{LESSON_EN}:{line}: link case:gone points at nothing" in lines
    assert lines[-1].startswith("3 findings in 1 file (")  # + the zh/en pair's numbers, in the en file
    assert "quantities 1" in lines[-1] and "links 1" in lines[-1]


def test_quizzes_elsewhere_are_named_with_an_option(runner, tmp_path):
    build(tmp_path)
    elsewhere = tmp_path / "banks"
    shutil.move(str(tmp_path / "quizzes"), str(elsewhere))
    without = runner.invoke(args=["content", "check", str(tmp_path / "content")])
    assert without.exit_code == 1 and "c1" in without.output  # course quiz c1, lesson tags: nothing there
    result = runner.invoke(args=["content", "check", str(tmp_path / "content"), "--quizzes", str(elsewhere)])
    assert result.exit_code == 0, result.output


def test_messages_follow_the_shells_language(runner, tmp_path, monkeypatch):
    build(tmp_path)
    plant(tmp_path, LESSON_EN, "(case:ac-code-gree-e4-discharge-temp)", "(case:gone)")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    result = runner.invoke(args=["content", "check", str(tmp_path / "content")])
    assert result.exit_code == 1
    assert "链接 case:gone 指向的内容不存在" in result.output
    assert "1 项问题" in result.output.splitlines()[-1]


def test_the_shipped_content_has_no_findings(runner):
    result = runner.invoke(args=["content", "check", str(ROOT_DIR / "content")])
    assert result.exit_code == 0, result.output[-3000:]


@pytest.fixture
def shipped(tmp_path):
    """A copy of the shipped content and question banks, to plant the issue's conflicts back into."""
    shutil.copytree(ROOT_DIR / "content", tmp_path / "content")
    shutil.copytree(ROOT_DIR / "quizzes", tmp_path / "quizzes")
    return tmp_path


KB = "content/kb/"
R32 = "content/courses/2026-q3-r32-inverter-splits/lessons/leak-test-vacuum-and-charge"

# (file, text there now, the issue's conflict put back, a needle on the line it must be reported at,
# the kind of finding): each conflict of issue 14, in the words it was once shipped in
CONFLICTS = [
    # a loose discharge sensor "reads high" (Gree E4 case) against "reads low" (R32 course)
    (KB + "ac-code-gree-e4-discharge-temp-en.md",
     "A sensor that has slipped off or is poorly clamped does the opposite: it reads low, because it sees less "
     "than the pipe temperature.", "A sensor not clamped to the pipe reads high as well.",
     "not clamped to the pipe reads high", "statement"),
    (KB + "ac-code-gree-e4-discharge-temp-zh.md", "感温包滑脱或卡得不紧则相反：它感受到的温度低于管温，读数偏低。",
     "感温包未贴紧排气管同样读数偏高。", "未贴紧排气管同样读数偏高", "statement"),
    # the vacuum target: 500 microns ≈ 67 Pa in a lesson, against 60 Pa
    (R32 + ".en.md", "Pump down to **{{fact:ac-vacuum-target}} or lower**", "Pump down to **500 microns or lower**",
     "500 microns", "quantity"),
    (R32 + ".zh.md", "抽到 **{{fact:ac-vacuum-target}}或更低**", "抽到 **67 Pa 或更低**", "67 Pa", "quantity"),
    # the pressure-reducing valve: 0.6 MPa in the electric heater case, against 0.5 MPa
    (KB + "wh-electric-tank-leak-en.md", "fit a pressure-reducing valve if the mains exceeds 0.5 MPa",
     "fit a pressure-reducing valve if the mains exceeds 0.6 MPa", "0.6 MPa", "quantity"),
    (KB + "wh-electric-tank-leak-zh.md", "进水压力超过 0.5 MPa 时加装减压阀", "进水压力超过 0.6 MPa 时加装减压阀",
     "0.6 MPa", "quantity"),
    # the refrigerator "runs non-stop" case's thermostat test read backwards
    (KB + "rf-compressor-runs-nonstop-en.md", "Already very cold but still running, on a direct-cool unit:",
     "Already very cold but still running: on direct-cool units disconnect the thermostat; if the compressor "
     "still runs, the thermostat contacts are welded. Otherwise:", "the thermostat contacts are welded", "statement"),
    (KB + "rf-compressor-runs-nonstop-zh.md", "直冷机温度已很低仍不停：",
     "温度已很低仍不停：直冷机断开温控器看压缩机是否停，不停则温控器粘连。否则：", "不停则温控器粘连", "statement"),
    # the heat-pump water heater case naming an outdoor unit for the monobloc KF-RS
    (KB + "wh-heatpump-slow-heating-defrost-en.md",
     "Heat pump water heater slow in winter, evaporator frosting and defrosting often (monobloc and split)",
     "Heat pump water heater slow in winter, outdoor unit frosting (basics)", "title:", "statement"),
    (KB + "wh-heatpump-slow-heating-defrost-zh.md", "空气能热水器冬天加热慢、蒸发器结霜化霜频繁（一体式和分体式）",
     "空气能热水器冬天加热慢、外机结霜化霜频繁（热泵热水器基础排查）", "title:", "statement"),
    # codes whose meaning differs between makers' tables, stated without the table / with another's
    (KB + "ac-code-midea-e4-indoor-sensor-en.md", "code_table: midea-split\n", "", "error_codes:", "code"),
    (KB + "ac-code-midea-e5-coil-sensor-en.md", "code_table: midea-split", "code_table: midea-inverter-later",
     "title:", "code"),  # E5 is an outdoor sensor on the later inverter table; the title says indoor coil
    (KB + "ac-code-gree-e8-heating-overload-en.md", "code_table: gree-split\n", "", "error_codes:", "code"),
    (KB + "ac-code-gree-e8-heating-overload-zh.md", "code_table: gree-split", "code_table: company-r32-2026",
     "title:", "code"),  # E8 is the indoor DC fan on the company's R32 table
    # washer E2: a drain timeout on the Haier-style table only
    (KB + "wm-drum-drain-filter-err2-en.md", "code_table: haier-washer\n", "", "error_codes:", "code"),
    (KB + "wm-drum-drain-filter-err2-zh.md", "code_table: haier-washer", "code_table: little-swan-washer",
     "error_codes:", "code"),
]


def test_the_issues_conflicts_planted_back_into_the_shipped_content_are_reported(app, shipped):
    for name, now, then, _needle, _kind in CONFLICTS:
        plant(shipped, name, now, then)
    findings = {(f.path, f.line, f.kind) for f in check(shipped / "content")}
    missing = [f"{name}:{line_of(shipped, name, needle)} ({kind})" for name, _now, _then, needle, kind in CONFLICTS
               if (str(shipped / name), line_of(shipped, name, needle), kind) not in findings]
    assert missing == [], missing
