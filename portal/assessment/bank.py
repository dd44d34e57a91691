"""The question bank: loading quizzes/*.yaml, importing GIFT, exporting GIFT."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..content.files import FileProblem, parse_yaml_file, yaml_line_finder
from ..content.loader import Report, register, upsert
from ..content.rendering import FactsSource, norm_problem, render
from ..dbtypes import utcnow
from ..extensions import db
from . import gift, moodlexml, qtypes
from .attempts import _pool
from .models import REVIEW_MODES, Question, QuestionCategory, Quiz

IDENT_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,118}$")
IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.(png|jpe?g|webp|svg)$")
CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)*$")
LANGS = ("zh", "en")
QUESTION_FIELDS = {"id", "type", "difficulty", "tags", "text", "explanation", "image", "title",
                   "choices", "penalty", "answer", "answers", "pairs", "items", "all_or_nothing", "norms"}


def category(path: str) -> QuestionCategory:
    row = db.session.scalar(select(QuestionCategory).where(QuestionCategory.path == path))
    if row is None:
        row = QuestionCategory(path=path)
        db.session.add(row)
        db.session.flush()
    return row


def _both(value, where: str) -> dict:
    if isinstance(value, dict) and all(isinstance(value.get(l), (str, int, float)) and str(value.get(l)).strip()
                                       for l in LANGS):
        return {l: str(value[l]).strip() for l in LANGS}
    raise ValueError(_("%(where)s needs zh and en texts.", where=where))


def _num(value, where: str) -> float:
    number = qtypes.parse_number(value)
    if number is None:
        raise ValueError(_("%(where)s must be a number.", where=where))
    return number


def question_data(spec: dict) -> tuple[dict, dict]:
    """The type's data in each language from a bilingual YAML question; ValueError says why not."""
    kind = spec.get("type")
    if kind not in qtypes.REGISTRY:
        raise ValueError(_("Unknown type %(type)s.", type=kind))
    data = {l: {} for l in LANGS}
    if kind in ("single", "multiple"):
        choices = spec.get("choices") or []
        if not isinstance(choices, list):
            raise ValueError(_("choices must be a list."))
        right = [c for c in choices if isinstance(c, dict) and c.get("correct")]
        share = 1 / len(right) if right else 0
        for l in LANGS:
            data[l]["choices"] = []
        for n, choice in enumerate(choices, start=1):
            if not isinstance(choice, dict):
                raise ValueError(_("choice %(n)d must be {zh, en, correct}.", n=n))
            texts = _both(choice, f"choice {n}")
            if "fraction" in choice:
                fraction = _num(choice["fraction"], f"choice {n} fraction")
            elif choice.get("correct"):
                fraction = 1.0 if kind == "single" else share
            else:
                fraction = 0.0
            for l in LANGS:
                data[l]["choices"].append({"text": texts[l], "fraction": fraction})
        if kind == "single" and len(right) != 1:
            raise ValueError(_("A single-choice question needs exactly one correct choice."))
        if kind == "multiple":
            if len(right) < 2:
                raise ValueError(_("A multiple-choice question needs at least two correct choices."))
            for l in LANGS:
                data[l]["penalty"] = _num(spec.get("penalty", 0) or 0, "penalty")
    elif kind == "truefalse":
        if not isinstance(spec.get("answer"), bool):
            raise ValueError(_("answer must be true or false."))
        for l in LANGS:
            data[l]["answer"] = spec["answer"]
    elif kind == "short":
        pairs = []
        for n, answer in enumerate(spec.get("answers") or [], start=1):
            texts = _both(answer, f"answer {n}") if isinstance(answer, dict) else None
            if texts is None:
                raise ValueError(_("answer %(n)d must be {zh, en}.", n=n))
            pairs.append((texts, _num(answer.get("fraction", 1), f"answer {n} fraction")))
        # A learner may answer in either language: both languages' answers are accepted, the
        # question's own language first (review shows the first best one as the right answer).
        for l in LANGS:
            order = [l] + [other for other in LANGS if other != l]
            unique: dict[str, dict] = {}
            for lang in order:
                for texts, fraction in pairs:
                    unique.setdefault(qtypes.fold(texts[lang]), {"text": texts[lang], "fraction": fraction})
            data[l]["answers"] = list(unique.values())
    elif kind == "numerical":
        answers = []
        for n, answer in enumerate(spec.get("answers") or [], start=1):
            if not isinstance(answer, dict) or qtypes.parse_number(answer.get("value")) is None:
                raise ValueError(_("answer %(n)d needs a numeric value.", n=n))
            answers.append({"value": float(answer["value"]),
                            "tolerance": _num(answer.get("tolerance", 0), f"answer {n} tolerance"),
                            "fraction": _num(answer.get("fraction", 1), f"answer {n} fraction")})
        for l in LANGS:
            data[l]["answers"] = answers
    elif kind == "matching":
        for l in LANGS:
            data[l]["pairs"] = []
        for n, pair in enumerate(spec.get("pairs") or [], start=1):
            if not isinstance(pair, dict):
                raise ValueError(_("pair %(n)d must be {left, right}.", n=n))
            left, right = _both(pair.get("left"), f"pair {n} left"), _both(pair.get("right"), f"pair {n} right")
            for l in LANGS:
                data[l]["pairs"].append({"left": left[l], "right": right[l]})
    elif kind == "ordering":
        items = [_both(item, f"item {n}") for n, item in enumerate(spec.get("items") or [], start=1)]
        for l in LANGS:
            data[l]["items"] = [item[l] for item in items]
            data[l]["all_or_nothing"] = bool(spec.get("all_or_nothing", False))
    for l in LANGS:
        problems = qtypes.get(kind).validate(data[l])
        if problems:
            raise ValueError(problems[0])
    return data["zh"], data["en"]


def spec_row(spec: dict, images: Path) -> tuple[dict | None, tuple[str, str] | None]:
    """A question as the files write it (``spec``: id, type, difficulty, tags, text, …) → the
    question's row, or the (field, message) of its first problem. The one validation of a
    question: the file loader and the browser editor both call it (the type's own rules come
    from the type registry, ``qtypes``, through :func:`question_data`)."""
    ident = spec.get("id")
    unknown = [k for k in spec if k not in QUESTION_FIELDS]
    if unknown:
        return None, (unknown[0], _("Unknown field."))
    if not (isinstance(ident, str) and IDENT_RE.match(ident)):
        return None, ("id", _("An id of lower-case letters, digits and dashes."))
    difficulty = spec.get("difficulty", 2)
    if difficulty not in (1, 2, 3):
        return None, ("difficulty", _("1, 2 or 3."))
    tags = spec.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return None, ("tags", _("A list of tags."))
    image = spec.get("image")
    if image is not None and not (isinstance(image, str) and IMAGE_RE.match(image) and (images / image).is_file()):
        return None, ("image", _("A picture file in quizzes/images/ (.png, .jpg, .webp or .svg)."))
    try:
        text = _both(spec.get("text"), "text")
        explanation = _both(spec["explanation"], "explanation") if spec.get("explanation") else {"zh": "", "en": ""}
        data_zh, data_en = question_data(spec)
    except (ValueError, TypeError) as exc:
        return None, ("", str(exc))
    digest = hashlib.sha256(repr(sorted(spec.items(), key=lambda kv: kv[0])).encode()).hexdigest()
    return {"ident": ident, "type": spec["type"], "difficulty": difficulty, "tags": tags,
            "text_zh": text["zh"], "text_en": text["en"], "explanation_zh": explanation["zh"],
            "explanation_en": explanation["en"], "data_zh": data_zh, "data_en": data_en,
            "image": image, "title": str(spec.get("title") or ""),
            "norms": list(spec.get("norms") or []), "content_hash": digest}, None


def _own_answers(mine: list[dict], other: list[dict]) -> list[dict]:
    """A short-answer key's answers in its own language: ``question_data`` lists them first,
    then the other language's (those not already there)."""
    first_other = qtypes.fold(other[0]["text"]) if other else None
    own = []
    for answer in mine:
        if qtypes.fold(answer["text"]) == first_other:
            break
        own.append(answer)
    return own


def question_spec(q) -> dict:
    """A question (or one of its versions) as the files write it: what :func:`spec_row` reads
    back to the same question. The YAML export and the browser editor's form start from it."""
    spec: dict = {"id": q.ident, "type": q.type, "difficulty": q.difficulty}
    if q.tags:
        spec["tags"] = list(q.tags)
    if getattr(q, "norms", None):
        spec["norms"] = list(q.norms)
    if q.title:
        spec["title"] = q.title
    spec["text"] = {"zh": q.text_zh, "en": q.text_en}
    if q.explanation_zh or q.explanation_en:
        spec["explanation"] = {"zh": q.explanation_zh or q.explanation_en, "en": q.explanation_en or q.explanation_zh}
    if q.image:
        spec["image"] = q.image
    zh, en = q.data_zh or q.data_en, q.data_en or q.data_zh
    if q.type in ("single", "multiple"):
        right = [c for c in en["choices"] if c.get("fraction", 0) > 0] if q.type == "multiple" else []
        share = 1 / len(right) if right else 0
        choices = []
        for c_zh, c_en in zip(zh["choices"], en["choices"]):
            fraction = c_en.get("fraction", 0)
            choice = {"zh": c_zh["text"], "en": c_en["text"]}
            if q.type == "single":
                if fraction >= 1:
                    choice["correct"] = True
                elif fraction:
                    choice["fraction"] = fraction
            else:
                if fraction > 0:
                    choice["correct"] = True
                if fraction and abs(fraction - share) > 1e-9:
                    choice["fraction"] = fraction
            choices.append(choice)
        spec["choices"] = choices
        if q.type == "multiple" and en.get("penalty"):
            spec["penalty"] = en["penalty"]
    elif q.type == "truefalse":
        spec["answer"] = bool(en["answer"])
    elif q.type == "short":
        own_zh, own_en = _own_answers(zh["answers"], en["answers"]), _own_answers(en["answers"], zh["answers"])
        if zh is not en and len(own_zh) == len(own_en) and own_zh:
            pairs = zip(own_zh, own_en)
        elif len(zh["answers"]) == len(en["answers"]) and all(
                a.get("fraction", 1) == b.get("fraction", 1) for a, b in zip(zh["answers"], en["answers"])):
            pairs = zip(zh["answers"], en["answers"])  # the same lists, each in its language's order
        else:  # keys that do not pair up: each text in both
            pairs = ((a, a) for a in en["answers"])
        spec["answers"] = [{"zh": a["text"], "en": b["text"], **({"fraction": b["fraction"]}
                                                                   if b.get("fraction", 1) != 1 else {})}
                           for a, b in pairs]
    elif q.type == "numerical":
        spec["answers"] = [{"value": a["value"], **({"tolerance": a["tolerance"]} if a.get("tolerance") else {}),
                            **({"fraction": a["fraction"]} if a.get("fraction", 1) != 1 else {})}
                           for a in en["answers"]]
    elif q.type == "matching":
        spec["pairs"] = [{"left": {"zh": a["left"], "en": b["left"]}, "right": {"zh": a["right"], "en": b["right"]}}
                         for a, b in zip(zh["pairs"], en["pairs"])]
    elif q.type == "ordering":
        spec["items"] = [{"zh": a, "en": b} for a, b in zip(zh["items"], en["items"])]
        if en.get("all_or_nothing"):
            spec["all_or_nothing"] = True
    return spec


def export_yaml(category_path: str | None = None) -> dict[str, str]:
    """The bank (one category, or every category when None) in the files' format: file name
    (``<category path>/bank.yaml``) → YAML text, each file loading back to the same questions
    (``content load``). LookupError for an unknown category."""
    query = select(QuestionCategory).order_by(QuestionCategory.path)
    if category_path is not None:
        query = query.where(QuestionCategory.path == category_path)
    categories = list(db.session.scalars(query))
    if category_path is not None and not categories:
        raise LookupError(category_path)
    out = {}
    for cat in categories:
        questions = db.session.scalars(select(Question).where(Question.category_id == cat.id, Question.active)
                                       .order_by(Question.id)).all()
        if questions:
            out[f"{cat.path}/bank.yaml"] = yaml.safe_dump(
                {"category": cat.path, "questions": [question_spec(q) for q in questions]},
                allow_unicode=True, sort_keys=False, width=1000)
    return out


def render_spec(spec, facts: FactsSource, line_at, keys: tuple = ()) -> tuple[object, list[tuple[int, str, str]]]:
    """A question's fields with every zh/en text rendered ({{fact:KEY}}, {{table:KEY}}) in its
    language; and (line, field, message) for each reference that cannot be resolved."""
    problems: list[tuple[int, str, str]] = []
    if isinstance(spec, dict):
        out = {}
        for key, value in spec.items():
            if key in LANGS and isinstance(value, str):
                out[key], unknown = render(value, key, facts, line_at(*keys, key))
                label = ".".join(str(k) for k in keys if not isinstance(k, int)) or key
                problems.extend((line, label, message) for line, message in unknown)
            else:
                out[key], more = render_spec(value, facts, line_at, (*keys, key))
                problems.extend(more)
        return out, problems
    if isinstance(spec, list):
        out = []
        for index, value in enumerate(spec):
            rendered, more = render_spec(value, facts, line_at, (*keys, index))
            out.append(rendered)
            problems.extend(more)
        return out, problems
    return spec, problems


def parse_bank(path: Path, root: Path, facts: FactsSource | None = None) -> tuple[str, list[dict], list[tuple[int, str, str]]]:
    """(category, question rows, problems (line, field, message)) of one bank file. Its texts
    are rendered with the facts of the content root beside the quizzes folder (``root``)."""
    facts = facts or FactsSource(root.parent / "content")
    try:
        data, lines, _digest = parse_yaml_file(path)
    except FileProblem as problem:
        return "", [], [(problem.line, problem.field, problem.message)]
    at = yaml_line_finder(path)
    problems: list[tuple[int, str, str]] = []
    folder = path.parent.relative_to(root).as_posix() if path.parent != root else path.stem
    path_name = str(data.get("category") or folder)
    if not CATEGORY_RE.match(path_name):
        problems.append((lines.get("category", 1), "category", _("A path like onboarding/final.")))
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        return path_name, [], problems + [(lines.get("questions", 1), "questions", _("A list of questions."))]
    rows, seen = [], set()
    for i, spec in enumerate(questions):
        line = at("questions", i)
        if not isinstance(spec, dict):
            problems.append((line, f"questions[{i + 1}]", _("A question is a set of fields.")))
            continue
        ident = spec.get("id")
        label = f"{ident or i + 1}"
        unknown = [k for k in spec if k not in QUESTION_FIELDS]
        if unknown:
            problems.append((at("questions", i, unknown[0]), f"{label}.{unknown[0]}", _("Unknown field.")))
            continue
        if not (isinstance(ident, str) and IDENT_RE.match(ident)):
            problems.append((line, f"questions[{i + 1}].id", _("An id of lower-case letters, digits and dashes.")))
            continue
        if ident in seen:
            problems.append((line, f"{ident}.id", _("Used twice in this category.")))
            continue
        seen.add(ident)
        problem = norm_problem(spec.get("norms"), facts)
        if problem:
            problems.append((at("questions", i, "norms"), f"{ident}.norms", problem))
            continue
        spec, unknown = render_spec(spec, facts, lambda *keys, _i=i: at("questions", _i, *keys))
        if unknown:
            problems.extend((ref_line, f"{ident}.{name}", message) for ref_line, name, message in unknown)
            continue
        row, problem = spec_row(spec, root / "images")
        if problem:
            key, message = problem
            problems.append((at("questions", i, key) if key else line, f"{ident}.{key}" if key else ident, message))
            continue
        rows.append({**row, "line": line})
    return path_name, rows, problems


def store(category_path: str, rows: list[dict], source: str, report: Report, path=None) -> list[Question]:
    """Create or update questions by (category, ident); unchanged ones are left alone. A question
    edited in the browser is never overwritten: a file that would change it is reported as a
    conflict (``FILE:LINE: ident: …`` among the warnings) and the browser's version stays."""
    cat = category(category_path)
    existing = {q.ident: q for q in db.session.scalars(select(Question).where(Question.category_id == cat.id))}
    stored = []
    for row in rows:
        row = dict(row)
        line = row.pop("line", 1)
        question = existing.get(row["ident"])
        if question is not None and question.content_hash == row["content_hash"] and question.active:
            report.unchanged += 1
            stored.append(question)
            continue
        if question is not None and question.edited_in_browser_at is not None:
            report.unchanged += 1
            report.warnings.append(f"{path or category_path}:{line}: {row['ident']}: " + _(
                "edited in the browser on %(day)s; the file's change is not loaded (export the question "
                "to the file, or edit it in the browser).", day=question.edited_in_browser_at.date().isoformat()))
            stored.append(question)
            continue
        if question is None:
            question = Question(category_id=cat.id, ident=row["ident"])
            db.session.add(question)
            report.created += 1
        else:
            report.updated += 1
        for name, value in row.items():
            if name != "ident":
                setattr(question, name, value)
        question.source, question.active, question.updated_at = source, True, utcnow()
        stored.append(question)
    return stored


@register("quizzes", "quizzes")
def load_banks(where: Path) -> Report:
    """quizzes/**/*.yaml; a file with a problem is reported and nothing of it loads."""
    report = Report()
    # Categories are folder paths under quizzes/ (whichever part of it is being loaded).
    root = next((p for p in [where, *where.parents] if p.name == "quizzes"),
                where if where.is_dir() else where.parent)
    files = [where] if where.is_file() else sorted(where.rglob("*.yaml"))
    facts = FactsSource(root.parent / "content")  # the content root beside quizzes/
    for path in files:
        if path.name.endswith(".quiz.yaml"):
            continue  # a quiz definition (load_quizzes), not a bank
        category_path, rows, problems = parse_bank(path, root, facts)
        if problems:
            for line, field_name, message in problems:
                report.error(path, line, field_name, message)
            continue
        store(category_path, rows, "content", report, path)
        db.session.commit()
    return report


# --- GIFT import and export -------------------------------------------------------------------


def _gift_ident(q: gift.Parsed) -> str:
    """An imported question's identity in its category: its name and a digest of its type and
    text. The same file imported again finds its questions by it (updated when their answers
    or feedback changed, never doubled)."""
    base = re.sub(r"[^a-z0-9]+", "-", q.title.lower()).strip("-")[:60] if q.title else ""
    digest = hashlib.sha256(f"{q.type}\n{q.text}".encode()).hexdigest()[:10]
    return f"{base}-{digest}" if base else f"gift-{digest}"


def _import_hash(q: gift.Parsed) -> str:
    return hashlib.sha256(repr((q.type, q.text, q.title, q.format, q.feedback, q.data)).encode()).hexdigest()


def identify(questions: list[gift.Parsed]) -> tuple[list[tuple[gift.Parsed, str, str]], list[tuple[int, int]]]:
    """(question, ident, content hash) for each question of a file to store, and (line, line of
    the first) for each one that repeats an earlier question of the file exactly (name, type,
    text, format, answers, feedback): it is the same question, stored once. Questions that share
    a name, type and text but differ in answers or feedback (the same stem with ``{T}`` and
    ``{F}``, or with other feedback) are different questions: the second is ``<ident>-2``, the
    third ``<ident>-3``, … in file order, so the same file imported again finds each again."""
    keep, same = [], []
    seen: dict[tuple[str, str], int] = {}  # (ident, content hash) → its first line
    used: dict[str, int] = {}  # base ident → how many questions took it so far
    for q in questions:
        base, digest = _gift_ident(q), _import_hash(q)
        if (base, digest) in seen:
            same.append((q.line, seen[(base, digest)]))
            continue
        seen[(base, digest)] = q.line
        used[base] = used.get(base, 0) + 1
        keep.append((q, base if used[base] == 1 else f"{base}-{used[base]}", digest))
    return keep, same


@dataclass
class ImportOutcome:
    """What an import did, as the command and the upload page report it. ``failure`` is set when
    nothing was imported because the file as a whole is not of the format (or could not be
    saved): one reason, no per-item lines."""

    skipped: list[tuple[int, str]]  # (line, reason), in line order
    counts: dict[str, int]  # imported questions per type
    stored: bool
    same: list[tuple[int, int]] = field(default_factory=list)  # (line, line of the same question)
    failure: str = ""
    warnings: list[str] = field(default_factory=list)  # e.g. a question kept as edited in the browser

    @property
    def imported(self) -> int:
        return sum(self.counts.values())

    @property
    def summary(self) -> str:
        detail = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.counts.items()))
        same = f", {len(self.same)} the same as another" if self.same else ""
        return f"imported {self.imported} questions ({detail}), skipped {len(self.skipped)}{same}"


def run_import(source: str, fmt: str, category_path: str, atomic: bool = False, name: str = "") -> ImportOutcome:
    """Import GIFT (``fmt="gift"``) or Moodle XML (``"moodle-xml"``) text into a category; ``name``
    (the file's) starts the warnings' FILE:LINE."""
    result = gift.parse(source) if fmt == "gift" else moodlexml.parse(source)
    if result.fatal:
        return ImportOutcome([], {}, False, failure=result.fatal)
    try:
        result, report, stored, same = import_parsed(result, category_path, fmt, atomic, name)
    except IntegrityError:
        db.session.rollback()
        return ImportOutcome([], {}, False, failure=_(
            "another import into %(category)s was saving the same questions at the same time; nothing "
            "was imported: run it again", category=category_path))
    counts = {}
    if stored:
        for q in result.questions:
            counts[q.type] = counts.get(q.type, 0) + 1
    return ImportOutcome(sorted(result.skipped + result.errors), counts, stored, same, warnings=report.warnings)


def import_parsed(result: gift.Result, category_path: str, source_name: str,
                  atomic: bool = False, name: str = "") -> tuple[gift.Result, Report, bool, list[tuple[int, int]]]:
    """(parse result without the repeated questions, store report, whether anything was stored,
    the repeated questions as (line, line of the first)). Every question keeps the file's own
    language in both language slots (an exchange file is written in one language)."""
    report = Report()
    keep, same = identify(result.questions)
    result.questions = [q for q, _ident, _digest in keep]
    if (atomic and (result.skipped or result.errors)) or not keep:
        return result, report, False, same
    rows = [{"ident": ident, "line": q.line, "type": q.type, "difficulty": 2, "tags": [], "title": q.title[:200],
             "format": q.format, "text_zh": q.text, "text_en": q.text, "explanation_zh": q.feedback,
             "explanation_en": q.feedback, "data_zh": q.data, "data_en": q.data, "content_hash": digest}
            for q, ident, digest in keep]
    store(category_path, rows, source_name, report, path=name or None)
    db.session.commit()
    return result, report, True, same


def export_gift(category_path: str, lang: str = "en") -> tuple[str, int]:
    """GIFT text of a category's questions, and how many were left out (GIFT has no ordering
    questions). LookupError for an unknown category."""
    cat = db.session.scalar(select(QuestionCategory).where(QuestionCategory.path == category_path))
    if cat is None:
        raise LookupError(category_path)
    questions = db.session.scalars(select(Question).where(Question.category_id == cat.id, Question.active)
                                   .order_by(Question.id)).all()
    parsed = [gift.Parsed(line=0, type=q.type, text=q.text(lang), data=q.data(lang), title=q.title,
                          format=q.format, category=category_path,
                          feedback=q.explanation_zh if lang == "zh" else q.explanation_en)
              for q in questions if q.type != "ordering"]
    return gift.write(parsed, category=category_path), len(questions) - len(parsed)


# --- quiz definitions (quizzes/**/*.quiz.yaml) ------------------------------------------------

QUIZ_FIELDS = {"title", "time_limit_minutes", "pass_mark", "attempts", "cooldown_hours", "review", "shuffle",
               "sections"}


def check_quiz(data: dict, at=lambda *keys: 1) -> tuple[dict, list[tuple[int, str, str]]]:
    """The one validation of a quiz definition, for a ``*.quiz.yaml`` file (parse_quiz) and the
    browser form (quizedit) alike: ``data`` is the file's fields (title, time_limit_minutes,
    pass_mark, attempts, cooldown_hours, review, shuffle, sections); ``at(*keys)`` the line of a
    field. Returns ({title, settings, sections}, problems as (line, field, message))."""
    problems = []
    try:
        title = _both(data.get("title"), "title")
    except ValueError as exc:
        problems.append((at("title"), "title", str(exc)))
        title = {"zh": "", "en": ""}
    settings = {}
    for name, low, high in (("time_limit_minutes", 1, 600), ("pass_mark", 0, 100), ("attempts", 0, 100),
                            ("cooldown_hours", 0, 24 * 90)):
        value = data.get(name)
        if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                      and low <= value <= high):
            problems.append((at(name), name, _("A number from %(low)d to %(high)d.", low=low, high=high)))
        elif value is not None:
            settings[name] = value
    review = data.get("review", "explanations")
    if review not in REVIEW_MODES:
        problems.append((at("review"), "review", _("One of: %(names)s.", names=", ".join(REVIEW_MODES))))
    settings["review"] = review
    settings["shuffle"] = bool(data.get("shuffle", True))
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        problems.append((at("sections"), "sections", _("A list of sections, each drawing questions.")))
        sections = []
    clean = []
    for i, section in enumerate(sections):
        spec, more = check_section(section, i, at)
        problems.extend(more)
        if spec is not None:
            clean.append(spec)
    return {"title": title, "settings": settings, "sections": clean}, problems


def _names(value) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) and v for v in value))


def check_section(section, i: int, at) -> tuple[dict | None, list[tuple[int, str, str]]]:
    """One section: a draw of 1 or more, categories and tags as lists of names, a difficulty mix
    of levels 1–3 that asks for no more than the draw, and a bank with enough questions."""
    line, label = at("sections", i), f"sections[{i + 1}]"
    if not isinstance(section, dict) or not isinstance(section.get("draw"), int) or section["draw"] < 1:
        return None, [(line, f"{label}.draw", _("How many questions to draw (1 or more)."))]
    problems = []
    for name in ("categories", "tags"):
        if not _names(section.get(name)):
            problems.append((line, f"{label}.{name}", _("A list of names.")))
    mix = section.get("difficulty") or {}
    if not (isinstance(mix, dict) and all(str(k) in ("1", "2", "3") and isinstance(v, int) and v >= 0
                                          for k, v in mix.items())):
        problems.append((line, f"{label}.difficulty", _("How many of levels 1, 2 and 3 (whole numbers).")))
        mix = {}
    if problems:
        return None, problems
    spec = {"draw": section["draw"], "categories": list(section.get("categories") or []),
            "tags": list(section.get("tags") or []), "difficulty": {str(k): int(v) for k, v in mix.items()}}
    if sum(spec["difficulty"].values()) > spec["draw"]:
        problems.append((line, f"{label}.difficulty", _("The mix asks for more than the draw.")))
    available = len(_pool(spec))
    if available < spec["draw"]:
        problems.append((line, label, _("Draws %(draw)d questions but the bank has %(n)d.",
                                       draw=spec["draw"], n=available)))
    return spec, problems


def parse_quiz(path: Path) -> tuple[dict, list[tuple[int, str, str]]]:
    try:
        data, lines, digest = parse_yaml_file(path)
    except FileProblem as problem:
        return {}, [(problem.line, problem.field, problem.message)]
    at = yaml_line_finder(path)
    problems = [(lines.get(k, 1), k, _("Unknown field.")) for k in data if k not in QUIZ_FIELDS]
    slug = path.name[: -len(".quiz.yaml")]
    if not IDENT_RE.match(slug):
        problems.append((1, "file", _("The file name must be lower-case letters, digits and dashes.")))
    spec, more = check_quiz(data, at)
    return {"slug": slug, **spec, "digest": digest}, problems + more


def quiz_file_data(quiz: Quiz) -> dict:
    """A quiz as the fields of its ``*.quiz.yaml`` file (the export; loads back to the same quiz)."""
    data = {"title": {"zh": quiz.title_zh, "en": quiz.title_en}}
    for name in ("time_limit_minutes", "pass_mark", "attempts", "cooldown_hours", "review", "shuffle"):
        if name in (quiz.settings or {}):
            data[name] = quiz.settings[name]
    data["sections"] = []
    for section in quiz.sections or []:
        out = {"draw": section["draw"]}
        for name in ("categories", "tags"):
            if section.get(name):
                out[name] = list(section[name])
        if section.get("difficulty"):
            out["difficulty"] = {int(k): int(v) for k, v in sorted(section["difficulty"].items())}
        data["sections"].append(out)
    return data


def export_quiz(quiz: Quiz) -> str:
    """The text of ``<slug>.quiz.yaml`` for a quiz (made or edited in the browser)."""
    head = f"# {quiz.slug}.quiz.yaml, exported from the portal {utcnow():%Y-%m-%d %H:%M} UTC (format: quizzes/README.md)\n"
    return head + yaml.safe_dump(quiz_file_data(quiz), allow_unicode=True, sort_keys=False, width=100)


def _same_as_browser(quiz: Quiz, spec: dict) -> bool:
    return ({"zh": quiz.title_zh, "en": quiz.title_en}, quiz.settings, quiz.sections) == (
        spec["title"], spec["settings"], spec["sections"])


def _browser_conflict(quiz: Quiz, spec: dict, path: Path, report: Report) -> bool:
    """Whether ``content load`` must leave this quiz alone: it was edited in the browser. A file
    unchanged since it was last loaded is silent; a file that now says what the browser version
    says (its export was committed) takes the quiz back; any other change is reported."""
    if quiz is None or quiz.edited_in_browser_at is None:
        return False
    if quiz.content_hash == spec["digest"]:
        report.unchanged += 1
        return True
    if _same_as_browser(quiz, spec):
        quiz.content_hash, quiz.edited_in_browser_at, quiz.source = spec["digest"], None, "file"
        db.session.commit()
        report.unchanged += 1
        return True
    report.warnings.append(f"{path}:1: " + _(
        "quiz %(slug)s was edited in the browser on %(when)s; the file's changes were not loaded and the "
        "browser version is kept (export it from the quiz's edit page to update the file)",
        slug=quiz.slug, when=quiz.edited_in_browser_at.strftime("%Y-%m-%d %H:%M UTC")))
    return True


@register("quiz definitions", "quizzes")
def load_quizzes(where: Path) -> Report:
    report = Report()
    files = [where] if where.is_file() else sorted(where.rglob("*.quiz.yaml"))
    for path in files:
        if not path.name.endswith(".quiz.yaml"):
            continue
        spec, problems = parse_quiz(path)
        if problems:
            for line, field_name, message in problems:
                report.error(path, line, field_name, message)
            continue
        existing = db.session.scalar(select(Quiz).where(Quiz.slug == spec["slug"]))
        if _browser_conflict(existing, spec, path, report):
            continue
        quiz = upsert(Quiz, report, spec["digest"], slug=spec["slug"])
        if quiz is None:
            continue
        quiz.title_zh, quiz.title_en = spec["title"]["zh"], spec["title"]["en"]
        quiz.settings, quiz.sections, quiz.content_hash, quiz.active = (spec["settings"], spec["sections"],
                                                                        spec["digest"], True)
        db.session.commit()
    return report
