"""The trainers' audit-programme pages: the list, a programme's rules in words (and its draws), and
the form that creates or edits one, checked by the same programme.validate_spec as its file.

Trainers and admins read and edit programmes, except someone who is also a technician: the
programme decides who of them is visited, and nobody sets their own sampling. Auditors have no
access: they see the visits they are given, never the rules that chose them."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import defer
from wtforms import (BooleanField, FloatField, HiddenField, IntegerField, SelectField, StringField, SubmitField,
                     TextAreaField)
from wtforms.validators import Length, Optional

from ..auth.models import User
from ..extensions import db
from ..i18n import local_today, user_lang
from ..inputs import PortalForm
from ..paging import count, rows_page
from ..security import roles_required
from . import programme as prog
from .draw import period_of
from .models import AuditDraw, AuditProgramme, AuditTemplate

bp = Blueprint("audit_programmes", __name__, url_prefix="/audits/programmes")

EDITORS = ("trainer", "admin")


def _me() -> User:
    return current_user._get_current_object()


def may_edit(user: User) -> bool:
    """Trainers and admins who are not technicians themselves (the programme samples technicians)."""
    return user.has_role(*EDITORS) and not user.has_role("technician")


class ProgrammeForm(PortalForm):
    slug = StringField(_l("Short name (in the address)"), validators=[Optional(), Length(max=80)],
                       description=_l("Lower-case letters, digits and dashes, e.g. home-service-visit. "
                                      "Cannot be changed later."))
    form = SelectField(_l("Audit form visited with"))
    title_zh = StringField(_l("Title in Chinese"), validators=[Optional(), Length(max=200)])
    title_en = StringField(_l("Title in English"), validators=[Optional(), Length(max=200)])
    period = SelectField(_l("Draw every"), choices=[("monthly", _l("month")), ("quarterly", _l("quarter"))])
    rate = StringField(_l("Default rate per region"), validators=[Optional(), Length(max=20)],
                       description=_l("A share of the eligible technicians, e.g. 0.1 or 10%; or leave it empty "
                                      "and give a count."))
    count = IntegerField(_l("Or a default count per region"), validators=[Optional()])
    overrides = TextAreaField(_l("Other rates for some places"), validators=[Optional(), Length(max=20000)],
                              render_kw={"rows": 4, "spellcheck": "false"},
                              description=_l("One a line: region, province or outlet, its code, then a rate "
                                             "(0.15 or 15%) or a count (a whole number), e.g. “region EAST "
                                             "15%” or “outlet GD-GZ-01 2”. The most specific applies: outlet, "
                                             "then province, then region."))
    per_year_min = IntegerField(_l("At least … visits per technician a year"), validators=[Optional()])
    per_year_max = IntegerField(_l("At most … visits per technician a year"), validators=[Optional()])
    red_line_weight = FloatField(_l("Weight after a red-line failure"), validators=[Optional()],
                                 description=_l("1: no extra weight; 2: twice as likely to be drawn."))
    red_line_days = IntegerField(_l("… in the last (days)"), validators=[Optional()])
    low_ftf_weight = FloatField(_l("Weight for low “did this fix it?” feedback"), validators=[Optional()])
    low_ftf_below = StringField(_l("… when the share of “yes” is below"), validators=[Optional(), Length(max=20)],
                                description=_l("e.g. 0.7 or 70%"))
    low_ftf_min_answers = IntegerField(_l("… out of at least (answers)"), validators=[Optional()])
    low_ftf_days = IntegerField(_l("… in the last (days)"), validators=[Optional()])
    new_certificate_weight = FloatField(_l("Weight after a new certificate"), validators=[Optional()])
    new_certificate_days = IntegerField(_l("… issued in the last (days)"), validators=[Optional()])
    onboarding_days = IntegerField(_l("Never in the first … working days"), validators=[Optional()],
                                   description=_l("Counted from the technician's start date; 0: no blackout."))
    suspended = BooleanField(_l("Never while suspended (inactive, or a certificate suspended)"))
    due_working_days = IntegerField(_l("Due … working days after the draw"), validators=[Optional()],
                                    description=_l("Empty: on the period's last working day."))
    active = BooleanField(_l("Active (drawn each period)"))
    content_hash = HiddenField()
    save = SubmitField(_l("Save"))


# field of the file → field of the form (a problem is shown beside it)
FIELD_OF = {"slug": "slug", "form": "form", "title": "title_zh", "active": "active", "period": "period",
            "sampling": "rate", "sampling.rate": "rate", "sampling.count": "count",
            "per_technician_per_year": "per_year_max", "per_technician_per_year.min": "per_year_min",
            "per_technician_per_year.max": "per_year_max",
            "blackout.onboarding_working_days": "onboarding_days", "blackout.suspended": "suspended",
            "due": "due_working_days", "due.working_days": "due_working_days"}
for _kind, _fields in prog.WEIGHTS.items():
    for _name in _fields:
        FIELD_OF[f"weights.{_kind}.{_name}"] = f"{_kind}_{_name}"
    FIELD_OF[f"weights.{_kind}"] = f"{_kind}_weight"

OVERRIDE_LINE_RE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s*$")


def _values(row: AuditProgramme | None) -> dict:
    """What the form shows first: the programme as it is, or the service norms' monthly 10%."""
    if row is None:
        spec = {"form": "home-service-visit", "title": {"zh": "", "en": ""}, "period": "monthly",
                "sampling": {"rate": 0.1, "count": None}, "overrides": [], "per_year": {"min": 2, "max": 6},
                "weights": {"red_line": {"weight": 3.0, "days": 180},
                            "low_ftf": {"weight": 2.0, "below": 0.7, "min_answers": 5, "days": 90},
                            "new_certificate": {"weight": 1.5, "days": 60}},
                "blackout": dict(prog.BLACKOUT_DEFAULTS), "due": {"working_days": None}}
        active, digest = True, ""
    else:
        spec, active, digest = row.spec, row.active, row.content_hash
    values = {"form": spec["form"], "title_zh": spec["title"]["zh"], "title_en": spec["title"]["en"],
              "period": spec["period"], "rate": prog.percent(spec["sampling"]["rate"]) if spec["sampling"]["rate"]
              is not None else "", "count": spec["sampling"]["count"],
              "overrides": "\n".join(_override_line(o) for o in spec["overrides"]),
              "per_year_min": spec["per_year"]["min"], "per_year_max": spec["per_year"]["max"],
              "onboarding_days": spec["blackout"]["onboarding_working_days"],
              "suspended": spec["blackout"]["suspended"], "due_working_days": spec["due"]["working_days"],
              "active": active, "content_hash": digest}
    for kind, fields in spec["weights"].items():
        for name, value in fields.items():
            values[f"{kind}_{name}"] = prog.percent(value) if name == "below" else value
    return values


def _override_line(o: dict) -> str:
    value = prog.percent(o["rate"]) if o["rate"] is not None else str(o["count"])
    return f"{o['scope']} {o['code']} {value}"


def _file_fields(form: ProgrammeForm, slug: str | None) -> tuple[dict, dict, list[str]]:
    """The form as a programme file's fields, the line of each override (its index → textarea
    line), and the problems of override lines that could not be read at all."""
    data = {"slug": slug if slug is not None else (form.slug.data or "").strip(), "form": form.form.data,
            "title": {"zh": (form.title_zh.data or "").strip(), "en": (form.title_en.data or "").strip()},
            "active": bool(form.active.data), "period": form.period.data,
            "sampling": {"rate": (form.rate.data or "").strip() or None, "count": form.count.data},
            "per_technician_per_year": {"min": form.per_year_min.data, "max": form.per_year_max.data},
            "weights": {kind: {name: (getattr(form, f"{kind}_{name}").data if name != "below"
                                      else (form.low_ftf_below.data or "").strip() or None) for name in fields}
                        for kind, fields in prog.WEIGHTS.items()},
            "blackout": {"onboarding_working_days": form.onboarding_days.data,
                         "suspended": bool(form.suspended.data)}}
    if form.due_working_days.data is not None:
        data["due"] = {"working_days": form.due_working_days.data}
    overrides, lines, unreadable = [], {}, []
    for number, text in enumerate((form.overrides.data or "").splitlines(), start=1):
        if not text.strip():
            continue
        match = OVERRIDE_LINE_RE.match(text)
        scope = match.group(1).lower() if match else ""
        if not match or scope not in prog.SCOPES:
            unreadable.append(_("Line %(line)d: write “region|province|outlet CODE 15%%” or “… CODE 4”.",
                                line=number))
            continue
        value = match.group(3)
        if "%" in value or "％" in value or "." in value:
            rule = {"rate": value}
        elif value.isdigit():
            rule = {"count": int(value)}
        else:
            unreadable.append(_("Line %(line)d: %(value)s is neither a rate (15%% or 0.15) nor a count (a whole "
                                "number).", line=number, value=value))
            continue
        lines[len(overrides)] = number
        overrides.append({scope: match.group(2), **rule})
    if overrides:
        data["overrides"] = overrides
    return data, lines, unreadable


def _show_problems(form: ProgrammeForm, problems, lines: dict) -> list[str]:
    """Each problem beside its field (an override's with its line); the rest for the top."""
    general = []
    for _keys, name, message in problems:
        if name.startswith("overrides["):
            index = int(name[len("overrides["):name.index("]")]) - 1
            form.overrides.errors = list(form.overrides.errors) + [
                _("Line %(line)d: %(message)s", line=lines.get(index, index + 1), message=message)]
            continue
        target = FIELD_OF.get(name)
        if target is None:
            general.append(f"{name}: {message}")
            continue
        field = form[target]
        if not field.errors:  # a value the field could not read says so already
            field.errors = list(field.errors) + [message]
    return general


def _editor(row: AuditProgramme | None):
    form = ProgrammeForm(data=_values(row))
    form.form.choices = [(slug, f"{slug} · {title}") for slug, title in db.session.execute(
        select(AuditTemplate.slug, AuditTemplate.title_zh if user_lang() == "zh" else AuditTemplate.title_en)
        .where(AuditTemplate.current).order_by(AuditTemplate.slug))]
    general: list[str] = []
    conflict = None
    if request.method == "POST":
        form.validate()
        if form.csrf_token.errors:
            abort(400)
        data, lines, unreadable = _file_fields(form, row.slug if row is not None else None)
        spec, problems = prog.validate_spec(data)
        form.overrides.errors = list(form.overrides.errors) + unreadable
        general += _show_problems(form, problems, lines)
        has_errors = any(f.errors for f in form)
        if not has_errors:
            try:
                saved = prog.save_from_form(row.slug if row is not None else None, spec, bool(form.active.data),
                                            form.content_hash.data or "", _me())
            except prog.Conflict as exc:
                conflict = exc.row
                if row is None:
                    form.slug.errors = list(form.slug.errors) + [_("A programme with this name exists already.")]
                else:
                    general.append(_("Somebody else saved this programme after you opened it: your changes are not "
                                     "saved. Open it again to see theirs, then make your changes once more."))
            else:
                flash(_("The programme is saved; the next draw follows it."), "success")
                return redirect(url_for("audit_programmes.detail", slug=saved.slug))
    return render_template("audits/programme_edit.html", form=form, programme=row, general=general,
                           conflict=conflict, lang=user_lang())


def _programme_or_404(slug: str) -> AuditProgramme:
    row = db.session.scalar(select(AuditProgramme).where(AuditProgramme.slug == slug))
    if row is None:
        abort(404)
    return row


@bp.route("/")
@roles_required(*EDITORS)
def index():
    last = func.max(AuditDraw.period)
    query = (select(AuditProgramme, last.label("last_period"))
             .outerjoin(AuditDraw, AuditDraw.programme_id == AuditProgramme.id)
             .group_by(AuditProgramme.id).order_by(AuditProgramme.slug))
    page = rows_page(query, count(select(AuditProgramme.id)))
    return render_template("audits/programmes.html", page=page, lang=user_lang(), may_edit=may_edit(_me()),
                           rule_words=_rule_short)


def _rule_short(spec: dict) -> str:
    rule = spec["sampling"]
    text = prog.percent(rule["rate"]) if rule["rate"] is not None else _("%(num)d per region", num=rule["count"])
    if spec["overrides"]:
        text += " · " + ngettext("%(num)d other rule", "%(num)d other rules", len(spec["overrides"]))
    return text


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new():
    if not may_edit(_me()):
        abort(403)
    return _editor(None)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit(slug: str):
    if not may_edit(_me()):
        abort(403)
    return _editor(_programme_or_404(slug))


@bp.route("/<slug>")
@roles_required(*EDITORS)
def detail(slug: str):
    row = _programme_or_404(slug)
    # Not the draws' inputs (every candidate, ~1 MB a draw at 30,000 technicians) nor their specs.
    draws_query = (select(AuditDraw).options(defer(AuditDraw.candidates), defer(AuditDraw.spec))
                   .where(AuditDraw.programme_id == row.id).order_by(AuditDraw.period.desc()))
    draws = rows_page(draws_query, count(draws_query))
    draws.items = [r[0] for r in draws.items]
    template = db.session.scalar(select(AuditTemplate).where(AuditTemplate.slug == row.template_slug,
                                                             AuditTemplate.current))
    by = db.session.get(User, row.updated_by_id) if row.updated_by_id else None
    return render_template("audits/programme.html", programme=row, rules=prog.describe(row.spec, prog.place_names(row.spec)),
                           draws=draws, template=template, by=by, lang=user_lang(), may_edit=may_edit(_me()),
                           file_text=prog.file_text(row),
                           current_period=period_of(local_today(), row.spec.get("period", "monthly")))
