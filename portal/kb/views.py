"""Fault-case pages: search, read, feedback, contribute, review, history, reports."""

from __future__ import annotations

import difflib

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..csvexport import columns, table_response
from ..extensions import db
from ..i18n import user_lang
from ..inputs import int_arg
from ..markup import case_sections, render_markdown
from ..security import roles_required
from . import contributions as contrib
from . import feedback as case_feedback
from . import gaps as search_gaps
from .forms import ContributeForm, FeedbackForm, NoteForm, ReviewForm
from .models import PRODUCTS, Case, CaseRevision, Contribution, Photo
from .photos import photo_path, visible_photo
from .search_service import mark_opened, search_cases
from .services import TEACHING_LINKS, after_commit, old_address, set_status, trainer_edit

bp = Blueprint("kb", __name__, url_prefix="/cases")

READERS = ("technician", "trainer", "auditor", "admin")
CONTRIBUTORS = ("technician", "trainer")
PER_PAGE = 10


def _case_or_404(slug: str, published_only: bool = True) -> Case:
    case = db.session.scalar(select(Case).where(Case.slug == slug))
    if case is None:
        _redirect_old_address(slug)
    if case is None or (published_only and case.status != "published"
                        and not current_user.has_role("trainer", "admin")):
        abort(404)
    return case


def _redirect_old_address(slug: str) -> None:
    """An address the case had before (e.g. one re-keyed) moves permanently to the one it has now."""
    moved = old_address(slug)
    if moved is None:
        return
    args = {**request.view_args, "slug": moved.slug, **request.args.to_dict(flat=False)}
    code = 301 if request.method in ("GET", "HEAD") else 308
    abort(redirect(url_for(request.endpoint, **args), code=code))


def _me():
    return current_user._get_current_object()


def safety_first(sections: list[dict]) -> list[dict]:
    """The safety section(s) before everything else: read before any step that needs the power off."""
    return [s for s in sections if s["safety"]] + [s for s in sections if not s["safety"]]


# --- search --------------------------------------------------------------------------


@bp.route("")
@roles_required(*READERS)
def search():
    q = (request.args.get("q") or "").strip()[:200]
    product = request.args.get("product") or None
    if product not in PRODUCTS:
        product = None
    model = (request.args.get("model") or "").strip()[:60] or None
    component = (request.args.get("component") or "").strip()[:80] or None
    page = min(int_arg("page", 1, 1), 50)
    results = None
    if q or product or model or component:
        results = search_cases(q, lang=user_lang(), product=product, model=model,
                               component=component, limit=PER_PAGE, page=page, user=_me())
    return render_template("kb/search.html", q=q, product=product, model=model,
                           component=component, results=results, products=PRODUCTS)


# --- reading ------------------------------------------------------------------------------


@bp.route("/<slug>")
@roles_required(*READERS)
def case(slug: str):
    item = _case_or_404(slug)
    mark_opened(int_arg("s"), _me())
    translations = db.session.scalars(
        select(Case).where(Case.key == item.key, Case.id != item.id, Case.status == "published")).all()
    related = []
    if item.related:
        candidates = db.session.scalars(
            select(Case).where(Case.key.in_(item.related), Case.status == "published")).all()
        chosen = {}
        for other in candidates:  # the reader's language when there is a choice
            if other.key not in chosen or other.lang == item.lang:
                chosen[other.key] = other
        related = [chosen[k] for k in item.related if k in chosen]
    photos = db.session.scalars(select(Photo).where(Photo.case_id == item.id)).all()
    stats = None
    if current_user.has_role("trainer", "admin"):
        stats = case_feedback.stats(item.id)
    return render_template(
        "kb/case.html", case=item, sections=safety_first(case_sections(item.body)), translations=translations,
        related=related, photos=photos, feedback=FeedbackForm(), stats=stats,
        my_answer=case_feedback.current_answer(item, _me()),
        archive_form=NoteForm(), preferred_lang=user_lang(),
        teaching=[link for provider in TEACHING_LINKS for link in provider(item, user_lang())])


@bp.route("/<slug>/feedback", methods=["POST"])
@roles_required(*READERS)
def feedback(slug: str):
    item = _case_or_404(slug)
    form = FeedbackForm()
    answer = request.form.get("fixed")
    # The case page's script sends answers itself (and keeps them while offline): it reads JSON.
    wants_json = request.accept_mimetypes.best == "application/json"
    if not form.validate_on_submit() or answer not in ("yes", "no"):
        if wants_json:
            return jsonify(ok=False, error=_("Choose yes or no; a comment has at most 1000 characters.")), 400
        abort(400)
    case_feedback.answer(item, _me(), answer == "yes", form.comment.data or "")
    message = (_("Thank you: your answer helps the next technician.") if answer == "yes" else
               _("Thank you. If you found the real cause, please suggest an edit so others learn it."))
    if wants_json:
        return jsonify(ok=True, message=message)
    flash(message, "success")
    return redirect(url_for("kb.case", slug=slug) + "#feedback")


@bp.route("/photos/<name>")
@roles_required(*READERS)
def photo(name: str):
    found = visible_photo(name, _me())
    if found is None:  # unknown or not theirs to see: the same answer
        abort(404)
    item, published = found
    response = send_file(photo_path(item), mimetype=item.mime, max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400" if published else "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- history -------------------------------------------------------------------------


@bp.route("/<slug>/history")
@roles_required(*READERS)
def history(slug: str):
    item = _case_or_404(slug)
    return render_template("kb/history.html", case=item, revisions=item.revisions)


@bp.route("/<slug>/history/<int:version>")
@roles_required(*READERS)
def revision(slug: str, version: int):
    item = _case_or_404(slug)
    this = db.session.scalar(select(CaseRevision).where(
        CaseRevision.case_id == item.id, CaseRevision.version == version))
    if this is None:
        abort(404)
    before = db.session.scalar(select(CaseRevision).where(
        CaseRevision.case_id == item.id, CaseRevision.version < version)
        .order_by(CaseRevision.version.desc()).limit(1))
    old = before.snapshot if before else {}
    new = this.snapshot
    def shown(value) -> str:
        if value in (None, "", []):
            return "—"
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

    fields = [(name, shown(old.get(name)), shown(new.get(name))) for name in new
              if name != "body" and old.get(name) != new.get(name)]
    body_diff = list(difflib.ndiff((old.get("body") or "").splitlines(),
                                   (new.get("body") or "").splitlines()))
    body_diff = [line for line in body_diff if not line.startswith("?")]
    return render_template("kb/revision.html", case=item, revision=this, before=before,
                           fields=fields, body_diff=body_diff)


# --- contributing ----------------------------------------------------------------------


def _photos_from(form) -> list[bytes]:
    return [f.read() for f in (form.photos.data or []) if getattr(f, "filename", "")]


def _form_errors(form, problems: list[tuple[str, str]]) -> None:
    for name, message in problems:
        field = getattr(form, name, None) or form.body
        field.errors = list(field.errors) + [message]


def _form_for_case(form_class, item: Case):
    """A case form filled from the case (on GET), its language fixed to the case's."""
    form = form_class()
    form.fill_choices()
    if request.method == "GET":
        form.load(item.snapshot())
    form.lang.data = item.lang
    return form


BODY_TEMPLATE = {
    "zh": "## 故障现象\n\n## 可能原因\n1. \n\n## 诊断步骤\n1. \n\n## 处理方法\n\n## 备件与工具\n- \n\n## 安全注意\n- 断电操作。\n",
    "en": "## Symptoms\n\n## Likely causes\n1. \n\n## Diagnosis\n1. \n\n## Fix\n\n## Parts and tools\n- \n\n## Safety\n- Isolate the power first.\n",
}


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*CONTRIBUTORS)
def contribute():
    form = ContributeForm()
    form.fill_choices()
    if request.method == "GET":
        form.lang.data = user_lang()
        form.product.data = request.args.get("product") if request.args.get("product") in PRODUCTS \
            else "air-conditioner"
        form.title.data = (request.args.get("title") or "")[:200]
        form.body.data = BODY_TEMPLATE[form.lang.data]
    if form.validate_on_submit():
        try:
            contrib.submit_new(_me(), form.case_data(), form.note.data, _photos_from(form))
        except contrib.ContributionError as exc:
            _form_errors(form, exc.problems)
        else:
            flash(_("Thank you! A trainer will review your case; you can follow it under My contributions."),
                  "success")
            return redirect(url_for("kb.mine"))
    status = 400 if request.method == "POST" else 200
    return render_template("kb/contribute.html", form=form, case=None), status


@bp.route("/<slug>/suggest", methods=["GET", "POST"])
@roles_required(*CONTRIBUTORS)
def suggest(slug: str):
    item = _case_or_404(slug)
    form = _form_for_case(ContributeForm, item)
    if form.validate_on_submit():
        try:
            contrib.submit_edit(_me(), item, form.case_data(), form.note.data, _photos_from(form))
        except contrib.ContributionError as exc:
            _form_errors(form, exc.problems)
        else:
            flash(_("Thank you! A trainer will review your suggestion."), "success")
            return redirect(url_for("kb.mine"))
    status = 400 if request.method == "POST" else 200
    return render_template("kb/contribute.html", form=form, case=item), status


@bp.route("/mine")
@roles_required(*CONTRIBUTORS)
def mine():
    return render_template("kb/mine.html", contributions=contrib.mine(_me()))


# --- review (trainers) ------------------------------------------------------------------------


@bp.route("/review")
@roles_required("trainer")
def review_queue():
    recent = db.session.scalars(
        select(Contribution).where(Contribution.status != "pending")
        .order_by(Contribution.reviewed_at.desc()).limit(20)).all()
    return render_template("kb/review_queue.html", pending=contrib.pending(), recent=recent)


@bp.route("/review/<int:contribution_id>", methods=["GET", "POST"])
@roles_required("trainer")
def review(contribution_id: int):
    item = db.get_or_404(Contribution, contribution_id)
    form = ReviewForm()
    form.fill_choices()
    if request.method == "GET":
        form.load(item.data)
    if item.kind == "edit" and item.case is not None:
        form.lang.data = item.case.lang
    changed_since = item.kind == "edit" and item.case is not None and \
        item.case.version != item.base_version and item.status == "pending"
    if request.method == "POST" and item.status == "pending" and form.validate_on_submit():
        action = request.form.get("action")
        try:
            if action == "approve":
                published = contrib.approve(item, _me(), form.case_data())
                flash(_("Published."), "success")
                return redirect(url_for("kb.case", slug=published.slug))
            if action == "reject":
                contrib.reject(item, _me(), form.reason.data)
                flash(_("Rejected; the contributor sees your reason."), "success")
                return redirect(url_for("kb.review_queue"))
            abort(400)
        except contrib.ContributionError as exc:
            db.session.rollback()
            _form_errors(form, exc.problems)
    status = 400 if request.method == "POST" else 200
    current = item.case.snapshot() if item.kind == "edit" and item.case else None
    return render_template("kb/review.html", item=item, form=form, current=current,
                           changed_since=changed_since), status


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@roles_required("trainer")
def edit(slug: str):
    item = _case_or_404(slug, published_only=False)
    form = _form_for_case(ReviewForm, item)
    if form.validate_on_submit():
        version = item.version
        problems = trainer_edit(item, form.case_data(), _me(),
                                form.reason.data or _("Edited by a trainer"))
        if not problems:
            if item.version != version:
                flash(_("Saved as version %(v)d.", v=item.version), "success")
            return redirect(url_for("kb.case", slug=item.slug))
        _form_errors(form, problems)
    status = 400 if request.method == "POST" else 200
    return render_template("kb/edit.html", form=form, case=item), status


@bp.route("/<slug>/status", methods=["POST"])
@roles_required("trainer")
def change_status(slug: str):
    item = _case_or_404(slug, published_only=False)
    form = NoteForm()
    target = request.form.get("status")
    if target not in ("published", "archived"):
        abort(400)
    if not form.validate_on_submit():
        flash(_("Say why the case is archived or restored."), "error")
        return redirect(url_for("kb.case", slug=slug))
    set_status(item, target, _me(), form.note.data)
    db.session.commit()
    after_commit()
    flash(_("The case is archived: hidden from search, kept in history.") if target == "archived"
          else _("The case is published again."), "success")
    return redirect(url_for("kb.case", slug=slug))


# --- reports (trainers) -----------------------------------------------------------------------


@bp.route("/reports/gaps")
@roles_required("trainer")
def gaps():
    days = int_arg("days", 90, 1, 36500)

    # Kept per UTC day (kb/gaps.py): the window is the UTC days from the date of now − days.
    rows = search_gaps.rows(max(1, min(days, 365)))
    if request.args.get("format") in ("csv", "xlsx"):

        return table_response(columns("query", "searches", "no_results", "not_opened", "example", "last"),
                              ([r.norm, r.searches, r.no_results, r.unopened, r.example, r.last.isoformat()] for r in rows),
                              f"search-gaps-{days}-days", request.args["format"])
    return render_template("kb/gaps.html", rows=rows, days=days)


@bp.route("/reports/feedback")
@roles_required("trainer")
def feedback_report():
    rows = case_feedback.lowest_fix_rates()
    if request.args.get("format") in ("csv", "xlsx"):

        return table_response(columns("case", "title", "lang", "reports", "fixed", "fix_rate"),
                              ([c.key, c.title, c.lang, total, yes, round(100 * yes / total) if total else ""]
                               for c, total, yes in rows), "fix-rates", request.args["format"])
    return render_template("kb/feedback_report.html", rows=rows)


@bp.app_template_filter("markdown")
def markdown_filter(text: str):
    return render_markdown(text)


__all__ = ["bp", "current_app"]
