"""Access control, session cookies and response headers.

Deny by default: every view must declare who may use it with one of the
decorators below. A request to an endpoint without a declaration is refused
with 403, so forgetting a decorator fails closed. ``tests/test_access.py`` also
checks that every registered endpoint declares its rule.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

PUBLIC = "public"
SIGNED_IN = "signed_in"

# Endpoints that belong to Flask itself and are public.
BUILTIN_PUBLIC = {"static"}


def public(view):
    """Anyone, signed in or not."""
    view._access = (PUBLIC, frozenset())
    return view


def signed_in(view):
    """Any signed-in user, whatever their roles."""
    view._access = (SIGNED_IN, frozenset())
    return view


def roles_required(*roles: str):
    """Signed-in users holding at least one of these roles."""
    def decorate(view):
        view._access = ("roles", frozenset(roles))
        return view

    return decorate


class SelfDecision(ValueError):
    """A decision about a person that this same person tried to take."""


def is_self(actor, subject) -> bool:
    """Whether the one deciding and the one decided about are the same person (users or ids).
    A person with several roles is still one person."""
    actor_id, subject_id = getattr(actor, "id", actor), getattr(subject, "id", subject)
    return actor_id is not None and actor_id == subject_id


def refuse_self(actor, subject, error=SelfDecision) -> None:
    """The one rule for every decision about a person (issuing, renewing, suspending,
    reinstating or revoking a certificate, publishing or rejecting a contribution, signing off,
    auditing, amending an audit, seeing one's own marks): nobody takes it about themselves.
    ``error`` builds the caller's own exception from the message (default ``SelfDecision``)."""
    if is_self(actor, subject):
        raise error(_("Nobody decides about themselves: another person must take this decision."))


def access_rule(app: Flask, endpoint: str):
    if endpoint in BUILTIN_PUBLIC or endpoint.endswith(".static"):
        return (PUBLIC, frozenset())
    view = app.view_functions.get(endpoint)
    return getattr(view, "_access", None)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def json_error(status: int, message: str):
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="portal"'
    return response


def refuse_nul_bytes():
    """before_request: no input may carry a NUL byte (PostgreSQL text cannot hold one)."""
    if "\x00" in request.path:
        abort(400)
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400)
    return None


def enforce_access():
    """before_request hook: apply the endpoint's declared rule."""
    if request.endpoint is None:  # 404 / 405: routing reports those
        return None
    rule = access_rule(current_app, request.endpoint)
    if rule is None:
        current_app.logger.error("endpoint %s declares no access rule; refused", request.endpoint)
        return _forbidden()
    kind, roles = rule
    if kind == PUBLIC:
        return None
    if not current_user.is_authenticated:
        if is_api_request():
            return json_error(401, _("Sign-in required: send a session cookie or a bearer token."))
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if current_user.must_change_password and not g.get("auth_via_token") and (
        request.endpoint not in {"auth.change_password", "auth.logout", "core.set_language"}
    ):
        # Bearer tokens are issued by an administrator for integrations and are not
        # held up; a person signed in with a temporary password must replace it first.
        if is_api_request():
            return json_error(403, _("Change your password before using the portal."))
        return redirect(url_for("auth.change_password", next=request.full_path.rstrip("?")))
    if kind == SIGNED_IN:
        return None
    if not current_user.has_role(*roles):
        return _forbidden()
    return None


def _forbidden():
    if is_api_request():
        return json_error(403, _("Your roles do not allow this."))
    abort(403)


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative paths are followed after sign-in or a language switch."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target:
        return fallback
    return target


def leave_session_cookie() -> None:
    """This response must not (re)write the session cookie.

    For what the service worker fetches in the background (the offline page): such a fetch can
    start with the cookie from before signing in and finish after it, and a refreshed cookie in
    its answer would put the old, signed-out session back.
    """
    g.leave_session_cookie = True


class PortalSessionInterface(SecureCookieSessionInterface):
    """Session cookie marked Secure whenever the request came over HTTPS.

    Behind a proxy, set PORTAL_PROXY_HOPS so X-Forwarded-Proto is trusted.
    """

    def save_session(self, app, session, response):
        # Static files and the service worker's background fetches never change the session; a
        # refreshed cookie on them could only race a sign-in or sign-out in another request.
        if g.get("leave_session_cookie") or request.endpoint == "static":
            return None
        return super().save_session(app, session, response)

    def get_cookie_secure(self, app):
        if app.config["SESSION_COOKIE_SECURE"]:
            return True
        try:
            return request.is_secure
        except RuntimeError:  # outside a request
            return False


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "geolocation=(), microphone=()")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Pages may hold personal data: never store them in shared caches.
    if response.mimetype == "text/html" or is_api_request():
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def api_too_many(seconds: int):
    """The API's 429: JSON in the API's error shape, with Retry-After."""
    response = json_error(429, ngettext(
        "Too many requests: try again in %(num)d second.",
        "Too many requests: try again in %(num)d seconds.", seconds))
    response.headers["Retry-After"] = str(seconds)
    return response
