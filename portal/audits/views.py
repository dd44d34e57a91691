"""Audit pages: filing on a phone (every answer saved as given), the report and its history,
amendments, acknowledgement, good-practice stories, trainer reports, technician records, and
the JSON API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import RequestEntityTooLarge

from .. import apidoc
from ..auth.api import bp as api_bp
from ..auth.models import User
from ..auth.services import active_technicians
from ..csvexport import columns, place, streamed, table_response
from ..errors import render_error
from ..extensions import db
from ..i18n import user_lang
from ..inputs import MAX_PAGE, int_arg
from ..kb.photos import MAX_BYTES as MAX_PHOTO_BYTES
from ..kb.photos import MAX_PIXELS as MAX_PHOTO_PIXELS
from ..paging import count, page_size, rows_page
from ..products import PRODUCTS
from ..security import json_error, roles_required
from ..templating import product_label
from . import api as audit_api
from . import reports as rep
from . import services as svc
from . import visit_services
from .forms import AmendForm, AuditHeaderForm, PlainForm
from .loader import all_items, current_template
from .models import Audit, AuditPhoto, AuditTemplate, GoodPracticeStory
from .scoring import score_report

bp = Blueprint("audits", __name__, url_prefix="/audits")

READERS = ("auditor", "trainer", "technician")


def now() -> datetime:
    return datetime.now(timezone.utc)


def _me() -> User:
    return current_user._get_current_object()


def _visible_or_404(audit_id: int) -> Audit:
    audit = db.session.scalar(svc.visible_audits(_me()).where(Audit.id == audit_id))
    if audit is None:
        abort(404)
    return audit


def _own_draft_or_404(audit_id: int) -> Audit:
    audit = db.session.get(Audit, audit_id)
    if audit is None or audit.auditor_id != current_user.id:
        abort(404)
    return audit


def _technicians() -> list[User]:
    """Whom this auditor may audit: every active technician but themself."""
    return [u for u in active_technicians() if u.id != current_user.id]


def _templates() -> list[AuditTemplate]:
    return list(db.session.scalars(select(AuditTemplate).where(AuditTemplate.current).order_by(AuditTemplate.slug)))


def _local(moment: datetime | None):
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


# --- the list and starting --------------------------------------------------------------------


@bp.route("/")
@roles_required(*READERS)
def index():
    me = _me()
    query = svc.visible_audits(me)
    days = int_arg("days", None, 1, 36500)
    if days:  # the dashboard's "last N days" figures link here
        query = query.where(Audit.status == "submitted", Audit.visited_at >= now() - timedelta(days=days))
    if request.args.get("red_line") == "1":
        query = query.where(Audit.red_line_failed.is_(True))
    # A page at a time, counted by the database: the dashboard's figures (18,000 reports in 90
    # days at network size) are this list's length, not its first 500 rows.
    page = rows_page(query.options(joinedload(Audit.technician).lazyload(User.role_rows),
                                   joinedload(Audit.auditor).lazyload(User.role_rows))
                     .order_by(Audit.visited_at.desc(), Audit.id.desc()), count(query))
    page.items = [row[0] for row in page.items]
    return render_template("audits/index.html", audits=page.items, page=page, days=days, lang=user_lang(), me=me,
                           show_auditor=me.has_role("trainer"), filtered=bool(days or request.args.get("red_line")))


def _header_choices(form, technicians: list[User]) -> None:
    form.technician.choices = [("", _("Choose…"))] + [(u.username, f"{u.display_name} · {u.username}")
                                                      for u in technicians]
    form.product.choices = [("", _("Choose…"))] + [(p, label) for p, label in _product_labels()]


def _posted_header(form) -> tuple[User | None, datetime | None]:
    technician = db.session.scalar(select(User).where(User.username == form.technician.data))
    visited = form.visited_at.data
    visited = visited.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])) if visited else None
    return technician, visited


@bp.route("/new", methods=["GET", "POST"])
@roles_required("auditor")
def new():
    form = AuditHeaderForm()
    lang = user_lang()
    _header_choices(form, _technicians())
    form.template.choices = [(t.slug, t.title(lang)) for t in _templates()]
    duplicate = None
    planned = _prefill_from_visit(form)
    if form.validate_on_submit():
        technician, visited = _posted_header(form)
        template = current_template(form.template.data)
        try:
            if template is None:
                raise svc.AuditInvalid({"template": _("Choose a form.")})
            audit = svc.start(_me(), technician, template, visited, form.work_order.data or "",
                              form.product.data or "", form.city.data or "", now())
        except svc.AuditInvalid as invalid:
            _field_errors(form, invalid.problems)
        except svc.DuplicateVisit as repeat:
            duplicate = repeat.existing
        else:
            return redirect(url_for("audits.edit", audit_id=audit.id))
    return render_template("audits/new.html", form=form, duplicate=duplicate, planned=planned), \
        (200 if duplicate is None else 409)


def _prefill_from_visit(form):
    """``?visit=ID`` (the auditor's own open visit): the technician, the programme's form and the
    outlet's city filled in on the first showing. The report is linked to the visit when it is
    submitted (services.link_visit), by its auditor, technician and form."""
    visit_id = int_arg("visit", None, 1, 2**31)
    visit = visit_services.open_visit_for(_me(), visit_id) if visit_id else None
    if visit is None:
        return None
    if request.method == "GET":
        if any(value == visit.technician.username for value, _label in form.technician.choices):
            form.technician.data = visit.technician.username
        programme = visit_services.programme_of(visit)
        if programme is not None and any(value == programme.template_slug for value, _label in form.template.choices):
            form.template.data = programme.template_slug
        row = visit_services.rows([visit], visit.due_on)[0]
        if row.outlet is not None and row.outlet.city:
            form.city.data = row.outlet.city
    return visit


def _field_errors(form, problems: dict[str, str]) -> None:
    for name, message in problems.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + [message]
        else:
            flash(message, "error")


@bp.route("/<int:audit_id>/header", methods=["GET", "POST"])
@roles_required("auditor")
def edit_header(audit_id: int):
    """Correct a draft's technician, visit time, work order, product or city."""
    audit = _own_draft_or_404(audit_id)
    if audit.status != "draft":
        return redirect(url_for("audits.view", audit_id=audit.id))
    form = AuditHeaderForm(obj=None if request.method == "POST" else _header_data(audit))
    del form.template  # the answers belong to the form they were given on
    technicians = _technicians()
    if audit.technician not in technicians:
        technicians.append(audit.technician)  # deactivated since: shown, and refused if kept
    _header_choices(form, technicians)
    duplicate = None
    if form.validate_on_submit():
        technician, visited = _posted_header(form)
        try:
            svc.edit_header(audit, _me(), technician, visited, form.work_order.data or "", form.product.data or "",
                            form.city.data or "", now())
        except svc.AuditInvalid as invalid:
            _field_errors(form, invalid.problems)
        except svc.DuplicateVisit as repeat:
            duplicate = repeat.existing
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("audits.edit", audit_id=audit.id))
    return render_template("audits/new.html", form=form, duplicate=duplicate, editing=audit), \
        (409 if duplicate else 400 if form.errors else 200)


def _header_data(audit: Audit) -> SimpleNamespace:
    return SimpleNamespace(technician=audit.technician.username, work_order=audit.work_order, product=audit.product,
                           city=audit.city, visited_at=_local(audit.visited_at).replace(tzinfo=None))


@bp.route("/<int:audit_id>/delete", methods=["GET", "POST"])
@roles_required("auditor")
def delete(audit_id: int):
    """Delete a draft, after a confirmation page."""
    audit = _own_draft_or_404(audit_id)
    if audit.status != "draft":
        return redirect(url_for("audits.view", audit_id=audit.id))
    form = PlainForm()
    if form.validate_on_submit():
        svc.delete_draft(audit, _me())
        flash(_("Draft #%(n)d deleted.", n=audit_id), "success")
        return redirect(url_for("audits.index"))
    return render_template("audits/delete.html", audit=audit, form=form, lang=user_lang(),
                           visited=_local(audit.visited_at))


def _product_labels():
    return [(p, product_label(p)) for p in PRODUCTS]


# --- filling a draft --------------------------------------------------------------------------


def _render_edit(audit: Audit, problems: dict | None = None, typed: dict | None = None, status: int = 200):
    return render_template("audits/edit.html", audit=audit, spec=audit.template.spec, lang=user_lang(),
                           problems=problems or {}, typed=typed or {}, form=PlainForm(),
                           photos={}, visited=_local(audit.visited_at), photo_max=MAX_PHOTO_BYTES,
                           photo_megapixels=MAX_PHOTO_PIXELS // 1_000_000,
                           photo_too_large=photo_too_large()), status


@bp.route("/<int:audit_id>/edit")
@roles_required("auditor")
def edit(audit_id: int):
    audit = _own_draft_or_404(audit_id)
    if audit.status != "draft":
        return redirect(url_for("audits.view", audit_id=audit.id))
    return _render_edit(audit)


def _answers_from_form(audit: Audit, form) -> tuple[dict, dict]:
    values, comments = {}, {}
    for item_id in all_items(audit.template.spec):
        if f"r.{item_id}" in form:
            values[item_id] = form.get(f"r.{item_id}")
        if f"c.{item_id}" in form:
            comments[item_id] = form.get(f"c.{item_id}")
    return values, comments


def _save_all(audit: Audit, form) -> dict[str, str]:
    return svc.save_answers(audit, *_answers_from_form(audit, form))


@bp.route("/<int:audit_id>/answer", methods=["POST"])
@roles_required("auditor")
def answer(audit_id: int):
    """One answer, as the page sends it when it is given (JSON reply)."""
    audit = _own_draft_or_404(audit_id)
    item_id = request.form.get("item", "")
    if audit.status != "draft":
        return jsonify(ok=False, error=_("This report is submitted and locked.")), 409
    if item_id not in all_items(audit.template.spec):
        return jsonify(ok=False, error=_("There is no such item in this form.")), 400
    try:
        svc.save_answer(audit, item_id, request.form.get("value"), request.form.get("comment"))
    except svc.AuditInvalid as invalid:
        return jsonify(ok=False, error=invalid.problems.get(item_id, str(invalid))), 400

    scored = score_report(audit.template.spec, audit.responses or {})
    return jsonify(ok=True, answered=len(audit.responses or {}), score=scored.score)


def _save_page(audit_id: int, submit: bool):
    audit = _own_draft_or_404(audit_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    if audit.status != "draft":
        return redirect(url_for("audits.view", audit_id=audit.id))
    problems = _save_all(audit, request.form)
    if problems:
        return _render_edit(audit, problems, dict(request.form), 400)
    if not submit:
        flash(_("Saved."), "success")
        return redirect(url_for("audits.edit", audit_id=audit.id))
    try:
        svc.submit(audit, now())
    except svc.AuditInvalid as invalid:
        return _render_edit(audit, invalid.problems, status=400)
    except svc.AuditError as problem:
        flash(str(problem), "error")
        return redirect(url_for("audits.edit", audit_id=audit.id))
    flash(_("Report submitted: %(score)s%%, %(result)s.", score=f"{audit.score:g}" if audit.score is not None else "–",
            result=grade_title(audit.template.spec, audit.result, user_lang())), "success")
    return redirect(url_for("audits.view", audit_id=audit.id))


@bp.route("/<int:audit_id>/save", methods=["POST"])
@roles_required("auditor")
def save(audit_id: int):
    """Without JavaScript: save everything on the page (and submit when the Submit button sent it)."""
    return _save_page(audit_id, submit=request.form.get("submit") == "1")


@bp.route("/<int:audit_id>/submit", methods=["POST"])
@roles_required("auditor")
def submit(audit_id: int):
    return _save_page(audit_id, submit=True)


@bp.route("/<int:audit_id>/photos", methods=["POST"])
@roles_required("auditor")
def upload_photo(audit_id: int):
    audit = _own_draft_or_404(audit_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    item_id = request.form.get("item", "")
    upload = request.files.get("photo")
    try:
        if upload is None or not upload.filename:
            raise svc.AuditError(_("Choose a photo."))
        svc.add_photo(audit, item_id, upload.read(svc_max_bytes() + 1))
    except svc.AuditError as problem:
        flash(str(problem), "error")
    else:
        flash(_("Photo added."), "success")
    return redirect(url_for("audits.edit", audit_id=audit.id) + f"#item-{item_id}")


def svc_max_bytes() -> int:
    return MAX_PHOTO_BYTES


def photo_too_large() -> str:
    return _("That photo is larger than %(n)d MB, the most the portal accepts: take it at a lower resolution "
             "or choose a smaller copy.", n=MAX_PHOTO_BYTES // (1024 * 1024))


DRAIN_LIMIT = 64 * 1024 * 1024


def _drain_request_body() -> None:
    """Read (and drop) a refused upload so the browser, still sending it, gets the answer
    instead of a reset connection."""
    left = min(request.content_length or 0, DRAIN_LIMIT)
    stream = request.environ.get("wsgi.input")
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 64 * 1024))
        if not chunk:
            break
        left -= len(chunk)


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(_error):
    """A photo over the request limit: back on the form, with the limit stated."""
    if request.endpoint != "audits.upload_photo" or not request.view_args:
        return render_error(413)
    _drain_request_body()
    flash(photo_too_large(), "error")
    return redirect(url_for("audits.edit", audit_id=request.view_args["audit_id"]))


@bp.route("/photos/<name>")
@roles_required(*READERS)
def photo(name: str):
    item = db.session.scalar(select(AuditPhoto).where(AuditPhoto.name == name))
    if item is None or db.session.scalar(svc.visible_audits(_me()).where(Audit.id == item.audit_id)) is None:
        abort(404)
    path = svc.photo_folder() / item.name
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=item.mime, max_age=0)
    # A report is never published: kept out of every cache, the browser's disk included.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- the report -------------------------------------------------------------------------------


def grade_title(spec: dict, code: str | None, lang: str) -> str:
    band = next((g for g in spec["grades"] if g["code"] == code), None)
    return band["title"][lang] if band else (code or "")


@bp.route("/<int:audit_id>")
@roles_required(*READERS)
def view(audit_id: int):
    audit = _visible_or_404(audit_id)
    me = _me()
    if audit.status == "draft" and audit.auditor_id == me.id:
        return redirect(url_for("audits.edit", audit_id=audit.id))
    as_technician = audit.technician_id == me.id and not me.has_role("trainer")
    return render_template("audits/view.html", audit=audit, spec=audit.template.spec, lang=user_lang(),
                           show_auditor=not as_technician, as_technician=as_technician,
                           trainer=me.has_role("trainer"), form=PlainForm(), grade_title=grade_title,
                           visited=_local(audit.visited_at), lines=svc.consequence_lines(audit), me_id=me.id)


@bp.route("/<int:audit_id>/consequences/<int:consequence_id>/<any(reinstate, withdraw):action>", methods=["POST"])
@roles_required("trainer")
def undo(audit_id: int, consequence_id: int, action: str):
    """A trainer reinstates a certificate or withdraws a lesson an amendment made unnecessary."""
    audit = _visible_or_404(audit_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    undo_it = svc.reinstate_certificate if action == "reinstate" else svc.withdraw_lesson
    try:
        undo_it(audit, consequence_id, _me(), request.form.get("note", ""), now())
    except svc.AuditError as problem:
        flash(str(problem), "error")
    else:
        flash(_("Certificate reinstated.") if action == "reinstate" else _("Lesson withdrawn."), "success")
    return redirect(url_for("audits.view", audit_id=audit.id) + "#consequences")


@bp.route("/<int:audit_id>/acknowledge", methods=["POST"])
@roles_required("technician")
def acknowledge(audit_id: int):
    audit = _visible_or_404(audit_id)
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        svc.acknowledge(audit, _me(), request.form.get("comment", ""), now())
    except svc.AuditError as problem:
        flash(str(problem), "error")
    else:
        flash(_("Thank you: your acknowledgement is recorded."), "success")
    return redirect(url_for("audits.view", audit_id=audit.id))


@bp.route("/<int:audit_id>/amend", methods=["GET", "POST"])
@roles_required("trainer")
def amend(audit_id: int):
    audit = _visible_or_404(audit_id)
    if audit.status != "submitted":
        abort(404)
    form = AmendForm()
    problems, typed = {}, {}
    if form.validate_on_submit():
        values, comments = _answers_from_form(audit, request.form)
        for item_id, item in all_items(audit.template.spec).items():
            if item["type"] == "photo":
                values.pop(item_id, None)
        try:
            svc.amend(audit, _me(), form.reason.data or "", values, comments, now())
        except svc.AuditInvalid as invalid:
            problems, typed = invalid.problems, dict(request.form)
            if "reason" in problems:
                form.reason.errors = list(form.reason.errors) + [problems.pop("reason")]
        except svc.AuditError as problem:
            flash(str(problem), "error")
        else:
            flash(_("Report amended; the original answers are kept in its history."), "success")
            return redirect(url_for("audits.view", audit_id=audit.id))
    return render_template("audits/amend.html", audit=audit, spec=audit.template.spec, lang=user_lang(),
                           form=form, problems=problems, typed=typed), (400 if problems or form.errors else 200)


# --- good practice ----------------------------------------------------------------------------


@bp.route("/good-practice")
@roles_required(*READERS)
def stories():
    me = _me()
    approved = db.session.scalars(select(GoodPracticeStory).where(GoodPracticeStory.status == "approved")
                                  .order_by(GoodPracticeStory.decided_at.desc())).all()
    proposed = db.session.scalars(select(GoodPracticeStory).where(GoodPracticeStory.status == "proposed")
                                  .order_by(GoodPracticeStory.created_at)).all() if me.has_role("trainer") else []
    return render_template("audits/stories.html", approved=approved, proposed=proposed, form=PlainForm(),
                           lang=user_lang())


@bp.route("/good-practice/<int:story_id>", methods=["POST"])
@roles_required("trainer")
def decide(story_id: int):
    story = db.session.get(GoodPracticeStory, story_id)
    if story is None:
        abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)
    try:
        svc.decide_story(story, _me(), request.form.get("decision") == "approve", now())
    except svc.AuditError as problem:
        flash(str(problem), "error")
        return redirect(url_for("audits.stories"))
    flash(_("Approved: everyone can read it now.") if story.status == "approved" else _("Declined."), "success")
    return redirect(url_for("audits.stories"))


# --- trainer reports --------------------------------------------------------------------------


@bp.route("/reports")
@roles_required("trainer")
def reports():
    """Scores by month (a page of groups), the most failed items and the red-line incidents (a
    page of them; ``red`` numbers its pages), grouped and counted by the database. Downloads
    stream every group and every incident."""
    by = request.args.get("by", "technician")
    if by not in rep.GROUPINGS:
        by = "technician"
    lang = user_lang()
    starts = rep.month_starts(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    export = request.args.get("export")
    fmt = "xlsx" if request.args.get("format") == "xlsx" else "csv"
    if export == "monthly":
        keys = (row[0] for row in streamed(rep.group_keys_query(by), scalars=False))
        return table_response(columns("group", "month", "audits", "average_score"),
                              rep.monthly_export_rows(by, starts, keys), f"audit-scores-by-{by}", fmt,
                              lazy=True)
    pareto = rep.pareto_counts(lang)
    if export == "pareto":
        return table_response(columns("item", "question", "failed", "cumulative_percent"),
                              ([p.item_id, p.text, p.count, p.cumulative] for p in pareto), "audit-failed-items", fmt)
    if export == "red-lines":
        def grade(audit):
            return next((g["title"][lang] for g in audit.template.spec["grades"] if g["code"] == audit.result),
                        audit.result)

        return table_response(columns("audit", "visited", "technician", "outlet", "outlet_name", "items", "result",
                                      "result_name"),
                              ([i.audit.id, i.visited.isoformat(), i.audit.technician.username,
                                *place(i.audit.technician.outlet),
                                "; ".join(i.items), i.audit.result, grade(i.audit)]
                               for i in (rep.incident(a, lang)
                                         for a in rep.held_templates(streamed(rep.red_lines_query(templates=False))))),
                              "audit-red-line-incidents", fmt, lazy=True)
    groups = rows_page(rep.group_keys_query(by), count(rep.group_keys_query(by)))
    table = rep.monthly_table(by, [row[0] for row in groups.items], starts)
    red_query = rep.red_lines_query()
    red = db.paginate(red_query, page=int_arg("red", 1, 1, MAX_PAGE), per_page=page_size(), error_out=False,
                      count=False)
    red.total = count(red_query)
    return render_template("audits/reports.html", by=by, groupings=rep.GROUPINGS, table=table, groups=groups,
                           pareto=pareto, incidents=[rep.incident(a, lang) for a in red.items], red=red,
                           lang=lang, chart=rep.pareto_chart(pareto))


# --- technician records (the page is technicians.record) ----------------------------------------


@bp.route("/records/<username>")
@roles_required("technician", "trainer", "admin")
def record_page(username: str):
    """The address the README once gave for a technician's record: it lives at /technicians/."""
    return redirect(url_for("technicians.record", username=username), code=301)


# --- JSON API ---------------------------------------------------------------------------------


@api_bp.route("/audit-templates/<slug>")
@roles_required("auditor", "trainer")
@apidoc.operation(
    "getAuditTemplate", "An audit form: everything a client needs to fill and score it", tags=("audits",),
    description=audit_api.SCORING, schemas=audit_api.SCHEMAS, path={"slug": "the form's slug"},
    responses={"200": apidoc.json_body("The current version of the form.", apidoc.ref("AuditTemplate")),
               "404": apidoc.error("No such audit form.")})
def template_json(slug: str):
    template = current_template(slug)
    if template is None:
        return json_error(404, _("No such audit form."))
    return jsonify(audit_api.template_data(template))


@api_bp.route("/audits", methods=["POST"])
@roles_required("auditor")
@apidoc.operation(
    "fileAudit", "File a whole audit report in one request", tags=("audits",), schemas=audit_api.SCHEMAS,
    description="Validated field by field, then stored and submitted in one transaction (consequences "
                "applied), or nothing is stored. Sending the same visit (technician, work order, time) again "
                "returns the first report (200) when it is the caller's; another auditor's is a 409.",
    body=apidoc.ref("AuditPayload"),
    responses={"201": apidoc.json_body("Filed and submitted.", apidoc.ref("AuditSummary")),
               "200": apidoc.json_body("This visit was already filed by the caller: that report, unchanged.",
                                       apidoc.ref("AuditSummary")),
               "400": apidoc.json_body("The report was refused; `fields` names each problem (field names, "
                                       "`responses.ITEM`, `comments.ITEM`, or `body` when the body is not a "
                                       "JSON object). Nothing was stored.",
                                       {"anyOf": [apidoc.ref("FieldErrors"), apidoc.ref("Error")]}),
               "409": apidoc.json_body("This visit is already reported by another auditor (or is a draft).",
                                       apidoc.ref("AuditDuplicate"))})
def create_json():
    payload = request.get_json(silent=True)
    try:
        audit, created = audit_api.file_audit(_me(), payload, now())
    except audit_api.BadPayload as bad:
        return jsonify(error=_("Invalid audit."), fields=bad.fields, status=400), 400
    except svc.DuplicateVisit as repeat:
        return jsonify(error=str(repeat), status=409, id=repeat.existing.id), 409
    return jsonify(audit_api.summary(audit)), (201 if created else 200)
