"""Home pages, /healthz and the language switch."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select, text

from ..audits import visit_services as visits
from ..audits.models import Audit
from ..auth.services import technician_count
from ..certification.rules import what_lifts_it
from ..certification.services import badge_certificate, paused_certificates, register_summary
from ..extensions import db
from ..i18n import local_today as today
from ..i18n import user_lang
from ..kb.services import kb_summary
from ..learning.services import next_steps, trainer_summary
from ..notifications import Notification
from ..records.content import review_counts
from ..records.record import next_steps as urgent_steps
from ..security import leave_session_cookie, public, roles_required, safe_next, signed_in
from . import services

bp = Blueprint("core", __name__)


@bp.route("/")
@signed_in
def home():
    role = current_user.primary_role
    if role is None:  # an account whose roles were all removed
        return render_template("home/no_role.html")
    return redirect(url_for("core.home_" + role))


@bp.route("/technician")
@roles_required("technician")
def home_technician():
    lang = user_lang()
    return render_template("home/technician.html", learning=next_steps(current_user, today(), lang),
                           steps=urgent_steps(current_user, today(), lang),
                           certificate=badge_certificate(current_user, today()),
                           paused=paused_certificates(current_user, today()), lifts=what_lifts_it, today=today(),
                           lang=lang)


@bp.route("/trainer")
@roles_required("trainer")
def home_trainer():
    notes = db.session.scalars(select(Notification).where(Notification.user_id == current_user.id)
                               .order_by(Notification.created_at.desc()).limit(10)).all()
    learning = trainer_summary(today())  # its "overdue" is the length of the overdue list (records.dashboard)
    return render_template("home/trainer.html", network=services.network_summary(),
                           technicians=technician_count(), overdue=learning["overdue"],
                           kb=kb_summary(), learning=learning,
                           certificates=register_summary(today()), notifications=notes,
                           review=review_counts(today()))


@bp.route("/auditor")
@roles_required("auditor")
def home_auditor():
    mine = select(Audit).where(Audit.auditor_id == current_user.id)
    drafts = db.session.scalars(mine.where(Audit.status == "draft").order_by(Audit.updated_at.desc())).all()
    recent = db.session.scalars(mine.where(Audit.status == "submitted").order_by(Audit.submitted_at.desc())
                                .limit(5)).all()
    day = visits.today(visits.now_utc())  # the portal's day: a visit due today is not overdue yet
    planned = visits.home(current_user, day)
    return render_template("home/auditor.html", network=services.network_summary(), drafts=drafts, recent=recent,
                           planned=planned, rows=lambda found: visits.rows(found, day), lang=user_lang())


@bp.route("/admin")
@roles_required("admin")
def home_admin():
    return render_template("home/admin.html", summary=services.admin_summary())


@bp.route("/sw.js")
@public
def service_worker():
    """The service worker, served from the root so that it may cover every page."""
    leave_session_cookie()
    response = send_from_directory(current_app.static_folder, "js/sw.js",
                                   mimetype="application/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/offline")
@public
def offline():
    """The page the service worker shows when the network is gone (both languages)."""
    if request.args.get("fallback"):
        leave_session_cookie()  # fetched in the background: see leave_session_cookie
    return render_template("home/offline.html")


@bp.route("/healthz")
@public
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to answer means "down"
        db.session.rollback()
        current_app.logger.warning("health check: database unavailable: %s", exc)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.route("/language", methods=["POST"])
@public
def set_language():
    locale = request.form.get("locale")
    if locale in current_app.config["PORTAL_LOCALES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(safe_next(request.form.get("next"), url_for("core.home")))
