"""Figures for the role home pages: only what the database actually holds."""

from __future__ import annotations

from sqlalchemy import func, select

from ..auth.models import ROLES, Outlet, Province, Region, User, UserRole
from ..auth.services import locked_accounts
from ..extensions import db


def role_counts() -> dict[str, int]:
    rows = db.session.execute(
        select(UserRole.role, func.count())
        .join(User, User.id == UserRole.user_id)
        .where(User.active.is_(True))
        .group_by(UserRole.role)
    ).all()
    counts = {role: 0 for role in ROLES}
    counts.update(dict(rows))
    return counts


def admin_summary() -> dict:
    return {
        "roles": role_counts(),
        "inactive": db.session.scalar(select(func.count()).where(User.active.is_(False))),
        "regions": db.session.scalar(select(func.count(Region.id))),
        "provinces": db.session.scalar(select(func.count(Province.id))),
        "outlets": db.session.scalar(select(func.count(Outlet.id))),
        "technicians_without_outlet": db.session.scalar(
            select(func.count(User.id)).where(
                User.active.is_(True), User.outlet_id.is_(None),
                User.id.in_(select(UserRole.user_id).where(UserRole.role == "technician")),
            )
        ),
        "locked": locked_accounts(),
    }


def network_summary() -> dict:
    """What a trainer or auditor can already rely on: the size of the network."""
    counts = role_counts()
    return {
        "technicians": counts["technician"],
        "outlets": db.session.scalar(select(func.count(Outlet.id))),
        "regions": db.session.scalar(select(func.count(Region.id))),
    }
