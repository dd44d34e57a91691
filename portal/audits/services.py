"""Filing audits: drafts saved answer by answer, photos, submission (scored, locked, and its
consequences in the same transaction), trainers' amendments, the technician's acknowledgement."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..auth.models import User, UserRole
from ..dbtypes import utcnow
from ..extensions import db
from ..inputs import check_text
from ..kb.photos import PhotoError, clean_image
from ..learning import services as learning
from ..learning.models import TargetedAssignment
from ..messages import msg
from ..notifications import notify, retract
from ..products import PRODUCTS
from ..security import refuse_self
from . import rtypes
from .consequences import called_for, consequences
from .loader import _resolve_trains, all_items
from .models import (Audit, AuditAmendment, AuditConsequence, AuditFailedItem, AuditPhoto, AuditProgramme,
                     AuditTemplate, AuditVisit, GoodPracticeStory)
from .scoring import Scored, missing, red_line_items, score_report

MAX_PHOTOS_PER_AUDIT = 20


def missing_answers(spec: dict, responses: dict, comments: dict, photo_items: set[str]) -> dict[str, str]:
    """:func:`missing`, each message in the reader's language."""
    return {item_id: _(message) for item_id, message in missing(spec, responses, comments, photo_items).items()}


class AuditError(ValueError):
    """A message for the user; nothing was changed."""


class AuditInvalid(AuditError):
    def __init__(self, problems: dict[str, str]):
        super().__init__(_("Some answers are missing or need evidence: %(n)d.", n=len(problems)))
        self.problems = problems


class DuplicateVisit(AuditError):
    """This visit already has a report (``existing``)."""

    def __init__(self, existing: Audit):
        super().__init__(_("This visit (technician, work order and time) is already reported: report #%(n)d.",
                           n=existing.id))
        self.existing = existing


def same_visit(technician_id: int, work_order: str, visited_at: datetime, but: int | None = None) -> Audit | None:
    """The report of this visit, if there is one (other than ``but``)."""
    query = select(Audit).where(Audit.technician_id == technician_id, Audit.work_order == work_order.strip(),
                                Audit.visited_at == visited_at)
    if but is not None:
        query = query.where(Audit.id != but)
    return db.session.scalar(query)


# --- starting and drafting --------------------------------------------------------------------


def check_header(auditor: User, technician: User | None, visited_at: datetime | None, work_order: str,
                 product: str, city: str, now: datetime) -> dict[str, str]:
    """Problems with an audit's header, by field (empty when it is fine)."""
    problems = {}
    if not auditor.has_role("auditor"):
        problems["auditor"] = _("Only auditors file audits.")
    if technician is None or not technician.active or not technician.has_role("technician"):
        problems["technician"] = _("Choose an active technician.")
    elif technician.id == auditor.id:
        problems["technician"] = _("Nobody audits their own visit.")
    if visited_at is None:
        problems["visited_at"] = _("The date and time of the visit.")
    elif visited_at > now + timedelta(minutes=5):
        problems["visited_at"] = _("The visit cannot be in the future.")
    elif visited_at < now - timedelta(days=365):
        problems["visited_at"] = _("The visit is more than a year ago.")
    if not (work_order or "").strip() or len(work_order.strip()) > 60:
        problems["work_order"] = _("The work-order number (up to 60 characters).")
    if product not in PRODUCTS:
        problems["product"] = _("Choose the product line.")
    if not (city or "").strip() or len(city.strip()) > 60:
        problems["city"] = _("The city (up to 60 characters).")
    for name, label in (("work_order", _("Work order")), ("city", _("City"))):
        problems.setdefault(name, check_text(label, work_order if name == "work_order" else city))
    return {name: message for name, message in problems.items() if message}


def start(auditor: User, technician: User, template: AuditTemplate, visited_at: datetime, work_order: str,
          product: str, city: str, now: datetime) -> Audit:
    problems = check_header(auditor, technician, visited_at, work_order, product, city, now)
    if problems:
        raise AuditInvalid(problems)
    existing = same_visit(technician.id, work_order, visited_at)
    if existing is not None:
        raise DuplicateVisit(existing)
    audit = Audit(template_id=template.id, auditor_id=auditor.id, technician_id=technician.id, visited_at=visited_at,
                  work_order=work_order.strip(), product=product, city=city.strip(), status="draft",
                  responses={}, comments={})
    db.session.add(audit)
    try:
        db.session.commit()
    except IntegrityError:  # the same visit, started at the same moment elsewhere
        db.session.rollback()
        existing = same_visit(technician.id, work_order, visited_at)
        if existing is None:
            raise
        raise DuplicateVisit(existing) from None
    return audit


def _own_draft(audit: Audit, auditor: User) -> None:
    if audit.auditor_id != auditor.id:
        raise AuditError(_("Only the auditor who started a draft changes or deletes it."))
    _draft(audit)


def edit_header(audit: Audit, auditor: User, technician: User | None, visited_at: datetime | None, work_order: str,
                product: str, city: str, now: datetime) -> Audit:
    """Correct a draft's header (technician, visit time, work order, product, city): the same
    checks as starting it, and still one report per visit."""
    _own_draft(audit, auditor)
    problems = check_header(auditor, technician, visited_at, work_order, product, city, now)
    if problems:
        raise AuditInvalid(problems)
    existing = same_visit(technician.id, work_order, visited_at, but=audit.id)
    if existing is not None:
        raise DuplicateVisit(existing)
    audit.technician_id, audit.visited_at, audit.work_order = technician.id, visited_at, work_order.strip()
    audit.product, audit.city, audit.updated_at = product, city.strip(), now
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = same_visit(technician.id, work_order, visited_at, but=audit.id)
        if existing is None:
            raise
        raise DuplicateVisit(existing) from None
    return audit


def delete_draft(audit: Audit, auditor: User) -> None:
    """A draft its auditor no longer wants (a visit that did not happen, a wrong start): gone
    with its photos. A submitted report is never deleted."""
    _own_draft(audit, auditor)
    names = [photo.name for photo in audit.photos]
    db.session.delete(audit)
    db.session.commit()
    folder = photo_folder()
    for name in names:
        (folder / name).unlink(missing_ok=True)


def _draft(audit: Audit) -> None:
    if audit.status != "draft":
        raise AuditError(_("This report is submitted and locked."))


def clean_response(audit_or_spec, item_id: str, value):
    spec = audit_or_spec.template.spec if isinstance(audit_or_spec, Audit) else audit_or_spec
    item = all_items(spec).get(item_id)
    if item is None:
        raise AuditError(_("There is no such item in this form."))
    return item, rtypes.get(item["type"]).clean(item, value)


def save_answer(audit: Audit, item_id: str, value, comment: str | None = None) -> Audit:
    """Keep one answer (and the auditor's comment on it) in the draft. A photo item's answer is
    the number of photos attached to it, whatever is sent."""
    _draft(audit)
    item = all_items(audit.template.spec).get(item_id)
    refused = check_text(_("Comment"), comment, multiline=True) or (
        check_text(_("Answer"), value, multiline=True) if isinstance(value, str) else None)
    if refused:
        raise AuditInvalid({item_id: refused})
    if item is not None and item["type"] == "photo":
        value = (audit.responses or {}).get(item_id)
    try:
        _item, clean = clean_response(audit, item_id, value)
    except ValueError as problem:
        raise AuditInvalid({item_id: str(problem)}) from None
    responses = dict(audit.responses or {})
    if clean is None:
        responses.pop(item_id, None)
    else:
        responses[item_id] = clean
    audit.responses = responses
    if comment is not None:
        comments = dict(audit.comments or {})
        text = comment.strip()[:2000]
        if text:
            comments[item_id] = text
        else:
            comments.pop(item_id, None)
        audit.comments = comments
    audit.updated_at = utcnow()
    db.session.commit()
    return audit


def save_answers(audit: Audit, values: dict, comments: dict) -> dict[str, str]:
    """Save every answer of a posted page; returns the problems by item (those are not saved,
    the rest are). Items without a posted answer keep theirs."""
    problems = {}
    for item_id in set(values) | set(comments):
        try:
            save_answer(audit, item_id, values.get(item_id, (audit.responses or {}).get(item_id)),
                        comments.get(item_id))
        except AuditInvalid as invalid:
            problems.update(invalid.problems)
    return problems


def photo_folder():
    folder = Path(current_app.instance_path) / "uploads" / "audit-photos"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def add_photo(audit: Audit, item_id: str, data: bytes) -> AuditPhoto:
    """A photo for one item: the knowledge base's checks (type, size, pixels), re-encoded
    without metadata, stored under a random name."""
    _draft(audit)
    item = all_items(audit.template.spec).get(item_id)
    if item is None:
        raise AuditError(_("There is no such item in this form."))
    if len(audit.photos) >= MAX_PHOTOS_PER_AUDIT:
        raise AuditError(_("At most %(n)d photos per report.", n=MAX_PHOTOS_PER_AUDIT))
    try:
        clean, mime, width, height = clean_image(data)
    except PhotoError as problem:
        raise AuditError(str(problem)) from None
    name = secrets.token_urlsafe(16) + (".png" if mime == "image/png" else ".jpg")
    (photo_folder() / name).write_bytes(clean)
    photo = AuditPhoto(audit=audit, item_id=item_id, name=name, mime=mime, width=width, height=height,
                       size=len(clean))
    db.session.add(photo)
    audit.updated_at = utcnow()  # a draft being worked on is not abandoned (audits/retention.py)
    if item["type"] == "photo":
        responses = dict(audit.responses or {})
        responses[item_id] = sum(1 for p in audit.photos if p.item_id == item_id)
        audit.responses = responses
    db.session.commit()
    return photo


# --- submitting and its consequences ----------------------------------------------------------


def _apply_score(audit: Audit) -> None:
    scored = score_report(audit.template.spec, audit.responses or {})
    audit.score, audit.result = scored.score, scored.result
    audit.red_line_failed, audit.section_scores = scored.red_line_failed, scored.section_scores
    audit.failed_items = scored.failed_items
    keep_failed_items(audit)


def keep_failed_items(audit: Audit) -> None:
    """Rewrite the report's rows in ``audit_failed_item`` from its ``failed_items``, in the
    caller's transaction."""
    db.session.flush()  # the report has its id
    db.session.execute(delete(AuditFailedItem).where(AuditFailedItem.audit_id == audit.id))
    db.session.add_all(AuditFailedItem(audit_id=audit.id, item_id=item_id)
                       for item_id in dict.fromkeys(audit.failed_items or []))


def submit(audit: Audit, now: datetime) -> Audit:
    """Score, lock and apply the template's consequence rules, all in one transaction: if any
    part fails, nothing of it stays (the report remains a draft)."""
    _draft(audit)
    technician = audit.technician
    if not technician.active or not technician.has_role("technician"):
        raise AuditError(_("%(name)s is no longer an active technician: correct the technician in the header "
                           "or delete the draft.", name=technician.display_name))
    problems = missing_answers(audit.template.spec, audit.responses or {}, audit.comments or {},
                               {p.item_id for p in audit.photos})
    if problems:
        raise AuditInvalid(problems)
    try:
        _apply_score(audit)
        audit.status, audit.submitted_at, audit.updated_at = "submitted", now, now
        db.session.flush()
        apply_consequences(audit, now)
        link_visit(audit, now)
        notify(audit.technician_id, "audit-acknowledge", f"audit-acknowledge:{audit.id}",
               msg("audit.acknowledge", n=audit.id),
               f"/audits/{audit.id}")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return audit


def period_start(period: str) -> date:
    """The first day of a visit's period (``2027-01`` or ``2027-Q1``)."""
    year, part = period.split("-")
    return date(int(year), (int(part[1:]) - 1) * 3 + 1 if part.startswith("Q") else int(part), 1)


def visit_candidates(audit: Audit) -> list[int]:
    """The open visits a report could make, due first: held by its auditor, for its technician,
    on its form (the programme's template), and planned for a period that had begun on the day
    of the visit (a report of an older visit is no planned visit's)."""
    slug = db.session.scalar(select(AuditTemplate.slug).where(AuditTemplate.id == audit.template_id))
    rows = db.session.execute(
        select(AuditVisit.id, AuditVisit.period).join(AuditProgramme, AuditProgramme.id == AuditVisit.programme_id)
        .where(AuditVisit.auditor_id == audit.auditor_id, AuditVisit.technician_id == audit.technician_id,
               AuditVisit.status == "open", AuditVisit.audit_id.is_(None), AuditProgramme.template_slug == slug)
        .order_by(AuditVisit.due_on, AuditVisit.id)).all()
    visited = local_day(audit.visited_at)
    return [visit_id for visit_id, period in rows if period_start(period) <= visited]


def claim_visit(visit_id: int, audit_id: int, now: datetime) -> bool:
    """Mark one visit done by this report, only if it is still open with no report: a
    conditional UPDATE, so of two reports submitted at the same moment the database lets one
    through (the other's UPDATE finds the row no longer open). No commit."""
    done = db.session.execute(
        update(AuditVisit).where(AuditVisit.id == visit_id, AuditVisit.status == "open",
                                 AuditVisit.audit_id.is_(None))
        .values(status="done", audit_id=audit_id, done_at=now).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        return False
    db.session.get(AuditVisit, visit_id, populate_existing=True)  # the session's copy reads "done"
    return True


def link_visit(audit: Audit, now: datetime) -> int | None:
    """Link a report being submitted to the planned visit it makes (see :func:`visit_candidates`),
    in the caller's transaction. Returns the visit's id, or None: the report is unplanned
    ("unassigned") and counted as such; a report beaten to its visit by another stays unplanned."""
    for visit_id in visit_candidates(audit):
        if claim_visit(visit_id, audit.id, now):
            return visit_id
    return None


def _existing(audit: Audit, kind: str, key: str = "") -> AuditConsequence | None:
    return db.session.scalar(select(AuditConsequence).where(
        AuditConsequence.audit_id == audit.id, AuditConsequence.kind == kind, AuditConsequence.key == key))


def _trainers() -> list[User]:
    return list(db.session.scalars(select(User).join(UserRole, UserRole.user_id == User.id).where(
        UserRole.role == "trainer", User.active)).unique())


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


# Certification sits above audits, so it hands audits the functions they need at start-up
# (portal.create_app fills this): "active" (user id → their active certificates), "suspend"
# (certificate, reason, rule=, commit=False), "find" (number → certificate or None) and
# "reinstate" (certificate, reason, today, by); for the programme's draw (draw.py) "suspended_users"
# () → ids holding a suspended certificate and "issued_since" (day) → ids with one issued since.
CERTIFICATES: dict[str, Callable] = {}


def apply_consequences(audit: Audit, now: datetime) -> list[AuditConsequence]:
    """The template's rules for this report, each at most once per report (no commit here):
    the choice is ``consequences.consequences`` (plain values); this gathers them and carries
    out its list in order."""
    spec, technician = audit.template.spec, audit.technician
    made: list[AuditConsequence] = []

    def record(kind: str, key: str = "", **refs) -> AuditConsequence:
        row = _existing(audit, kind, key)
        if row is None:
            row = AuditConsequence(audit_id=audit.id, kind=kind, key=key)
            db.session.add(row)
        else:  # undone earlier, called for again
            row.resolution, row.resolved_at, row.resolved_by_id, row.resolution_note = "", None, None, ""
            row.created_at = now
        for name, value in refs.items():
            setattr(row, name, value)
        made.append(row)
        return row

    red = red_line_items(spec, audit.failed_items or [], audit.responses or {}) if audit.red_line_failed else []
    outcome = Scored(audit.score, audit.result, audit.red_line_failed, dict(audit.section_scores or {}),
                     list(audit.failed_items or []), red)
    active = {cert.number: cert for cert in CERTIFICATES["active"](technician.id)}
    causing = {(row.kind, row.key) for row in db.session.scalars(select(AuditConsequence).where(
        AuditConsequence.audit_id == audit.id)) if not row.resolution}  # in force: not caused twice
    decided = consequences(audit.id, spec, outcome, audit.responses or {}, technician.display_name, list(active),
                           causing, local_day(now))
    for one in decided:
        reason = msg(one.reason.id, **one.reason.params) if one.reason else None
        if one.kind == "suspend":
            cert = active[one.key]
            CERTIFICATES["suspend"](cert, reason, rule="audit-red-line", commit=False)
            record("suspend", cert.number, certificate_id=cert.id, detail=reason)
        elif one.kind == "notify":
            link = f"/audits/{audit.id}"
            for trainer in _trainers():
                notify(trainer.id, "audit-red-line", f"audit-red-line:{audit.id}",
                       msg(one.notice.id, **one.notice.params), link)
            record("notify", detail=reason)
        elif one.kind == "assign":
            target = _resolve_trains(one.trains)
            if target is None:
                raise AuditError(_("The lesson for section %(section)s no longer exists; tell the content team.",
                                   section=one.key))
            row = learning.assign_targeted(technician, target, reason, one.due, assigned_by=None, source="audit",
                                           commit=False)
            record("assign", one.key, targeted_id=row.id, detail=reason)
        elif one.kind == "good_practice":
            row = GoodPracticeStory(audit_id=audit.id, technician_id=technician.id, story=one.story,
                                    status="proposed")
            db.session.add(row)
            db.session.flush()
            record("good_practice", story_id=row.id, detail=one.story[:200])
    db.session.flush()
    return made


# --- undoing what an amendment made unnecessary ------------------------------------------------



def in_force(consequence: AuditConsequence) -> bool:
    return not consequence.resolution


def no_longer_called_for(consequence: AuditConsequence) -> bool:
    """In force, but the report as amended would not cause it: a trainer may undo it."""
    audit = consequence.audit
    return in_force(consequence) and not called_for(audit.template.spec, audit.red_line_failed,
                                                    audit.section_scores or {}, consequence.kind, consequence.key)


def _resolve(consequence: AuditConsequence, how: str, by: User | None, note: str, now: datetime) -> None:
    consequence.resolution, consequence.resolved_at = how, now
    consequence.resolved_by_id, consequence.resolution_note = (by.id if by else None), (note or "").strip()[:2000]


def _clear_alerts(audit: Audit, trainer: User, now: datetime) -> None:
    """An amendment that removes the red line takes back the trainers' red-line alert (a
    suspension and a lesson stay until a trainer undoes them)."""
    for consequence in audit.consequences:
        if consequence.kind == "notify" and no_longer_called_for(consequence):
            retract(f"audit-red-line:{audit.id}")
            _resolve(consequence, "cleared", trainer, "", now)


def _undoable(audit: Audit, consequence_id: int, kind: str, trainer: User,
              note_problem: str | None = None) -> AuditConsequence:
    if not trainer.has_role("trainer"):
        raise AuditError(_("Only trainers undo what a report caused."))
    refuse_self(trainer, audit.technician_id, AuditError)
    if note_problem:
        raise AuditError(note_problem)
    consequence = db.session.scalar(select(AuditConsequence).where(
        AuditConsequence.id == consequence_id, AuditConsequence.audit_id == audit.id,
        AuditConsequence.kind == kind).with_for_update())
    if consequence is None:
        raise AuditError(_("This report did not cause that."))
    if not in_force(consequence):
        raise AuditError(_("That was already undone."))
    if not no_longer_called_for(consequence):
        raise AuditError(_("The report still calls for it; amend the report first."))
    return consequence


def reinstate_certificate(audit: Audit, consequence_id: int, trainer: User, note: str, now: datetime) -> AuditConsequence:
    """A trainer reinstates a certificate this report suspended, now that its amended answers
    have no red-line failure (through certification's service, which logs it)."""
    try:
        consequence = _undoable(audit, consequence_id, "suspend", trainer,
                                check_text(_("Note"), note, multiline=True))
        cert = CERTIFICATES["find"](consequence.key)
        if cert is None or cert.status != "suspended":
            raise AuditError(_("Certificate %(number)s is no longer suspended.", number=consequence.key))
        _resolve(consequence, "reinstated", trainer, note, now)
        reason = (note or "").strip() or _("Audit report #%(n)d was amended: it has no red-line failure any more.",
                                           n=audit.id)
        CERTIFICATES["reinstate"](cert, reason, local_day(now), by=trainer)  # commits
    except ValueError as problem:  # an AuditError, or certification's refusal
        db.session.rollback()
        raise AuditError(str(problem)) from None
    return consequence


def withdraw_lesson(audit: Audit, consequence_id: int, trainer: User, note: str, now: datetime) -> AuditConsequence:
    """A trainer withdraws the lesson this report assigned, now that the amended section score
    no longer falls short (through learning's service)."""
    try:
        consequence = _undoable(audit, consequence_id, "assign", trainer,
                                check_text(_("Note"), note, multiline=True))
        row = db.session.get(TargetedAssignment, consequence.targeted_id) if consequence.targeted_id else None
        _resolve(consequence, "withdrawn", trainer, note, now)
        consequence.targeted_id = None
        if row is not None:
            learning.withdraw_targeted(row, commit=False)
        db.session.commit()
    except ValueError as problem:
        db.session.rollback()
        raise AuditError(str(problem)) from None
    return consequence


# --- after submission -------------------------------------------------------------------------


def snapshot(audit: Audit) -> dict:
    return {"responses": dict(audit.responses or {}), "comments": dict(audit.comments or {}),
            "score": audit.score, "result": audit.result, "red_line_failed": audit.red_line_failed,
            "section_scores": dict(audit.section_scores or {})}


def amend(audit: Audit, trainer: User, reason: str, changes: dict, comments: dict | None, now: datetime) -> Audit:
    """A trainer corrects a submitted report. The original answers stay in the amendment; the
    score is recomputed; consequences the new answers call for are applied (each still once)."""
    if audit.status != "submitted":
        raise AuditError(_("Only a submitted report is amended; a draft is edited by its auditor."))
    if not trainer.has_role("trainer"):
        raise AuditError(_("Only trainers amend reports."))
    refuse_self(trainer, audit.technician_id, AuditError)  # not a report about oneself
    reason = (reason or "").strip()
    if not reason:
        raise AuditInvalid({"reason": _("Say why the report is amended.")})
    before = snapshot(audit)
    responses, problems = dict(audit.responses or {}), {}
    for item_id, value in (changes or {}).items():
        try:
            _item, clean = clean_response(audit, item_id, value)
        except (ValueError, AuditError) as problem:
            problems[item_id] = str(problem)
            continue
        if clean is None:
            responses.pop(item_id, None)
        else:
            responses[item_id] = clean
    if problems:
        raise AuditInvalid(problems)
    new_comments = dict(audit.comments or {})
    for item_id, text in (comments or {}).items():
        if text and text.strip():
            new_comments[item_id] = text.strip()[:2000]
        else:
            new_comments.pop(item_id, None)
    missing = missing_answers(audit.template.spec, responses, new_comments, {p.item_id for p in audit.photos})
    if missing:
        raise AuditInvalid(missing)
    if responses == before["responses"] and new_comments == before["comments"]:
        raise AuditInvalid({"reason": _("Nothing was changed.")})
    try:
        audit.responses, audit.comments, audit.updated_at = responses, new_comments, now
        _apply_score(audit)
        db.session.add(AuditAmendment(audit_id=audit.id, by_id=trainer.id, at=now, reason=reason[:2000],
                                      before=before, after=snapshot(audit)))
        db.session.flush()
        apply_consequences(audit, now)
        _clear_alerts(audit, trainer, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return audit


def acknowledge(audit: Audit, technician: User, comment: str, now: datetime) -> Audit:
    if audit.technician_id != technician.id or audit.status != "submitted":
        raise AuditError(_("Only the audited technician acknowledges a submitted report."))
    refused = check_text(_("Comment"), comment, multiline=True)
    if refused:
        raise AuditError(refused)
    audit.technician_comment = (comment or "").strip()[:2000]
    audit.acknowledged_at = audit.acknowledged_at or now
    db.session.commit()
    return audit


def decide_story(story: GoodPracticeStory, trainer: User, approve: bool, now: datetime) -> GoodPracticeStory:
    if not trainer.has_role("trainer"):
        raise AuditError(_("Only trainers approve good-practice stories."))
    refuse_self(trainer, story.technician_id, AuditError)
    story.status = "approved" if approve else "declined"
    story.decided_by_id, story.decided_at = trainer.id, now
    db.session.commit()
    return story


# --- reading ----------------------------------------------------------------------------------


@dataclass
class ConsequenceLine:
    """One line of "what this report led to", as it stands now."""

    row: AuditConsequence
    offer: str = ""  # "reinstate" | "withdraw": the amended report no longer calls for it
    certificate: object | None = None  # for a suspension: the certificate, as certification has it
    targeted: TargetedAssignment | None = None  # for a lesson: the assignment, while it stands


OFFERS = {"suspend": "reinstate", "assign": "withdraw"}


def consequence_lines(audit: Audit) -> list[ConsequenceLine]:
    lines = []
    for row in audit.consequences:
        line = ConsequenceLine(row)
        if row.kind == "suspend" and "find" in CERTIFICATES:
            line.certificate = CERTIFICATES["find"](row.key)
        if row.kind == "assign" and row.targeted_id:
            line.targeted = db.session.get(TargetedAssignment, row.targeted_id)
        if row.kind in OFFERS and no_longer_called_for(row):
            still = line.certificate is not None and line.certificate.status == "suspended" \
                if row.kind == "suspend" else line.targeted is not None
            line.offer = OFFERS[row.kind] if still else ""
        lines.append(line)
    return lines


def visible_audits(user: User):
    """The reports a user may see: trainers all, an auditor their own, a technician their own
    submitted ones."""
    query = select(Audit)
    if user.has_role("trainer", "admin"):
        return query
    if user.has_role("auditor") and user.has_role("technician"):
        return query.where((Audit.auditor_id == user.id)
                           | ((Audit.technician_id == user.id) & (Audit.status == "submitted")))
    if user.has_role("auditor"):
        return query.where(Audit.auditor_id == user.id)
    return query.where(Audit.technician_id == user.id, Audit.status == "submitted")


@dataclass(frozen=True)
class AuditResult:
    """One submitted audit of a technician, as certification reads it (eligibility asks for a
    number of audits, their average and no red-line failure)."""

    day: date
    score: float  # percent
    red_line: bool
    label: str
    url: str


def audit_results(user: User, since: date, until: date) -> list[AuditResult]:
    rows = db.session.scalars(select(Audit).where(Audit.technician_id == user.id, Audit.status == "submitted")
                              .order_by(Audit.visited_at, Audit.id))  # ties: in the order filed
    out = []
    for audit in rows:
        day = local_day(audit.visited_at)
        if since <= day <= until:
            out.append(AuditResult(day, audit.score or 0.0, audit.red_line_failed,
                                   _("Audit report #%(n)d", n=audit.id), f"/audits/{audit.id}"))
    return out


def model_answers(spec: dict) -> dict:
    """A fully passing answer to every scored item of a template: for demo data and tests."""
    answers = {}
    for section in spec["sections"]:
        for item in section["items"]:
            kind = item["type"]
            if kind == "yesno":
                answers[item["id"]] = item.get("pass_when", "yes")
            elif kind == "rating":
                answers[item["id"]] = 5
            elif kind == "choice":
                answers[item["id"]] = max(item["options"], key=lambda o: o.get("score", 0))["id"]
            elif kind == "number":
                answers[item["id"]] = (item.get("target") or {}).get("min", 0)
            elif kind == "time":
                answers[item["id"]] = "10:00"
    return answers
