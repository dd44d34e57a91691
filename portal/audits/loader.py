"""content/audits/*.yaml: audit templates (format in content/README.md).

Each file loads whole or not at all; a wrong field is named with its line. A changed file
updates its latest version while no report uses it, and becomes a new version once one does,
so editing a template never changes a filed report."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..content.files import FileProblem, parse_yaml_file, yaml_line_finder
from ..content.loader import Report, register
from ..content.rendering import FactsSource, content_root, norm_problem
from ..extensions import db
from ..learning.models import Course, CourseModule, Lesson
from . import rtypes
from .models import Audit, AuditTemplate

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
EVIDENCE = ("none", "comment", "photo")


# Whose doing a section checks: the technician's (scored, failures on their record) or the
# service centre's (hotline, registration, callback: recorded for the outlet, never the technician's).
SECTION_ABOUT = ("technician", "office")


def _both(value) -> dict | None:
    if isinstance(value, dict) and all(str(value.get(l) or "").strip() for l in ("zh", "en")):
        return {l: str(value[l]).strip() for l in ("zh", "en")}
    return None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _resolve_trains(target: str):
    """'lesson:COURSE/LESSON' or 'module:COURSE/N' (N: the module's position, 1-based) → the row."""
    kind, _sep, rest = (target or "").partition(":")
    course_slug, _sep2, name = rest.partition("/")
    course = db.session.scalar(select(Course).where(Course.slug == course_slug, Course.active))
    if course is None or not name:
        return None
    if kind == "lesson":
        return db.session.scalar(select(Lesson).where(Lesson.course_id == course.id, Lesson.slug == name,
                                                      Lesson.active))
    if kind == "module" and name.isdigit():
        modules = [m for m in course.modules if m.active]
        index = int(name) - 1
        return modules[index] if 0 <= index < len(modules) else None
    if kind == "module":
        return db.session.scalar(select(CourseModule).where(CourseModule.course_id == course.id,
                                                            CourseModule.slug == name))
    return None


def parse_template(path: Path, facts: FactsSource | None = None) -> tuple[dict, list[tuple[int, str, str]]]:
    facts = facts or FactsSource(content_root(path, "audits"))
    try:
        data, _lines, _digest = parse_yaml_file(path)
    except FileProblem as problem:
        return {}, [(problem.line, problem.field, problem.message)]
    at = yaml_line_finder(path)
    problems: list[tuple[int, str, str]] = []

    def bad(where, field_name, message):
        problems.append((where, field_name, message))

    slug = data.get("slug") or path.stem
    if not isinstance(slug, str) or not ID_RE.match(slug):
        bad(at("slug"), "slug", _("Lower-case letters, digits and dashes."))
    title = _both(data.get("title"))
    if title is None:
        bad(at("title"), "title", _("The title in both languages: {zh: …, en: …}."))
    summary = _both(data.get("summary")) if data.get("summary") is not None else {"zh": "", "en": ""}
    if summary is None:
        bad(at("summary"), "summary", _("Both languages: {zh: …, en: …}."))

    grades = data.get("grades")
    clean_grades = []
    if not isinstance(grades, list) or not grades:
        bad(at("grades"), "grades", _("A list of grade bands, highest first: {code, min, title}."))
    else:
        last = 101
        for n, grade in enumerate(grades):
            ok = (isinstance(grade, dict) and isinstance(grade.get("code"), str) and ID_RE.match(grade["code"])
                  and _number(grade.get("min")) and 0 <= grade["min"] < last
                  and _both(grade.get("title")))
            if not ok:
                bad(at("grades", n), f"grades[{n + 1}]",
                    _("{code, min (0–100, lower than the band above), title in both languages}."))
                continue
            last = grade["min"]
            clean_grades.append({"code": grade["code"], "min": grade["min"], "title": _both(grade["title"])})
        if clean_grades and (clean_grades[-1]["min"] != 0 or clean_grades[-1]["code"] != "fail"):
            bad(at("grades"), "grades", _("The lowest band must be code fail with min 0 (a red-line failure is a fail)."))

    rules = data.get("rules") or {}
    clean_rules = {}
    if not isinstance(rules, dict):
        bad(at("rules"), "rules", _("A set of rules."))
        rules = {}
    for key in rules:
        if key not in ("red_line", "weak_section", "good_practice"):
            bad(at("rules", key), f"rules.{key}", _("Known rules: red_line, weak_section, good_practice."))
    if "red_line" in rules:
        rule = rules["red_line"]
        if not isinstance(rule, dict) or not all(isinstance(rule.get(k, False), bool)
                                                 for k in ("suspend_certificate", "notify_trainers")):
            bad(at("rules", "red_line"), "rules.red_line", _("{suspend_certificate: true|false, notify_trainers: true|false}."))
        else:
            clean_rules["red_line"] = {"suspend_certificate": rule.get("suspend_certificate", False),
                                       "notify_trainers": rule.get("notify_trainers", False)}
    if "weak_section" in rules:
        rule = rules["weak_section"]
        if not (isinstance(rule, dict) and _number(rule.get("below")) and 0 < rule["below"] <= 100
                and _number(rule.get("due_days", 14)) and isinstance(rule.get("due_days", 14), int)
                and 1 <= rule.get("due_days", 14) <= 365):
            bad(at("rules", "weak_section"), "rules.weak_section", _("{below: 1–100, due_days: 1–365}."))
        else:
            clean_rules["weak_section"] = {"below": rule["below"], "due_days": rule.get("due_days", 14)}
    story_item = None
    if "good_practice" in rules:
        rule = rules["good_practice"]
        codes = {g["code"] for g in clean_grades}
        if not (isinstance(rule, dict) and isinstance(rule.get("grades"), list) and rule["grades"]
                and set(rule["grades"]) <= codes and isinstance(rule.get("story"), str)):
            bad(at("rules", "good_practice"), "rules.good_practice",
                _("{grades: [grade codes], story: the id of the text item that holds the story}."))
        else:
            clean_rules["good_practice"] = {"grades": rule["grades"], "story": rule["story"]}
            story_item = rule["story"]

    sections = data.get("sections")
    clean_sections, seen = [], set()
    if not isinstance(sections, list) or not sections:
        bad(at("sections"), "sections", _("A list of sections."))
        sections = []
    for s_index, section in enumerate(sections):
        where = at("sections", s_index)
        if not isinstance(section, dict) or not isinstance(section.get("id"), str) or not ID_RE.match(section["id"]):
            bad(where, f"sections[{s_index + 1}].id", _("Lower-case letters, digits and dashes."))
            continue
        sid = section["id"]
        if sid in seen:
            bad(where, f"{sid}.id", _("Used twice."))
        seen.add(sid)
        s_title = _both(section.get("title"))
        if s_title is None:
            bad(at("sections", s_index, "title"), f"{sid}.title", _("The title in both languages: {zh: …, en: …}."))
        trains = section.get("trains")
        if trains is not None and (not isinstance(trains, str) or _resolve_trains(trains) is None):
            bad(at("sections", s_index, "trains"), f"{sid}.trains",
                _("lesson:COURSE/LESSON or module:COURSE/N naming a lesson or module that exists."))
        about = section.get("about", "technician")
        if about not in SECTION_ABOUT:
            bad(at("sections", s_index, "about"), f"{sid}.about",
                _("technician (the default) or office (what the service centre did, never held against the technician)."))
            about = "technician"
        if about == "office" and trains is not None:
            bad(at("sections", s_index, "trains"), f"{sid}.trains",
                _("An office section assigns no lesson to the technician."))
        below = section.get("below")
        if below is not None and not (_number(below) and 0 < below <= 100):
            bad(at("sections", s_index, "below"), f"{sid}.below", _("A percentage, 1–100."))
        items = section.get("items")
        clean_items = []
        if not isinstance(items, list) or not items:
            bad(at("sections", s_index, "items"), f"{sid}.items", _("A list of items."))
            items = []
        for i_index, item in enumerate(items):
            iwhere = at("sections", s_index, "items", i_index)
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not ID_RE.match(item["id"]):
                bad(iwhere, f"{sid}.items[{i_index + 1}].id", _("Lower-case letters, digits and dashes."))
                continue
            iid = item["id"]
            if iid in seen:
                bad(iwhere, f"{iid}.id", _("Used twice."))
            seen.add(iid)
            kind = item.get("type")
            if kind not in rtypes.TYPES:
                bad(at("sections", s_index, "items", i_index, "type"), f"{iid}.type",
                    _("One of: %(types)s.", types=", ".join(rtypes.TYPES)))
                continue
            weight = item.get("weight", 0)
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight <= 100:
                bad(at("sections", s_index, "items", i_index, "weight"), f"{iid}.weight", _("0 to 100."))
                continue
            text = _both(item.get("text"))
            if text is None:
                bad(at("sections", s_index, "items", i_index, "text"), f"{iid}.text",
                    _("The question in both languages: {zh: …, en: …}."))
            guidance = _both(item.get("guidance")) if item.get("guidance") is not None else {"zh": "", "en": ""}
            if guidance is None:
                bad(at("sections", s_index, "items", i_index, "guidance"), f"{iid}.guidance",
                    _("Both languages: {zh: …, en: …}."))
            evidence = item.get("evidence", "comment" if item.get("red_line") else "none")
            if evidence not in EVIDENCE:
                bad(at("sections", s_index, "items", i_index, "evidence"), f"{iid}.evidence",
                    _("none, comment or photo (required when the item fails)."))
            options, option_ids = [], set()
            if kind == "choice" and isinstance(item.get("options"), list):
                for o_index, option in enumerate(item["options"]):
                    label = _both(option.get("label")) if isinstance(option, dict) else None
                    oid = option.get("id") if isinstance(option, dict) else None
                    if (label is None or not isinstance(oid, str) or not ID_RE.match(oid) or oid in option_ids
                            or oid == rtypes.NA or not isinstance(option.get("red_line", False), bool)):
                        bad(at("sections", s_index, "items", i_index, "options", o_index), f"{iid}.options",
                            _("Each option: {id (unique, lower-case), label: {zh, en}, score: 0–1, red_line: true|false}."))
                        continue
                    option_ids.add(oid)
                    options.append({"id": option.get("id"), "label": label, "score": option.get("score", 0),
                                    "red_line": bool(option.get("red_line"))})
            red_line = item.get("red_line", False)
            if not isinstance(red_line, bool):
                bad(at("sections", s_index, "items", i_index, "red_line"), f"{iid}.red_line", _("true or false."))
            # A red-line item cannot be dodged by "not applicable" unless the template says so.
            clean = {"id": iid, "type": kind, "weight": weight, "red_line": red_line is True,
                     "text": text, "guidance": guidance, "evidence": evidence,
                     "na": bool(item.get("na", kind != "choice" and red_line is not True))}
            allowed_extra = {"yesno": ("pass_when",), "rating": ("red_line_at",),
                             "number": ("target", "min", "max")}.get(kind, ())
            for extra in ("pass_when", "red_line_at", "target", "min", "max"):
                if extra in item and extra not in allowed_extra:
                    bad(at("sections", s_index, "items", i_index, extra), f"{iid}.{extra}",
                        _("Not used by a %(type)s item.", type=kind))
                elif extra in item:
                    clean[extra] = item[extra]
            if isinstance(clean.get("pass_when"), bool):  # YAML reads a bare yes/no as true/false
                clean["pass_when"] = "yes" if clean["pass_when"] else "no"
            if "red_line_at" in clean and not (isinstance(clean["red_line_at"], int)
                                               and not isinstance(clean["red_line_at"], bool)
                                               and 1 <= clean["red_line_at"] <= 5):
                bad(at("sections", s_index, "items", i_index, "red_line_at"), f"{iid}.red_line_at", _("1 to 5."))
            target = clean.get("target")
            if isinstance(target, dict) and _number(target.get("min", 0)) and _number(target.get("max", 0)) \
                    and "min" in target and "max" in target and target["min"] > target["max"]:
                bad(at("sections", s_index, "items", i_index, "target"), f"{iid}.target", _("min must not exceed max."))
            if kind == "choice":
                clean["options"] = options
            # The service norms (facts.yaml) the item checks; kept only when given, so templates
            # without them keep their digest.
            problem = norm_problem(item.get("norms"), facts)
            if problem:
                bad(at("sections", s_index, "items", i_index, "norms"), f"{iid}.norms", problem)
            elif item.get("norms"):
                clean["norms"] = list(dict.fromkeys(item["norms"]))
            if clean.get("pass_when") not in (None, "yes", "no"):
                bad(at("sections", s_index, "items", i_index, "pass_when"), f"{iid}.pass_when", _("yes or no."))
            for message in rtypes.get(kind).check_spec(clean if kind != "choice" else {**clean, "options": item.get("options")}):
                bad(iwhere, f"{iid}", message)
            if clean["red_line"] and kind not in ("yesno", "rating") and not (kind == "choice" and any(o["red_line"] for o in options)):
                bad(iwhere, f"{iid}.red_line", _("A red-line item is yes/no, a rating, or a choice with a red-line option."))
            if about == "office" and (clean["weight"] or clean["red_line"]
                                      or any(o["red_line"] for o in options) or "red_line_at" in clean):
                bad(iwhere, f"{iid}.weight",
                    _("An item of an office section carries no weight and no red line: it is not the technician's doing."))
            clean_items.append(clean)
        clean_sections.append({"id": sid, "title": s_title, "trains": trains, "below": below, "items": clean_items,
                               "about": about,
                               "guidance": _both(section.get("guidance")) or {"zh": "", "en": ""}})
    if story_item is not None:
        kinds = {i["id"]: i["type"] for s in clean_sections for i in s["items"]}
        if kinds.get(story_item) != "text":
            bad(at("rules", "good_practice"), "rules.good_practice.story", _("The id of a text item in this template."))
    if not any(i["weight"] for s in clean_sections for i in s["items"]):
        bad(at("sections"), "sections", _("At least one item must carry weight."))
    spec = {"slug": slug, "title": title, "summary": summary, "grades": clean_grades, "rules": clean_rules,
            "sections": clean_sections}
    return spec, problems


@register("audits", "audits")
def load_templates(where: Path) -> Report:
    report = Report()
    files = [where] if where.is_file() else sorted(where.glob("*.yaml"))
    facts = FactsSource(content_root(where, "audits"))
    for path in files:
        spec, problems = parse_template(path, facts)
        for line, field_name, message in problems:
            report.error(path, line, field_name, message)
        if problems:
            continue
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        latest = db.session.scalar(select(AuditTemplate).where(AuditTemplate.slug == spec["slug"])
                                   .order_by(AuditTemplate.version.desc()))
        if latest is not None and latest.content_hash == digest:
            report.unchanged += 1
            continue
        used = latest is not None and (db.session.scalar(
            select(func.count()).select_from(Audit).where(Audit.template_id == latest.id)) or 0) > 0
        if latest is None or used:
            if latest is not None:
                latest.current = False
            row = AuditTemplate(slug=spec["slug"], version=(latest.version + 1) if latest else 1)
            db.session.add(row)
            report.created += 1
        else:
            row = latest
            report.updated += 1
        row.title_zh, row.title_en = spec["title"]["zh"], spec["title"]["en"]
        row.spec, row.content_hash, row.current = spec, digest, True
        db.session.commit()
    return report


def current_template(slug: str) -> AuditTemplate | None:
    return db.session.scalar(select(AuditTemplate).where(AuditTemplate.slug == slug, AuditTemplate.current))


def all_items(spec: dict) -> dict[str, dict]:
    return {item["id"]: item for section in spec["sections"] for item in section["items"]}
