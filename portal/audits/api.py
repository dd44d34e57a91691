"""The audit API: the form a client fills (``GET /api/v1/audit-templates/SLUG``) and filing a whole
audit in one JSON request (``POST /api/v1/audits``, mobile clients, integrations): validated field
by field, stored and submitted in one transaction, or nothing stored.

The request's JSON Schema (``AUDIT_PAYLOAD``) is the one the OpenAPI document shows and the one
:func:`file_audit` reads its field names and types from; each item's answer schema comes from its
response type (``rtypes``), which also cleans the answer."""

from __future__ import annotations

from datetime import datetime

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import apidoc
from ..auth.api import bp as api_bp
from ..auth.models import User
from ..extensions import db
from ..inputs import check_text, parse_int
from ..learning.models import Lesson
from ..links import external_url
from ..paging import count
from ..products import PRODUCTS
from ..security import json_error, roles_required
from . import rtypes
from . import services as svc
from . import visit_services as visits
from .loader import _resolve_trains, all_items, current_template
from .models import Audit, AuditTemplate, AuditVisit

BOTH = {"type": "object", "required": ["zh", "en"],
        "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}}

# POST /api/v1/audits: the document shows this schema; file_audit reads its fields from it.
AUDIT_PAYLOAD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["technician", "template", "visited_at", "work_order", "product", "city", "responses"],
    "properties": {
        "technician": {"type": "string", "description": "the username of an active technician (not the caller)"},
        "template": {"type": "string", "description": "the audit form's slug; its current version is used"},
        "visited_at": {"type": "string", "format": "date-time",
                       "description": "ISO-8601 with its offset, within the last year, not in the future"},
        "work_order": {"type": "string", "description": "1–60 characters; with technician and visited_at it "
                                                        "identifies the visit"},
        "product": {"enum": list(PRODUCTS)},
        "city": {"type": "string", "description": "1–60 characters"},
        "responses": {"type": "object", "additionalProperties": {"type": ["string", "number", "null"]},
                      "description": "item id → answer, each as the item's `answer` schema in the template "
                                     "says; every `required` item needs one"},
        "comments": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "item id → what the auditor saw; required for a failed item whose "
                                    "`evidence` is comment"},
    },
}
TEXT_FIELDS = tuple(name for name, schema in AUDIT_PAYLOAD["properties"].items()
                    if schema.get("type") == "string" or "enum" in schema)

AUDIT_SUMMARY = {
    "type": "object",
    "required": ["id", "score", "result", "red_line_failed", "section_scores"],
    "properties": {
        "id": {"type": "integer"},
        "score": {"type": ["number", "null"], "description": "percent; null when nothing scored was answered"},
        "result": {"type": "string", "description": "a grade code of the template; fail on any red line"},
        "red_line_failed": {"type": "boolean"},
        "section_scores": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
    },
}
DUPLICATE = {
    "type": "object", "required": ["error", "status", "id"],
    "properties": {"error": {"type": "string"}, "status": {"const": 409},
                   "id": {"type": "integer", "description": "the report of this visit"}},
}

ITEM = {
    "type": "object",
    "required": ["id", "type", "weight", "red_line", "text", "evidence", "options", "guidance", "na", "required",
                 "scored", "about", "answer"],
    "properties": {
        "id": {"type": "string"},
        "type": {"enum": list(rtypes.TYPES)},
        "weight": {"type": "number", "minimum": 0, "maximum": 100},
        "red_line": {"type": "boolean", "description": "breaking it fails the whole report"},
        "text": BOTH, "guidance": BOTH,
        "evidence": {"enum": ["none", "comment", "photo"],
                     "description": "what a failed item needs: a comment in `comments`, or a photo (on the portal)"},
        "options": {"type": ["array", "null"], "items": {"type": ["string", "integer"]},
                    "description": "the answers to choose from (yesno, rating, choice), `na` last when allowed"},
        "na": {"type": "boolean", "description": "whether `na` (not applicable) is an answer"},
        "required": {"type": "boolean", "description": "must be answered (or `na` where allowed) to file"},
        "scored": {"type": "boolean", "description": "whether its answer moves the score"},
        "about": {"enum": ["technician", "office"], "description": "office: the service centre's doing, never "
                                                                  "scored nor held against the technician"},
        "answer": {"type": "object", "description": "JSON Schema of the answer this item accepts"},
        "norms": {"type": "array", "items": {"type": "string"}},
        "pass_when": {"enum": ["yes", "no"], "description": "yesno: the passing answer (scores 1, the other 0; "
                                                            "the other breaks a red line)"},
        "red_line_at": {"type": ["integer", "null"], "description": "rating: a red-line item fails at or below "
                                                                    "this; null when not a red-line item"},
        "min": {"type": "number"}, "max": {"type": "number"},
        "target": {"type": ["object", "null"], "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
                   "description": "number: scores 1 within [min, max], else 0; null: recorded, not scored"},
        "choices": {"type": "array", "items": {
            "type": "object", "required": ["id", "label", "score", "red_line"],
            "properties": {"id": {"type": "string"}, "label": BOTH, "score": {"type": "number"},
                           "red_line": {"type": "boolean"}}}},
    },
}
LESSON = {
    "type": "object", "required": ["kind", "course", "slug", "title", "url"],
    "properties": {"kind": {"enum": ["lesson", "module"]}, "course": {"type": "string"},
                   "slug": {"type": ["string", "null"]}, "title": BOTH, "url": {"type": "string"}},
}
SECTION = {
    "type": "object",
    "required": ["id", "title", "items", "guidance", "about", "weight", "below", "trains", "lesson"],
    "properties": {
        "id": {"type": "string"}, "title": BOTH, "guidance": BOTH,
        "about": {"enum": ["technician", "office"]},
        "weight": {"type": "number", "description": "the weights of its items that count"},
        "below": {"type": ["number", "null"], "description": "a section scoring under this percent assigns its "
                                                            "lesson (weak-section rule); null: never"},
        "trains": {"type": ["string", "null"], "description": "lesson:COURSE/LESSON or module:COURSE/N"},
        "lesson": {"oneOf": [LESSON, {"type": "null"}], "description": "what `trains` names, or null"},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditItem"}},
    },
}
TEMPLATE = {
    "type": "object",
    "required": ["slug", "version", "title", "summary", "grades", "rules", "sections"],
    "properties": {
        "slug": {"type": "string"}, "version": {"type": "integer"}, "title": BOTH, "summary": BOTH,
        "grades": {"type": "array", "description": "highest first: the first band whose min the score reaches",
                   "items": {"type": "object", "required": ["code", "min", "title"],
                             "properties": {"code": {"type": "string"}, "min": {"type": "number"},
                                            "title": BOTH}}},
        "rules": {"type": "object", "description": "red_line {suspend_certificate, notify_trainers}, "
                                                   "weak_section {below, due_days}, good_practice {grades, story}"},
        "sections": {"type": "array", "items": {"$ref": "#/components/schemas/AuditSection"}},
    },
}
SCHEMAS = {"AuditPayload": AUDIT_PAYLOAD, "AuditSummary": AUDIT_SUMMARY, "AuditDuplicate": DUPLICATE,
           "AuditItem": ITEM, "AuditSection": SECTION, "AuditTemplate": TEMPLATE}

SCORING = """How the portal scores a report, per item: yesno scores 1 when the answer is `pass_when`, else 0;
a rating n scores (n − 1) / 4; a choice scores its option's `score`; a number scores 1 inside `target`
(inclusive), else 0. The score is the weighted mean (`weight`) of the answered items that are `scored`
(`na` leaves the denominator; `about: office` sections never count), as a percent; the result is the
first of `grades` whose `min` it reaches, or `fail` when any red line is broken: a red-line yesno answered
other than `pass_when`, a red-line rating at or below `red_line_at`, a choice option with `red_line`.
An item fails when it breaks a red line or, weighted, scores under 0.5; a failed item whose `evidence` is
`comment` needs a comment. A section scoring under its `below` assigns its `lesson` to the technician."""


def _lesson(trains: str | None) -> dict | None:
    row = _resolve_trains(trains) if trains else None
    if row is None:
        return None
    if isinstance(row, Lesson):
        return {"kind": "lesson", "course": row.course.slug, "slug": row.slug,
                "title": {"zh": row.title_zh, "en": row.title_en},
                "url": external_url("learning.lesson", slug=row.course.slug, lesson=row.slug)}
    return {"kind": "module", "course": row.course.slug, "slug": row.slug,
            "title": {"zh": row.title_zh, "en": row.title_en},
            "url": external_url("learning.course", slug=row.course.slug)}


def _item(item: dict, about: str) -> dict:
    kind = rtypes.get(item["type"])
    data = {"id": item["id"], "type": item["type"], "weight": item["weight"], "red_line": item["red_line"],
            "text": item["text"], "evidence": item["evidence"], "options": kind.options(item),
            "guidance": item["guidance"], "na": kind.allows_na(item),
            "required": bool(item["weight"] or item["red_line"]),
            "scored": bool(kind.scored and item["weight"] and about != "office"
                           and (item["type"] != "number" or item.get("target") is not None)),
            "about": about, "answer": kind.answer_schema(item), "norms": item.get("norms", [])}
    if item["type"] == "yesno":
        data["pass_when"] = item.get("pass_when", "yes")
    elif item["type"] == "rating":
        data["red_line_at"] = int(item.get("red_line_at", 2)) if item["red_line"] else None
    elif item["type"] == "number":
        low, high = rtypes.get("number").bounds(item)
        data.update({"min": low, "max": high, "target": item.get("target")})
    elif item["type"] == "choice":
        data["choices"] = [{"id": o["id"], "label": o["label"], "score": o.get("score", 0),
                            "red_line": bool(o.get("red_line"))} for o in item["options"]]
    return data


def template_data(template: AuditTemplate) -> dict:
    """The form as a client needs it to fill and score it the way the portal's page does."""
    spec = template.spec
    weak = (spec.get("rules") or {}).get("weak_section")
    sections = []
    for s in spec["sections"]:
        about = s.get("about", "technician")
        items = [_item(i, about) for i in s["items"]]
        below = (s.get("below") or weak["below"]) if weak and s.get("trains") else None
        sections.append({"id": s["id"], "title": s["title"], "guidance": s.get("guidance") or {"zh": "", "en": ""},
                         "about": about, "weight": sum(i["weight"] for i in items if i["scored"]),
                         "below": below, "trains": s.get("trains"), "lesson": _lesson(s.get("trains")),
                         "items": items})
    return {"slug": template.slug, "version": template.version, "title": spec["title"],
            "summary": spec.get("summary") or {"zh": "", "en": ""},
            "grades": [{"code": g["code"], "min": g["min"], "title": g["title"]} for g in spec["grades"]],
            "rules": spec.get("rules") or {}, "sections": sections}


class BadPayload(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("bad payload")
        self.fields = fields


def _when(text) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def file_audit(auditor: User, payload, now: datetime) -> tuple[Audit, bool]:
    """The report and whether it was created now (False: this visit was already reported by
    this auditor, and that report is returned unchanged)."""
    if not isinstance(payload, dict):
        raise BadPayload({"body": _("Send a JSON object.")})
    fields: dict[str, str] = {}
    for name in payload:
        if name not in AUDIT_PAYLOAD["properties"]:
            fields[name] = _("Unknown field.")
    for name in TEXT_FIELDS:
        if payload.get(name) is not None and not isinstance(payload[name], str):
            fields[name] = _("A text value.")
    slug = payload.get("template")
    # A NUL byte is never in a name, and PostgreSQL refuses it in a query.
    template = current_template(slug) if isinstance(slug, str) and "\x00" not in slug else None
    if template is None:
        fields["template"] = _("No such audit form.")
    username = payload.get("technician")
    technician = db.session.scalar(select(User).where(User.username == username.strip().lower())) \
        if isinstance(username, str) and "\x00" not in username else None
    visited = _when(payload.get("visited_at"))
    if payload.get("visited_at") is not None and visited is None:
        fields["visited_at"] = _("An ISO-8601 date and time with its offset, e.g. 2026-11-20T14:30:00+08:00.")
    header = svc.check_header(auditor, technician, visited, str(payload.get("work_order") or ""),
                              str(payload.get("product") or ""), str(payload.get("city") or ""), now)
    for name, message in header.items():
        fields.setdefault(name, message)
    responses, comments = payload.get("responses"), payload.get("comments", {})
    if not isinstance(responses, dict):
        fields["responses"] = _("An object of item id → answer.")
        responses = {}
    if not isinstance(comments, dict) or not all(isinstance(v, str) for v in comments.values()):
        fields["comments"] = _("An object of item id → text.")
        comments = {}
    clean, clean_comments = {}, {}
    if template is not None:
        items = all_items(template.spec)

        for item_id, value in responses.items():
            item = items.get(item_id)
            if item is None:
                fields[f"responses.{item_id}"] = _("There is no such item in this form.")
                continue
            if item["type"] == "photo":
                fields[f"responses.{item_id}"] = _("Photos are uploaded on the portal, not through this call.")
                continue
            if isinstance(value, str) and check_text(_("Answer"), value, multiline=True):
                fields[f"responses.{item_id}"] = check_text(_("Answer"), value, multiline=True)
                continue
            try:
                value = rtypes.get(item["type"]).clean(item, value)
            except ValueError as problem:
                fields[f"responses.{item_id}"] = str(problem)
                continue
            if value is not None:
                clean[item_id] = value
        for item_id, text in comments.items():
            if item_id not in items:
                fields[f"comments.{item_id}"] = _("There is no such item in this form.")
            elif check_text(_("Comment"), text, multiline=True):
                fields[f"comments.{item_id}"] = check_text(_("Comment"), text, multiline=True)
            elif text.strip():
                clean_comments[item_id] = text.strip()[:2000]
        if not any(name.startswith("responses") for name in fields):
            for item_id, message in svc.missing_answers(template.spec, clean, clean_comments, set()).items():
                fields[f"responses.{item_id}"] = message
    if fields:
        raise BadPayload(fields)
    existing = svc.same_visit(technician.id, str(payload["work_order"]), visited)
    if existing is not None:
        return _repeat(auditor, existing)
    audit = Audit(template_id=template.id, auditor_id=auditor.id, technician_id=technician.id, visited_at=visited,
                  work_order=str(payload["work_order"]).strip(), product=payload["product"],
                  city=str(payload["city"]).strip(), status="draft", responses=clean, comments=clean_comments)
    db.session.add(audit)
    try:
        db.session.flush()
        svc.submit(audit, now)  # commits, or rolls back everything including the row above
    except IntegrityError:  # the same visit, filed at the same moment by another request
        db.session.rollback()
        existing = svc.same_visit(technician.id, str(payload["work_order"]), visited)
        if existing is None:
            raise
        return _repeat(auditor, existing)
    except Exception:
        db.session.rollback()
        raise
    return audit, True


def _repeat(auditor: User, existing: Audit) -> tuple[Audit, bool]:
    """The same visit sent again: the first report when it is this auditor's and submitted
    (nothing applied twice), otherwise a conflict."""
    if existing.auditor_id == auditor.id and existing.status == "submitted":
        return existing, False
    raise svc.DuplicateVisit(existing)


def summary(audit: Audit) -> dict:
    return {"id": audit.id, "score": audit.score, "result": audit.result, "red_line_failed": audit.red_line_failed,
            "section_scores": audit.section_scores}


# --- GET /api/v1/audit-visits: an auditors' app's list of planned visits ------------------------

VISIT_LIMIT = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
VISIT_PAGE_NO = {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1}
VISIT_STATUS = {"enum": ["open", "done", "all"], "default": "open"}
VISIT_AUDITOR = {"type": "string", "pattern": "^(me|[1-9][0-9]{0,9})$", "default": "me"}
VISIT = {
    "type": "object",
    "required": ["id", "period", "due_on", "overdue", "status", "technician", "outlet", "form", "links"],
    "properties": {
        "id": {"type": "integer"},
        "period": {"type": "string", "description": "2027-01 (a month) or 2027-Q1 (a quarter)"},
        "due_on": {"type": "string", "format": "date"},
        "overdue": {"type": "boolean", "description": "open and due before the portal's day (PORTAL_TIMEZONE)"},
        "status": {"enum": ["open", "done", "cancelled"]},
        "technician": {"type": "object", "required": ["id", "name"],
                       "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        "outlet": {"oneOf": [{"type": "object", "required": ["code", "name", "city"],
                              "properties": {"code": {"type": "string"}, "name": BOTH, "city": {"type": "string"}}},
                             {"type": "null"}], "description": "the technician's outlet when drawn"},
        "form": {"type": "string", "description": "the audit form's slug (`GET /api/v1/audit-templates/SLUG`)"},
        "audit": {"type": ["integer", "null"], "description": "the report that made it done"},
        "links": {"type": "object", "required": ["start", "page"],
                  "properties": {"start": {"type": "string", "description": "the portal's new-report page, "
                                                                            "pre-filled for this visit"},
                                 "page": {"type": "string", "description": "the visit's page"}}},
    },
}
VISIT_LIST = {
    "type": "object", "required": ["total", "page", "limit", "results"],
    "properties": {"total": {"type": "integer", "minimum": 0}, "page": {"type": "integer"},
                   "limit": {"type": "integer"}, "results": {"type": "array", "items": apidoc.ref("AuditVisit")}},
}


def _bounded(name: str, schema: dict) -> tuple[int | None, str | None]:
    raw = request.args.get(name)
    if raw is None:
        return schema["default"], None
    value = parse_int(raw, schema["minimum"], schema["maximum"])
    if value is None:
        return None, _("%(name)s must be a whole number from %(low)d to %(high)d.", name=name,
                       low=schema["minimum"], high=schema["maximum"])
    return value, None


def visit_data(row: visits.Row) -> dict:
    visit = row.visit
    return {"id": visit.id, "period": visit.period, "due_on": visit.due_on.isoformat(), "overdue": row.overdue,
            "status": visit.status, "technician": {"id": visit.technician_id, "name": visit.technician.display_name},
            "outlet": {"code": row.outlet.code, "name": {"zh": row.outlet.name_zh, "en": row.outlet.name_en},
                       "city": row.outlet.city} if row.outlet else None,
            "form": row.programme.template_slug if row.programme else None, "audit": visit.audit_id,
            "links": {"start": external_url("audits.new", visit=visit.id),
                      "page": external_url("audit_visits.detail", visit_id=visit.id)}}


@api_bp.route("/audit-visits")
@roles_required("auditor", "trainer", "admin")
@apidoc.operation(
    "listAuditVisits", "Planned mystery visits of an auditor", tags=("audits",),
    schemas={"AuditVisit": VISIT, "AuditVisitList": VISIT_LIST},
    description="`auditor=me` (the default): the caller's own visits. Another auditor's id: trainers and "
                "admins only. Open visits are listed by due date (overdue first), done ones newest first. "
                "A visit planned for the caller as a technician is never listed.",
    parameters=[apidoc.query("auditor", VISIT_AUDITOR, "`me`, or an auditor's user id (trainers, admins)"),
                apidoc.query("status", VISIT_STATUS, "open (default), done, or all"),
                apidoc.query("limit", VISIT_LIMIT, "results per page"),
                apidoc.query("page", VISIT_PAGE_NO, "page number")],
    responses={"200": apidoc.json_body("A page of visits.", apidoc.ref("AuditVisitList")),
               "400": apidoc.error("A parameter out of range or malformed (named in `error`)."),
               "403": apidoc.error("Another auditor's visits asked by someone who is not a trainer or admin, "
                                   "or a role that holds no visits.")})
def audit_visits_json():
    me = current_user._get_current_object()
    who = request.args.get("auditor", "me")
    status = request.args.get("status", "open")
    limit, problem = _bounded("limit", VISIT_LIMIT)
    page, problem2 = _bounded("page", VISIT_PAGE_NO)
    problem = problem or problem2
    if problem is None and status not in VISIT_STATUS["enum"]:
        problem = _("status must be open, done or all.")
    auditor_id = me.id if who == "me" else parse_int(who, 1, 9_999_999_999)
    if problem is None and auditor_id is None:
        problem = _("auditor must be me or a user id.")
    if problem:
        return json_error(400, problem)
    if auditor_id != me.id and not me.has_role("trainer", "admin"):
        return json_error(403, _("Only trainers and admins see another auditor's visits."))
    query = visits.visible(me).where(AuditVisit.auditor_id == auditor_id)
    if status == "open":
        query = query.where(AuditVisit.status == "open").order_by(AuditVisit.due_on,
                                                                         AuditVisit.id)
    elif status == "done":
        query = visits.in_state(query, "done", None)
    else:
        query = query.order_by(AuditVisit.due_on.desc(), AuditVisit.id.desc())
    total = count(query)
    found = list(db.session.scalars(query.limit(limit).offset((page - 1) * limit)))
    day = visits.today(visits.now_utc())
    return jsonify({"total": total, "page": page, "limit": limit,
                    "results": [visit_data(row) for row in visits.rows(found, day)]})
