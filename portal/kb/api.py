"""GET /api/v1/cases and /api/v1/cases/SLUG."""

from __future__ import annotations

from flask import jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth.api import bp
from ..extensions import db
from ..i18n import user_lang
from ..inputs import parse_int
from ..links import external_url
from ..security import json_error, roles_required
from .models import LANGS, Case, Photo
from .search_service import api_result, search_cases
from .services import PRODUCT_RE, old_address
from .views import READERS


def _int_arg(name: str, default: int, low: int, high: int):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default, None
    value = parse_int(raw.removeprefix("-"))
    if value is None:
        return None, _("%(name)s must be a whole number.", name=name)
    value = -value if raw.startswith("-") else value
    if not low <= value <= high:
        return None, _("%(name)s must be from %(low)d to %(high)d.", name=name, low=low, high=high)
    return value, None


@bp.route("/cases")
@roles_required(*READERS)
def cases():
    q = request.args.get("q", "")
    product = request.args.get("product") or None
    lang = request.args.get("lang") or None
    limit, problem = _int_arg("limit", 10, 1, 100)
    page, problem2 = _int_arg("page", 1, 1, 1000)
    problem = problem or problem2
    if problem is None and len(q) > 200:
        problem = _("q must be at most 200 characters.")
    if problem is None and product is not None and not PRODUCT_RE.match(product):
        problem = _("product is not a product name such as air-conditioner.")
    if problem is None and lang is not None and lang not in LANGS:
        problem = _("lang must be zh or en.")
    if problem is None and not q.strip() and product is None:
        problem = _("Give q (what to search for) or product.")
    if problem:
        return json_error(400, problem)
    page_result = search_cases(q, lang=lang or user_lang(), product=product, only_lang=lang,
                               limit=limit, page=page, user=current_user, log=True)
    if page_result.rebuilding:
        return json_error(503, _("The search index is being rebuilt; try again in a few minutes."))
    return jsonify({"total": page_result.total, "page": page, "limit": limit,
                    "results": [api_result(r) for r in page_result.results],
                    "suggestions": page_result.suggestions})


@bp.route("/cases/<slug>")
@roles_required(*READERS)
def case_detail(slug: str):
    case = db.session.scalar(select(Case).where(Case.slug == slug, Case.status == "published"))
    if case is None:
        moved = old_address(slug)
        if moved is not None:  # a case re-keyed since: its old address moved for good
            return redirect(url_for("api.case_detail", slug=moved.slug), code=301)
        return json_error(404, _("No published case has that slug."))
    translations = db.session.scalars(
        select(Case.slug).where(Case.key == case.key, Case.id != case.id,
                                Case.status == "published")).all()
    photos = db.session.scalars(select(Photo).where(Photo.case_id == case.id)).all()
    data = {name: getattr(case, name) for name in (
        "slug", "key", "lang", "title", "product", "error_codes", "models", "components",
        "symptoms", "series", "difficulty", "time_minutes", "related", "body", "version")}
    data.update({
        "url": external_url("kb.case", slug=case.slug),
        "updated_at": case.updated_at.isoformat(),
        "translations": list(translations),
        "photos": [external_url("kb.photo", name=p.name) for p in photos],
        "contributors": [c.user.display_name for c in case.credits],
    })
    return jsonify(data)
