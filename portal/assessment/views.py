"""Quiz pages: take a quiz on a phone (answers saved as they are given), results and review,
trainer reports with item analysis, and the trainer's GIFT / Moodle XML upload."""

from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo
from pathlib import Path

from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   send_file,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from ..auth.models import Region, User
from ..auth.network import filter_outlets
from ..auth.services import find_user
from ..content.cli import default_content_root
from ..csvexport import columns, place, streamed, table_response, yes_no
from ..extensions import db
from ..i18n import local_date, user_lang
from ..inputs import NotText, file_text, int_arg, parse_int
from ..paging import rows_page
from ..learning.models import Cohort
from ..security import roles_required
from . import attempts as engine
from . import quizedit
from . import services as svc
from .bank import CATEGORY_RE, export_quiz, run_import
from . import corrections
from .forms import ImportForm, MarkForm, OverrideForm, QuizForm, StartForm, SubmitForm
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
    mode = item.review_mode()
    lang = user_lang()
    # a trainer going through someone else's attempt sees the key too; the candidate never more
    # than the quiz's review mode (also a trainer who took it)
    as_trainer = trainer and item.user_id != current_user.id
    lines = svc.review(item, lang, key=as_trainer) if svc.may_see_questions(item, current_user) else []
    return render_template("assessment/result.html", attempt=item, lines=lines, mode=mode, lang=lang,
                           as_trainer=as_trainer,
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
    return render_template("assessment/reports.html", quizzes=quizzes, counts=counts, lang=lang,
                           editable=quizedit.editable(quizzes, _me()), may_create=quizedit.may_create(_me()))


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
        name = (upload.filename or "")[:120] or _("the file")
        if len(raw) > MAX_UPLOAD:
            problem = _("The file is larger than %(n)d MB.", n=MAX_UPLOAD // (1024 * 1024))
        else:
            try:
                text = file_text(raw)
            except NotText as exc:
                problem = _("Nothing was imported: %(file)s: %(reason)s", file=name, reason=str(exc))
        if not CATEGORY_RE.match(category):
            form.new_category.errors = list(form.new_category.errors) + [
                _("Choose a category, or name a new one like onboarding/final (lower-case letters, digits, dashes).")]
        elif problem:
            form.file.errors = list(form.file.errors) + [problem]
        else:
            outcome = run_import(text, form.format.data, category, atomic=form.atomic.data, name=name)
            if outcome.failure:
                form.file.errors = list(form.file.errors) + [_(
                    "Nothing was imported: %(file)s: %(reason)s", file=name, reason=outcome.failure)]
                outcome = None
            elif outcome.imported:
                flash(ngettext("Imported %(num)d question into %(category)s.", "Imported %(num)d questions into %(category)s.", outcome.imported, category=category),
                      "success")
            elif form.atomic.data and outcome.skipped:
                flash(_("Nothing was imported: some items could not be, and you asked for all or nothing."),
                      "error")
            else:
                flash(_("Nothing was imported: no item of the file could be."), "error")
    return render_template("assessment/import.html", form=form, outcome=outcome)


# --- the quiz editor (trainers and admins; certification exams admins only) ---------------------


def _editable_or_403(slug: str) -> Quiz:
    item = _quiz_or_404(slug)
    if not quizedit.may_edit(item, _me()):
        abort(403)
    return item


def _category_choices() -> list[tuple[str, str]]:
    return [(p, p) for p in db.session.scalars(select(QuestionCategory.path).order_by(QuestionCategory.path))]


def _form_values(item: Quiz | None) -> dict:
    """What the form shows first: the quiz as it is, or a new quiz's defaults."""
    if item is None:
        return {"pass_mark": 80, "attempts": 0, "cooldown_hours": 0, "review": "explanations", "shuffle": True,
                "sections": [{}]}
    values = {"title_zh": item.title_zh, "title_en": item.title_en, "review": item.setting("review", "explanations"),
              "shuffle": bool(item.setting("shuffle", True)), "sections": []}
    for name in ("time_limit_minutes", "pass_mark", "attempts", "cooldown_hours"):
        values[name] = item.setting(name)
    for section in item.sections or []:
        mix = section.get("difficulty") or {}
        values["sections"].append({"draw": section.get("draw"), "categories": section.get("categories") or [],
                                   "tags": ", ".join(section.get("tags") or []), "easy": mix.get("1"),
                                   "medium": mix.get("2"), "hard": mix.get("3")})
    return values


def _file_fields(form: QuizForm) -> dict:
    """The form as the fields of a *.quiz.yaml file, for bank.check_quiz."""
    data = {"title": {"zh": (form.title_zh.data or "").strip(), "en": (form.title_en.data or "").strip()},
            "review": form.review.data, "shuffle": bool(form.shuffle.data), "sections": []}
    for name in ("time_limit_minutes", "pass_mark", "attempts", "cooldown_hours"):
        if getattr(form, name).data is not None:
            data[name] = getattr(form, name).data
    for entry in form.sections:
        row = entry.form
        mix = {level: field.data for level, field in (("1", row.easy), ("2", row.medium), ("3", row.hard))
               if field.data is not None}
        data["sections"].append({"draw": row.draw.data, "categories": list(row.categories.data or []),
                                 "tags": [t.strip() for t in (row.tags.data or "").split(",") if t.strip()],
                                 "difficulty": mix})
    return data


SECTION_FIELDS = {"draw": "draw", "categories": "categories", "tags": "tags", "difficulty": "easy"}


def _show_problems(form: QuizForm, problems: list[tuple[str, str]]) -> list[str]:
    """Each problem beside its field; those of no one field are returned for the top of the form."""
    general = []
    for name, message in problems:
        head, _dot, tail = name.partition(".")
        if name == "title":
            form.title_zh.errors = list(form.title_zh.errors) + [message]
        elif name in form._fields and name.startswith(("slug", "time_", "pass_", "attempts", "cooldown", "review")):
            form[name].errors = list(form[name].errors) + [message]
        elif head.startswith("sections[") and head.endswith("]"):
            index = int(head[len("sections["):-1]) - 1
            if 0 <= index < len(form.sections.entries):
                row = form.sections.entries[index].form
                target = row[SECTION_FIELDS.get(tail, "draw")]
                target.errors = list(target.errors) + [message]
            else:
                general.append(message)
        else:
            general.append(message)
    return general


def _quiz_editor(item: Quiz | None):
    form = QuizForm(data=_form_values(item))
    general: list[str] = []
    if request.method == "POST":
        form.sections.entries = [e for e in form.sections.entries if not e.form.remove.data]
        if form.add_section.data and len(form.sections.entries) < form.sections.max_entries:
            form.sections.append_entry()
    choices = _category_choices()
    for entry in form.sections:
        entry.form.categories.choices = choices
    if request.method == "POST" and form.validate() and not form.add_section.data:
        if not form.sections.entries:
            general.append(_("A list of sections, each drawing questions."))
        else:
            saved, problems = quizedit.save(item, (form.slug.data or "").strip() if item is None else None,
                                            _file_fields(form), _me(), now())
            if saved is not None:
                flash(_("The quiz is saved; it applies to attempts started from now on."), "success")
                return redirect(url_for("assessment.edit_quiz", slug=saved.slug))
            general += _show_problems(form, problems)
    elif request.method == "POST" and form.csrf_token.errors:
        abort(400)
    return render_template("assessment/quiz_edit.html", form=form, quiz=item, general=general, lang=user_lang(),
                           events=quizedit.events(item) if item is not None else [],
                           certification=item is not None and quizedit.is_certification_exam(item))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def new_quiz():
    if not quizedit.may_create(_me()):
        abort(403)
    return _quiz_editor(None)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def edit_quiz(slug: str):
    return _quiz_editor(_editable_or_403(slug))


@bp.route("/<slug>/export")
@roles_required(*TRAINERS)
def export_quiz_file(slug: str):
    """The quiz as its *.quiz.yaml file (loads back to the same quiz with `content load`)."""
    item = _quiz_or_404(slug)
    return Response(export_quiz(item), mimetype="application/x-yaml",
                    headers={"Content-Disposition": f'attachment; filename="{item.slug}.quiz.yaml"'})
# --- a trainer's corrections for one person: overrides, manual marks; every attempt -----------------


def _filter_choices(filters: dict) -> dict:
    """What the report's filter form lists."""
    return {"cohorts": db.session.scalars(select(Cohort).order_by(Cohort.start_date.desc())).all(),
            "regions": db.session.scalars(select(Region).order_by(Region.code)).all(),
            "outlets": filter_outlets(filters["region_id"], None, filters["outlet_id"])}


@bp.route("/<slug>/report/attempts")
@roles_required(*TRAINERS)
def report_attempts(slug: str):
    """Every graded attempt at the quiz, newest first, a page at a time, filtered as the report,
    each linked to its review."""
    item = _quiz_or_404(slug)
    filters = _filters()
    page = rows_page(svc.attempts_query(item, **filters), svc.attempts_count(item, **filters))
    return render_template("assessment/report_attempts.html", quiz=item, page=page, filters=filters,
                           lang=user_lang(), **_filter_choices(filters))


def _technician_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.has_role("technician"):
        abort(404)
    return user


@bp.route("/<slug>/overrides")
@roles_required(*TRAINERS)
def overrides(slug: str):
    """The quiz's overrides, a page at a time; a username opens the form for that person."""
    item = _quiz_or_404(slug)
    username = (request.args.get("username") or "").strip()
    if username:
        user = find_user(username)
        if user is not None and user.has_role("technician"):
            return redirect(url_for("assessment.override", slug=slug, user_id=user.id))
        flash(_("No technician has the username %(name)s.", name=username[:100]), "error")
    filters = _filters()
    return render_template("assessment/overrides.html", quiz=item, page=corrections.overrides_page(item, **filters),
                           filters=filters, username=username[:100], lang=user_lang(), **_filter_choices(filters))


def _local_end_of_day(day) -> datetime:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time(23, 59), zone).astimezone(timezone.utc)


@bp.route("/<slug>/overrides/<int:user_id>", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def override(slug: str, user_id: int):
    """One technician's own rules on the quiz: set, change (the form) or remove."""
    item = _quiz_or_404(slug)
    person = _technician_or_404(user_id)
    own = engine.override_for(person.id, item.id)
    form = OverrideForm(obj=own) if request.method == "GET" and own is not None else OverrideForm()
    if request.method == "GET" and own is not None and own.due_at is not None:
        form.due_on.data = local_date(own.due_at)
    refusal = corrections.refusal(_me(), person)
    if form.validate_on_submit():
        if refusal:
            abort(403)
        try:
            corrections.set_override(item, person, _me(), form.extra_attempts.data, form.lift_cooldown.data,
                                     form.extra_minutes.data,
                                     _local_end_of_day(form.due_on.data) if form.due_on.data else None)
        except corrections.CorrectionError as problem:
            flash(str(problem), "error")
        else:
            flash(_("Saved: %(name)s's own rules on this quiz.", name=person.display_name), "success")
            return redirect(url_for("assessment.override", slug=slug, user_id=user_id))
    return render_template("assessment/override.html", quiz=item, person=person, own=own, form=form,
                           refusal=refusal, remove_form=StartForm(),
                           standing=svc.standing(person, item, now()) if not refusal else None,
                           events=corrections.events(item, person.id), lang=user_lang())


@bp.route("/<slug>/overrides/<int:user_id>/remove", methods=["POST"])
@roles_required(*TRAINERS)
def remove_override(slug: str, user_id: int):
    item = _quiz_or_404(slug)
    person = _technician_or_404(user_id)
    if not StartForm().validate_on_submit():
        abort(400)
    if corrections.refusal(_me(), person):
        abort(403)
    if corrections.remove_override(item, person, _me()):
        flash(_("Removed: %(name)s follows the quiz's own rules again.", name=person.display_name), "success")
    return redirect(url_for("assessment.override", slug=slug, user_id=user_id))


@bp.route("/<slug>/marking")
@roles_required(*TRAINERS)
def marking(slug: str):
    """Typed answers no accepted answer matched, waiting for a trainer's mark (or marked), a page
    at a time, filtered as the report; the viewer's own attempts are not in it."""
    item = _quiz_or_404(slug)
    filters = _filters()
    state = request.args.get("state") if request.args.get("state") in corrections.QUEUE_STATES else "waiting"
    page = corrections.queue_page(item, _me(), state, **filters)
    return render_template("assessment/marking.html", quiz=item, page=page, state=state, filters=filters,
                           form=MarkForm(formdata=None), lang=user_lang(), **_filter_choices(filters))


@bp.route("/<slug>/marking/<int:attempt_id>/<int:number>", methods=["POST"])
@roles_required(*TRAINERS)
def mark(slug: str, attempt_id: int, number: int):
    """Mark the attempt's question ``number`` (1 = the first) by hand."""
    position = number - 1
    item = _quiz_or_404(slug)
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.quiz_id != item.id:
        abort(404)
    form = MarkForm()
    back = request.form.get("next") or ""
    target = back if back.startswith(f"/quizzes/{slug}/marking") else url_for("assessment.marking", slug=slug)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(" ".join(str(e) for f in (form.mark, form.comment) for e in f.errors), "error")
        return redirect(target)
    try:
        before, after = corrections.mark(attempt, position, float(form.mark.data), form.comment.data or "", _me())
    except corrections.CorrectionError as problem:
        flash(str(problem), "error")
        return redirect(target)
    flash(_("Marked. %(name)s's attempt %(n)d: %(before)s%% → %(after)s%%.", name=attempt.user.display_name,
            n=attempt.number, before=f"{before:g}", after=f"{after:g}"), "success")
    return redirect(target)
