"""The service network: regions → provinces → outlets (网点)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from .models import Outlet, Province, Region, User, UserRole
from .services import AccountError


def _code_taken(model, code: str, exclude_id: int | None) -> bool:
    query = select(model.id).where(func.upper(model.code) == code.upper())
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query) is not None


def save_place(model, obj, *, code: str, name_zh: str, name_en: str, **links):
    """Create (obj None) or update a region, province or outlet; codes are unique."""
    code = code.strip()
    if _code_taken(model, code, obj.id if obj is not None else None):
        raise AccountError(_("The code %(code)s is already used.", code=code), field="code")
    if obj is None:
        obj = model()
        db.session.add(obj)
    obj.code = code
    obj.name_zh = name_zh.strip()
    obj.name_en = name_en.strip()
    for key, value in links.items():
        setattr(obj, key, value.strip() if isinstance(value, str) else value)
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise AccountError(_("The code %(code)s is already used.", code=code), field="code") from exc
    return obj


def delete_place(obj) -> None:
    """Delete a region, province or outlet that nothing belongs to."""
    children = {
        Region: lambda o: o.provinces,
        Province: lambda o: o.outlets,
        Outlet: lambda o: o.users,
    }[type(obj)](obj)
    if children:
        raise AccountError(_("%(code)s still has entries below it; move or remove them first.",
                             code=obj.code))
    db.session.delete(obj)
    db.session.commit()


def network_tree() -> list[dict]:
    """Regions with their provinces and outlets, and technician counts at each level."""
    counts = dict(
        db.session.execute(
            select(User.outlet_id, func.count(User.id))
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == "technician", User.active.is_(True))
            .group_by(User.outlet_id)
        ).all()
    )
    tree = []
    for region in db.session.scalars(select(Region).order_by(Region.code)):
        provinces = []
        for province in region.provinces:
            outlets = [{"outlet": o, "technicians": counts.get(o.id, 0)} for o in province.outlets]
            provinces.append({
                "province": province, "outlets": outlets,
                "technicians": sum(o["technicians"] for o in outlets),
            })
        tree.append({
            "region": region, "provinces": provinces,
            "technicians": sum(p["technicians"] for p in provinces),
        })
    return tree


def outlet_choices() -> list[tuple[str, str]]:
    rows = db.session.scalars(select(Outlet).order_by(Outlet.code)).all()
    return [("", "—")] + [(o.code, f"{o.code} · {o.name}") for o in rows]


FILTER_OUTLETS = 300  # at most this many outlets in a list filter's drop-down


def filter_outlets(region_id: int | None = None, province_id: int | None = None,
                   outlet_id: int | None = None) -> list[Outlet]:
    """The outlets a list's outlet filter offers: those of the chosen province (or region), by
    code, at most ``FILTER_OUTLETS``, and always the chosen outlet. With no place chosen, only the
    chosen outlet: 8,000 outlets in every page's drop-down would outweigh the list itself."""
    rows: list[Outlet] = []
    if province_id or region_id:
        query = select(Outlet).join(Province, Outlet.province_id == Province.id).order_by(Outlet.code)
        query = query.where(Province.id == province_id) if province_id else query.where(Province.region_id == region_id)
        rows = list(db.session.scalars(query.limit(FILTER_OUTLETS)))
    if outlet_id and all(o.id != outlet_id for o in rows):
        chosen = db.session.get(Outlet, outlet_id)
        rows = ([chosen] if chosen is not None else []) + rows
    return rows
