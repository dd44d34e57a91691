"""The question bank in the browser (trainers and admins): browse and search, preview as a
technician sees it, create and edit every type, versions, regrade after a key is corrected,
export to the files' YAML format and GIFT."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select

from ..content.cli import default_content_root
from ..extensions import db
from ..i18n import user_lang
from ..inputs import PortalForm, int_arg, parse_int
from ..messages import render as render_message
from ..paging import count, rows_page
from ..security import roles_required
from . import qtypes
from .attempts import ShownQuestion
from .bank import CATEGORY_RE, export_gift, export_yaml, question_spec
from .editing import FACILITY_BANDS, key_of, log_lines, regrade_question, save_question, search, versions_of
from .models import Question, QuestionCategory, QuestionStat, QuestionVersion
from .views import TRAINERS, TYPE_LABELS, type_label

bp = Blueprint("bank", __name__, url_prefix="/assessment/bank")

REQUEST_REGRADE_LIMIT = 2000  # attempts a regrade from the page may touch; more: `flask quizzes regrade`
ROWS = {"single": 6, "multiple": 6, "short": 6, "numerical": 4, "matching": 6, "ordering": 6}  # blank rows shown


class ActionForm(PortalForm):
    pass


def _images() -> Path:
    return Path(default_content_root()).parent / "quizzes" / "images"


def _question_or_404(question_id: int) -> Question:
    question = db.session.get(Question, question_id)
    if question is None:
        abort(404)
    return question


def _categories() -> list[QuestionCategory]:
    return list(db.session.scalars(select(QuestionCategory).order_by(QuestionCategory.path)))


@bp.route("/")
@roles_required(*TRAINERS)
def index():
    """The bank, filtered by category, type, tag, text (either language), difficulty and facility; a page at a time."""
    kind = request.args.get("type") if request.args.get("type") in qtypes.REGISTRY else None
    band = request.args.get("facility") if request.args.get("facility") in (*FACILITY_BANDS, "unseen") else None
    filters = {"category_id": int_arg("category"), "kind": kind, "tag": (request.args.get("tag") or "").strip()[:120],
               "text": (request.args.get("q") or "").strip()[:200], "band": band,
               "difficulty": int_arg("difficulty", None, 1, 3)}
    query = search(**filters)
    page = rows_page(query, count(query))
    return render_template("assessment/bank/index.html", page=page, filters=filters, categories=_categories(),
                           types=TYPE_LABELS, type_label=type_label, bands=FACILITY_BANDS, lang=user_lang(),
                           args={k: v for k, v in request.args.items() if k != "page" and v})


def _shown(version, lang: str) -> ShownQuestion:
    """A question (or version) as the attempt page shows it before submission: never the key."""
    return ShownQuestion(0, version.type, version.text(lang), qtypes.get(version.type).public(version.data(lang)),
                         None, version.format, version.image, lang)


def _version_or_current(question: Question):
    number = int_arg("version", None, 1)
    if number is None:
        return question
    version = db.session.scalar(select(QuestionVersion).where(QuestionVersion.question_id == question.id,
                                                              QuestionVersion.number == number))
    if version is None:
        abort(404)
    return version


@bp.route("/<int:question_id>")
@roles_required(*TRAINERS)
def question(question_id: int):
    """A question for its trainer: the key (both languages), its versions, what was done to it."""
    item = _question_or_404(question_id)
    shown = _version_or_current(item)
    seen = db.session.scalar(select(func.coalesce(func.sum(QuestionStat.seen), 0))
                             .where(QuestionStat.question_id == item.id))
    return render_template("assessment/bank/question.html", question=item, shown=shown, spec=question_spec(shown),
                           versions=versions_of(item), log=log_lines(item), render_message=render_message,
                           seen=seen, form=ActionForm(), type_label=type_label, lang=user_lang(),
                           limit=REQUEST_REGRADE_LIMIT)


@bp.route("/<int:question_id>/preview")
@roles_required(*TRAINERS)
def preview(question_id: int):
    """Exactly what a technician's page shows (both languages), and nothing of the key."""
    item = _question_or_404(question_id)
    shown = _version_or_current(item)
    return render_template("assessment/bank/preview.html", question=item, views=[_shown(shown, l) for l in ("zh", "en")],
                           version=getattr(shown, "number", item.version), lang=user_lang())


# --- the editor ------------------------------------------------------------------------------


def _number(value: str):
    value = (value or "").strip()
    if not value:
        return None
    parsed = qtypes.parse_number(value)
    return parsed if parsed is not None else value  # a word stays, for the type's rules to refuse


def _rows(form, prefix: str, names: tuple[str, ...]) -> list[dict]:
    """The repeated rows ``prefix-<n>-<name>`` as typed, blank rows left out, in row order."""
    numbers = sorted({parse_int(key.split("-")[1]) for key in form if key.startswith(prefix + "-")
                      and parse_int(key.split("-")[1]) is not None})
    rows = []
    for n in numbers:
        row = {name: (form.get(f"{prefix}-{n}-{name}") or "").strip() for name in names}
        if any(v for k, v in row.items() if k not in ("correct",)):
            rows.append(row)
    return rows


def spec_from_form(form, kind: str) -> dict:
    """The question's fields as its file would write them, from the editor's form."""
    spec: dict = {"id": (form.get("id") or "").strip(), "type": kind,
                  "difficulty": parse_int(form.get("difficulty"), 1, 3) or form.get("difficulty") or 2,
                  "tags": [t for t in (form.get("tags") or "").replace(",", " ").split() if t],
                  "text": {"zh": form.get("text_zh", "").strip(), "en": form.get("text_en", "").strip()}}
    if (form.get("explanation_zh") or "").strip() or (form.get("explanation_en") or "").strip():
        spec["explanation"] = {"zh": form.get("explanation_zh", "").strip(), "en": form.get("explanation_en", "").strip()}
    if (form.get("image") or "").strip():
        spec["image"] = form.get("image").strip()
    if kind in ("single", "multiple"):
        choices = []
        for row in _rows(form, "choice", ("zh", "en", "correct", "fraction")):
            choice = {"zh": row["zh"], "en": row["en"]}
            if row["correct"]:
                choice["correct"] = True
            if row["fraction"]:
                fraction = _number(row["fraction"])
                choice["fraction"] = fraction / 100 if isinstance(fraction, float) else fraction
            choices.append(choice)
        spec["choices"] = choices
        if kind == "multiple" and (form.get("penalty") or "").strip():
            penalty = _number(form.get("penalty"))
            spec["penalty"] = penalty / 100 if isinstance(penalty, float) else penalty
    elif kind == "truefalse":
        spec["answer"] = {"true": True, "false": False}.get(form.get("answer"))
    elif kind == "short":
        spec["answers"] = [{"zh": r["zh"], "en": r["en"],
                            **({"fraction": _number(r["fraction"]) / 100} if isinstance(_number(r["fraction"]), float)
                               else {})}
                           for r in _rows(form, "answer", ("zh", "en", "fraction"))]
    elif kind == "numerical":
        spec["answers"] = [{"value": _number(r["value"]),
                            **({"tolerance": _number(r["tolerance"])} if r["tolerance"] else {}),
                            **({"fraction": _number(r["fraction"]) / 100} if isinstance(_number(r["fraction"]), float)
                               else {})}
                           for r in _rows(form, "value", ("value", "tolerance", "fraction"))]
    elif kind == "matching":
        spec["pairs"] = [{"left": {"zh": r["left_zh"], "en": r["left_en"]},
                          "right": {"zh": r["right_zh"], "en": r["right_en"]}}
                         for r in _rows(form, "pair", ("left_zh", "left_en", "right_zh", "right_en"))]
    elif kind == "ordering":
        spec["items"] = [{"zh": r["zh"], "en": r["en"]} for r in _rows(form, "item", ("zh", "en"))]
        if form.get("all_or_nothing"):
            spec["all_or_nothing"] = True
    return spec


def _editor(kind: str, spec: dict, category_path: str, problem, question: Question | None):
    return render_template("assessment/bank/edit.html", kind=kind, spec=spec, category_path=category_path,
                           problem=problem, question=question, form=ActionForm(), categories=_categories(),
                           type_label=type_label, blank=ROWS.get(kind, 0), lang=user_lang())


def _problem_text(problem: tuple[str, str]) -> str:
    key, message = problem
    if message == "taken":
        return _("A question with this id is already in this category.")
    labels = {"id": _("Id"), "difficulty": _("Difficulty"), "tags": _("Tags"), "image": _("Picture")}
    return f"{labels[key]}: {message}" if key in labels else message


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def new():
    kind = request.values.get("type", "single")
    if kind not in qtypes.REGISTRY:
        abort(404)
    if request.method == "GET":
        return _editor(kind, {"type": kind, "difficulty": 2}, request.args.get("category", ""), None, None)
    if not ActionForm().validate_on_submit():
        abort(400)
    spec = spec_from_form(request.form, kind)
    category_path = (request.form.get("category") or "").strip()
    if not CATEGORY_RE.match(category_path):
        return _editor(kind, spec, category_path, _("Choose a category, or name a new one like onboarding/final "
                                                     "(lower-case letters, digits, dashes)."), None), 422
    item, problem, _changed = save_question(spec, category_path, current_user, _images())
    if problem:
        return _editor(kind, spec, category_path, _problem_text(problem), None), 422
    flash(_("Question saved."), "success")
    return redirect(url_for("bank.question", question_id=item.id))


@bp.route("/<int:question_id>/edit", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def edit(question_id: int):
    """Edit a question (its type stays): validated by the type's rules; a new version on save."""
    item = _question_or_404(question_id)
    if request.method == "GET":
        return _editor(item.type, question_spec(item), item.category.path, None, item)
    if not ActionForm().validate_on_submit():
        abort(400)
    spec = spec_from_form(request.form, item.type)
    spec["id"] = item.ident  # the id and category name the question in its file: they stay
    if item.norms:
        spec["norms"] = list(item.norms)
    saved, problem, key_changed = save_question(spec, None, current_user, _images(), question=item)
    if problem:
        return _editor(item.type, spec, item.category.path, _problem_text(problem), item), 422
    flash(_("Saved as version %(n)d.", n=saved.version), "success")
    if key_changed:
        flash(_("The answer key changed: attempts already graded keep their marks until you regrade them."), "info")
    return redirect(url_for("bank.question", question_id=saved.id))


@bp.route("/<int:question_id>/regrade", methods=["POST"])
@roles_required(*TRAINERS)
def regrade(question_id: int):
    """Grade every graded attempt that drew the question again, on its current version (in
    batches; a page request touches at most REQUEST_REGRADE_LIMIT attempts)."""
    item = _question_or_404(question_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    seen = db.session.scalar(select(func.coalesce(func.sum(QuestionStat.seen), 0))
                             .where(QuestionStat.question_id == item.id))
    if seen > REQUEST_REGRADE_LIMIT:
        flash(_("%(n)d attempts drew this question: run `flask quizzes regrade %(id)d` on the server.",
                n=seen, id=item.id), "error")
        return redirect(url_for("bank.question", question_id=item.id))
    outcome = regrade_question(item, current_user._get_current_object())
    flash(ngettext("Regraded %(num)d attempt; %(changed)d changed.", "Regraded %(num)d attempts; %(changed)d changed.",
                   outcome.attempts, changed=len(outcome.changed)), "success")
    if outcome.own_skipped:
        flash(ngettext("%(num)d attempt of your own was left alone: another trainer regrades it.",
                       "%(num)d attempts of your own were left alone: another trainer regrades them.",
                       outcome.own_skipped), "info")
    return redirect(url_for("bank.question", question_id=item.id))


@bp.route("/export")
@roles_required(*TRAINERS)
def export():
    """A category (or the whole bank, as a zip of YAML files) in the files' format, or a category as GIFT."""
    path = (request.args.get("category") or "").strip() or None
    fmt = request.args.get("format", "yaml")
    if fmt == "gift":
        if not path:
            abort(404)
        try:
            text, _left_out = export_gift(path, "zh" if request.args.get("lang") == "zh" else "en")
        except LookupError:
            abort(404)
        return Response(text, mimetype="text/plain; charset=utf-8", headers={
            "Content-Disposition": f"attachment; filename={path.replace('/', '-')}.gift.txt"})
    if fmt != "yaml":
        abort(404)
    try:
        files = export_yaml(path)
    except LookupError:
        abort(404)
    if path:
        return Response(files.get(f"{path}/bank.yaml", ""), mimetype="application/yaml; charset=utf-8", headers={
            "Content-Disposition": f"attachment; filename={path.replace('/', '-')}.yaml"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(f"quizzes/{name}", text)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True, download_name="question-bank.zip")


__all__ = ["bp", "key_of"]
