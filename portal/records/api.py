"""``GET /api/v1/technicians/USERNAME/record``: a technician's record as far as audits reach it —
certificates, assignments (with what caused them), audits, and what each audit led to."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import jsonify, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import apidoc
from ..audits.models import Audit, AuditConsequence, GoodPracticeStory
from ..auth.api import bp as api_bp
from ..auth.models import User
from ..certification.models import Certificate
from ..certification.rules import effective_status, local_today
from ..extensions import db
from ..i18n import user_lang
from ..learning import services as learning
from ..security import json_error, roles_required


@dataclass
class AssignmentLine:
    kind: str  # lesson | module | course
    title: str
    reason: str
    due: object
    status: str  # complete | overdue | open
    source: str  # trainer | audit | assignment
    audit_id: int | None = None
    url: str | None = None


@dataclass
class Record:
    user: User
    certificates: list[Certificate]
    statuses: dict[int, str]
    assignments: list[AssignmentLine]
    audits: list[Audit]
    consequences: list[AuditConsequence]
    stories: list[GoodPracticeStory] = field(default_factory=list)


def record(user: User, lang: str) -> Record:
    today = local_today()
    certs = list(db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)
                                    .order_by(Certificate.issued_on.desc())))
    audits = list(db.session.scalars(select(Audit).where(Audit.technician_id == user.id, Audit.status == "submitted")
                                     .order_by(Audit.visited_at.desc(), Audit.id.desc())))
    consequences = list(db.session.scalars(select(AuditConsequence).join(Audit).where(
        Audit.technician_id == user.id).order_by(AuditConsequence.created_at.desc(), AuditConsequence.id.desc())))
    caused_by = {c.targeted_id: c.audit_id for c in consequences if c.targeted_id}
    lines = []
    for item in learning.targeted_for(user, today):
        row = item.targeted
        target = row.lesson or row.module
        status = "complete" if item.complete else ("overdue" if item.overdue else "open")
        url = (url_for("learning.lesson", slug=row.course.slug, lesson=row.lesson.slug) if row.lesson
               else url_for("learning.course", slug=row.course.slug))
        lines.append(AssignmentLine("lesson" if row.lesson else "module", target.text("title", lang), row.shown_reason,
                                    row.due_date, status, row.source, caused_by.get(row.id), url))
    for item in learning.assignments_for(user, today):
        course = item.assignment.course
        status = "complete" if item.progress.complete else ("overdue" if item.overdue else "open")
        lines.append(AssignmentLine("course", course.text("title", lang), "", item.due or item.assignment.due_date, status,
                                    "assignment", None, url_for("learning.course", slug=course.slug)))
    stories = list(db.session.scalars(select(GoodPracticeStory).where(GoodPracticeStory.technician_id == user.id)))
    return Record(user, certs, {c.id: effective_status(c, today) for c in certs},
                  sorted(lines, key=lambda l: (l.status == "complete", l.due)), audits, consequences, stories)


def record_data(user: User, lang: str, hide_auditor: bool = True) -> dict:
    data = record(user, lang)
    return {
        "username": user.username,
        "name": user.name,
        "outlet": user.outlet.code if user.outlet else None,
        "certificates": [{"number": c.number, "tier": c.tier.code, "status": data.statuses[c.id],
                          "valid_until": c.valid_until.isoformat()} for c in data.certificates],
        "assignments": [{"kind": a.kind, "title": a.title, "reason": a.reason, "due": a.due.isoformat(),
                         "status": a.status, "source": a.source, "audit": a.audit_id} for a in data.assignments],
        "audits": [{"id": a.id, "date": a.visited_at.isoformat(), "score": a.score, "result": a.result,
                    "red_line_failed": a.red_line_failed, **({} if hide_auditor else {"auditor": a.auditor.username})}
                   for a in data.audits],
        "consequences": [{"kind": c.kind, "audit": c.audit_id, "detail": c.shown_detail,
                          "at": c.created_at.isoformat(), "undone": c.resolution or None}
                         for c in data.consequences],
    }


DATE = {"type": "string", "format": "date"}
MOMENT = {"type": "string", "format": "date-time"}
RECORD = {
    "type": "object",
    "required": ["username", "name", "outlet", "certificates", "assignments", "audits", "consequences"],
    "properties": {
        "username": {"type": "string"}, "name": {"type": "string"}, "outlet": {"type": ["string", "null"]},
        "certificates": {"type": "array", "items": {
            "type": "object", "required": ["number", "tier", "status", "valid_until"],
            "properties": {"number": {"type": "string"}, "tier": {"type": "string"},
                           "status": {"type": "string", "description": "active, expired, suspended, lapsed or revoked"},
                           "valid_until": DATE}}},
        "assignments": {"type": "array", "items": {
            "type": "object", "required": ["kind", "title", "reason", "due", "status", "source", "audit"],
            "properties": {"kind": {"enum": ["lesson", "module", "course"]}, "title": {"type": "string"},
                           "reason": {"type": "string"}, "due": DATE,
                           "status": {"enum": ["complete", "overdue", "open"]},
                           "source": {"type": "string", "description": "trainer, audit or assignment"},
                           "audit": {"type": ["integer", "null"], "description": "the audit that caused it"}}}},
        "audits": {"type": "array", "items": {
            "type": "object", "required": ["id", "date", "score", "result", "red_line_failed"],
            "properties": {"id": {"type": "integer"}, "date": MOMENT, "score": {"type": ["number", "null"]},
                           "result": {"type": ["string", "null"], "description": "a grade code; fail on a red line"},
                           "red_line_failed": {"type": "boolean"},
                           "auditor": {"type": "string", "description": "the auditor's username (trainers only)"}}}},
        "consequences": {"type": "array", "items": {
            "type": "object", "required": ["kind", "audit", "detail", "at", "undone"],
            "properties": {"kind": {"type": "string", "description": "suspend, assign, good_practice or notify"},
                           "audit": {"type": "integer"}, "detail": {"type": "string"}, "at": MOMENT,
                           "undone": {"type": ["string", "null"], "description": "how it was undone, if it was"}}}},
    },
}


@api_bp.route("/technicians/<username>/record")
@roles_required("technician", "trainer", "admin")
@apidoc.operation(
    "getTechnicianRecord", "A technician's record: certificates, assignments, audits and what they led to",
    tags=("records",), description="A technician sees only their own record; trainers and admins anyone's.",
    schemas={"TechnicianRecord": RECORD}, path={"username": "the technician's username"},
    responses={"200": apidoc.json_body("The record.", apidoc.ref("TechnicianRecord")),
               "404": apidoc.error("No such technician, or not one the caller may see.")})
def record_json(username: str):
    user = db.session.scalar(select(User).where(User.username == username.lower()))
    if user is None or not user.has_role("technician") or not (
            current_user.has_role("trainer", "admin") or user.id == current_user.id):
        return json_error(404, _("No such technician."))
    return jsonify(record_data(user, user_lang(), hide_auditor=not current_user.has_role("trainer")))
