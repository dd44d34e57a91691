"""Filing a whole audit in one JSON request (mobile clients, integrations): validated field by
field, stored and submitted in one transaction, or nothing stored."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..auth.models import User
from ..extensions import db
from ..inputs import check_text
from . import rtypes
from . import services as svc
from .loader import all_items, current_template
from .models import Audit


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
    known = {"technician", "template", "visited_at", "work_order", "product", "city", "responses", "comments"}
    for name in payload:
        if name not in known:
            fields[name] = _("Unknown field.")
    for name in ("technician", "template", "visited_at", "work_order", "product", "city"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            fields[name] = _("A text value.")
    template = current_template(payload.get("template")) if isinstance(payload.get("template"), str) else None
    if template is None:
        fields["template"] = _("No such audit form.")
    username = payload.get("technician")
    technician = db.session.scalar(select(User).where(User.username == username.strip().lower())) \
        if isinstance(username, str) else None
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
