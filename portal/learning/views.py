"""Learning pages: my programme, courses and lessons, cohorts, sign-offs, assignments."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from ..auth.models import Province, Region, User, UserRole
from ..auth.network import filter_outlets
from ..auth.services import technician_filter, technicians_query
from ..content.cli import default_content_root
from ..csvexport import column, columns, streamed, table_response, word, yes_no
from ..errors import render_error
from ..extensions import db
from ..i18n import local_today as today
from ..i18n import user_lang
from ..inputs import ListPage, PlainForm, check_text, int_arg
from ..kb.models import PRODUCTS, Case
from ..paging import count, rows_page
from ..security import is_self, roles_required
from ..templating import product_label
from . import members
from . import services as svc
from . import cohorts as manage
from .forms import (AssignmentForm, CohortForm, CohortSettingsForm, CohortTrainerForm, DoneForm, DueDateForm,
                    ExtendForm, SignOffForm, TargetedForm, WithdrawForm)
from .models import Assignment, Cohort, Course, CourseModule, Lesson, PracticalTask
from .render import render_lesson
from .schedule import current_day

bp = Blueprint("learning", __name__, url_prefix="/learning")


def teaching_links(case: Case, lang: str) -> list[tuple[str, str]]:
    """For the case page: the lessons that list this case among what they teach."""
    if not current_user.has_role(*LEARNERS):
        return []
    return [(f"{l.text('title', lang)} · {l.course.text('title', lang)}",
             url_for("learning.lesson", slug=l.course.slug, lesson=l.slug))
            for l in svc.lessons_teaching(case.key)]

LEARNERS = ("technician", "trainer", "admin")
TRAINERS = ("trainer", "admin")
REPORT_PAGE = 100  # overdue technicians, and outlet lines, per page of an assignment report


def _me() -> User:
    return current_user._get_current_object()


def _course_or_404(slug: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug, Course.active))
    if course is None:
        abort(404)
    return course


def _lesson_or_404(course: Course, slug: str) -> Lesson:
    lesson = db.session.scalar(select(Lesson).where(Lesson.course_id == course.id, Lesson.slug == slug,
                                                    Lesson.active))
    if lesson is None:
        abort(404)
    return lesson


# --- learners ---------------------------------------------------------------------------------


@bp.route("/")
@roles_required("technician")
def home():
    me = _me()
    cohorts = svc.cohorts_of(me)
    onboarding = None
    if cohorts:
        onboarding = svc.course_progress(me, cohorts[0].course, cohorts[0].start_date)
    now = today()
    current = current_day([m.date for m in onboarding.modules], now) if onboarding else None
    return render_template("learning/home.html", cohort=cohorts[0] if cohorts else None,
                           onboarding=onboarding, assignments=svc.assignments_for(me, now),
                           targeted=svc.targeted_for(me, now), today=now, current=current, lang=user_lang())


@bp.route("/courses")
@roles_required(*LEARNERS)
def courses():
    rows = db.session.scalars(select(Course).where(Course.active).order_by(Course.kind, Course.slug)).all()
    return render_template("learning/courses.html", courses=rows, lang=user_lang())


@bp.route("/courses/<slug>")
@roles_required(*LEARNERS)
def course(slug: str):
    item = _course_or_404(slug)
    me = _me()
    start = None
    for cohort in svc.cohorts_of(me):
        if cohort.course_id == item.id:
            start = cohort.start_date
            break
    progress = svc.course_progress(me, item, start)
    now = today()
    return render_template("learning/course.html", course=item, progress=progress, lang=user_lang(), today=now,
                           current=current_day([m.date for m in progress.modules], now))


def _resolver(course: Course, lang: str):
    def resolve(kind: str, target: str) -> str | None:
        if kind == "lesson":
            course_slug, _sep, lesson_slug = target.rpartition("/")
            return url_for("learning.lesson", slug=course_slug or course.slug, lesson=lesson_slug)
        if kind == "case":
            found = db.session.execute(select(Case.slug, Case.lang).where(
                Case.key == target, Case.status == "published")).all()
            if not found:
                return None
            chosen = next((s for s, l in found if l == lang), found[0][0])
            return url_for("kb.case", slug=chosen)
        if kind == "quiz":
            return url_for("assessment.quiz", slug=target) if current_user.has_role("technician") else None
        if kind == "image":
            return url_for("learning.image", slug=course.slug, name=target)
        return None

    return resolve


@bp.route("/courses/<slug>/lessons/<lesson>")
@roles_required(*LEARNERS)
def lesson(slug: str, lesson: str):
    course = _course_or_404(slug)
    item = _lesson_or_404(course, lesson)
    me = _me()
    lang = user_lang()
    progress = svc.record_visit(me, item) if me.has_role("technician") else None
    redo = progress is not None and svc.targeted_lesson_open(me, item)
    previous, following = svc.lesson_neighbours(item)
    labels = {"tip": _("Tip"), "warning": _("Warning"), "safety": _("Safety")}
    body = render_lesson(item.body_zh if lang == "zh" else item.body_en, _resolver(course, lang), labels)
    cases = []
    if item.cases:
        found = db.session.scalars(select(Case).where(Case.key.in_(item.cases), Case.status == "published")).all()
        chosen = {}
        for case in found:
            if case.key not in chosen or case.lang == lang:
                chosen[case.key] = case
        cases = [chosen[k] for k in item.cases if k in chosen]
    return render_template("learning/lesson.html", course=course, lesson=item, body=body, lang=lang,
                           progress=progress, previous=previous, following=following, form=DoneForm(),
                           cases=cases, redo=redo)


@bp.route("/courses/<slug>/lessons/<lesson>/done", methods=["POST"])
@roles_required("technician")
def mark_done(slug: str, lesson: str):
    course = _course_or_404(slug)
    item = _lesson_or_404(course, lesson)
    form = DoneForm()
    if not form.validate_on_submit():
        abort(400)
    done = request.form.get("done", "1") == "1"
    svc.set_done(_me(), item, done)
    if done:
        flash(_("Marked as done."), "success")
        _previous, following = svc.lesson_neighbours(item)
        if following is not None and request.form.get("next") == "1":
            return redirect(url_for("learning.lesson", slug=slug, lesson=following.slug))
    return redirect(url_for("learning.lesson", slug=slug, lesson=lesson))


@bp.route("/courses/<slug>/images/<name>")
@roles_required(*LEARNERS)
def image(slug: str, name: str):
    course = _course_or_404(slug)
    if not name or len(name) > 255 or "/" in name or name.startswith(".") or not name.lower().endswith(
            (".png", ".jpg", ".jpeg", ".webp", ".svg")):
        abort(404)
    path = Path(default_content_root()) / "courses" / course.slug / "images" / name
    if not path.is_file():
        abort(404)
    return send_file(path, max_age=3600)


# --- cohorts ----------------------------------------------------------------------------------


def _users_with_role(role: str) -> list[User]:
    return list(db.session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                                   .where(UserRole.role == role, User.active).order_by(User.username)).unique())


@bp.route("/cohorts")
@roles_required(*TRAINERS)
def cohorts():
    """The cohorts, newest first, a page at a time; members and who is behind for that page only.
    Archived cohorts only with ``?archived=1``."""
    archived = request.args.get("archived") == "1"
    query = (select(Cohort).where(Cohort.archived_at.is_not(None) if archived else Cohort.archived_at.is_(None))
             .order_by(Cohort.start_date.desc(), Cohort.id.desc()))
    page = rows_page(query, count(query))
    page.items = [c for (c,) in page.items]
    figures = svc.cohort_figures(page.items, today())
    return render_template("learning/cohorts.html", cohorts=page.items, page=page, figures=figures, lang=user_lang(),
                           archived=archived)


@bp.route("/cohorts/new", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def new_cohort():
    form = CohortForm()
    lang = user_lang()
    programmes = svc.onboarding_courses()
    form.course.choices = [(str(c.id), c.text("title", lang)) for c in programmes]
    form.trainers.choices = [(str(u.id), f"{u.display_name} ({u.username})") for u in _users_with_role("trainer")]
    # Only the ids posted (a move being confirmed): never a list of every technician.
    posted = [int(v) for v in request.form.getlist("members")[:manage.MAX_TICKED] if v.isascii() and v.isdigit()
              and len(v) < 12]
    form.members.choices = [(str(u.id), f"{u.display_name} ({u.username})") for u in db.session.scalars(
        technicians_query().where(User.id.in_(posted)).order_by(User.username))] if posted else []
    if request.method == "GET" and _me().has_role("trainer"):
        form.trainers.data = [str(_me().id)]
    conflicts = []
    if form.validate_on_submit():
        course = db.session.get(Course, int(form.course.data))
        trainers = [db.session.get(User, int(i)) for i in form.trainers.data]
        members = [db.session.get(User, int(i)) for i in form.members.data]
        try:
            cohort = svc.create_cohort(form.name.data, course, form.start_date.data, trainers, members, _me(),
                                       move=bool(form.move.data))
        except svc.CohortConflict as problem:
            form.members.errors.append(str(problem))
            conflicts = problem.conflicts
        except svc.LearningError as problem:
            form.name.errors.append(str(problem))
        else:
            flash(_("Cohort created: the programme is scheduled over working days from %(day)s.",
                    day=format_date(form.start_date.data)), "success")
            if not members:
                return redirect(url_for("learning.cohort_pick", cohort_id=cohort.id))
            return redirect(url_for("learning.cohort", cohort_id=cohort.id))
    return render_template("learning/cohort_form.html", form=form, programmes=programmes, conflicts=conflicts)


@bp.route("/cohorts/<int:cohort_id>")
@roles_required(*TRAINERS)
def cohort(cohort_id: int):
    item = db.session.get(Cohort, cohort_id) or abort(404)
    now = today()
    rows = svc.cohort_matrix(item, now)
    if request.args.get("format") in ("csv", "xlsx"):

        days = svc.cohort_days(item)
        return table_response(
            columns("username", "name", "days_behind")
            + [column("day %(n)d (%(date)s)") % {"n": n, "date": d.isoformat()} for n, (_m, d) in enumerate(days, 1)],
            ([row.user.username, row.user.name, row.behind]
             + [f"{d.lessons_done}/{d.lessons_total} {word(d.status)}" for d in row.days] for row in rows),
            f"cohort-{item.id}", request.args["format"])
    return render_template("learning/cohort.html", cohort=item, days=svc.cohort_days(item), rows=rows, today=now,
                           lang=user_lang(), tasks=item.course.tasks(), task_states=svc.cohort_task_states(item),
                           may_manage=manage.may_manage(_me(), item))


# --- managing a cohort: its own trainers and administrators ----------------------------------------


def _managed_or_403(cohort_id: int) -> Cohort:
    item = db.session.get(Cohort, cohort_id) or abort(404)
    if not manage.may_manage(_me(), item):
        abort(403)
    return item


def _ticked() -> list[int]:
    return [int(v) for v in request.form.getlist("user")[:manage.MAX_TICKED] if v.isascii() and v.isdigit()
            and len(v) < 12]


def _place_lists(found) -> dict:
    return {"regions": db.session.scalars(select(Region).order_by(Region.code)).all(),
            "provinces": db.session.scalars(select(Province).order_by(Province.code)).all(),
            "outlets": filter_outlets(found.region, found.province, found.outlet)}


@bp.route("/cohorts/<int:cohort_id>/settings", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def cohort_settings(cohort_id: int):
    """Rename, move the start date, add a trainer, archive or restore; the cohort's log."""
    item = _managed_or_403(cohort_id)
    adding_trainer = request.form.get("action") == "trainer"
    form = CohortSettingsForm(formdata=None, obj=item) if request.method == "GET" or adding_trainer \
        else CohortSettingsForm()
    trainer_form = CohortTrainerForm(prefix="t")
    have = {t.id for t in item.trainers}
    trainer_form.trainer.choices = [(str(u.id), f"{u.display_name} ({u.username})")
                                    for u in _users_with_role("trainer") if u.id not in have]
    if adding_trainer and trainer_form.validate_on_submit():
        try:
            manage.add_trainer(item, db.session.get(User, int(trainer_form.trainer.data)), _me())
        except svc.LearningError as problem:
            trainer_form.trainer.errors.append(str(problem))
        else:
            flash(_("Trainer added."), "success")
            return redirect(url_for("learning.cohort_settings", cohort_id=item.id))
    elif not adding_trainer and form.validate_on_submit():
        try:
            changed = manage.update_settings(item, form.name.data, form.start_date.data, _me())
        except svc.LearningError as problem:
            form.name.errors.append(str(problem))
        else:
            flash(_("Saved: the schedule now runs over working days from %(day)s.", day=format_date(item.start_date))
                  if "cohort.start-moved" in changed else _("Saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("learning.cohort_settings", cohort_id=item.id))
    return render_template("learning/cohort_settings.html", cohort=item, form=form, trainer_form=trainer_form,
                           archive_form=PlainForm(), events=manage.events(item))


@bp.route("/cohorts/<int:cohort_id>/archive", methods=["POST"])
@roles_required(*TRAINERS)
def cohort_archive(cohort_id: int):
    item = _managed_or_403(cohort_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    archived = request.form.get("archived") == "1"
    manage.set_archived(item, archived, _me())
    flash(_("Archived: the cohort left the active lists and can be restored here.") if archived
          else _("Restored: the cohort is in the active lists again."), "success")
    return redirect(url_for("learning.cohort_settings", cohort_id=item.id))


@bp.route("/cohorts/<int:cohort_id>/members", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def cohort_members(cohort_id: int):
    """The members, found and filtered like the technician list, a page at a time; tick and remove."""
    item = _managed_or_403(cohort_id)
    found = technician_filter(request.args)
    form = PlainForm()
    if form.validate_on_submit():
        try:
            removed = manage.remove(item, _ticked(), _me())
        except svc.LearningError as problem:
            flash(str(problem), "error")
        else:
            flash(ngettext("%(num)d member removed.", "%(num)d members removed.", removed), "success")
        return redirect(url_for("learning.cohort_members", cohort_id=item.id, **found.args()))
    query = manage.members_query(item, found)
    page = rows_page(query, count(query.with_only_columns(User.id)))
    page.items = [u for (u,) in page.items]
    return render_template("learning/cohort_members.html", cohort=item, page=page, found=found, form=form,
                           **_place_lists(found))


@bp.route("/cohorts/<int:cohort_id>/members/add", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def cohort_pick(cohort_id: int):
    """The member picker: technicians found by name or username, place and start date, a page at
    a time; add the ticked ones, or everyone the filter matches (one INSERT … SELECT)."""
    item = _managed_or_403(cohort_id)
    found = technician_filter(request.args)
    form = PlainForm()
    if form.validate_on_submit():
        try:
            if request.form.get("all") == "1":
                added, skipped = manage.add_matching(item, found, _me())
            else:
                added, skipped = manage.add_ticked(item, _ticked(), _me())
        except svc.LearningError as problem:
            flash(str(problem), "error")
        else:
            flash(ngettext("%(num)d member added.", "%(num)d members added.", added)
                  + (" " + ngettext("%(num)d skipped: already in a cohort (or not one who can be added).",
                                    "%(num)d skipped: already in a cohort (or not ones who can be added).", skipped)
                     if skipped else ""), "success" if added else "warning")
        return redirect(url_for("learning.cohort_pick", cohort_id=item.id, **found.args()))
    query = manage.candidates(item, found)
    page = rows_page(query, count(query.with_only_columns(User.id)))
    return render_template("learning/cohort_pick.html", cohort=item, page=page, found=found, form=form,
                           me=_me(), trainer_ids={t.id for t in item.trainers}, **_place_lists(found))


@bp.route("/signoff/<username>/<slug>/<task>", methods=["GET", "POST"])
@roles_required("trainer")
def signoff(username: str, slug: str, task: str):
    technician = db.session.scalar(select(User).where(User.username == username.lower()))
    course = _course_or_404(slug)
    item = db.session.scalar(select(PracticalTask).where(PracticalTask.course_id == course.id,
                                                         PracticalTask.slug == task, PracticalTask.active))
    if technician is None or item is None or not technician.has_role("technician"):
        abort(404)
    refusal = svc.may_sign_off(_me(), technician)
    if refusal and not is_self(_me(), technician):  # oneself: the form says so (record_signoff)
        return render_error(403, refusal)
    form = SignOffForm()
    lang = user_lang()
    problem = None
    if form.validate_on_submit():
        results = []
        for index in range(len(item.checklist)):
            verdict = request.form.get(f"item-{index}")
            results.append((verdict == "pass", request.form.get(f"comment-{index}", "")))
            if verdict not in ("pass", "fail"):
                problem = _("Judge every item: pass or fail.")
            problem = problem or check_text(_("Comment"), results[-1][1], multiline=True)
        if problem is None:
            try:
                result = svc.record_signoff(item, technician, _me(), results, form.comment.data or "")
            except svc.LearningError as error:
                problem = str(error)
            else:
                flash(_("Passed: every item met.") if result.passed else
                      _("Not passed yet: the failed items can be attempted again."),
                      "success" if result.passed else "warning")
                return redirect(url_for("learning.signoff", username=username, slug=slug, task=task))
    return render_template("learning/signoff.html", technician=technician, course=course, task=item,
                           form=form, history=svc.signoff_history(item, technician), lang=lang,
                           problem=problem, posted=request.form if request.method == "POST" else {})


# --- assignments ------------------------------------------------------------------------------


def _fill_assignment_form(form: AssignmentForm, lang: str) -> None:
    rows = db.session.scalars(select(Course).where(Course.active, Course.kind != "onboarding")
                              .order_by(Course.slug)).all()
    form.course.choices = [(str(c.id), c.text("title", lang)) for c in rows]
    form.scope.choices = [("all", _("All active technicians")), ("region", _("One region")),
                          ("product", _("A product line"))]
    form.region.choices = [("", "—")] + [(str(r.id), r.name) for r in
                                         db.session.scalars(select(Region).order_by(Region.code))]
    form.product.choices = [("", "—")] + [(p, product_label(p)) for p in PRODUCTS]


@bp.route("/assignments", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def assignments():
    form = AssignmentForm()
    lang = user_lang()
    _fill_assignment_form(form, lang)
    existing = None
    if form.validate_on_submit():
        course = db.session.get(Course, int(form.course.data))
        region = db.session.get(Region, int(form.region.data)) if form.region.data else None
        try:
            created = svc.create_assignment(course, form.scope.data, form.due_date.data, _me(),
                                            region=region, product=form.product.data or None, today=today())
        except svc.DuplicateAssignment as problem:
            form.course.errors.append(str(problem))
            existing = problem.existing
        except svc.LearningError as problem:
            (form.due_date if form.due_date.data < today() else form.scope).errors.append(str(problem))
        else:
            flash(_("Course assigned."), "success")
            return redirect(url_for("learning.assignment", assignment_id=created.id))
    rows = db.session.scalars(select(Assignment).order_by(Assignment.due_date.desc())).all()
    now = today()
    reports = {a.id: svc.assignment_report(a, now, areas=False) for a in rows}
    return render_template("learning/assignments.html", form=form, assignments=rows, reports=reports,
                           today=now, lang=lang, existing=existing)


@bp.route("/assignments/<int:assignment_id>")
@roles_required(*TRAINERS)
def assignment(assignment_id: int):
    item = db.session.get(Assignment, assignment_id) or abort(404)
    now = today()
    if request.args.get("format") in ("csv", "xlsx"):
        # Every technician it reaches, read from the kept rows in batches while the file is sent.
        yes, no = yes_no(True), yes_no(False)
        rows = ([username, name, code or "", (outlet if code is not None else ""),
                 yes if done is not None else no, yes if done is None and due < now and not item.withdrawn else no]
                for username, name, code, outlet, due, done in streamed(members.export_query(item.id), scalars=False))
        return table_response(columns("username", "name", "outlet", "outlet_name", "complete", "overdue"), rows,
                              f"assignment-{item.id}-{item.course.slug}", request.args["format"], lazy=True)
    report = svc.assignment_report(item, now)
    overdue = ListPage(report.overdue, int_arg("page", 1, 1, 1_000_000), REPORT_PAGE)
    outlets = ListPage(report.outlets, int_arg("outlets", 1, 1, 1_000_000), REPORT_PAGE)
    return render_template("learning/assignment.html", assignment=item, report=report, today=now,
                           overdue=overdue, outlets=outlets, lang=user_lang(), log=svc.assignment_log(item.id),
                           may_manage=svc.manage_refusal(_me(), item) is None)


def _managed_or_refused(assignment_id: int):
    """The assignment, and None; or None and the response refusing (403: not theirs to change;
    back to its page: withdrawn, which is final)."""
    item = db.session.get(Assignment, assignment_id) or abort(404)
    refusal = svc.manage_refusal(_me(), item)
    if refusal:
        return None, render_error(403, refusal)
    if item.withdrawn:
        flash(_("This assignment was withdrawn: it is not changed any more. Assign the course again to make "
                "a new one."), "warning")
        return None, redirect(url_for("learning.assignment", assignment_id=item.id))
    return item, None


@bp.route("/assignments/<int:assignment_id>/due", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def assignment_due(assignment_id: int):
    item, refused = _managed_or_refused(assignment_id)
    if refused is not None:
        return refused
    form = DueDateForm()
    if request.method == "GET":
        form.due_date.data = item.due_date
    if form.validate_on_submit():
        try:
            svc.change_due_date(item, form.due_date.data, _me(), today(), form.reason.data or "")
        except svc.LearningError as problem:
            form.due_date.errors.append(str(problem))
        else:
            flash(_("Due date changed to %(day)s.", day=format_date(form.due_date.data)), "success")
            return redirect(url_for("learning.assignment", assignment_id=item.id))
    return render_template("learning/assignment_change.html", assignment=item, form=form, action="due",
                           lang=user_lang())


@bp.route("/assignments/<int:assignment_id>/withdraw", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def assignment_withdraw(assignment_id: int):
    item, refused = _managed_or_refused(assignment_id)
    if refused is not None:
        return refused
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            svc.withdraw_assignment(item, form.reason.data, _me())
        except svc.LearningError as problem:
            form.reason.errors.append(str(problem))
        else:
            flash(_("Assignment withdrawn: it is off every technician's list."), "success")
            return redirect(url_for("learning.assignment", assignment_id=item.id))
    return render_template("learning/assignment_change.html", assignment=item, form=form, action="withdraw",
                           lang=user_lang())


@bp.route("/assignments/<int:assignment_id>/extend/<username>", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def assignment_extend(assignment_id: int, username: str):
    item, refused = _managed_or_refused(assignment_id)
    if refused is not None:
        return refused
    person = db.session.scalar(select(User).where(User.username == username.lower()))
    if person is None or not person.has_role("technician"):
        abort(404)
    if is_self(_me(), person):
        return render_error(403, _("Nobody decides about themselves: another person must take this decision."))
    form = ExtendForm()
    current = svc.due_for(item, person)
    unreached = None
    if not svc.reaches(item, person):  # e.g. deactivated, or moved out of the region: nothing to extend
        unreached = _("This assignment does not reach %(name)s.", name=person.display_name)
    elif form.validate_on_submit():
        try:
            svc.extend_for(item, person, form.due_date.data, form.reason.data, _me(), today())
        except svc.LearningError as problem:
            form.due_date.errors.append(str(problem))
        else:
            flash(_("%(name)s's due date is now %(day)s.", name=person.display_name,
                    day=format_date(form.due_date.data)), "success")
            return redirect(url_for("learning.assignment_overdue", assignment_id=item.id))
    return render_template("learning/assignment_change.html", assignment=item, form=form, action="extend",
                           person=person, current=current, unreached=unreached, lang=user_lang())


@bp.route("/assignments/<int:assignment_id>/overdue")
@roles_required(*TRAINERS)
def assignment_overdue(assignment_id: int):
    """The assignment's overdue people, a page at a time, filtered by place: each with lessons done
    of the course's, the course quiz (best score or not attempted) and days overdue — a count,
    one query for the page's rows with their lessons done, and one for their quiz results."""
    item = db.session.get(Assignment, assignment_id) or abort(404)
    now = today()
    filters = {"region": int_arg("region"), "province": int_arg("province"), "outlet": int_arg("outlet")}
    query = members.overdue_people_query(item, now, filters["region"], filters["province"], filters["outlet"])
    page = rows_page(query, count(query.with_only_columns(User.id)))
    quiz = item.course.quiz
    results = svc.QUIZZES["results"]([u.id for u, _due, _done in page.items], quiz) if quiz else {}
    page.items = [svc.OverdueFigures(user=u, due=due, lessons_done=done, quiz=results.get(u.id),
                                     days=(now - due).days) for u, due, done in page.items]
    return render_template("learning/assignment_overdue.html", assignment=item, page=page, filters=filters,
                           total=members.lessons_total(item.course_id), has_quiz=bool(quiz), today=now,
                           lang=user_lang(), may_manage=svc.manage_refusal(_me(), item) is None,
                           regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
                           provinces=db.session.scalars(select(Province).where(*(
                               [Province.region_id == filters["region"]] if filters["region"] else []))
                               .order_by(Province.code)).all(),
                           outlets=filter_outlets(filters["region"], filters["province"], filters["outlet"]))


@bp.route("/targeted", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def targeted():
    form = TargetedForm()
    lang = user_lang()
    choices = []
    for course in db.session.scalars(select(Course).where(Course.active).order_by(Course.kind, Course.slug)):
        for module in course.modules:
            if not module.active:
                continue
            choices.append((f"m{module.id}", f"{course.text('title', lang)} · {module.text('title', lang)}"))
            choices.extend((f"l{l.id}", f"— {l.text('title', lang)}") for l in module.lessons if l.active)
    form.item.choices = choices
    if request.method == "GET" and request.args.get("technician"):
        form.technician.data = request.args["technician"]
    if form.validate_on_submit():
        technician = db.session.scalar(select(User).where(User.username == form.technician.data.strip().lower()))
        kind, number = form.item.data[0], int(form.item.data[1:])
        item = db.session.get(Lesson if kind == "l" else CourseModule, number)
        if technician is None:
            form.technician.errors.append(_("No user with this username."))
        else:
            try:
                svc.assign_targeted(technician, item, form.reason.data, form.due_date.data, assigned_by=_me())
            except svc.LearningError as problem:
                form.technician.errors.append(str(problem))
            else:
                flash(_("Assigned to %(name)s.", name=technician.display_name), "success")
                return redirect(url_for("learning.targeted"))
    recent = svc.recent_targeted()
    if request.method == "GET" and request.args.get("format") in ("csv", "xlsx"):

        return table_response(
            columns("username", "name", "course", "lesson_or_module", "reason", "due", "source", "assigned"),
            ([t.user.username, t.user.name, t.course.slug, (t.lesson or t.module).text("title", lang), t.shown_reason,
              t.due_date.isoformat(), t.source, t.created_at.isoformat(timespec="minutes")] for t in recent),
            "targeted-lessons", request.args["format"])
    return render_template("learning/targeted.html", form=form, recent=recent, today=today(), lang=lang)
