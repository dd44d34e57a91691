"""Loading content/courses/ (course.yaml + lessons/<slug>.<lang>.md) and content/calendar/.

A course is loaded whole or not at all: every problem in its files is reported with file,
line and field, and then nothing of that course changes. Loading the same files again
changes nothing; editing a lesson updates it in place, so learners keep their progress.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from ..content.files import FileProblem, parse_front_matter, parse_yaml_file, yaml_line_finder
from ..content.loader import Report, register, upsert
from ..content.rendering import REVIEW_FIELDS, FactsSource, content_root, digest_of, norm_problem, render, review_state
from ..dbtypes import utcnow
from ..extensions import db
from ..i18n import local_today
from ..kb.models import PRODUCTS
from .models import COURSE_KINDS, Course, CourseModule, Holiday, Lesson, PracticalTask
from .schedule import estimate_minutes

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,78}$")
QUARTER_RE = re.compile(r"^\d{4}-Q[1-4]$")
LANGS = ("zh", "en")
COURSE_FIELDS = {"title", "summary", "kind", "quarter", "product", "quiz", "days", "modules", "tasks"}
LESSON_FIELDS = {"title", "lang", "minutes", "cases", "norms", *REVIEW_FIELDS}
LINK_RE = re.compile(r"\]\((lesson|case|quiz):([^)\s]+)\)")


class CourseProblems(Exception):
    def __init__(self, problems: list[tuple[Path, int, str, str]]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _bilingual(value, where: str, required: bool, problems, path, line) -> dict:
    if value is None and not required:
        return {"zh": "", "en": ""}
    if not isinstance(value, dict) or not all(isinstance(value.get(l), str) and value.get(l).strip()
                                               for l in LANGS):
        problems.append((path, line, where, _("Needs zh and en texts, e.g. {zh: …, en: …}.")))
        return {"zh": "", "en": ""}
    extra = [k for k in value if k not in LANGS]
    if extra:
        problems.append((path, line, where, _("Unknown language %(lang)s (zh or en).", lang=extra[0])))
    return {l: value[l].strip() for l in LANGS}


def parse_course(folder: Path, facts: FactsSource | None = None) -> dict:
    """Everything of one course, validated; CourseProblems lists every problem found."""
    facts = facts or FactsSource(content_root(folder, "courses"))
    problems: list[tuple[Path, int, str, str]] = []
    path = folder / "course.yaml"
    slug = folder.name
    if not SLUG_RE.match(slug):
        raise CourseProblems([(path, 1, "slug", _("The folder name must be lower-case letters, "
                                                   "digits and dashes."))])
    if not path.exists():
        raise CourseProblems([(path, 1, "file", _("A course folder needs a course.yaml."))])
    try:
        data, lines, digest = parse_yaml_file(path)
    except FileProblem as problem:
        raise CourseProblems([(path, problem.line, problem.field, problem.message)]) from None
    at = yaml_line_finder(path)
    for name in data:
        if name not in COURSE_FIELDS:
            problems.append((path, lines.get(name, 1), name, _("Unknown field.")))
    course = {"slug": slug, "digest": digest, "path": path}
    course["title"] = _bilingual(data.get("title"), "title", True, problems, path, at("title"))
    course["summary"] = _bilingual(data.get("summary"), "summary", False, problems, path, at("summary"))
    kind = data.get("kind")
    if kind not in COURSE_KINDS:
        problems.append((path, at("kind"), "kind", _("Must be one of: %(names)s.",
                                                     names=", ".join(COURSE_KINDS))))
    course["kind"] = kind
    quarter = data.get("quarter")
    if quarter is not None and not (isinstance(quarter, str) and QUARTER_RE.match(quarter)):
        problems.append((path, at("quarter"), "quarter", _("A quarter like 2026-Q3.")))
    if kind == "quarterly" and quarter is None:
        problems.append((path, 1, "quarter", _("A quarterly course needs its quarter, e.g. 2026-Q3.")))
    course["quarter"] = quarter
    product = data.get("product")
    if product is not None and product not in PRODUCTS:
        problems.append((path, at("product"), "product", _("Must be one of: %(names)s.",
                                                           names=", ".join(PRODUCTS))))
    course["product"] = product
    quiz = data.get("quiz")
    if quiz is not None and not (isinstance(quiz, str) and SLUG_RE.match(quiz)):
        problems.append((path, at("quiz"), "quiz", _("A quiz slug (lower-case letters, digits, dashes).")))
    course["quiz"] = quiz
    # Tasks
    tasks = {}
    raw_tasks = data.get("tasks") or []
    if not isinstance(raw_tasks, list):
        problems.append((path, at("tasks"), "tasks", _("A list of practical tasks.")))
        raw_tasks = []
    for i, task in enumerate(raw_tasks):
        line = at("tasks", i)
        if not isinstance(task, dict):
            problems.append((path, line, f"tasks[{i + 1}]", _("A task needs slug, title and checklist.")))
            continue
        task_slug = task.get("slug")
        if not (isinstance(task_slug, str) and SLUG_RE.match(task_slug)):
            problems.append((path, line, f"tasks[{i + 1}].slug", _("A slug of lower-case letters, digits "
                                                                 "and dashes.")))
            continue
        if task_slug in tasks:
            problems.append((path, line, f"tasks[{i + 1}].slug", _("Used twice.")))
        checklist = task.get("checklist")
        items = []
        if not isinstance(checklist, list) or not checklist:
            problems.append((path, at("tasks", i, "checklist"), f"{task_slug}.checklist",
                             _("A list of at least one item, each {zh: …, en: …}.")))
        else:
            for n, item in enumerate(checklist):
                items.append(_bilingual(item, f"{task_slug}.checklist[{n + 1}]", True, problems, path,
                                        at("tasks", i, "checklist", n)))
        tasks[task_slug] = {
            "slug": task_slug, "checklist": items,
            "title": _bilingual(task.get("title"), f"{task_slug}.title", True, problems, path,
                                at("tasks", i, "title")),
            "description": _bilingual(task.get("description"), f"{task_slug}.description", False,
                                      problems, path, at("tasks", i, "description")),
        }
    # Days or modules
    if "days" in data and "modules" in data:
        problems.append((path, at("modules"), "modules", _("Give days or modules, not both.")))
    name = "days" if "days" in data else "modules"
    raw_modules = data.get(name)
    if not isinstance(raw_modules, list) or not raw_modules:
        problems.append((path, at(name) if name in data else 1, name,
                         _("A list of days or modules, each with its lessons.")))
        raw_modules = []
    modules, lesson_slugs, used_tasks = [], [], set()
    for i, module in enumerate(raw_modules):
        line = at(name, i)
        label = f"{name}[{i + 1}]"
        if not isinstance(module, dict):
            problems.append((path, line, label, _("Needs a title and lessons.")))
            continue
        module_slug = module.get("slug") or (f"day-{i + 1}" if name == "days" else f"m{i + 1}")
        if not (isinstance(module_slug, str) and SLUG_RE.match(module_slug)):
            problems.append((path, line, f"{label}.slug", _("A slug of lower-case letters, digits "
                                                          "and dashes.")))
        lessons = module.get("lessons") or []
        module_tasks = module.get("tasks") or []
        if not isinstance(lessons, list) or not all(isinstance(s, str) for s in lessons):
            problems.append((path, at(name, i, "lessons"), f"{label}.lessons", _("A list of lesson slugs.")))
            lessons = []
        if not isinstance(module_tasks, list) or not all(isinstance(s, str) for s in module_tasks):
            problems.append((path, at(name, i, "tasks"), f"{label}.tasks", _("A list of task slugs.")))
            module_tasks = []
        for n, lesson_slug in enumerate(lessons):
            if not SLUG_RE.match(lesson_slug):
                problems.append((path, at(name, i, "lessons"), f"{label}.lessons",
                                 _("%(slug)s is not a valid slug.", slug=lesson_slug)))
            elif lesson_slug in lesson_slugs:
                problems.append((path, at(name, i, "lessons"), f"{label}.lessons",
                                 _("%(slug)s is listed twice.", slug=lesson_slug)))
            lesson_slugs.append(lesson_slug)
        for task_slug in module_tasks:
            if task_slug not in tasks:
                problems.append((path, at(name, i, "tasks"), f"{label}.tasks",
                                 _("No task %(slug)s under tasks.", slug=task_slug)))
            used_tasks.add(task_slug)
        modules.append({"slug": module_slug, "position": i + 1, "lessons": lessons, "tasks": module_tasks,
                        "title": _bilingual(module.get("title"), f"{label}.title", True, problems, path,
                                            at(name, i, "title"))})
    for task_slug in tasks:
        if task_slug not in used_tasks:
            problems.append((path, at("tasks"), f"{task_slug}", _("The task is in no day or module.")))
    course["modules"], course["tasks"] = modules, tasks
    # Lessons: both languages of every listed lesson, and no file that is not listed.
    lesson_dir = folder / "lessons"
    files = {p.name: p for p in lesson_dir.glob("*.md")} if lesson_dir.is_dir() else {}
    lessons = {}
    for lesson_slug in lesson_slugs:
        lesson = {"slug": lesson_slug, "texts": {}, "digests": []}
        for lang in LANGS:
            file = files.pop(f"{lesson_slug}.{lang}.md", None)
            if file is None:
                problems.append((lesson_dir / f"{lesson_slug}.{lang}.md", 1, "file",
                                 _("Listed in course.yaml but the file is missing.")))
                continue
            try:
                lesson["texts"][lang] = parse_lesson(file, lang, lesson_slugs, facts)
                lesson["digests"].append(lesson["texts"][lang]["digest"])
            except FileProblem as problem:
                problems.append((file, problem.line, problem.field, problem.message))
        lessons[lesson_slug] = lesson
    for leftover in sorted(files.values()):
        if not leftover.name.lower().startswith("readme"):
            problems.append((leftover, 1, "file", _("Not listed in course.yaml (add it to a day or "
                                                    "module, or remove the file).")))
    course["lessons"] = lessons
    if problems:
        raise CourseProblems(problems)
    return course


def parse_lesson(path: Path, lang: str, course_lessons: list[str], facts: FactsSource | None = None) -> dict:
    """One lesson file's fields, its body and title rendered ({{fact:KEY}}) in ``lang``."""
    facts = facts or FactsSource(content_root(path, "courses"))
    parsed = parse_front_matter(path)
    data = parsed.data
    for name in data:
        if name not in LESSON_FIELDS:
            raise FileProblem(parsed.line_of(name), name, _("Unknown field."))
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise FileProblem(parsed.line_of("title"), "title", _("Required, at most 200 characters."))
    if "lang" in data and data["lang"] != lang:
        raise FileProblem(parsed.line_of("lang"), "lang", _("The file name says another language."))
    minutes = data.get("minutes")
    if minutes is not None and not (isinstance(minutes, int) and 1 <= minutes <= 600):
        raise FileProblem(parsed.line_of("minutes"), "minutes", _("Whole minutes, 1 to 600."))
    cases = data.get("cases") or []
    if not isinstance(cases, list) or not all(isinstance(c, str) for c in cases):
        raise FileProblem(parsed.line_of("cases"), "cases", _("A list of fault-case keys."))
    problem = norm_problem(data.get("norms"), facts)
    if problem:
        raise FileProblem(parsed.line_of("norms"), "norms", problem)
    reviewed_by, reviewed_on, problem = review_state(data, local_today())
    if problem:
        raise FileProblem(parsed.line_of(problem[0]), problem[0], problem[1])
    if not parsed.body:
        raise FileProblem(parsed.body_line, "body", _("The lesson has no text."))
    rendered_title, unknown = render(title.strip(), lang, facts, parsed.line_of("title"))
    if unknown:
        raise FileProblem(unknown[0][0], "title", unknown[0][1])
    body, unknown = render(parsed.body, lang, facts, parsed.body_line)
    if unknown:
        raise FileProblem(unknown[0][0], "body", unknown[0][1])
    for number, line in enumerate(parsed.body.splitlines(), start=parsed.body_line):
        for kind, target in LINK_RE.findall(line):
            if kind == "lesson" and "/" not in target and target not in course_lessons:
                raise FileProblem(number, "body", _("Link to lesson %(slug)s, which this course does not "
                                                    "have.", slug=target))
    return {"title": rendered_title, "body": body, "cases": cases,
            "digest": digest_of(parsed.digest, [title.strip(), parsed.body], [rendered_title, body]),
            "minutes": minutes or estimate_minutes(body, lang), "norms": list(data.get("norms") or []),
            "review": (reviewed_by, reviewed_on)}


def lesson_review(texts: dict) -> tuple[str | None, date | None]:
    """A lesson is reviewed when both language files say so; its date is the older of the two
    (what a reader of either language sees was checked no later than that)."""
    reviews = [texts[lang]["review"] for lang in LANGS]
    if any(on is None for _by, on in reviews):
        return None, None
    return min(reviews, key=lambda review: review[1])


def _course_digest(course: dict) -> str:
    parts = [course["digest"]] + [d for lesson in course["lessons"].values() for d in lesson["digests"]]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def store_course(course: dict, report: Report) -> None:
    """Create or update the course's rows in place (ids kept, so progress is kept)."""
    digest = _course_digest(course)
    row = upsert(Course, report, digest, slug=course["slug"])
    if row is None:
        return
    row.kind, row.quarter, row.product, row.quiz = (course["kind"], course["quarter"], course["product"],
                                                    course["quiz"])
    row.title_zh, row.title_en = course["title"]["zh"], course["title"]["en"]
    row.summary_zh, row.summary_en = course["summary"]["zh"], course["summary"]["en"]
    row.content_hash, row.active, row.updated_at = digest, True, utcnow()
    db.session.flush()
    modules = {m.slug: m for m in db.session.scalars(select(CourseModule).where(CourseModule.course_id == row.id))}
    lessons = {l.slug: l for l in db.session.scalars(select(Lesson).where(Lesson.course_id == row.id))}
    tasks = {t.slug: t for t in db.session.scalars(select(PracticalTask).where(PracticalTask.course_id == row.id))}
    for module in modules.values():
        module.active = False
    for lesson in lessons.values():
        lesson.active = False
    for task in tasks.values():
        task.active = False
    for spec in course["modules"]:
        module = modules.get(spec["slug"])
        if module is None:
            module = CourseModule(course_id=row.id, slug=spec["slug"], position=spec["position"],
                                  title_zh="", title_en="")
            db.session.add(module)
            modules[spec["slug"]] = module
        module.position, module.active = spec["position"], True
        module.title_zh, module.title_en = spec["title"]["zh"], spec["title"]["en"]
        db.session.flush()
        for position, lesson_slug in enumerate(spec["lessons"], start=1):
            texts = course["lessons"][lesson_slug]["texts"]
            lesson = lessons.get(lesson_slug)
            if lesson is None:
                lesson = Lesson(course_id=row.id, slug=lesson_slug, title_zh="", title_en="")
                db.session.add(lesson)
                lessons[lesson_slug] = lesson
            lesson.module_id, lesson.position, lesson.active = module.id, position, True
            lesson.title_zh, lesson.title_en = texts["zh"]["title"], texts["en"]["title"]
            lesson.body_zh, lesson.body_en = texts["zh"]["body"], texts["en"]["body"]
            lesson.minutes_zh, lesson.minutes_en = texts["zh"]["minutes"], texts["en"]["minutes"]
            lesson.cases = list(dict.fromkeys(texts["zh"]["cases"] + texts["en"]["cases"]))
            lesson.norms = list(dict.fromkeys(texts["zh"]["norms"] + texts["en"]["norms"]))
            lesson.reviewed_by, lesson.reviewed_on = lesson_review(texts)
            lesson.content_hash = "".join(course["lessons"][lesson_slug]["digests"])[:64]
        for position, task_slug in enumerate(spec["tasks"], start=1):
            spec_task = course["tasks"][task_slug]
            task = tasks.get(task_slug)
            if task is None:
                task = PracticalTask(course_id=row.id, slug=task_slug, title_zh="", title_en="")
                db.session.add(task)
                tasks[task_slug] = task
            task.module_id, task.position, task.active = module.id, position, True
            task.title_zh, task.title_en = spec_task["title"]["zh"], spec_task["title"]["en"]
            task.description_zh = spec_task["description"]["zh"]
            task.description_en = spec_task["description"]["en"]
            task.checklist = spec_task["checklist"]


@register("courses", "courses")
def load_courses(where: Path) -> Report:
    report = Report()
    if where.is_file():  # one file of a course: load its whole course
        where = where.parent.parent if where.parent.name == "lessons" else where.parent
    folders = [where] if (where / "course.yaml").exists() else sorted(
        p for p in where.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    facts = FactsSource(content_root(where, "courses"))
    for folder in folders:
        try:
            course = parse_course(folder, facts)
        except CourseProblems as failed:
            for path, line, field_name, message in failed.problems:
                report.error(path, line, field_name, message)
            continue
        try:
            store_course(course, report)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return report


@register("calendar", "calendar")
def load_calendar(where: Path) -> Report:
    """content/calendar/*.yaml: ``holidays:`` (weekdays off) and ``workdays:`` (weekend days
    worked), each a list of {date: YYYY-MM-DD, name: …}. The files together replace the table."""
    report = Report()
    files = [where] if where.is_file() else sorted(where.glob("*.yaml"))
    wanted: dict[date, tuple[bool, str]] = {}
    for path in files:
        try:
            data, lines, _digest = parse_yaml_file(path)
        except FileProblem as problem:
            report.error(path, problem.line, problem.field, problem.message)
            continue
        at = yaml_line_finder(path)
        for key, working in (("holidays", False), ("workdays", True)):
            entries = data.get(key) or []
            if not isinstance(entries, list):
                report.error(path, at(key), key, _("A list of {date: YYYY-MM-DD, name: …}."))
                continue
            for i, entry in enumerate(entries):
                day = entry.get("date") if isinstance(entry, dict) else None
                if not isinstance(day, date):
                    report.error(path, at(key, i), f"{key}[{i + 1}].date", _("A date like 2026-10-01."))
                    continue
                if day in wanted and wanted[day][0] != working:
                    report.error(path, at(key, i), f"{key}[{i + 1}].date",
                                 _("Listed both as a holiday and as a working day."))
                    continue
                wanted[day] = (working, str(entry.get("name") or "")[:100])
    if report.problems:
        return report
    existing = {h.day: h for h in db.session.scalars(select(Holiday))}
    for day, (working, name) in wanted.items():
        row = existing.pop(day, None)
        if row is None:
            db.session.add(Holiday(day=day, working=working, name=name))
            report.created += 1
        elif (row.working, row.name) != (working, name):
            row.working, row.name = working, name
            report.updated += 1
        else:
            report.unchanged += 1
    if where.is_dir():
        for row in existing.values():
            db.session.delete(row)
    db.session.commit()
    return report
