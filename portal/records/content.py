"""Content accountability for trainers: the norm trace and the review list.

* The trace — for each service norm of content/facts.yaml (file order, grouped by kind), the
  lessons that teach it, the questions that ask it and the audit items that check it, read from
  the database (what is loaded, not what the files say). ``flask --app portal content trace
  [--missing]`` prints it; ``/content/trace`` shows it. Three queries whatever the number of
  norms (lessons, questions, current audit templates).
* The review list — ``/content/review``: cases and lessons never reviewed (front matter
  ``reviewed_by`` / ``reviewed_on``) or last reviewed more than 12 months ago, oldest first, paged.

It reads learning, assessment, audits and kb, so it lives at the records layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import click
from babel.lists import format_list
from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import case, func, literal, or_, select, union_all

from ..assessment.models import Question, QuestionCategory
from ..audits.models import AuditTemplate
from ..cliutil import cli_request, fail, needs_schema
from ..content.cli import content_cli, default_content_root
from ..content.facts import Facts, FactsError, facts_for_root
from ..extensions import db
from ..i18n import cli_locale, local_today, user_lang
from ..kb.models import Case
from ..learning.models import Course, Lesson
from ..paging import Page, page_number
from ..security import roles_required

bp = Blueprint("content", __name__, url_prefix="/content")

REVIEW_MONTHS = 12
REVIEW_PAGE = 50  # rows per page of the review list
PARTS = ("lessons", "questions", "audit_items")


def kind_title(kind: str) -> str:
    """A norm kind (facts.py NORM_KINDS) as a heading in the reader's language."""
    return {
        "time-standard": _("Time standards"),
        "seven-steps": _("The seven service steps"),
        "norms-12345": _("The 12345 norms"),
        "red-line": _("Integrity red lines"),
        "polite-phrase": _("Polite phrases"),
        "forbidden-phrase": _("Forbidden phrases"),
        "kpi": _("KPIs"),
        "kpi-formula": _("KPI formulas"),
    }.get(kind, kind)


def part_title(part: str) -> str:
    return {"lessons": _("lessons"), "questions": _("questions"), "audit_items": _("audit items")}[part]


def missing_text(norm: "NormTrace") -> str:
    """"lessons, questions, and audit items" / "课程、试题和暗访检查项"."""
    return format_list([part_title(p) for p in norm.missing], locale=get_locale() or "en")


@dataclass
class NormTrace:
    key: str
    kind: str
    title: dict
    lessons: list = field(default_factory=list)  # (course slug, lesson slug, {zh, en} title)
    questions: list = field(default_factory=list)  # "category/id"
    audit_items: list = field(default_factory=list)  # "form/section/item"

    @property
    def missing(self) -> list[str]:
        return [part for part in PARTS if not getattr(self, part)]


def trace(facts: Facts | None) -> list[tuple[str, list[NormTrace]]]:
    """(kind, its norms' traces) in facts.yaml order, each kind where it first appears."""
    norms = {key: NormTrace(key, n.kind, n.title) for key, n in (facts.norms.items() if facts else ())}
    if norms:
        lessons = db.session.execute(
            select(Course.slug, Lesson.slug, Lesson.norms, Lesson.title_zh, Lesson.title_en)
            .join(Course, Lesson.course_id == Course.id).where(Lesson.active, Course.active)
            .order_by(Course.slug, Lesson.position, Lesson.slug))
        for course_slug, lesson_slug, tags, title_zh, title_en in lessons:
            for key in tags or ():
                if key in norms:
                    norms[key].lessons.append((course_slug, lesson_slug, {"zh": title_zh, "en": title_en}))
        questions = db.session.execute(
            select(QuestionCategory.path, Question.ident, Question.norms)
            .join(QuestionCategory, Question.category_id == QuestionCategory.id).where(Question.active)
            .order_by(QuestionCategory.path, Question.ident))
        for path, ident, tags in questions:
            for key in tags or ():
                if key in norms:
                    norms[key].questions.append(f"{path}/{ident}")
        templates = db.session.execute(select(AuditTemplate.slug, AuditTemplate.spec)
                                       .where(AuditTemplate.current).order_by(AuditTemplate.slug))
        for slug, spec in templates:
            for section in (spec or {}).get("sections", []):
                for item in section.get("items", []):
                    for key in item.get("norms") or ():
                        if key in norms:
                            norms[key].audit_items.append(f"{slug}/{section['id']}/{item['id']}")
    groups: dict[str, list[NormTrace]] = {}
    for norm in norms.values():
        groups.setdefault(norm.kind, []).append(norm)
    return list(groups.items())


def _lang(locale: str) -> str:
    return "zh" if locale.startswith("zh") else "en"


@content_cli.command("trace")
@click.option("--missing", is_flag=True, help="Only the norms missing a lesson, question or audit item.")
@needs_schema
def trace_command(missing: bool):
    """For each norm of content/facts.yaml: the loaded lessons, questions and audit items."""
    with cli_request():
        try:
            facts = facts_for_root(default_content_root())
        except FactsError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            fail(_("content/facts.yaml has problems; fix it first."))
        lang = _lang(cli_locale())
        groups = trace(facts)
        if not groups:
            click.echo(_("No norms in content/facts.yaml."))
        gaps = 0
        for kind, norms in groups:
            shown = [n for n in norms if n.missing] if missing else norms
            gaps += sum(1 for n in norms if n.missing)
            if not shown:
                continue
            click.echo(f"\n{kind_title(kind)}")
            for norm in shown:
                flag = "  " + _("MISSING: %(parts)s", parts=missing_text(norm)) if norm.missing else ""
                click.echo(f"  {norm.key} — {norm.title[lang]}{flag}")
                if missing:
                    continue
                click.echo("    " + _("lessons: %(list)s", list=", ".join(f"{c}/{s}" for c, s, _t in norm.lessons) or "—"))
                click.echo("    " + _("questions: %(list)s", list=", ".join(norm.questions) or "—"))
                click.echo("    " + _("audit items: %(list)s", list=", ".join(norm.audit_items) or "—"))
        total = sum(len(norms) for _kind, norms in groups)
        click.echo("\n" + _("%(n)d norms, %(gaps)d missing a lesson, question or audit item.", n=total, gaps=gaps))


@bp.route("/trace")
@roles_required("trainer", "admin")
def trace_page():
    problems = []
    try:
        facts = facts_for_root(default_content_root())
    except FactsError as exc:
        facts, problems = None, exc.problems
    groups = trace(facts)
    norms = [n for _kind, group in groups for n in group]
    return render_template("content/trace.html", groups=groups, problems=problems, lang=user_lang(),
                           total=len(norms), gaps=sum(1 for n in norms if n.missing),
                           kind_title=kind_title, missing_text=missing_text)


# --- review -----------------------------------------------------------------------------------

def review_cutoff(today: date) -> date:
    """The day 12 months before ``today``: reviewed before it means due again (29 February → 28th)."""
    try:
        return today.replace(year=today.year - 1)
    except ValueError:
        return today.replace(year=today.year - 1, day=28)


REVIEW_STATES = ("never", "stale")


def _due(column, cutoff: date, state: str | None):
    if state == "never":
        return column.is_(None)
    if state == "stale":
        return column < cutoff
    return or_(column.is_(None), column < cutoff)


def _review_sources(cutoff: date, state: str | None = None):
    """(kind, id, reviewed_on) of every published case and active lesson that is due: never
    reviewed, or reviewed before ``cutoff`` (``state``: only one of the two)."""
    cases = select(literal("case").label("kind"), Case.id.label("id"), Case.reviewed_on.label("reviewed_on")) \
        .where(Case.status == "published", _due(Case.reviewed_on, cutoff, state))
    lessons = select(literal("lesson").label("kind"), Lesson.id.label("id"), Lesson.reviewed_on.label("reviewed_on")) \
        .join(Course, Lesson.course_id == Course.id) \
        .where(Lesson.active, Course.active, _due(Lesson.reviewed_on, cutoff, state))
    return union_all(cases, lessons).subquery()


def review_counts(today: date) -> dict:
    """{"never": n, "stale": n} over cases and lessons (one query)."""
    due = _review_sources(review_cutoff(today))
    never, stale = db.session.execute(select(
        func.coalesce(func.sum(case((due.c.reviewed_on.is_(None), 1), else_=0)), 0),
        func.coalesce(func.sum(case((due.c.reviewed_on.is_not(None), 1), else_=0)), 0))).one()
    return {"never": int(never), "stale": int(stale)}


def review_counts_by_kind(today: date) -> dict:
    """{(kind, "never"|"stale"): n} (one query)."""
    due = _review_sources(review_cutoff(today))
    state = case((due.c.reviewed_on.is_(None), "never"), else_="stale")
    rows = db.session.execute(select(due.c.kind, state, func.count()).group_by(due.c.kind, state))
    counts = {(kind, s): 0 for kind in ("case", "lesson") for s in ("never", "stale")}
    counts.update({(kind, s): n for kind, s, n in rows})
    return counts


def review_page(today: date, state: str | None = None, per_page: int | None = None) -> Page:
    """One page of due content (``state``: only never reviewed / only stale), never reviewed
    first, then the oldest review; items are (kind, row) with the case or (lesson, course slug)
    (four queries a page)."""
    per_page = per_page or REVIEW_PAGE
    due = _review_sources(review_cutoff(today), state)
    total = db.session.scalar(select(func.count()).select_from(due))
    number = page_number()
    order = (case((due.c.reviewed_on.is_(None), 0), else_=1), due.c.reviewed_on, due.c.kind, due.c.id)
    keys = db.session.execute(select(due.c.kind, due.c.id).order_by(*order)
                              .limit(per_page).offset((number - 1) * per_page)).all()
    case_ids = [i for kind, i in keys if kind == "case"]
    lesson_ids = [i for kind, i in keys if kind == "lesson"]
    cases = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    lessons = {}
    if lesson_ids:
        lessons = {l.id: (l, slug) for l, slug in db.session.execute(
            select(Lesson, Course.slug).join(Course, Lesson.course_id == Course.id).where(Lesson.id.in_(lesson_ids)))}
    items = [(kind, cases[i] if kind == "case" else lessons[i]) for kind, i in keys
             if (cases if kind == "case" else lessons).get(i) is not None]
    return Page(number, per_page, total, items)


@bp.route("/review")
@roles_required("trainer", "admin")
def review():
    today = local_today()
    state = request.args.get("state") if request.args.get("state") in REVIEW_STATES else None
    return render_template("content/review.html", page=review_page(today, state), state=state,
                           counts=review_counts_by_kind(today), cutoff=review_cutoff(today), lang=user_lang(),
                           today=today)
