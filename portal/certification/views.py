"""Certification pages: the trainer's register and eligibility board, a certificate's page with
its lifecycle, the holder's badge and printable certificate, and public verification."""

from __future__ import annotations

import io

import segno
from flask import (Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from .. import apidoc
from ..auth.api import bp as api_bp
from ..auth.models import Outlet, Province, Region, User
from ..auth.network import filter_outlets
from ..csvexport import columns, place, streamed, table_response, word, yes_no
from ..extensions import db, limiter
from ..inputs import int_arg
from ..i18n import user_lang
from ..links import external_url
from ..paging import count, page_number, page_size
from ..security import is_self, json_error, public, roles_required
from . import board as eligibility_board
from . import services as svc
from .forms import ActionForm, GrantForm
from .eligibility import effective_status as pure_effective_status
from .models import Certificate, Tier
from .rules import eligibility, effective_status, local_today, renewal_refusal, status_label, what_lifts_it

bp = Blueprint("certification", __name__)

TRAINERS = ("trainer", "admin")
EXPIRING = (30, 60, 90)
# One status, or "suspended,lapsed": the certificates someone should act on (the trainer home's figure).
STATUS_FILTERS = ("active", "expired", "suspended", "lapsed", "revoked", "suspended,lapsed")


def _verify_rate() -> str:
    return current_app.config["PORTAL_VERIFY_RATE"]


# One budget per client address for both lookups (page and API).
lookup_limit = limiter.shared_limit(_verify_rate, scope="certificate-lookup")


def _cert_or_404(number: str) -> Certificate:
    cert = svc.find(number)
    if cert is None:
        abort(404)
    return cert


def _visible_or_404(number: str) -> Certificate:
    """Trainers see every certificate; a technician only their own (others: not found)."""
    cert = _cert_or_404(number)
    if not current_user.has_role(*TRAINERS) and cert.user_id != current_user.id:
        abort(404)
    return cert


def verify_url(cert: Certificate) -> str:
    """The public check address printed on the certificate and in its QR code."""
    return external_url("certification.verify", number=cert.number)


# --- public verification ----------------------------------------------------------------------


def public_view(cert: Certificate) -> dict:
    """What anyone holding the number may see: name, tier, status, valid-until. Nothing else."""
    today = local_today()
    status = effective_status(cert, today)
    return {"number": cert.number, "name": cert.user.name or cert.user.username,
            "tier": {"code": cert.tier.code, "zh": cert.tier.title_zh, "en": cert.tier.title_en},
            "status": status, "valid_until": cert.valid_until.isoformat()}


@bp.route("/verify/<number>")
@public
@lookup_limit
def verify(number: str):
    cert = svc.find(number)
    if cert is None:
        return Response(_("Not found"), status=404, mimetype="text/plain")
    return render_template("certification/verify.html", cert=cert, view=public_view(cert), lang=user_lang(),
                           status_label=status_label)


PUBLIC_CERTIFICATE = {
    "type": "object",
    "required": ["number", "name", "tier", "status", "valid_until"],
    "properties": {
        "number": {"type": "string"}, "name": {"type": "string", "description": "the holder's name"},
        "tier": {"type": "object", "required": ["code", "zh", "en"],
                 "properties": {"code": {"type": "string"}, "zh": {"type": "string"}, "en": {"type": "string"}}},
        "status": {"type": "string", "description": "active, expired, suspended, lapsed or revoked (as of today)"},
        "valid_until": {"type": "string", "format": "date"},
    },
}


@api_bp.route("/certificates/<number>")
@public
@lookup_limit
@apidoc.operation(
    "verifyCertificate", "Check a certificate by its number (public)", tags=("certificates",),
    description="What the printed certificate's QR code leads to, as JSON. Shares the `/verify` page's rate "
                "limit per client address (`PORTAL_VERIFY_RATE`).",
    schemas={"PublicCertificate": PUBLIC_CERTIFICATE}, path={"number": "the certificate number"},
    responses={"200": apidoc.json_body("The certificate as anyone may see it.", apidoc.ref("PublicCertificate")),
               "404": apidoc.error("No certificate has that number.")})
def certificate_json(number: str):
    cert = svc.find(number)
    if cert is None:
        return json_error(404, _("No certificate has that number."))
    return jsonify(public_view(cert))


# --- holders ----------------------------------------------------------------------------------


@bp.route("/certificates/mine")
@roles_required("technician")
def mine():
    me = current_user._get_current_object()
    today = local_today()
    certs = list(db.session.scalars(select(Certificate).where(Certificate.user_id == me.id)
                                    .order_by(Certificate.issued_on.desc())))
    nxt = svc.next_tier(me, today)
    return render_template("certification/mine.html", certs=certs, today=today, lang=user_lang(),
                           next_tier=nxt, next_check=eligibility(me, nxt, today) if nxt else None,
                           effective_status=effective_status, status_label=status_label, lifts=what_lifts_it)


@bp.route("/certificates/<number>")
@roles_required("technician", *TRAINERS)
def certificate(number: str):
    cert = _visible_or_404(number)
    today = local_today()
    return render_template("certification/certificate.html", cert=cert, today=today, lang=user_lang(),
                           status=effective_status(cert, today), status_label=status_label,
                           action_label=svc.action_label, form=ActionForm(),
                           trainer=current_user.has_role(*TRAINERS), own=is_self(current_user, cert.user_id),
                           renew_refusal=renewal_refusal(cert, today, svc.renewal_window_days()))


def _holder_view(number: str, template: str):
    cert = _visible_or_404(number)
    return render_template(template, cert=cert, status=effective_status(cert, local_today()),
                           status_label=status_label, lang=user_lang(), verify=verify_url(cert))


@bp.route("/certificates/<number>/badge")
@roles_required("technician", *TRAINERS)
def badge(number: str):
    return _holder_view(number, "certification/badge.html")


@bp.route("/certificates/<number>/print")
@roles_required("technician", *TRAINERS)
def printable(number: str):
    return _holder_view(number, "certification/print.html")


@bp.route("/certificates/<number>/qr.svg")
@roles_required("technician", *TRAINERS)
def qr(number: str):
    cert = _visible_or_404(number)
    out = io.BytesIO()
    segno.make(verify_url(cert), error="m").save(out, kind="svg", scale=8, border=2, xmldecl=False,
                                                 title=cert.number)
    return Response(out.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=300"})


# --- trainers ---------------------------------------------------------------------------------


def _number_arg(name: str) -> int | None:
    return int_arg(name)


@bp.route("/certificates/")
@roles_required(*TRAINERS)
def register():
    today = local_today()
    filters = {"tier_id": _number_arg("tier"), "region_id": _number_arg("region"),
               "province_id": _number_arg("province"), "outlet_id": _number_arg("outlet"),
               "status": request.args.get("status") if request.args.get("status") in STATUS_FILTERS else None,
               "expiring_days": _number_arg("expiring") if _number_arg("expiring") in EXPIRING else None}
    query = svc.register_query(today=today, **filters)
    if request.args.get("format") in ("csv", "xlsx"):
        return _register_export(query, today, request.args["format"])
    page = db.paginate(svc.with_holder(query), page=page_number(), per_page=page_size(), error_out=False,
                       count=False)
    page.total = count(query)
    return render_template(
        "certification/register.html", page=page, filters=filters, today=today, lang=user_lang(),
        tiers=db.session.scalars(select(Tier).order_by(Tier.level)).all(),
        regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
        provinces=db.session.scalars(select(Province).order_by(Province.code)).all(),
        outlets=filter_outlets(filters["region_id"], filters["province_id"], filters["outlet_id"]),
        expiring=EXPIRING, effective_status=effective_status, status_label=status_label,
        counts={days: count(svc.register_query(expiring_days=days, today=today)) for days in EXPIRING})


def _register_export(query, today, fmt: str):
    """Every certificate the filtered register lists (all its pages), streamed: plain columns
    (no objects built per row), the holder's place joined in the same query."""
    outlet, province, region = aliased(Outlet), aliased(Province), aliased(Region)
    rows = (query.join(Tier, Certificate.tier_id == Tier.id)
            .outerjoin(outlet, User.outlet_id == outlet.id).outerjoin(province, outlet.province_id == province.id)
            .outerjoin(region, province.region_id == region.id)
            .with_only_columns(Certificate.number, User.username, User.name, Tier.code, Tier.title_zh, Tier.title_en,
                               Certificate.status, Certificate.issued_on, Certificate.valid_until, Certificate.forced,
                               outlet.code, outlet.name_zh, outlet.name_en, province.code, province.name_zh,
                               province.name_en, region.code, region.name_zh, region.name_en))
    lang = user_lang()
    words: dict = {}  # each status label and yes/no in the reader's language, looked up once

    def once(key, make):
        if key not in words:
            words[key] = make()
        return words[key]

    def named(code, zh, en) -> list:  # as csvexport.place on a Bilingual row
        if code is None:
            return ["", ""]
        return [code, (en or zh) if lang == "en" else (zh or en)]

    def line(row) -> list:
        status = pure_effective_status(row.status, row.valid_until, today)
        return [row.number, row.username, row.name, row.code, (row.title_zh if lang == "zh" else row.title_en)
                or row.title_en, status, once(("status", status), lambda: status_label(status)),
                row.issued_on.isoformat(), row.valid_until.isoformat(), *named(*row[10:13]), *named(*row[13:16]),
                *named(*row[16:19]), once(("forced", row.forced), lambda: yes_no(row.forced))]

    return table_response(columns("number", "username", "name", "tier", "tier_name", "status", "status_name",
                                  "issued_on", "valid_until", "outlet", "outlet_name", "province", "province_name",
                                  "region", "region_name", "forced"), (line(r) for r in streamed(rows, scalars=False)),
                          f"certificates-{today.isoformat()}", fmt, lazy=True)


BOARD_PAGE = 50  # technicians per page of the eligibility board


@bp.route("/certificates/eligibility")
@roles_required(*TRAINERS)
def board():
    """Who is eligible for what: one page of technicians against each tier they do not hold yet,
    from the kept figures (``certification.board``)."""
    today = local_today()
    tiers = svc.active_tiers()
    only = request.args.get("only") == "eligible"
    if request.args.get("format") in ("csv", "xlsx"):
        return _board_export(tiers, today, only)
    tier = next((t for t in tiers if t.id == _number_arg("tier")), None)
    filters = {"region_id": _number_arg("region"), "province_id": _number_arg("province"),
               "outlet_id": _number_arg("outlet")}
    shown = [tier] if tier else tiers
    page = eligibility_board.board_page(shown, today, page=int_arg("page", 1, 1, 100_000) or 1, per_page=BOARD_PAGE,
                                        only_eligible=only, **filters)
    args = {"only": "eligible" if only else None, "tier": tier.id if tier else None,
            "region": filters["region_id"], "province": filters["province_id"], "outlet": filters["outlet_id"]}
    return render_template("certification/board.html", page=page, rows=page.rows, tiers=shown, all_tiers=tiers,
                           tier=tier, filters=filters, args={k: v for k, v in args.items() if v}, lang=user_lang(),
                           only=only, today=today, effective_status=effective_status, status_label=status_label,
                           regions=db.session.scalars(select(Region).order_by(Region.code)).all(),
                           provinces=db.session.scalars(select(Province).order_by(Province.code)).all())


def _board_export(tiers, today, only: bool):
    """The whole board (every technician, not a page) from the kept figures, streamed: read a
    batch of technicians at a time, their stale figures refreshed first
    (``board.export_rows``)."""
    def cell(held, eligible: bool, unmet: int):
        if held:
            return status_label(effective_status(held, today))
        return word("eligible") if eligible else ngettext(
            "%(num)d requirement unmet", "%(num)d requirements unmet", unmet)

    lang = user_lang()
    header = columns("username", "name", "outlet", "outlet_name") + [t.title(lang) for t in tiers]
    tier_ids = [t.id for t in tiers]

    def rows():
        # Once the view has returned: in an application context (and session) of its own.
        shown = list(db.session.scalars(select(Tier).where(Tier.id.in_(tier_ids)).order_by(Tier.level)))
        for user, cells in eligibility_board.export_rows(shown, today, only_eligible=only):
            yield [user.username, user.name, *place(user.outlet)] + [cell(h, e, n) for _t, h, e, n in cells]

    return table_response(header, rows(), f"eligibility-{today.isoformat()}", request.args["format"], lazy=True)


@bp.route("/certificates/eligibility/<username>/<tier_code>", methods=["GET", "POST"])
@roles_required(*TRAINERS)
def grant(username: str, tier_code: str):
    user = db.session.scalar(select(User).where(User.username == username.lower()))
    tier = svc.tier_by_code(tier_code)
    if user is None or tier is None or not user.has_role("technician"):
        abort(404)
    today = local_today()
    form = GrantForm()
    if form.validate_on_submit():
        try:
            cert = svc.issue(user, tier, today, by=current_user._get_current_object(), note=form.note.data or "",
                             force=bool(form.force.data))
        except svc.NotEligible:
            form.force.errors = list(form.force.errors) + [
                _("Requirements are unmet: tick “issue anyway” and say why in the note, or wait until they are met.")]
        except svc.CertificateError as problem:
            form.note.errors = list(form.note.errors) + [str(problem)]
        else:
            flash(_("Certificate %(number)s issued.", number=cert.number), "success")
            return redirect(url_for("certification.certificate", number=cert.number))
    return render_template("certification/grant.html", user=user, tier=tier, check=eligibility(user, tier, today),
                           held=svc.holding(user, tier), form=form, lang=user_lang())


ACTIONS = ("suspend", "reinstate", "revoke", "renew")


@bp.route("/certificates/<number>/<action>", methods=["POST"])
@roles_required(*TRAINERS)
def change(number: str, action: str):
    cert = _cert_or_404(number)
    if action not in ACTIONS:
        abort(404)
    form = ActionForm()
    if not form.validate_on_submit():
        if not form.is_submitted() or "csrf_token" in form.errors:
            abort(400)
        for message in (m for errors in form.errors.values() for m in errors):
            flash(message, "error")  # e.g. a reason with a direction-changing character
        return redirect(url_for("certification.certificate", number=cert.number))
    me, today, reason = current_user._get_current_object(), local_today(), (form.reason.data or "").strip()
    if action == "revoke" and not form.confirm.data:
        flash(_("Not revoked: tick “I understand that revoking is final” to confirm."), "error")
        return redirect(url_for("certification.certificate", number=cert.number))
    try:
        if action == "suspend":
            svc.suspend(cert, reason, by=me)
        elif action == "reinstate":
            svc.reinstate(cert, reason, today, by=me)
        elif action == "revoke":
            svc.revoke(cert, reason, by=me)
        else:
            svc.renew(cert, today, by=me, note=reason, force=bool(form.force.data))
    except svc.NotEligible as refused:
        flash(_("Not renewed: %(unmet)s.", unmet="; ".join(r.label for r in refused.result.unmet)), "error")
    except svc.CertificateError as problem:
        flash(str(problem), "error")
    else:
        flash(_("Saved: %(action)s.", action=svc.action_label(
            {"suspend": "suspended", "reinstate": "reinstated", "revoke": "revoked", "renew": "renewed"}[action])),
            "success")
    return redirect(url_for("certification.certificate", number=cert.number))
