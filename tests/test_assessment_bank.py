"""The question bank: YAML banks through `content load`, GIFT import and export on the CLI."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from portal.assessment import qtypes
from portal.assessment.bank import load_banks
from portal.assessment.models import Question, QuestionCategory
from portal.extensions import db

from .test_assessment_gift import SAMPLE

ROOT = Path(__file__).resolve().parent.parent

BANK = """\
questions:
  - id: first-step
    type: single
    difficulty: 1
    tags: [lesson:onboarding/d03-seven-step-method]
    text: {zh: "七步维修法的第一步是什么？", en: "What is the first step of the seven-step method?"}
    explanation: {zh: 先问候客户。, en: Greet the customer first.}
    choices:
      - {zh: 问候客户, en: Greet the customer, correct: true}
      - {zh: 检查产品, en: Inspect the product}
  - id: red-lines
    type: multiple
    text: {zh: "哪些属于四不准？", en: "Which are integrity red lines?"}
    choices:
      - {zh: 接受客户的饭菜, en: Accepting a meal, correct: true}
      - {zh: 接受客户的礼品, en: Accepting a gift, correct: true}
      - {zh: 穿鞋套, en: Wearing shoe covers, fraction: -1}
  - id: refrigerant
    type: short
    text: {zh: "新系列使用哪种冷媒？", en: "Which refrigerant does the new series use?"}
    answers:
      - {zh: R32, en: R32}
      - {zh: 二氟甲烷, en: difluoromethane}
  - id: steps-order
    type: ordering
    text: {zh: 排序, en: Put in order}
    items:
      - {zh: 问候, en: Greet}
      - {zh: 了解故障, en: Understand the fault}
      - {zh: 检查, en: Inspect}
"""


def _bank_dir(tmp_path: Path, text: str = BANK) -> Path:
    folder = tmp_path / "quizzes" / "onboarding" / "final"
    folder.mkdir(parents=True)
    (folder / "bank.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "quizzes"


def test_a_yaml_bank_loads_in_both_languages_and_reloads_unchanged(app, tmp_path):
    report = load_banks(_bank_dir(tmp_path))
    assert not report.problems and report.created == 4
    q = db.session.scalar(select(Question).where(Question.ident == "first-step"))
    assert q.category.path == "onboarding/final" and q.difficulty == 1
    assert q.data("zh")["choices"][0] == {"text": "问候客户", "fraction": 1.0}
    assert q.data("en")["choices"][0]["text"] == "Greet the customer"
    multi = db.session.scalar(select(Question).where(Question.ident == "red-lines"))
    assert [c["fraction"] for c in multi.data("en")["choices"]] == [0.5, 0.5, -1.0]
    short = db.session.scalar(select(Question).where(Question.ident == "refrigerant"))
    assert qtypes.get("short").grade(short.data("zh"), "difluoromethane") == 1  # either language
    again = load_banks(tmp_path / "quizzes")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_a_broken_bank_names_file_line_and_field_and_loads_nothing(app, tmp_path):
    broken = BANK.replace("      - {zh: 检查产品, en: Inspect the product}\n", "").replace(
        "    difficulty: 1\n", "    difficulty: 5\n")
    report = load_banks(_bank_dir(tmp_path, broken))
    lines = {(p.line, p.field) for p in report.problems}
    assert (4, "first-step.difficulty") in lines, lines
    assert db.session.scalar(select(func.count()).select_from(Question)) == 0
    bad_yaml = BANK.replace("    type: multiple\n", "    type: [multiple\n")
    folder = tmp_path / "other"
    report = load_banks(_bank_dir(folder, bad_yaml))
    assert report.problems and report.problems[0].line > 10


def test_gift_import_cli_reports_skips_and_counts(app, runner, tmp_path):
    path = tmp_path / "sample.gift"
    path.write_text(SAMPLE, encoding="utf-8")
    result = runner.invoke(args=["quizzes", "import", str(path), "--format", "gift", "--category", "imported/sample"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert "skipped line 35: essay questions are not supported" in lines
    assert any(l.startswith("skipped line 37:") for l in lines)
    assert lines[-1] == ("imported 10 questions (matching: 1, multiple: 1, numerical: 3, short: 1, "
                         "single: 3, truefalse: 1), skipped 2")
    assert db.session.scalar(select(func.count()).select_from(Question)) == 10
    again = runner.invoke(args=["quizzes", "import", str(path), "--format", "gift", "--category", "imported/sample"])
    assert db.session.scalar(select(func.count()).select_from(Question)) == 10  # same questions, not doubled
    assert again.exit_code == 0


def test_gift_import_atomic_imports_nothing_when_anything_is_skipped(app, runner, tmp_path):
    path = tmp_path / "sample.gift"
    path.write_text(SAMPLE, encoding="utf-8")
    result = runner.invoke(args=["quizzes", "import", str(path), "--format", "gift", "--category", "x/y",
                                 "--atomic"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "imported 0 questions (), skipped 2"
    assert db.session.scalar(select(func.count()).select_from(Question)) == 0
    assert db.session.scalar(select(func.count()).select_from(QuestionCategory)) == 0


def test_gift_export_imports_back_to_the_same_questions(app, runner, tmp_path):
    path = tmp_path / "sample.gift"
    path.write_text(SAMPLE, encoding="utf-8")
    runner.invoke(args=["quizzes", "import", str(path), "--format", "gift", "--category", "round/one"])
    out = tmp_path / "out.gift"
    exported = runner.invoke(args=["quizzes", "export", "--category", "round/one", "--format", "gift",
                                   "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    back = runner.invoke(args=["quizzes", "import", str(out), "--format", "gift", "--category", "round/two"])
    assert back.output.strip().splitlines()[-1].startswith("imported 10 questions")

    def shape(category):
        cat = db.session.scalar(select(QuestionCategory).where(QuestionCategory.path == category))
        return sorted((q.type, q.text_en, q.title, q.format, q.explanation_en, repr(q.data_en))
                      for q in db.session.scalars(select(Question).where(Question.category_id == cat.id)))

    assert shape("round/one") == shape("round/two")
    assert runner.invoke(args=["quizzes", "export", "--category", "no/such"]).exit_code == 1


def test_the_shipped_banks_load_in_both_languages_and_redact_their_keys(app):
    report = load_banks(ROOT / "quizzes")
    assert not report.problems, [str(p) for p in report.problems[:5]]
    counts = dict(db.session.execute(
        select(QuestionCategory.path, func.count(Question.id)).join(Question).group_by(QuestionCategory.path)).all())
    assert counts["onboarding/final"] >= 80
    assert counts["courses/2026-q3-r32-inverter-splits"] >= 20
    assert counts["courses/2026-q4-heat-pump-water-heaters"] >= 20
    assert counts["certification/tier-2"] >= 60 and counts["certification/tier-3"] >= 60
    for q in db.session.scalars(select(Question)):
        assert q.text_zh and q.text_en and q.explanation_zh and q.explanation_en, q.ident
        kind = qtypes.get(q.type)
        for lang in ("zh", "en"):
            public = repr(kind.public(q.data(lang)))
            assert "fraction" not in public and "answer" not in public, q.ident
        assert len({t.split(":")[0] for t in q.tags} - {"lesson", "case"}) == 0, q.ident


def test_moodle_xml_import_cli(app, runner, tmp_path):
    from .test_assessment_gift import MOODLE_XML

    path = tmp_path / "questions.xml"
    path.write_text(MOODLE_XML, encoding="utf-8")
    result = runner.invoke(args=["quizzes", "import", str(path), "--format", "moodle-xml", "--category", "moodle/a"])
    lines = result.output.strip().splitlines()
    assert lines[:2] == ["skipped line 45: essay questions are not supported",
                         "skipped line 49: no answer is worth 100%"]
    assert lines[-1] == ("imported 6 questions (matching: 1, multiple: 1, numerical: 1, short: 1, single: 1, "
                         "truefalse: 1), skipped 2")
    q = db.session.scalar(select(Question).where(Question.title == "First step"))
    assert q.source == "moodle-xml" and q.format == "html"


def test_import_reasons_follow_the_shells_language(app, runner, tmp_path, monkeypatch):
    path = tmp_path / "sample.gift"
    path.write_text(SAMPLE, encoding="utf-8")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    result = runner.invoke(args=["quizzes", "import", str(path), "--format", "gift", "--category", "zh/sample"])
    assert "skipped line 35: 不支持 essay 题型" in result.output.splitlines()


def _shape(q):
    return (q.type, q.difficulty, q.tags, q.text_zh, q.text_en, q.explanation_zh, q.explanation_en, q.data_zh,
            q.data_en, q.image)


def test_the_yaml_export_loads_back_to_the_same_questions(app, tmp_path):
    """Every shipped question (each type, partial credit, both languages) exported to the files'
    format and read back by the loader is the same question."""
    import shutil

    from portal.assessment.bank import export_yaml, parse_bank
    from portal.content.rendering import FactsSource

    assert not load_banks(ROOT / "quizzes").problems
    assert not load_banks(_bank_dir(tmp_path)).problems  # (its short answer shares a text across languages)
    files = export_yaml()
    root = tmp_path / "exported" / "quizzes"
    shutil.copytree(ROOT / "quizzes" / "images", root / "images")
    before = {(q.category.path, q.ident): _shape(q) for q in db.session.scalars(select(Question))}
    after = {}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        category, rows, problems = parse_bank(path, root, FactsSource(ROOT / "content"))  # (norms)
        assert not problems, (name, problems[:3])
        for row in rows:
            after[(category, row["ident"])] = (row["type"], row["difficulty"], row["tags"], row["text_zh"],
                                               row["text_en"], row["explanation_zh"], row["explanation_en"],
                                               row["data_zh"], row["data_en"], row["image"])
    assert after == before
    assert {k[0] for k in before} >= {"onboarding/final", "certification/tier-2"}
    assert list(export_yaml("onboarding/final")) == ["onboarding/final/bank.yaml"]
