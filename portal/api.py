"""JSON API under /api/v1/: session cookie or ``Authorization: Bearer TOKEN``.

Missing or bad credentials get 401 JSON, a role that may not call an endpoint
gets 403 JSON (see security.py). Other areas register their endpoints on ``bp``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .auth.models import ROLES, User, UserRole
from .extensions import db
from .security import json_error, roles_required, signed_in

bp = Blueprint("api", __name__, url_prefix="/api/v1")


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
def me():
    return jsonify(user_json(current_user))


@bp.route("/users")
@roles_required("admin")
def users():
    query = select(User).order_by(User.username)
    role = request.args.get("role")
    if role is not None:
        if role not in ROLES:
            return json_error(400, _("role must be one of %(roles)s", roles=", ".join(ROLES)))
        query = query.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    return jsonify({"users": [user_json(u) for u in db.session.scalars(query)]})
