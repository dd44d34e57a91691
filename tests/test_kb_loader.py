"""content load: shipped cases, idempotence, broken files named by file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select

from portal.content.cli import load_content
from portal.kb import indexing
from portal.kb.models import Case, CaseRevision, KbTerms
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent
GOOD = """---
title: Test case
lang: en
key: test-case
product: air-conditioner
error_codes: [E9]
symptoms: [makes a whistling sound]
---
## Symptoms
A whistling sound from the indoor unit.
"""


def _count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_shipped_content_loads_and_reloads_unchanged(app):
    lines = []
    report = load_content(ROOT / "content", echo=lines.append)
    assert report.problems == [], [str(p) for p in report.problems[:5]]
    assert report.created >= 309  # 308 case files and the synonym list
    cases = _count(Case)
    assert cases >= 300
    keys = db.session.scalar(select(func.count(func.distinct(Case.key))))
    assert keys >= 150
    # Every case exists in both languages.
    langs = db.session.execute(select(Case.key, func.count()).group_by(Case.key)).all()
    assert all(n == 2 for _key, n in langs)
    assert _count(KbTerms) == 1
    again = load_content(ROOT / "content", echo=lines.append)
    assert (again.created, again.updated) == (0, 0) and again.unchanged == report.created
    assert _count(Case) == cases and _count(CaseRevision) == cases
    assert lines[0] == "facts: valid" and "kb: created" in lines[1]
    assert indexing.manager().doc_count() == keys


def test_cli_reports_counts_and_fails_on_a_broken_file(app, runner, tmp_path):
    kb = tmp_path / "content" / "kb"
    kb.mkdir(parents=True)
    (kb / "test-case-en.md").write_text(GOOD, encoding="utf-8")
    (kb / "broken-en.md").write_text(GOOD.replace("title: Test case\n", ""), encoding="utf-8")
    result = runner.invoke(args=["content", "load", str(tmp_path / "content")])
    assert result.exit_code == 1
    assert "created 1" in result.output and "failed 1" in result.output
    assert f"{kb / 'broken-en.md'}:1: title:" in result.output
    assert db.session.scalar(select(Case.slug)) == "test-case-en"
    result = runner.invoke(args=["content", "load", str(tmp_path / "content")])
    assert "unchanged 1" in result.output


def _problems(tmp_path, name: str, text: str):
    kb = tmp_path / name.split("/")[0] / "kb"
    kb.mkdir(parents=True, exist_ok=True)
    path = kb / name.split("/")[1]
    path.write_text(text, encoding="utf-8")
    report = load_content(kb.parent, echo=lambda _line: None)
    return report, path


def test_each_kind_of_error_names_its_line_and_field(app, tmp_path):
    cases = [
        ("a/bad-yaml-en.md", GOOD.replace("error_codes: [E9]", "error_codes: [E9"), 7, "front matter"),
        ("b/unknown-en.md", GOOD.replace("product:", "colour: red\nproduct:"), 5, "colour"),
        ("c/lang-en.md", GOOD.replace("lang: en", "lang: fr"), 3, "lang"),
        ("d/codes-en.md", GOOD.replace("error_codes: [E9]", "error_codes: E9"), 6, "error_codes"),
        ("e/numbers-en.md", GOOD.replace("error_codes: [E9]", "error_codes: [00, 7]"), 6, "error_codes"),
        ("f/product-en.md", GOOD.replace("product: air-conditioner", "product: Air Con!"), 5, "product"),
        ("g/body-en.md", GOOD.split("## Symptoms")[0], 9, "body"),
        ("h/nofront-en.md", "# just markdown\n", 1, "front matter"),
        ("i/unclosed-en.md", "---\ntitle: x\n", 1, "front matter"),
        ("j/difficulty-en.md", GOOD.replace("---\n## ", "difficulty: 7\n---\n## "), 8, "difficulty"),
        ("k/Bad_Name.md", GOOD, 1, "slug"),
        ("l/wrong-zh.md", GOOD, 3, "lang"),
    ]
    for name, text, line, field in cases:
        report, path = _problems(tmp_path, name, text)
        assert len(report.problems) == 1, (name, report.problems)
        problem = report.problems[0]
        assert (problem.path, problem.line, problem.field) == (str(path), line, field), (name, problem)
    assert _count(Case) == 0  # nothing half-loaded


def test_not_utf8_is_reported(app, tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "gbk-zh.md").write_bytes(GOOD.replace("Test case", "测试").encode("gbk"))
    report = load_content(tmp_path, echo=lambda _line: None)
    assert report.problems[0].field == "file"


def test_duplicate_key_and_language(app, tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "one-en.md").write_text(GOOD, encoding="utf-8")
    (kb / "two-en.md").write_text(GOOD, encoding="utf-8")
    report = load_content(tmp_path, echo=lambda _line: None)
    assert report.created == 1 and report.problems[0].field == "key"


def test_editing_a_file_updates_the_case_and_its_history(app, tmp_path):
    from portal.kb.search_service import search_cases

    kb = tmp_path / "kb"
    kb.mkdir()
    path = kb / "test-case-en.md"
    path.write_text(GOOD, encoding="utf-8")
    load_content(tmp_path, echo=lambda _line: None)
    assert search_cases("gurgling", lang="en", log=False).total == 0
    path.write_text(GOOD.replace("A whistling sound", "A gurgling sound"), encoding="utf-8")
    report = load_content(tmp_path, echo=lambda _line: None)
    assert report.updated == 1
    case = db.session.scalar(select(Case))
    assert case.version == 2 and "gurgling" in case.body
    assert [r.version for r in case.revisions] == [2, 1]
    assert search_cases("gurgling", lang="en", log=False).total == 1


def test_demo_loads_the_shipped_content(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "kb: created" in result.output
    assert _count(Case) >= 300
    result = runner.invoke(args=["demo"])
    assert "kb: created 0 / updated 0" in result.output


def test_a_single_file_path_loads(app, tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(ROOT / "content/kb/ac-code-gree-e1-high-pressure-zh.md", kb)
    shutil.copy(ROOT / "content/facts.yaml", tmp_path)  # its code_table and {{table:…}}
    report = load_content(kb / "ac-code-gree-e1-high-pressure-zh.md", echo=lambda _line: None)
    assert report.created == 1


def test_code_table_is_one_key_or_a_list_of_keys_from_the_facts_file(app, tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(ROOT / "content/facts.yaml", tmp_path)
    one = GOOD.replace("error_codes: [E9]", "error_codes: [E4]\ncode_table: gree-split")
    several = GOOD.replace("error_codes: [E9]", "error_codes: [E1, E7]\ncode_table: [midea-split, haier-split]") \
        .replace("key: test-case", "key: test-several")
    (kb / "test-case-en.md").write_text(one, encoding="utf-8")
    (kb / "test-several-en.md").write_text(several, encoding="utf-8")
    report = load_content(kb, echo=lambda _line: None)
    assert report.problems == [] and report.created == 2
    (kb / "test-several-en.md").write_text(several.replace("haier-split]", "haier-splitt]"), encoding="utf-8")
    report = load_content(kb, echo=lambda _line: None)
    assert [(p.line, p.field) for p in report.problems] == [(7, "code_table")]
    assert "haier-splitt" in report.problems[0].message
