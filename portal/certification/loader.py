"""content/certification/tiers.yaml: the tiers and what each requires (see content/README.md).

The file loads whole or not at all; a bad field is reported with its line. Courses and quizzes
it names must exist (they load first)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from ..assessment.models import Quiz
from ..content.files import FileProblem, parse_yaml_file, yaml_line_finder
from ..content.loader import Report, register
from ..extensions import db
from ..learning.models import Course
from .models import Tier

CODE_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
REQUIREMENTS = ("courses", "quiz", "tasks", "months_at_previous", "audits", "contributions",
                "current_quarterly")


def _bilingual(value) -> dict | None:
    if isinstance(value, dict) and all(str(value.get(l) or "").strip() for l in ("zh", "en")):
        return {l: str(value[l]).strip() for l in ("zh", "en")}
    return None


def _whole(value, low: int = 0, high: int = 10_000) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse_tiers(path: Path) -> tuple[list[dict], list[tuple[int, str, str]]]:
    try:
        data, _lines, _digest = parse_yaml_file(path)
    except FileProblem as problem:
        return [], [(problem.line, problem.field, problem.message)]
    at = yaml_line_finder(path)
    problems: list[tuple[int, str, str]] = []
    validity = data.get("validity_months", 12)
    if not _whole(validity, 1, 120):
        problems.append((at("validity_months"), "validity_months", _("Whole months, 1 to 120.")))
    grace = data.get("lapse_grace_days", 30)
    if not _whole(grace, 0, 365):
        problems.append((at("lapse_grace_days"), "lapse_grace_days", _("Whole days, 0 to 365.")))
    entries = data.get("tiers")
    if not isinstance(entries, list) or not entries:
        return [], problems + [(at("tiers"), "tiers", _("A list of tiers."))]
    courses = set(db.session.scalars(select(Course.slug).where(Course.active)))
    quizzes = set(db.session.scalars(select(Quiz.slug).where(Quiz.active)))
    tiers, codes, levels = [], set(), set()
    for i, entry in enumerate(entries):
        where = at("tiers", i)
        if not isinstance(entry, dict):
            problems.append((where, f"tiers[{i + 1}]", _("A tier: code, level, title, requires.")))
            continue
        code = entry.get("code")
        name = f"tiers[{i + 1}]" if not isinstance(code, str) else code
        if not isinstance(code, str) or not CODE_RE.match(code) or code in codes:
            problems.append((at("tiers", i, "code"), f"{name}.code",
                             _("A unique code: lower-case letters, digits, dashes.")))
        level = entry.get("level")
        if not _whole(level, 1, 20) or level in levels:
            problems.append((at("tiers", i, "level"), f"{name}.level", _("A unique level from 1 (the first tier) up.")))
        title = _bilingual(entry.get("title"))
        if title is None:
            problems.append((at("tiers", i, "title"), f"{name}.title", _("The title in both languages: {zh: …, en: …}.")))
        summary = _bilingual(entry.get("summary")) if entry.get("summary") is not None else {"zh": "", "en": ""}
        if summary is None:
            problems.append((at("tiers", i, "summary"), f"{name}.summary", _("Both languages: {zh: …, en: …}.")))
        months = entry.get("validity_months", validity)
        if not _whole(months, 1, 120):
            problems.append((at("tiers", i, "validity_months"), f"{name}.validity_months", _("Whole months, 1 to 120.")))
        req = entry.get("requires") or {}
        if not isinstance(req, dict):
            problems.append((at("tiers", i, "requires"), f"{name}.requires", _("A set of requirements.")))
            continue

        def bad(key, message):
            problems.append((at("tiers", i, "requires", key), f"{name}.requires.{key}", message))

        for key in req:
            if key not in REQUIREMENTS:
                bad(key, _("Unknown requirement; known: %(known)s.", known=", ".join(REQUIREMENTS)))
        for key in ("courses", "tasks"):
            if key in req:
                value = req[key]
                if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                    bad(key, _("A list of course slugs."))
                elif unknown := [c for c in value if c not in courses]:
                    bad(key, _("No such course: %(names)s.", names=", ".join(unknown)))
        if "quiz" in req:
            quiz = req["quiz"]
            if not (isinstance(quiz, dict) and isinstance(quiz.get("slug"), str)
                    and isinstance(quiz.get("min_score", 0), (int, float)) and 0 <= quiz.get("min_score", 0) <= 100):
                bad("quiz", _("{slug: quiz-slug, min_score: 0–100}."))
            elif quiz["slug"] not in quizzes:
                bad("quiz", _("No such quiz: %(name)s.", name=quiz["slug"]))
        if "months_at_previous" in req and not _whole(req["months_at_previous"], 0, 240):
            bad("months_at_previous", _("Whole months, 0 to 240."))
        if "audits" in req:
            audits = req["audits"]
            if not (isinstance(audits, dict) and _whole(audits.get("count"), 1, 100)
                    and isinstance(audits.get("average", 0), (int, float)) and 0 <= audits.get("average", 0) <= 100
                    and _whole(audits.get("months", 12), 1, 60)):
                bad("audits", _("{count: K, average: 0–100, months: N}."))
        if "contributions" in req and not _whole(req["contributions"], 1, 1000):
            bad("contributions", _("How many accepted contributions, 1 or more."))
        if "current_quarterly" in req and not isinstance(req["current_quarterly"], bool):
            bad("current_quarterly", _("true or false."))
        if isinstance(code, str):
            codes.add(code)
        if _whole(level, 1, 20):
            levels.add(level)
        if title and summary is not None:
            tiers.append({"code": code, "level": level, "title": title, "summary": summary,
                          "validity_months": months, "lapse_grace_days": grace, "requires": req})
    if levels and sorted(levels) != list(range(1, len(levels) + 1)):
        problems.append((at("tiers"), "tiers", _("Levels must run 1, 2, 3… without gaps.")))
    for tier in tiers:
        if tier["requires"].get("months_at_previous") and tier["level"] == 1:
            problems.append((at("tiers"), f"{tier['code']}.requires.months_at_previous",
                             _("The first tier has no tier below it.")))
    return tiers, problems


@register("certification", "certification")
def load_tiers(where: Path) -> Report:
    report = Report()
    path = where if where.is_file() else where / "tiers.yaml"
    if not path.is_file():
        return report
    tiers, problems = parse_tiers(path)
    for line, field_name, message in problems:
        report.error(path, line, field_name, message)
    if report.problems:
        return report
    existing = {t.code: t for t in db.session.scalars(select(Tier))}
    for spec in tiers:
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        row = existing.pop(spec["code"], None)
        if row is not None and row.content_hash == digest and row.active:
            report.unchanged += 1
            continue
        if row is None:
            row = Tier(code=spec["code"])
            db.session.add(row)
            report.created += 1
        else:
            report.updated += 1
        row.level, row.validity_months, row.lapse_grace_days = spec["level"], spec["validity_months"], spec["lapse_grace_days"]
        row.title_zh, row.title_en = spec["title"]["zh"], spec["title"]["en"]
        row.summary_zh, row.summary_en = spec["summary"]["zh"], spec["summary"]["en"]
        row.requirements, row.content_hash, row.active = spec["requires"], digest, True
    for row in existing.values():  # tiers no longer in the file: kept for their certificates
        if row.active:
            row.active = False
            report.updated += 1
    db.session.commit()
    return report
