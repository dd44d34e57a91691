"""GET /api/v1/cases and /api/v1/cases/SLUG."""

from __future__ import annotations

from flask import jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import apidoc
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


# The query parameters as the document states them; the checks below read their bounds from here.
LIMIT = {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
PAGE = {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1}
Q = {"type": "string", "maxLength": 200}
PRODUCT = {"type": "string", "pattern": PRODUCT_RE.pattern}
LANG = {"enum": list(LANGS)}

STRINGS = {"type": "array", "items": {"type": "string"}}
CASE_RESULT = {
    "type": "object",
    "required": ["slug", "title", "lang", "product", "error_codes", "url", "snippet"],
    "properties": {"slug": {"type": "string"}, "title": {"type": "string"}, "lang": LANG,
                   "product": {"type": "string"}, "error_codes": STRINGS,
                   "url": {"type": "string", "description": "the case page"},
                   "snippet": {"type": "string", "description": "HTML-escaped text, `<mark>` around matches"}},
}
CASE_PAGE = {
    "type": "object",
    "required": ["total", "page", "limit", "results", "suggestions"],
    "properties": {"total": {"type": "integer", "minimum": 0}, "page": {"type": "integer"},
                   "limit": {"type": "integer"}, "results": {"type": "array", "items": apidoc.ref("CaseResult")},
                   "suggestions": {**STRINGS, "description": "other ways to ask, when few cases matched"}},
}
CASE_FIELDS = ("slug", "key", "lang", "title", "product", "error_codes", "models", "components", "symptoms",
               "series", "difficulty", "time_minutes", "related", "body", "version")
CASE = {
    "type": "object",
    "required": [*CASE_FIELDS, "url", "updated_at", "translations", "photos", "contributors"],
    "properties": {
        "slug": {"type": "string"}, "key": {"type": "string", "description": "shared by a case's translations"},
        "lang": LANG, "title": {"type": "string"}, "product": {"type": "string"}, "error_codes": STRINGS,
        "models": STRINGS, "components": STRINGS, "symptoms": STRINGS, "series": {"type": "string"},
        "difficulty": {"type": ["integer", "null"]}, "time_minutes": {"type": ["integer", "null"]},
        "related": STRINGS, "body": {"type": "string", "description": "Markdown"},
        "version": {"type": "integer"}, "url": {"type": "string"},
        "updated_at": {"type": "string", "format": "date-time"},
        "translations": {**STRINGS, "description": "slugs of the same case in other languages"},
        "photos": {**STRINGS, "description": "photo addresses"}, "contributors": STRINGS,
    },
}


def _int_arg(name: str, schema: dict):
    default, low, high = schema["default"], schema["minimum"], schema["maximum"]
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
@apidoc.operation(
    "searchCases", "Search the fault cases", tags=("cases",),
    description="Give `q` or `product` (or both). Empty `product`, `lang`, `limit` or `page` count as not given.",
    schemas={"CaseResult": CASE_RESULT, "CasePage": CASE_PAGE},
    parameters=[apidoc.query("q", Q, "what to search for: words, an error code, a model"),
                apidoc.query("product", PRODUCT, "only this product line, e.g. air-conditioner"),
                apidoc.query("lang", LANG, "only cases in this language (else the reader's, falling back)"),
                apidoc.query("limit", LIMIT, "results per page"), apidoc.query("page", PAGE, "page number")],
    responses={"200": apidoc.json_body("A page of ranked cases.", apidoc.ref("CasePage")),
               "400": apidoc.error("A parameter out of range or malformed (named in `error`), or neither q nor "
                                   "product given."),
               "503": apidoc.error("The search index is being rebuilt; try again in a few minutes.")})
def cases():
    q = request.args.get("q", "")
    product = request.args.get("product") or None
    lang = request.args.get("lang") or None
    limit, problem = _int_arg("limit", LIMIT)
    page, problem2 = _int_arg("page", PAGE)
    problem = problem or problem2
    if problem is None and len(q) > Q["maxLength"]:
        problem = _("q must be at most 200 characters.")
    if problem is None and product is not None and not PRODUCT_RE.fullmatch(product):
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
@apidoc.operation(
    "getCase", "One published case, whole", tags=("cases",), schemas={"Case": CASE},
    path={"slug": "the case's slug (as in its `url`)"},
    responses={"200": apidoc.json_body("The case.", apidoc.ref("Case")),
               "301": {"description": "The case was re-keyed: its new address is in `Location`.",
                       "headers": {"Location": {"schema": {"type": "string"}}}},
               "404": apidoc.error("No published case has that slug.")})
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
    data = {name: getattr(case, name) for name in CASE_FIELDS}
    data.update({
        "url": external_url("kb.case", slug=case.slug),
        "updated_at": case.updated_at.isoformat(),
        "translations": list(translations),
        "photos": [external_url("kb.photo", name=p.name) for p in photos],
        "contributors": [c.user.display_name for c in case.credits],
    })
    return jsonify(data)
