"""Quiz pages: take a quiz on a phone (answers saved as they are given), results and review,
trainer reports with item analysis, and the trainer's GIFT / Moodle XML upload."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from ..auth.models import Region, User
from ..auth.network import filter_outlets
from ..content.cli import default_content_root
from ..csvexport import columns, place, streamed, table_response, yes_no
from ..extensions import db
from ..i18n import user_lang
from ..inputs import int_arg, parse_int
from ..paging import rows_page
from ..learning.models import Cohort
from ..security import roles_required
from . import attempts as engine
from . import services as svc
from .bank import CATEGORY_RE, run_import
from .forms import ImportForm, StartForm, SubmitForm
from .models import Attempt, QuestionCategory, Quiz

# How each question type and item-analysis flag is named to a reader (pages and exports).
TYPE_LABELS = {"single": _l("Single choice"), "multiple": _l("Multiple choice"), "truefalse": _l("True or false"),
               "short": _l("Short answer"), "numerical": _l("Numerical"), "matching": _l("Matching"),
               "ordering": _l("Ordering")}
FLAG_LABELS = {"negative-discrimination": _l("Negative discrimination"), "too-hard": _l("Very hard"),
               "too-easy": _l("Very easy")}


def type_label(name: str) -> str:
    return str(TYPE_LABELS.get(name, name))


bp = Blueprint("assessment", __name__, url_prefix="/quizzes")

TRAINERS = ("trainer", "admin")
MAX_UPLOAD = 2 * 1024 * 1024  # bytes: a question file is text


def now() -> datetime:
    return datetime.now(timezone.utc)


def _me() -> User:
    return current_user._get_current_object()


def _quiz_or_404(slug: str) -> Quiz:
    quiz = svc.quiz_by_slug(slug)
    if quiz is None:
        abort(404)
    return quiz


def _own_attempt_or_404(attempt_id: int) -> Attempt:
    """A learner's own attempt; anyone else's is 'not found' (not 'forbidden': ids say nothing)."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != current_user.id:
        abort(404)
    return attempt


# --- learners ---------------------------------------------------------------------------------


@bp.route("/")
@roles_required("technician")
def index():
    me, moment = _me(), now()
    return render_template("assessment/index.html", standings=[svc.standing(me, q, moment) for q in svc.active_quizzes()],
                           lang=user_lang())


@bp.route("/<slug>")
@roles_required("technician")
def quiz(slug: str):
    item = _quiz_or_404(slug)
    me = _me()
    return render_template("assessment/quiz.html", quiz=item, standing=svc.standing(me, item, now()),
                           attempts=svc.closed_attempts(me.id, item), form=StartForm(), lang=user_lang())


@bp.route("/<slug>/start", methods=["POST"])
@roles_required("technician")
def start(slug: str):
    item = _quiz_or_404(slug)
    if not StartForm().validate_on_submit():
        abort(400)
    try:
        attempt = engine.start(_me(), item, user_lang(), now())
    except engine.AttemptError as problem:
        flash(str(problem), "error")
        return redirect(url_for("assessment.quiz", slug=slug))
    return redirect(url_for("assessment.attempt", attempt_id=attempt.id))


def _posted_lang() -> str:
    """The language of the page an answer comes from (it may differ from the interface language
    now, if it was switched in another tab since)."""
    lang = request.form.get("lang", "")
    return lang if lang in ("zh", "en") else user_lang()


def _closed_redirect(attempt: Attempt):
    return redirect(url_for("assessment.result", attempt_id=attempt.id))


@bp.route("/attempts/<int:attempt_id>")
@roles_required("technician")
def attempt(attempt_id: int):
    item = _own_attempt_or_404(attempt_id)
    moment = now()
    if item.status == "open" and item.deadline is not None and moment >= item.deadline:
        engine.close(item, moment, timed_out=True)
    if item.status != "open":
        return _closed_redirect(item)
    lang = user_lang()
    questions = engine.shown(item, lang)  # in the reader's language, whichever it was started in
    remaining = int((item.deadline - moment).total_seconds()) if item.deadline else None
    answered = sum(1 for q in questions if q.answer not in (None, [], {}))
    return render_template("assessment/attempt.html", attempt=item, questions=questions, remaining=remaining,
                           answered=answered, form=SubmitForm(), lang=lang)


@bp.route("/attempts/<int:attempt_id>/answer", methods=["POST"])
@roles_required("technician")
def answer(attempt_id: int):
    """Save one answer (the page calls this as each answer is given). A save reads the attempt
    under its row lock, reads and validates the one question answered, and updates that row:
    its cost does not grow with the attempt's length (at the start of an exam hundreds save at once)."""
    item = engine.lock_own(attempt_id, current_user.id)
    if item is None:
        abort(404)
    index = parse_int(request.form.get("index"), 0, len(item.items) - 1)
    if index is None:
        db.session.rollback()  # releases the lock
        return jsonify(ok=False, error=_("There is no such question in this attempt.")), 400
    if item.status != "open":
        db.session.rollback()
        return jsonify(ok=False, closed=True, error=_("This attempt is already closed."),
                       result=url_for("assessment.result", attempt_id=attempt_id)), 409
    try:
        question = engine.shown_one(item, index, _posted_lang())
        response = svc.response_from_form(request.form, question)
        answers, total = {**(item.answers or {}), str(index): response}, len(item.items)  # (not re-read after the commit)
        engine.save_answer(item, index, response, now(), question.lang, locked=True)
    except engine.AttemptError as problem:
        closed = item.status != "open"  # closed by this save when its deadline had passed
        db.session.rollback()  # releases the lock if it is still held
        return jsonify(ok=False, closed=closed, error=str(problem),
                       result=url_for("assessment.result", attempt_id=attempt_id)), 409
    answered = sum(1 for v in answers.values() if v not in (None, [], {}))
    return jsonify(ok=True, answered=answered, total=total)


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
@roles_required("technician")
def submit(attempt_id: int):
    item = _own_attempt_or_404(attempt_id)
    if not SubmitForm().validate_on_submit():
        abort(400)
    moment = now()
    svc.keep_posted_answers(item, request.form, moment, _posted_lang())  # without JavaScript they arrive with the submit
    engine.submit(item, moment)
    return _closed_redirect(item)


@bp.route("/attempts/<int:attempt_id>/result")
@roles_required("technician", *TRAINERS)
def result(attempt_id: int):
    item = db.session.get(Attempt, attempt_id)
    trainer = current_user.has_role(*TRAINERS)
    if item is None or (item.user_id != current_user.id and not trainer):
        abort(404)
    if item.status == "open":
        if item.user_id != current_user.id:
            abort(404)
        return redirect(url_for("assessment.attempt", attempt_id=item.id))
    mode = item.quiz.setting("review", "explanations")
    lang = user_lang()
    lines = svc.review(item, lang) if svc.may_see_questions(item, current_user) else []
    return render_template("assessment/result.html", attempt=item, lines=lines, mode=mode, lang=lang,
                           standing=svc.standing(item.user, item.quiz, now()) if item.user_id == current_user.id else None)


@bp.route("/images/<path:name>")
@roles_required("technician", *TRAINERS)
def image(name: str):
    if len(name) > 255:  # longer than any file name the system can hold
        abort(404)
    root = (Path(default_content_root()).parent / "quizzes" / "images").resolve()
    path = (root / name).resolve()
    if root not in path.parents or not path.is_file() or path.suffix.lower() not in (
            ".png", ".jpg", ".jpeg", ".webp", ".svg"):
        abort(404)
    return send_file(path, max_age=3600)


# --- trainers ---------------------------------------------------------------------------------


def _filters() -> dict:
    return {"cohort_id": int_arg("cohort"), "region_id": int_arg("region"), "outlet_id": int_arg("outlet")}


@bp.route("/reports")
@roles_required(*TRAINERS)
def reports():
    lang = user_lang()
    quizzes = svc.active_quizzes()
    counts = svc.takers_by_quiz()
    return render_template("assessment/reports.html", quizzes=quizzes, counts=counts, lang=lang)


def _item_analysis(quiz, lang: str, filters: dict):
    """The unfiltered item analysis from the figures kept at grading; a filtered one aggregated
    by the database over the filter's responses."""
    if any(filters.values()):
        return svc.item_analysis_sql(quiz, lang, _me(), **filters)
    return svc.item_analysis_kept(quiz, lang, _me())


@bp.route("/<slug>/report")
@roles_required(*TRAINERS)
def report(slug: str):
    """A quiz's results (a page of technicians at a time; the download has them all) and its item
    analysis, both aggregated by the database."""
    item = _quiz_or_404(slug)
    lang = user_lang()
    filters = _filters()
    lines = svc.results_query(item, **filters)
    if request.args.get("format") in ("csv", "xlsx"):
        return table_response(
            columns("username", "name", "outlet", "outlet_name", "attempts", "best_score", "passed", "last_submitted"),
            ([line.user.username, line.user.name, *place(line.user.outlet), line.attempts,
              line.best, yes_no(line.passed),
              line.last.isoformat(timespec="minutes") if line.last else ""]
             for line in map(svc.result_line, streamed(lines, scalars=False))),
            f"{slug}-results", request.args["format"], lazy=True)
    if request.args.get("format") in ("items-csv", "items-xlsx"):
        return table_response(
            columns("category", "question", "type", "seen", "facility", "discrimination", "blank", "flags"),
            ([s.question.category.path, s.question.ident, type_label(s.question.type), s.seen, s.facility,
              s.discrimination, s.blank, " · ".join(str(FLAG_LABELS.get(f, f)) for f in s.flags)]
             for s in _item_analysis(item, lang, filters)),
            f"{slug}-item-analysis", request.args["format"].removeprefix("items-"))
    summary = svc.result_summary(item, **filters)
    page = rows_page(lines, summary.technicians)
    page.items = [svc.result_line(row) for row in page.items]
    return render_template(
        "assessment/report.html", quiz=item, page=page, summary=summary,
        items=_item_analysis(item, lang, filters), type_label=type_label,
        kept=not any(filters.values()),
        discrimination_at=None if any(filters.values()) else svc.discrimination_refreshed(item),
        own_left_out=svc.own_left_out(item, _me(), **filters), filters=filters, lang=lang,
        cohorts=db.session.scalars(select(Cohort).where(  # active ones, and the one chosen even if archived
            Cohort.archived_at.is_(None) | (Cohort.id == filters["cohort_id"])).order_by(Cohort.start_date.desc())).all(),
        regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
        outlets=filter_outlets(filters["region_id"], None, filters["outlet_id"]))


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def import_questions():
    form = ImportForm()
    form.format.choices = [("gift", "GIFT"), ("moodle-xml", "Moodle XML")]
    form.category.choices = [("", _("New category…"))] + [
        (p, p) for p in db.session.scalars(select(QuestionCategory.path).order_by(QuestionCategory.path))]
    outcome = None
    if form.validate_on_submit():
        upload = form.file.data
        raw = upload.read(MAX_UPLOAD + 1)
        category = (form.new_category.data or form.category.data or "").strip()
        problem, text = None, ""
        if len(raw) > MAX_UPLOAD:
            problem = _("The file is larger than %(n)d MB.", n=MAX_UPLOAD // (1024 * 1024))
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                problem = _("The file is not UTF-8 text.")
        if not CATEGORY_RE.match(category):
            form.new_category.errors = list(form.new_category.errors) + [
                _("Choose a category, or name a new one like onboarding/final (lower-case letters, digits, dashes).")]
        elif problem:
            form.file.errors = list(form.file.errors) + [problem]
        else:
            outcome = run_import(text, form.format.data, category, atomic=form.atomic.data)
            if outcome.imported:
                flash(ngettext("Imported %(num)d question into %(category)s.", "Imported %(num)d questions into %(category)s.", outcome.imported, category=category),
                      "success")
            elif form.atomic.data and outcome.skipped:
                flash(_("Nothing was imported: some items could not be, and you asked for all or nothing."),
                      "error")
    return render_template("assessment/import.html", form=form, outcome=outcome)
