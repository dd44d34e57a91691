"""Imports fail loudly, never crash: `quizzes import` (CLI and upload page), `users import` and
`content load` on files of the wrong kind (one line: the file and why; exit status 1; nothing
stored), and GIFT files written as real banks are (every construct of the format, in Chinese and
English, with questions that share a stem or a name)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.assessment import gift, moodlexml
from portal.assessment.bank import identify
from portal.assessment.models import Question, QuestionCategory
from portal.auth.models import User
from portal.extensions import db
from portal.inputs import NotText, file_text
from portal.kb.models import Case

from .conftest import get_csrf, login

DATA = Path(__file__).resolve().parent / "data" / "gift"
EN, ZH = DATA / "service-basics-en.gift", DATA / "service-basics-zh.gift"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
YAML_BANK = """\
category: onboarding/final
questions:
  - id: first-step
    type: single
    text: {zh: "七步维修法的第一步是什么？", en: "What is the first step?"}
    choices:
      - {zh: 问候客户, en: Greet the customer, correct: true}
      - {zh: 检查产品, en: Inspect the product}
"""


def _xlsx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


# --- reading the files (no database) ------------------------------------------------------------


def test_the_real_gift_files_read_every_construct():
    en = gift.parse(EN.read_text(encoding="utf-8"))
    assert en.fatal == ""
    assert en.counts() == {"single": 6, "multiple": 1, "truefalse": 7, "short": 1, "numerical": 4, "matching": 1}
    by_line = {q.line: q for q in en.questions}
    steps = by_line[8]  # ::name::, [markdown], answer feedback, a weight, general feedback
    assert (steps.title, steps.format, steps.category) == ("Seven steps", "markdown", "$course$/top/Service basics")
    assert [c["fraction"] for c in steps.data["choices"]] == [1.0, 0.0, 0.5]
    assert steps.data["choices"][0]["feedback"] == "Right: greet first, then listen."
    assert steps.feedback.startswith("Greet, understand, inspect")
    assert by_line[16].format == "html" and by_line[16].type == "multiple"  # negative weight
    assert [c["fraction"] for c in by_line[16].data["choices"]] == [0.5, 0.5, -1.0, 0.0]
    assert by_line[24].data == {"answer": True}  # {T}
    assert by_line[26].data == {"answer": False, "feedback_wrong": "Recover the refrigerant first.",
                                "feedback_right": "Right: never braze a charged system."}  # {FALSE#…#…}
    assert (by_line[28].format, by_line[28].data) == ("plain", {"answer": True})  # [plain] {TRUE}
    assert (by_line[30].data, by_line[30].feedback) == ({"answer": False}, "A vacuum removes air and moisture: "
                                                                            "always pull one.")  # {F####…}
    assert [(a["text"], a["fraction"]) for a in by_line[33].data["answers"]] == [
        ("R32", 1.0), ("R-32", 1.0), ("difluoromethane", 0.5)]
    assert by_line[40].data["answers"][0]["feedback"].startswith("Ninety percent")  # {#90:0 #…}
    assert (by_line[42].data["answers"][0]["value"], by_line[42].data["answers"][0]["tolerance"]) == (30, 5)  # {#25..35}
    assert [(a["value"], a["tolerance"], a["fraction"]) for a in by_line[44].data["answers"]] == [
        (1.6, 0.1, 1.0), (1.6, 0.3, 0.5)]  # several numerical answers, missing-word form
    assert by_line[44].text == "R410A runs at about _____ times the pressure of R22."
    assert (by_line[46].data["answers"][0]["value"], by_line[46].data["answers"][0]["tolerance"]) == (3, 0.5)
    assert by_line[49].format == "moodle" and len(by_line[49].data["pairs"]) == 4  # matching
    assert by_line[58].text == "The customer signs the _____ before you leave."
    escapes = by_line[61]
    assert escapes.title == "Escapes: all of them"
    assert escapes.text == ('A reading of 1:2 means {ratio}; 5 ~ 6 is "about"; a=b; #3 is item three.\n'
                            "On a new line: which is right?")
    assert escapes.data["choices"][0] == {"text": "the ratio 1:2", "fraction": 1.0, "feedback": "{yes}"}
    assert en.skipped == [(67, "essay questions are not supported"), (69, "essay questions are not supported"),
                          (72, "no answer block: a description item, which the portal does not have")]
    assert [line for line, _problem in en.errors] == [91, 93, 95, 97, 99]  # malformed: by line, not a crash
    zh = gift.parse(ZH.read_text(encoding="utf-8"))
    assert zh.fatal == "" and zh.errors == [] and [line for line, _r in zh.skipped] == [41, 43]
    assert zh.counts() == {"single": 6, "multiple": 1, "truefalse": 5, "short": 1, "numerical": 3, "matching": 1}
    assert zh.questions[0].data["choices"][2] == {"text": "了解故障", "fraction": 0.5, "feedback": "接近：这是第二步。"}


def test_questions_sharing_a_stem_or_a_name_get_identities_that_cannot_collide():
    keep, same = identify(gift.parse(EN.read_text(encoding="utf-8")).questions)
    idents = [ident for _q, ident, _digest in keep]
    assert len(idents) == len(set(idents)) == 18
    assert same == [(77, 75), (88, 83)]  # {F} then {FALSE}; the repeated ::Same name:: question
    grant = [(q.line, ident) for q, ident, _d in keep if q.text.startswith("Grant")]
    assert [line for line, _i in grant] == [75, 80] and grant[1][1] == grant[0][1] + "-2"  # other feedback
    named = [ident for q, ident, _d in keep if q.title == "Same name"]
    assert len(named) == 2 and all(i.startswith("same-name-") for i in named)
    keep_zh, same_zh = identify(gift.parse(ZH.read_text(encoding="utf-8")).questions)
    assert same_zh == [(49, 45), (53, 51)] and len({i for _q, i, _d in keep_zh}) == len(keep_zh) == 15


def test_the_real_gift_files_write_back_to_the_same_questions():
    for path in (EN, ZH):
        first = gift.parse(path.read_text(encoding="utf-8"))
        second = gift.parse(gift.write(first.questions, category="x"))
        assert second.errors == [] and second.skipped == []

        def shape(q):
            return (q.type, q.text, q.title, q.format, q.feedback, q.data)

        assert [shape(q) for q in second.questions] == [shape(q) for q in first.questions]


def test_a_file_that_is_not_of_the_format_gets_one_reason():
    assert "reads as GIFT" in gift.parse(YAML_BANK).fatal
    assert "first problem, line 1" in gift.parse(YAML_BANK).fatal
    assert gift.parse("// only a comment\n\n$CATEGORY: x\n").fatal.startswith("it holds no questions")
    assert gift.parse("Just some prose.\n\nAnd more prose.\n").fatal.endswith("answer block in { }")
    only_essays = gift.parse("Describe a visit. {}\n\nAnother essay. {}\n")
    assert only_essays.fatal == "" and len(only_essays.skipped) == 2  # GIFT, of a type the portal lacks
    assert moodlexml.parse(EN.read_text(encoding="utf-8")).fatal.startswith("it is not well-formed XML")
    assert "root element is <html>" in moodlexml.parse("<html><body/></html>").fatal
    assert moodlexml.parse("<quiz>\n</quiz>").fatal == "it holds no <question> elements"
    evil = '<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x "y">]><quiz>&x;</quiz>'
    assert moodlexml.parse(evil).fatal.startswith("a DOCTYPE")
    broken = moodlexml.parse("<quiz>\n<question type='truefalse'>\n</quiz>")
    assert "line 3" in broken.fatal and not broken.questions


def test_file_text_says_what_a_file_is_instead_of_text():
    def reason(raw: bytes) -> str:
        with pytest.raises(NotText) as caught:
            file_text(raw)
        return str(caught.value)

    assert file_text("\ufeff用户名,姓名\n".encode("utf-8")) == "用户名,姓名\n"
    assert reason(PNG) == "it is a PNG image, not a text file"
    assert reason(_xlsx()).startswith("it is a ZIP archive (an Excel .xlsx")
    assert reason("abc".encode("utf-16")) == "it is UTF-16 text; save it as UTF-8"
    assert reason(b"abc\x00def") == "it holds binary data (NUL bytes), not text"
    assert reason("ok\n七步维修法".encode("gbk")).startswith(
        "it is not UTF-8: line 2 reads as GBK/GB18030 Chinese")
    assert reason("café".encode("latin-1")) == "it is not UTF-8 text (line 1)"
    assert reason(b" \n\n") == "the file is empty"
    assert file_text(b"", allow_empty=True) == ""


# --- the commands and the upload page, on a database ---------------------------------------------


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _one_error_line(result, *fragments):
    """Exit status 1 and exactly one line, on standard error, naming the file and the reason."""
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.output
    assert all(f in result.stderr for f in fragments), result.stderr


def test_gift_imports_store_each_question_once_and_refuse_other_files(app, runner, tmp_path):
    """Both real files into one category: shared stems and names stored apart, exact repeats
    reported by line, a second import changes nothing; then files of the wrong kind (on either
    database) each exit 1 with one line and store nothing."""
    def run(path, fmt="gift", *extra):
        return runner.invoke(args=["quizzes", "import", str(path), "--format", fmt, "--category", "bank/basics",
                                   *extra])

    result = run(EN)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "skipped line 67: essay questions are not supported" in lines
    assert "skipped line 91: the answer block has no closing }" in lines
    assert any(line.startswith("skipped line 99: a second answer block") for line in lines)
    assert "line 77: the same question as line 75 (imported once)" in lines
    assert "line 88: the same question as line 83 (imported once)" in lines
    assert lines[-1] == ("imported 18 questions (matching: 1, multiple: 1, numerical: 4, short: 1, single: 5, "
                         "truefalse: 6), skipped 8, 2 the same as another")
    assert _count(Question) == 18
    grant = db.session.scalars(select(Question).where(Question.text_en == "Grant is buried in Grant's tomb.")
                               .order_by(Question.id)).all()
    assert [q.data_en for q in grant] == [{"answer": False}, {
        "answer": False, "feedback_wrong": "No one is buried there.", "feedback_right": "Right."}]
    again = run(EN)
    assert again.exit_code == 0 and again.output.splitlines()[-1].startswith("imported 18 questions")
    assert _count(Question) == 18  # the same file again: the same questions, none doubled
    assert run(ZH).exit_code == 0 and _count(Question) == 33

    wrong = tmp_path / "bank.yaml"
    wrong.write_text(YAML_BANK, encoding="utf-8")
    _one_error_line(run(wrong), str(wrong), "nothing in it reads as GIFT", "line 1")
    picture = tmp_path / "photo.gift"
    picture.write_bytes(PNG)
    _one_error_line(run(picture), str(picture), "it is a PNG image")
    _one_error_line(run(EN, "moodle-xml"), str(EN), "it is not well-formed XML")
    empty = tmp_path / "empty.gift"
    empty.write_text("", encoding="utf-8")
    _one_error_line(run(empty), str(empty), "the file is empty")
    gbk = tmp_path / "gbk.gift"
    gbk.write_bytes(ZH.read_text(encoding="utf-8").encode("gb18030"))
    _one_error_line(run(gbk), str(gbk), "GBK/GB18030")
    assert _count(Question) == 33
    essays = tmp_path / "essays.gift"
    essays.write_text("Describe a visit. {}\n", encoding="utf-8")
    result = run(essays)  # GIFT, but nothing the portal can hold: the item's line, the summary, status 1
    assert result.exit_code == 1
    assert result.output.splitlines() == ["skipped line 1: essay questions are not supported",
                                          "imported 0 questions (), skipped 1"]
    assert _count(Question) == 33 and _count(QuestionCategory) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_upload_page_names_the_file_and_imports_nothing(app, users):
    trainer = app.test_client()
    login(trainer, "trainer")

    def upload(content: bytes, name: str) -> str:
        data = {"csrf_token": get_csrf(trainer, "/quizzes/import"), "format": "gift", "category": "",
                "new_category": "upload/basics", "file": (io.BytesIO(content), name)}
        response = trainer.post("/quizzes/import?lang=en", data=data, content_type="multipart/form-data")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    html = upload(YAML_BANK.encode("utf-8"), "bank.yaml")
    assert "Nothing was imported: bank.yaml: nothing in it reads as GIFT" in html
    assert "data-import-outcome" not in html
    assert "Nothing was imported: photo.png: it is a PNG image, not a text file" in upload(PNG, "photo.png")
    assert _count(Question) == 0
    html = upload(EN.read_bytes(), "service-basics-en.gift")
    assert "Imported 18 questions into upload/basics." in html
    assert "line 77: the same question as line 75 (imported once)" in html
    assert _count(Question) == 18


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_users_import_and_content_load_refuse_files_of_the_wrong_kind(app, runner, network, tmp_path):
    def users_import(name: str, content: bytes):
        path = tmp_path / name
        path.write_bytes(content)
        return path, runner.invoke(args=["users", "import", str(path)])

    path, result = users_import("techs.csv", PNG)
    _one_error_line(result, str(path), "it is a PNG image")
    path, result = users_import("techs.xlsx", _xlsx())
    _one_error_line(result, str(path), "ZIP archive (an Excel .xlsx")
    path, result = users_import("bank.yaml", YAML_BANK.encode("utf-8"))
    _one_error_line(result, str(path), "not a technicians CSV")
    path, result = users_import("gbk.csv", "username,name,outlet\nli.si,李四,GD-GZ-01\n".encode("gbk"))
    _one_error_line(result, str(path), "line 2 reads as GBK/GB18030")
    assert _count(User) == 0

    kb = tmp_path / "content" / "kb"
    kb.mkdir(parents=True)
    (kb / "test-case-en.md").write_text(
        "---\ntitle: Test case\nlang: en\nkey: test-case\nproduct: air-conditioner\nerror_codes: [E9]\n"
        "symptoms: [makes a whistling sound]\n---\n## Symptoms\nA whistling sound.\n", encoding="utf-8")
    (kb / "scan-zh.md").write_bytes(PNG)
    _one_error_line(runner.invoke(args=["content", "load", str(kb.parent)]), str(kb / "scan-zh.md"), "PNG image")
    (kb / "scan-zh.md").write_bytes("---\ntitle: 测试\n---\n".encode("gbk"))
    _one_error_line(runner.invoke(args=["content", "load", str(kb)]), str(kb / "scan-zh.md"), "GBK/GB18030")
    assert _count(Case) == 0  # the good file beside it was not loaded either
    (kb / "scan-zh.md").unlink()
    (kb / "photo.png").write_bytes(PNG)
    _one_error_line(runner.invoke(args=["content", "load", str(kb / "photo.png")]), "photo.png",
                    "not a content file")
    (kb / "notes.yaml").write_text("a: 1\n", encoding="utf-8")
    result = runner.invoke(args=["content", "load", str(kb / "notes.yaml")])
    assert result.exit_code == 1 and "nothing in it was loaded" in result.stderr
    assert _count(Case) == 0
    result = runner.invoke(args=["content", "load", str(kb.parent)])
    assert result.exit_code == 0 and _count(Case) == 1  # once the wrong files are gone
    audits = tmp_path / "elsewhere" / "audits"  # a folder the portal knows, with the wrong files in it
    audits.mkdir(parents=True)
    (audits / "form.png").write_bytes(PNG)
    _one_error_line(runner.invoke(args=["content", "load", str(audits)]), str(audits), "no .md or .yaml file")
