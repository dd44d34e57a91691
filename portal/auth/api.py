"""JSON API under /api/v1/: session cookie or ``Authorization: Bearer TOKEN``.

Missing or bad credentials get 401 JSON, a role that may not call an endpoint
gets 403 JSON (see security.py). Other areas register their endpoints on ``bp``.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import apidoc, apilimits
from ..extensions import csrf, db
from ..security import (PUBLIC, access_rule, api_too_many, is_api_request, json_error, public, roles_required,
                        signed_in)
from .models import ROLES, User, UserRole
from .services import user_for_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def api_user_from_bearer():
    """before_request for /api/: a bearer token, when sent, decides who the caller is.

    A request carrying an Authorization header is judged by that header alone
    (a bad token is 401 even with a valid session cookie), and is exempt from CSRF
    because browsers never attach it on their own. Session-cookie API calls that
    change something must carry the CSRF token like any form.
    """
    if not is_api_request():
        return None
    wait = apilimits.address_wait()
    if wait:
        return api_too_many(wait)
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _sep, token = header.partition(" ")
        token = token.strip()
        user = user_for_token(token) if scheme.lower() == "bearer" else None
        if user is None:
            wait = apilimits.failed_auth_wait()
            if wait:
                return api_too_many(wait)
            return json_error(401, _("The bearer token is missing, malformed, revoked or unknown."))
        wait = apilimits.token_wait(token)
        if wait:
            return api_too_many(wait)
        # Flask-Login keeps the request's user in g._login_user; setting it here makes
        # current_user the token's owner for this request without touching the session.
        g._login_user = user
        g.auth_via_token = True
        return None
    if current_user.is_authenticated:
        wait = apilimits.user_wait(current_user.id)
    elif request.endpoint is not None and access_rule(current_app, request.endpoint) != (
            PUBLIC, frozenset()):
        wait = apilimits.failed_auth_wait()  # enforce_access answers 401 if within the limit
    else:
        wait = None
    if wait:
        return api_too_many(wait)
    if request.method not in ("GET", "HEAD", "OPTIONS") and current_app.config.get(
        "WTF_CSRF_ENABLED", True
    ):
        csrf.protect()
    return None


USER = {
    "type": "object",
    "required": ["username", "name", "roles", "active", "outlet", "province", "region", "locale"],
    "properties": {
        "username": {"type": "string"},
        "name": {"type": "string"},
        "roles": {"type": "array", "items": {"enum": list(ROLES)}},
        "active": {"type": "boolean"},
        "outlet": {"type": ["string", "null"], "description": "outlet code; null for staff outside the network"},
        "province": {"type": ["string", "null"]},
        "region": {"type": ["string", "null"]},
        "locale": {"type": ["string", "null"], "description": "the language the user chose, if any"},
    },
}


def user_json(user: User) -> dict:
    outlet = user.outlet
    return {
        "username": user.username,
        "name": user.name,
        "roles": sorted(user.roles),
        "active": user.active,
        "outlet": outlet.code if outlet else None,
        "province": outlet.province.code if outlet else None,
        "region": outlet.province.region.code if outlet else None,
        "locale": user.locale,
    }


@bp.route("/me")
@signed_in
@apidoc.operation("getMe", "The caller", tags=("users",), schemas={"User": USER},
                  responses={"200": apidoc.json_body("The user the token or session belongs to.", apidoc.ref("User"))})
def me():
    return jsonify(user_json(current_user))


@bp.route("/users")
@roles_required("admin")
@apidoc.operation(
    "listUsers", "Every user, or those holding one role", tags=("users",), schemas={"User": USER},
    parameters=[apidoc.query("role", {"enum": list(ROLES)}, "only users holding this role")],
    responses={"200": apidoc.json_body("Users by username.", {
        "type": "object", "required": ["users"],
        "properties": {"users": {"type": "array", "items": apidoc.ref("User")}}}),
        "400": apidoc.error("An unknown role.")})
def users():
    query = select(User).order_by(User.username)
    role = request.args.get("role")
    if role is not None:
        if role not in ROLES:
            return json_error(400, _("role must be one of %(roles)s", roles=", ".join(ROLES)))
        query = query.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    return jsonify({"users": [user_json(u) for u in db.session.scalars(query)]})


API_DESCRIPTION = """JSON for mobile clients and integrations. Authenticate with `Authorization: Bearer TOKEN`
(or the browser's session cookie, which must send `X-CSRFToken` on requests that change something).
Errors are `{"error", "status"}`; a refused audit adds `"fields"` naming each problem.
Over a rate limit: 429 with `Retry-After`."""


@bp.route("/openapi.json")
@public
@apidoc.operation("getOpenApi", "This document", tags=("meta",),
                  responses={"200": apidoc.json_body("The OpenAPI 3.1 document of /api/v1.", {"type": "object"})})
def openapi():
    """Public: the contract holds no data, and a client reads it before it has a token."""
    document = current_app.extensions.get("openapi")  # the routes do not change: built once
    if document is None:
        document = current_app.extensions["openapi"] = apidoc.build(
            current_app, bp.name, title="Service Portal API", version="1", description=API_DESCRIPTION)
    return jsonify(document)
