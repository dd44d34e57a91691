"""Sign-in, sign-out and password change."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..extensions import db
from ..security import public, safe_next, signed_in
from .forms import ChangePasswordForm, LoginForm
from .models import User
from .services import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_DAYS,
    AccountError,
    authenticate,
    device_cookie_after_sign_in,
    end_session,
    session_alive,
    start_session,
)
from .services import change_password as change_password_service

bp = Blueprint("auth", __name__)


def load_user(user_id: str) -> User | None:
    """Flask-Login: the session stores "id.auth_version" and this device's session id.

    A stale version (password changed, account deactivated) or an ended device
    session (signed out) means the cookie no longer signs anyone in.
    """
    try:
        raw_id, raw_version = user_id.split(".", 1)
        user = db.session.get(User, int(raw_id))
        version = int(raw_version)
    except (ValueError, TypeError):
        return None
    if user is None or not user.is_active or user.auth_version != version:
        return None
    if not session_alive(user, session.get("sid")):
        return None
    return user


def _client_address() -> str:
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    next_url = safe_next(request.values.get("next"), url_for("core.home"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = authenticate(form.username.data, form.password.data, _client_address(),
                              request.cookies.get(DEVICE_COOKIE))
        if not result.ok and not result.inactive:
            # Unknown user, wrong password, or asked to wait: one answer, so that none of
            # them tells a guesser anything.
            flash(_("Wrong username or password. After several failed attempts, wait a "
                    "minute before trying again."), "error")
            status = 401
        elif result.inactive:
            flash(_("This account is deactivated. Ask an administrator if you need access."), "error")
            status = 403
        else:
            session.clear()  # a new session on sign-in: no fixation
            session.permanent = True
            login_user(result.user)
            session["sid"] = start_session(result.user, _client_address(),
                                           request.headers.get("User-Agent", ""))
            if result.user.locale:
                session["locale"] = result.user.locale
            if result.user.must_change_password:
                response = redirect(url_for("auth.change_password", next=next_url))
            else:
                response = redirect(next_url)
            # This device is now trusted for this account: others' failures won't slow it.
            response.set_cookie(
                DEVICE_COOKIE,
                device_cookie_after_sign_in(request.cookies.get(DEVICE_COOKIE), result.user.username),
                max_age=DEVICE_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                secure=current_app.session_interface.get_cookie_secure(current_app))
            return response
        form.password.data = ""
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form, next=next_url), status


@bp.route("/logout", methods=["POST"])
@public
def logout():
    # Public so that an expired session can still "sign out" without an error;
    # the CSRF token keeps other sites from signing people out.
    locale = session.get("locale")
    end_session(session.get("sid"))
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
def change_password():
    form = ChangePasswordForm()
    next_url = safe_next(request.values.get("next"), url_for("core.home"))
    if form.validate_on_submit():
        try:
            user = current_user._get_current_object()
            change_password_service(user, form.current.data, form.new.data)
        except AccountError as exc:
            field = getattr(form, exc.field or "new")
            field.errors = list(field.errors) + [str(exc)]
        else:
            # The session id embeds the auth version: sign in again on this device only.
            login_user(user)
            flash(_("Your password has been changed."), "success")
            return redirect(next_url)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form, next=next_url), status

